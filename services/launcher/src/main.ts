#!/usr/bin/env node
/**
 * `npm start`: the whole demo on this machine, without Docker — the steps of infra/commands.json in order
 * (migrations, ingestion if the database is empty, the embedder and what is missing embedded, then every
 * service and the page, each waited for until healthy); it prints the URLs and stops everything on Ctrl-C.
 * docker-compose.yml runs the same commands, one per container.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, REPO_ROOT, loadConfig, redactUrl } from '@retail/common';

/** One step of infra/commands.json: the commands docker-compose.yml runs, one per container. */
interface Step {
  name: string;
  kind: 'once' | 'service';
  command: string[];
  env?: Record<string, string>;
  /** A service is ready when GET http://127.0.0.1:<value of the variable `port`><path> answers 2xx. */
  health?: { port: string; path: string };
}

const COLORS = [36, 35, 33, 32, 34, 31, 96];
const children = new Map<string, ChildProcess>();
let stopping = false;

function prefix(name: string, index: number): string {
  const label = name.padEnd(14);
  return process.stdout.isTTY ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m|` : `${label}|`;
}

/** Starts a step; resolves with its exit code (a `once` step) or as soon as it is spawned (a service). */
function run(step: Step, index: number, env: NodeJS.ProcessEnv): Promise<number | null> {
  const longRunning = step.kind === 'service';
  return new Promise((resolve, reject) => {
    const [command, ...args] = step.command;
    const child = spawn(command === 'node' ? process.execPath : command!, args, {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (longRunning) {
      children.set(step.name, child);
      child.once('spawn', () => resolve(null));
    }
    const onLine = (line: string) => process.stdout.write(`${prefix(step.name, index)} ${line}\n`);
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        lines.forEach(onLine);
      });
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      children.delete(step.name);
      if (longRunning && !stopping) {
        console.error(
          `${step.name} stopped unexpectedly (${signal ?? `exit code ${code}`}): stopping the demo`,
        );
        void stopAll(1);
      }
      if (!longRunning) resolve(code);
    });
  });
}

/** Waits until the service's health URL answers 2xx. */
async function waitHealthy(step: Step, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<void> {
  if (!step.health) return;
  const url = `http://127.0.0.1:${env[step.health.port]}${step.health.path}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) return;
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${step.name} did not become healthy at ${url} within ${timeoutMs / 1000} s`);
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  const running = [...children.values()];
  for (const child of running) child.kill('SIGTERM');
  const deadline = setTimeout(() => running.forEach((child) => child.kill('SIGKILL')), 10_000);
  await Promise.all(
    running.map(
      (child) =>
        new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.on('exit', resolve))),
    ),
  );
  clearTimeout(deadline);
  process.exit(code);
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (
    !existsSync(path.join(REPO_ROOT, 'services/gateway/dist/main.js')) ||
    !existsSync(path.join(REPO_ROOT, 'web/build'))
  ) {
    throw new Error('the services are not built: run `npm run build` (or `npm run setup`) first');
  }
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const { steps } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'infra/commands.json'), 'utf8')) as {
    steps: Step[];
  };
  // The addresses the containers get from docker-compose.yml, on this machine.
  const local: Record<string, Record<string, string>> = {
    web: {
      PORT: String(config.webPort),
      HOST: '0.0.0.0',
      GATEWAY_URL: `http://127.0.0.1:${config.gatewayPort}`,
    },
  };
  console.log(`database ${redactUrl(config.databaseUrl)}, redis ${redactUrl(config.redisUrl)}`);
  for (const [index, step] of steps.entries()) {
    const env = {
      ...process.env,
      GATEWAY_PORT: String(config.gatewayPort),
      WEB_PORT: String(config.webPort),
      ...step.env,
      ...local[step.name],
    };
    const code = await run(step, index, env);
    if (step.kind === 'once' && code !== 0)
      throw new Error(`${step.command.join(' ')} failed (exit code ${code})`);
    await waitHealthy(step, env);
  }

  console.log(
    [
      '',
      'The demo is running:',
      `  storefront     http://localhost:${config.webPort}/retail_shop`,
      `  API            http://localhost:${config.gatewayPort}/api/users  (docs: http://localhost:${config.gatewayPort}/api/docs)`,
      `  queues         http://localhost:${config.gatewayPort}/admin/queues  (user ${config.dashboard.user}${config.dashboard.password ? '' : ', password admin'})`,
      `  metrics        http://localhost:${config.gatewayPort}/metrics, workers on :9101-9103/metrics`,
      `  embeddings     ${config.embedding.provider} (${config.embedding.model}); explanations: ${config.llm.provider === 'openai' ? config.llm.model : 'template sentences'}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(`start failed: ${error instanceof Error ? error.message : String(error)}`);
  void stopAll(error instanceof ConfigError ? 2 : 1);
});
