#!/usr/bin/env node
/**
 * `npm start`: the whole demo on this machine, without Docker — the database ready, the data ingested if
 * the database is empty, what is missing embedded, then every service and the page; it prints the URLs
 * and stops everything on Ctrl-C. It runs the same commands as the containers of docker-compose.yml.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, REPO_ROOT, loadConfig, redactUrl, runMigrations } from '@retail/common';

interface Step {
  name: string;
  command: string[];
  env?: NodeJS.ProcessEnv;
  /** A line in the output that says the service is up. */
  ready?: RegExp;
}

const COLORS = [36, 35, 33, 32, 34, 31, 96];
const children = new Map<string, ChildProcess>();
let stopping = false;

function prefix(name: string, index: number): string {
  const label = name.padEnd(14);
  return process.stdout.isTTY ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m|` : `${label}|`;
}

function run(step: Step, index: number, longRunning: boolean): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = step.command;
    const child = spawn(command === 'node' ? process.execPath : command!, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...step.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (longRunning) children.set(step.name, child);
    let ready = !step.ready;
    const onLine = (line: string) => {
      process.stdout.write(`${prefix(step.name, index)} ${line}\n`);
      if (!ready && step.ready?.test(line)) {
        ready = true;
        resolve(null);
      }
    };
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
      if (!ready || !longRunning) resolve(code);
    });
  });
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
  if (!existsSync(path.join(REPO_ROOT, 'services/gateway/dist/main.js'))) {
    throw new Error('the services are not built: run `npm run build` (or `npm run setup`) first');
  }
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  console.log(`database ${redactUrl(config.databaseUrl)}: applying migrations`);
  await runMigrations(config.databaseUrl);

  const oneShot = async (step: Step, index: number) => {
    const code = await run(step, index, false);
    if (code !== 0) throw new Error(`${step.command.join(' ')} failed (exit code ${code})`);
  };
  await oneShot({ name: 'ingest', command: ['node', 'services/ingestion/dist/main.js', '--if-empty'] }, 0);

  const services: Step[] = [
    {
      name: 'embedder',
      command: ['node', 'services/embedder/dist/main.js'],
      ready: /consuming "embeddings"/,
    },
    {
      name: 'recommendation',
      command: ['node', 'services/recommendation/dist/main.js'],
      ready: /listening on tcp/,
    },
    {
      name: 'explanation',
      command: ['node', 'services/explanation/dist/main.js'],
      ready: /consuming "explanations"/,
    },
    { name: 'gateway', command: ['node', 'services/gateway/dist/main.js'], ready: /listening on http/ },
    {
      name: 'web',
      command: ['node', 'web/build/index.js'],
      env: { PORT: String(config.webPort), GATEWAY_URL: `http://127.0.0.1:${config.gatewayPort}` },
      ready: /Listening on/i,
    },
  ];
  await run(services[0]!, 1, true);
  // Whatever has no vector in the active model yet: queued, and followed until done.
  await oneShot({ name: 'embed', command: ['node', 'services/embedder/dist/embed.cli.js', '--wait'] }, 2);
  for (const [i, step] of services.slice(1).entries()) await run(step, i + 3, true);

  console.log(
    [
      '',
      'The demo is running:',
      `  storefront     http://localhost:${config.webPort}/retail_shop`,
      `  API            http://localhost:${config.gatewayPort}/api/users  (docs: http://localhost:${config.gatewayPort}/api/docs)`,
      `  queues         http://localhost:${config.gatewayPort}/admin/queues  (user ${config.dashboard.user})`,
      `  metrics        http://localhost:${config.gatewayPort}/metrics`,
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
