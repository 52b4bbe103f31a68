import { inspect } from 'node:util';
import type { LogLevel, LoggerService } from '@nestjs/common';

export type { LogLevel };

/** One call of a logger, as a test reads it. */
export interface LogEntry {
  level: LogLevel;
  /** The message as text (an Error gives its stack). */
  message: string;
  /** Nest's context (the name of the Logger that wrote it), when there is one. */
  context: string | undefined;
  /** Every other argument (an error's stack, an object), as text. */
  details: string[];
}

/** A Nest logger that keeps what it is given, for a test to read. */
export interface LogRecorder extends Required<Pick<LoggerService, LogLevel>> {
  /** Every entry so far, oldest first (the recorder's own array: `clear()` empties it). */
  readonly entries: readonly LogEntry[];
  /** The entries whose message, details or context match `pattern` (tested on each, not on the level). */
  about(pattern: RegExp): LogEntry[];
  /** The entries written at one of `levels`. */
  at(...levels: LogLevel[]): LogEntry[];
  /** Everything recorded, one entry a line (`level [context] message details`): for "never logs X". */
  text(): string;
  /** Forgets what was recorded so far. */
  clear(): void;
}

const LEVELS: readonly LogLevel[] = ['log', 'error', 'warn', 'debug', 'verbose', 'fatal'];
/** A stack trace's frame line: a string argument with one is a stack, never a context. */
const STACK_FRAME = /\n\s+at /;

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack ?? String(value);
  return inspect(value, { breakLength: Infinity });
}

/** The whole of one entry as text, as `text()` prints it. */
export function logEntryText(entry: LogEntry): string {
  return [entry.level, entry.context && `[${entry.context}]`, entry.message, ...entry.details]
    .filter(Boolean)
    .join(' ');
}

/**
 * A LoggerService that records every call: its level, message, context and any other argument
 * (a stack). Pass it where Nest takes a logger (`NestFactory.create(..., { logger })`, `createGateway`)
 * or where a class takes `{ log, warn }`.
 * `levels` keeps only those levels (the others are dropped, as Nest's `logLevels` would).
 */
export function recordLogs({ levels = LEVELS }: { levels?: readonly LogLevel[] } = {}): LogRecorder {
  const entries: LogEntry[] = [];
  const record =
    (level: LogLevel) =>
    (message: unknown, ...params: unknown[]): void => {
      if (!levels.includes(level)) return;
      // Nest's Logger adds its context as the last argument (after an `undefined` stack for error()).
      const last = params.at(-1);
      const context =
        params.length > 0 && typeof last === 'string' && !STACK_FRAME.test(last)
          ? (params.pop() as string)
          : undefined;
      entries.push({
        level,
        message: asText(message),
        context,
        details: params.filter((param) => param !== undefined).map(asText),
      });
    };
  return {
    log: record('log'),
    error: record('error'),
    warn: record('warn'),
    debug: record('debug'),
    verbose: record('verbose'),
    fatal: record('fatal'),
    entries,
    about: (pattern) =>
      entries.filter((entry) =>
        [entry.message, ...entry.details, entry.context ?? ''].some((text) => pattern.test(text)),
      ),
    at: (...wanted) => entries.filter((entry) => wanted.includes(entry.level)),
    text: () => entries.map(logEntryText).join('\n'),
    clear: () => void entries.splice(0),
  };
}
