import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '@retail/common';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a built entry point (`services/<name>/dist/...js`) as the npm scripts do, with the test
 * environment plus `env`, and collects its output.
 */
export function runCli(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, script), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningProcess {
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the output matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code (or the signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a built entry point in the background (a worker or a server), for tests that stop it. */
export function startProcess(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): RunningProcess {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    pid: child.pid!,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitFor: (pattern, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(output)) {
            cleanup();
            resolve();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern} in:\n${output.slice(-2000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`process exited before printing ${pattern}:\n${output.slice(-2000)}`));
          }
        });
        check();
      }),
  };
}

/** How a process stopped by `stop()` ended. */
export interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It was still running `withinMs` after the signal, so it was killed with SIGKILL. */
  late: boolean;
}

/**
 * Sends `signal` to `child` and resolves once it has exited (at once when it already had; with
 * undefined for no process). With `withinMs`, a process still running that long after the signal is
 * killed with SIGKILL (and waited for), and the result says `late`.
 */
export function stop(
  child: RunningProcess,
  signal?: NodeJS.Signals,
  options?: { withinMs?: number },
): Promise<Stopped>;
export function stop(
  child: RunningProcess | undefined,
  signal?: NodeJS.Signals,
  options?: { withinMs?: number },
): Promise<Stopped | undefined>;
export async function stop(
  child: RunningProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
  { withinMs }: { withinMs?: number } = {},
): Promise<Stopped | undefined> {
  if (!child) return undefined;
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    child.exited.then(() => false),
    ...(withinMs === undefined
      ? []
      : [new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), withinMs)))]),
  ]);
  clearTimeout(timer);
  if (late) child.kill('SIGKILL');
  return { ...(await child.exited), late };
}

/** Polls `probe` until it returns a truthy value (rejects after `timeoutMs`). */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
