import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/config.js';
import { oneLine } from '../util/printable.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true }>>['values'];

export interface CommandSpec<O extends Options> {
  /** As the user types it after `npm run` (`ingest`, `embed`, ...): the start of every error line. */
  name: string;
  usage: string;
  options: O;
  /** Failures that mean bad input, like a wrong configuration: exit code 2 instead of 1. */
  isInputError?: (error: unknown) => boolean;
  /** Words added to the line of a failure (e.g. "; nothing was changed"). */
  afterFailure?: (kind: 'input' | 'unexpected') => string;
  /** The command itself: its exit code. */
  run(values: Parsed<O>): Promise<number>;
}

/**
 * Runs a command-line entry point the same way for every command: `--help` prints the usage; an unknown or
 * malformed option is bad input (exit code 2, with the usage); every failure ends with one line on standard
 * error (a configuration error lists each wrong variable), exit code 2 for bad input and 1 for anything else.
 */
export function runCommand<O extends Options>(spec: CommandSpec<O>): void {
  const run = async (): Promise<number> => {
    let values: Parsed<O>;
    try {
      const withHelp = { ...spec.options, help: { type: 'boolean', short: 'h' } } as O;
      const parsed = parseArgs({ options: withHelp, strict: true });
      if ((parsed.values as { help?: boolean }).help) {
        console.log(spec.usage);
        return 0;
      }
      values = parsed.values;
    } catch (error) {
      console.error(`${spec.name}: ${(error as Error).message}\n\n${spec.usage}`);
      return 2;
    }
    return spec.run(values);
  };
  run().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof ConfigError || error instanceof UsageError) {
        console.error(`${spec.name}: ${error.message}`);
        process.exit(2);
      }
      const input = spec.isInputError?.(error) ?? false;
      const message = oneLine(error instanceof Error ? error.message : String(error), input ? 600 : 300);
      const after = spec.afterFailure?.(input ? 'input' : 'unexpected') ?? '';
      console.error(input ? `${spec.name}: ${message}${after}` : `${spec.name} failed: ${message}${after}`);
      process.exit(input ? 2 : 1);
    },
  );
}

/** A usage error inside a command (a missing required option, ...): bad input, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, usage: string) {
    super(`${message}\n\n${usage}`);
    this.name = 'UsageError';
  }
}
