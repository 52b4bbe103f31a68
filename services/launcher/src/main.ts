#!/usr/bin/env node
/**
 * `npm start`: the whole demo on this machine, without Docker — the steps of infra/commands.json in order
 * (migrations, ingestion if the database is empty, the embedder and what is missing embedded, then every
 * service and the page, each waited for until healthy); it prints the URLs and stops everything on Ctrl-C.
 * docker-compose.yml runs the same commands, one per container.
 *
 * Like the containers' `restart: unless-stopped`, a service that stops on its own (a crash, a kill) is
 * started again after a delay that grows while it keeps stopping; the others keep serving. A one-shot step
 * that fails stops the start, as does a service that keeps stopping before it was ever ready. Otherwise only
 * Ctrl-C (SIGINT) or SIGTERM to the launcher stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, REPO_ROOT, loadConfig, redactUrl } from '@retail/common';
import { RestartBackoff } from './restart-backoff.js';

/** One step of infra/commands.json: the commands docker-compose.yml runs, one per container. */
interface Step {
  name: string;
  kind: 'once' | 'service';
  command: string[];
  env?: Record<string, string>;
  /** A service is ready when GET http://127.0.0.1:<value of the variable `port`><path> answers 2xx. */
  health?: { port: string; path: string };
}

/** A running service and what its restarts need. */
interface Supervised {
  step: Step;
  index: number;
  env: NodeJS.ProcessEnv;
  child: ChildProcess | undefined;
  startedAt: number;
  backoff: RestartBackoff;
  /** The pending restart, while the service waits for it. */
  timer: NodeJS.Timeout | undefined;
  /** Whether it has answered its health check at least once. */
  ready: boolean;
  /** Times it stopped before it was ever ready. */
  failedStarts: number;
}

/**
 * A service that stops this many times before it was ever ready (a port in use, a missing build) stops the
 * start instead of being restarted forever; one that was ready once is always restarted.
 */
const MAX_FAILED_STARTS = 3;

const COLORS = [36, 35, 33, 32, 34, 31, 96];
const services = new Map<string, Supervised>();
/** The one-shot step running now, if any (stopped with the services on Ctrl-C). */
let oneShot: ChildProcess | undefined;
let stopping = false;

function prefix(name: string, index: number): string {
  const label = name.padEnd(14);
  return process.stdout.isTTY ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m|` : `${label}|`;
}

/** A line of the launcher itself (restarts, failures), beside the services' prefixed lines. */
function say(line: string): void {
  process.stdout.write(`${prefix('launcher', COLORS.length - 1)} ${line}\n`);
}

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;
const exitText = (code: number | null, signal: NodeJS.Signals | null) =>
  signal ? `signal ${signal}` : `exit code ${code}`;

/**
 * Spawns a step's command with its output prefixed; `onExit` runs once when it ends (or fails to spawn).
 */
function spawnStep(
  step: Step,
  index: number,
  env: NodeJS.ProcessEnv,
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void,
): ChildProcess {
  const [command, ...args] = step.command;
  const child = spawn(command === 'node' ? process.execPath : command!, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
  let ended = false;
  const end = (code: number | null, signal: NodeJS.Signals | null) => {
    if (ended) return;
    ended = true;
    onExit(code, signal);
  };
  child.on('error', (error) => {
    say(`${step.name} could not be started: ${error.message}`);
    end(null, null);
  });
  child.on('exit', end);
  return child;
}

/** Runs a one-shot step to its end; resolves with what went wrong, or undefined when it exited 0. */
function runOnce(step: Step, index: number, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((resolve) => {
    oneShot = spawnStep(step, index, env, (code, signal) => {
      oneShot = undefined;
      resolve(code === 0 ? undefined : exitText(code, signal));
    });
  });
}

/** Starts a service and keeps it running: restarted with backoff whenever it stops unless we are stopping. */
function startService(service: Supervised): void {
  const { step, index, env } = service;
  service.timer = undefined;
  service.startedAt = Date.now();
  service.child = spawnStep(step, index, env, (code, signal) => {
    service.child = undefined;
    if (stopping) return;
    const uptime = Date.now() - service.startedAt;
    if (!service.ready && ++service.failedStarts > MAX_FAILED_STARTS) {
      console.error(
        `start failed: ${step.name} stopped ${service.failedStarts} times before it was ever ready ` +
          `(last: ${exitText(code, signal)}); see its output above`,
      );
      void stopAll(1);
      return;
    }
    const { delayMs, attempt } = service.backoff.afterExit(uptime);
    say(
      `${step.name} stopped (${exitText(code, signal)}) after ${seconds(uptime)}: ` +
        `restarting it in ${seconds(delayMs)} (restart ${attempt}); the other services keep running`,
    );
    const stoppedAt = Date.now();
    service.timer = setTimeout(() => {
      if (stopping) return;
      startService(service);
      void announceRecovery(service, stoppedAt);
    }, delayMs);
  });
  if (service.child.pid !== undefined) say(`${step.name} started (pid ${service.child.pid})`);
}

/** After a restart: one line when the service answers its health check again. */
async function announceRecovery(service: Supervised, stoppedAt: number): Promise<void> {
  const child = service.child;
  if (!child) return;
  const healthy = await waitHealthy(service.step, service.env, 180_000, () => service.child !== child);
  if (healthy && !stopping && service.child === child) {
    service.ready = true;
    say(
      `${service.step.name} is back (pid ${child.pid}, ${seconds(Date.now() - stoppedAt)} after it stopped)`,
    );
  }
}

/**
 * Polls the service's health URL until it answers 2xx (true), `givenUp()` says to stop, or the timeout
 * passes (false). A service without a health check counts as healthy at once.
 */
async function waitHealthy(
  step: Step,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  givenUp: () => boolean = () => false,
): Promise<boolean> {
  if (!step.health) return true;
  const url = healthUrl(step, env)!;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping || givenUp()) return false;
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

function healthUrl(step: Step, env: NodeJS.ProcessEnv): string | undefined {
  return step.health && `http://127.0.0.1:${env[step.health.port]}${step.health.path}`;
}

async function stopAll(code: number, reason?: string): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (reason) say(`${reason}: stopping every service`);
    const running = [...services.values()];
    for (const service of running) clearTimeout(service.timer);
    const children = running.flatMap((service) => (service.child ? [service.child] : []));
    if (oneShot) children.push(oneShot);
    for (const child of children) child.kill('SIGTERM');
    const deadline = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 10_000);
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) =>
            child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.on('exit', resolve),
          ),
      ),
    );
    clearTimeout(deadline);
    if (reason) say('every service has stopped');
  }
  process.exit(code);
}

/**
 * The workers' metrics ports: those of infra/commands.json (9101, 9102, 9103), or, when METRICS_PORT is
 * set, METRICS_PORT and the ports after it in the same order (to run a second demo beside the first).
 */
function metricsPorts(steps: Step[], base: number): Map<string, string> {
  const ports = new Map<string, string>();
  const defaults = steps.flatMap((step) =>
    step.env?.METRICS_PORT ? [[step.name, Number(step.env.METRICS_PORT)] as const] : [],
  );
  const first = Math.min(...defaults.map(([, port]) => port));
  for (const [name, port] of defaults) ports.set(name, String(base > 0 ? base + (port - first) : port));
  return ports;
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (
    !existsSync(path.join(REPO_ROOT, 'services/gateway/dist/main.js')) ||
    !existsSync(path.join(REPO_ROOT, 'web/build'))
  ) {
    throw new Error('the services are not built: run `npm run build` (or `npm run setup`) first');
  }
  process.on('SIGINT', () => void stopAll(0, 'SIGINT (Ctrl-C)'));
  process.on('SIGTERM', () => void stopAll(0, 'SIGTERM'));

  const { steps } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'infra/commands.json'), 'utf8')) as {
    steps: Step[];
  };
  const metrics = metricsPorts(steps, config.metricsPort);
  // The addresses the containers get from docker-compose.yml, on this machine.
  // The page's Buy button posts with a write key. Without one configured (API_KEYS for the gateway,
  // GATEWAY_API_KEY for the page's server), this run makes one up for both; it is never printed.
  const pageKey =
    process.env.GATEWAY_API_KEY || (process.env.API_KEYS ? undefined : randomBytes(24).toString('base64url'));
  const local: Record<string, Record<string, string>> = {
    web: {
      PORT: String(config.webPort),
      HOST: '0.0.0.0',
      GATEWAY_URL: `http://127.0.0.1:${config.gatewayPort}`,
      ...(pageKey ? { GATEWAY_API_KEY: pageKey } : {}),
    },
    gateway: process.env.API_KEYS ? {} : pageKey ? { API_KEYS: pageKey } : {},
  };
  console.log(`database ${redactUrl(config.databaseUrl)}, redis ${redactUrl(config.redisUrl)}`);
  for (const [index, step] of steps.entries()) {
    if (stopping) return;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GATEWAY_PORT: String(config.gatewayPort),
      WEB_PORT: String(config.webPort),
      ...step.env,
      ...local[step.name],
    };
    // METRICS_PORT is each worker's own: set from the table above, never inherited by the other steps.
    delete env.METRICS_PORT;
    const metricsPort = metrics.get(step.name);
    if (metricsPort) env.METRICS_PORT = metricsPort;

    if (step.kind === 'once') {
      const failure = await runOnce(step, index, env);
      if (failure) {
        throw new Error(
          `the step "${step.name}" (${step.command.join(' ')}) failed (${failure}); see its output above`,
        );
      }
      continue;
    }
    const service: Supervised = {
      step,
      index,
      env,
      child: undefined,
      startedAt: 0,
      backoff: new RestartBackoff(),
      timer: undefined,
      ready: false,
      failedStarts: 0,
    };
    services.set(step.name, service);
    startService(service);
    const timeoutMs = 180_000;
    service.ready = await waitHealthy(step, env, timeoutMs);
    if (!service.ready && !stopping) {
      throw new Error(
        `${step.name} did not become healthy at ${healthUrl(step, env)} within ${timeoutMs / 1000} s`,
      );
    }
  }
  if (stopping) return;

  const workerPorts = [...metrics.values()].join(', ');
  console.log(
    [
      '',
      'The demo is running:',
      `  storefront     http://localhost:${config.webPort}/retail_shop`,
      `  API            http://localhost:${config.gatewayPort}/api/users  (docs: http://localhost:${config.gatewayPort}/api/docs)`,
      `  queues         http://localhost:${config.gatewayPort}/admin/queues  (user ${config.dashboard.user}${config.dashboard.password ? '' : ', password admin'})`,
      `  metrics        http://localhost:${config.gatewayPort}/metrics, workers on ports ${workerPorts} (/metrics)`,
      `  embeddings     ${config.embedding.provider} (${config.embedding.model}); explanations: ${config.llm.provider === 'openai' ? config.llm.model : 'template sentences'}`,
      'A service that stops is restarted; press Ctrl-C to stop everything.',
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  console.error(`start failed: ${error instanceof Error ? error.message : String(error)}`);
  void stopAll(error instanceof ConfigError ? 2 : 1);
});
