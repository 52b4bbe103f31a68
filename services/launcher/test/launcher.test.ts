import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { REPO_ROOT, type Database, type RedisClient } from '@retail/common';
import {
  closeTestStores,
  eventually,
  freePort,
  openTestStores,
  resetDatabase,
  resetRedis,
  startProcess,
  stop,
  type RunningProcess,
} from '@retail/testing';

/**
 * `npm start` on free ports (never 8080/3000/4001/9101-9103, which a running demo may hold), against the
 * test database and Redis database: a service that stops is restarted while the others keep serving, a
 * failing one-shot step stops the start, and Ctrl-C stops everything.
 */

const LAUNCHER = 'services/launcher/dist/main.js';
const SMALL_FILE = path.join(REPO_ROOT, 'services', 'ingestion', 'test', 'fixtures', 'small.csv');
const START_MS = 240_000;

interface Step {
  name: string;
  kind: 'once' | 'service';
  command: string[];
  env?: Record<string, string>;
}
const STEPS = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'infra', 'commands.json'), 'utf8')) as { steps: Step[] }
).steps;

let db: Database;
let redis: RedisClient;

beforeAll(async () => {
  ({ db, redis } = await openTestStores({ empty: false }));
});

afterAll(async () => {
  await closeTestStores({ db, redis });
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports (the workers' metrics ports follow METRICS_PORT). */
async function freeConsecutivePorts(count: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    if (first + count > 65_535) continue;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => portFree(first + 1 + i)));
    if (rest.every(Boolean)) return first;
  }
}

/** The environment of a launcher on ports of its own. */
async function launcherEnv(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  return {
    GATEWAY_PORT: String(await freePort()),
    WEB_PORT: String(await freePort()),
    RECOMMENDATION_PORT: String(await freePort()),
    METRICS_PORT: String(await freeConsecutivePorts(3)),
    DATA_FILE: SMALL_FILE,
    ...extra,
  };
}

/** The launcher's child processes now, by service name (from /proc: their parent and command line). */
function servicePids(launcherPid: number): Map<string, number> {
  const found = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let cmdline: string[];
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent !== launcherPid) continue;
    const step = STEPS.find((s) => s.kind === 'service' && cmdline.includes(s.command[1]!));
    if (step) {
      found.set(step.name, Number(entry));
      seen.set(Number(entry), step.command[1]!);
    }
  }
  return found;
}

/** Every service process the tests saw, to clean up after a failure (checked against pid reuse). */
const seen = new Map<number, string>();

function killLeftovers(): void {
  for (const [pid, script] of seen) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script))
        process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function status(url: string): Promise<number> {
  return fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    (response) => response.status,
    () => 0,
  );
}

describe('a one-shot step that fails', () => {
  it('stops the start with a message naming the step, and leaves nothing running', async () => {
    await resetDatabase(db);
    const env = await launcherEnv({ DATA_FILE: path.join(REPO_ROOT, 'no-such-file.csv') });
    const launcher = startProcess(LAUNCHER, [], env);
    const { code } = await launcher.exited;
    const output = launcher.output();
    expect(code).toBe(1);
    expect(output).toMatch(/ingest\s*\| ingest: file not found: .*no-such-file\.csv/);
    expect(output).toMatch(
      /start failed: the step "ingest" \(node services\/ingestion\/dist\/main\.js --if-empty\) failed \(exit code 2\)/,
    );
    expect(output).not.toMatch(/ started \(pid /); // no service had been started
  });
});

describe('with the demo running', () => {
  let launcher: RunningProcess;
  let env: NodeJS.ProcessEnv;
  let api: string;
  /** The health URL of a worker, on the metrics port the launcher gave it. */
  let health: (name: string) => string;

  beforeAll(async () => {
    await resetDatabase(db);
    await resetRedis(redis);
    env = await launcherEnv();
    api = `http://127.0.0.1:${env.GATEWAY_PORT}`;
    const defaults = STEPS.flatMap((step) =>
      step.env?.METRICS_PORT ? [{ name: step.name, port: Number(step.env.METRICS_PORT) }] : [],
    );
    const first = Math.min(...defaults.map((d) => d.port));
    const ports = new Map(defaults.map((d) => [d.name, Number(env.METRICS_PORT) + d.port - first]));
    health = (name) => `http://127.0.0.1:${ports.get(name)}/health`;
    launcher = startProcess(LAUNCHER, [], env);
    await launcher.waitFor(/The demo is running/, START_MS);
  }, START_MS + 10_000);

  afterAll(async () => {
    if (launcher.output().includes('every service has stopped')) return;
    await stop(launcher, 'SIGINT', { withinMs: 20_000 }); // SIGKILL past that
    killLeftovers();
  }, 30_000);

  it('every service serves on the ports it was given', async () => {
    expect([...servicePids(launcher.pid).keys()].sort()).toEqual(
      STEPS.filter((step) => step.kind === 'service')
        .map((step) => step.name)
        .sort(),
    );
    expect(await status(`${api}/api/health/ready`)).toBe(200);
    for (const name of ['embedder', 'recommendation', 'explanation'])
      expect(await status(health(name))).toBe(200);
    expect(await status(`http://127.0.0.1:${env.WEB_PORT}/retail_shop`)).toBe(200);
  });

  it("the page's Buy works without a configured key (the run made one up for the gateway and the page)", async () => {
    expect(env.API_KEYS ?? '').toBe('');
    expect(env.GATEWAY_API_KEY ?? '').toBe('');
    const listed = await fetch(`${api}/api/users/17850/recommendations?top_n=1`);
    const productId = ((await listed.json()) as { recommendations: { product_id: string }[] })
      .recommendations[0]!.product_id;
    const bought = await fetch(`http://127.0.0.1:${env.WEB_PORT}/retail_shop/buy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: '17850', product_id: productId }),
    });
    expect(bought.status).toBe(201);
    // The write API itself still refuses a caller without the key.
    const direct = await fetch(`${api}/api/purchases`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lines: [] }),
    });
    expect(direct.status).toBe(401);
  });

  it('a crashed service is restarted with a growing delay while the others keep serving', async () => {
    const before = servicePids(launcher.pid);
    const crashed = before.get('explanation')!;
    process.kill(crashed, 'SIGKILL');
    await launcher.waitFor(
      /explanation stopped \(signal SIGKILL\) after [\d.]+ s: restarting it in 1 s \(restart 1\); the other services keep running/,
    );
    // Meanwhile the API answers, recommendations included (the recommendation service did not stop).
    expect(await status(`${api}/api/users?limit=5`)).toBe(200);
    expect(await status(`${api}/api/users/17850/recommendations`)).toBe(200);

    await launcher.waitFor(/explanation is back \(pid \d+, [\d.]+ s after it stopped\)/);
    const restarted = servicePids(launcher.pid).get('explanation')!;
    expect(restarted).not.toBe(crashed);
    expect(alive(crashed)).toBe(false);
    expect(await status(health('explanation'))).toBe(200);

    // Stopping again soon after its restart: the next delay doubles.
    process.kill(restarted, 'SIGKILL');
    await launcher.waitFor(
      /explanation stopped \(signal SIGKILL\) after [\d.]+ s: restarting it in 2 s \(restart 2\)/,
    );
    await launcher.waitFor(/restart 2\)[\s\S]*explanation is back/);
    expect(await status(health('explanation'))).toBe(200);

    // Nothing else was restarted.
    const after = servicePids(launcher.pid);
    for (const name of ['embedder', 'recommendation', 'gateway', 'web']) {
      expect(after.get(name)).toBe(before.get(name));
      expect(alive(after.get(name)!)).toBe(true);
    }
    expect(launcher.output()).not.toMatch(/stopping (the demo|every service)/);
  });

  it('a service stopped with SIGTERM comes back, and the gateway reaches it again', async () => {
    const before = servicePids(launcher.pid).get('recommendation')!;
    process.kill(before, 'SIGTERM');
    await launcher.waitFor(
      /recommendation stopped \(.*\) after [\d.]+ s: restarting it in 1 s \(restart 1\)/,
    );
    await launcher.waitFor(/recommendation is back \(pid \d+/);
    expect(servicePids(launcher.pid).get('recommendation')).not.toBe(before);
    await eventually(async () => (await status(`${api}/api/users/17850/recommendations`)) === 200);
    expect(await status(`${api}/api/health/ready`)).toBe(200);
  });

  it('Ctrl-C stops every service and the launcher', async () => {
    const running = [...servicePids(launcher.pid).values()];
    expect(running.every(alive)).toBe(true);
    const { code } = await stop(launcher, 'SIGINT');
    expect(code).toBe(0);
    expect(launcher.output()).toMatch(
      /SIGINT \(Ctrl-C\): stopping every service[\s\S]*every service has stopped/,
    );
    expect(running.filter(alive)).toEqual([]);
    expect(await status(`${api}/api/health`)).toBe(0);
  });
});

describe('a service that cannot start', () => {
  it(
    'is restarted a few times, then stops the start with a message naming it; nothing is left running',
    async () => {
      // Something else holds the gateway's port (and hangs up on whoever connects).
      const env = await launcherEnv();
      const blocker = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => blocker.listen(Number(env.GATEWAY_PORT), '0.0.0.0', resolve));
      try {
        const launcher = startProcess(LAUNCHER, [], env);
        const started: number[] = [];
        const timer = setInterval(() => started.push(...servicePids(launcher.pid).values()), 200);
        const { code } = await launcher.exited;
        clearInterval(timer);
        const output = launcher.output();
        expect(code).toBe(1);
        expect(output).toMatch(/gateway\s*\|.*EADDRINUSE/);
        expect(output).toMatch(
          /gateway stopped \(exit code 1\) after [\d.]+ s: restarting it in 1 s \(restart 1\)/,
        );
        expect(output).toMatch(/restarting it in 4 s \(restart 3\)/);
        expect(output).toMatch(
          /start failed: gateway stopped 4 times before it was ever ready \(last: exit code 1\); see its output above/,
        );
        expect(started.length).toBeGreaterThan(0);
        expect(started.filter(alive)).toEqual([]);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
        killLeftovers();
      }
    },
    START_MS,
  );
});
