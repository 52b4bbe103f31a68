#!/usr/bin/env node
/**
 * `npm run bench:api`: the recommendations endpoint through the gateway, 32 connections, on the real
 * catalog in the bench database (BENCH_DATABASE_URL, default retail_bench; loaded and embedded first when
 * empty). The recommendation service and the gateway run as their own processes, as in production.
 *   (a) every one of the 4,339 users once, in random order, after restarting the services (so no
 *       in-process state is warm): first with every list kept ready, then with every stored list
 *       deleted (each request then ranks the whole catalog by an exact pgvector scan);
 *   (b) 20 s of users drawn at random, as fast as the 32 connections go, then held at 1,000 requests/s.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import autocannon, { type Result } from 'autocannon';
import { REPO_ROOT, connectDatabase, runMigrations, type Database } from '@retail/common';
import { freePort, startProcess, type RunningProcess } from '@retail/common/testing';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_bench';
const CONNECTIONS = 32;

function cli(script: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, script), ...args], {
    env: { ...process.env, ...env },
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`${script} failed`);
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function report(label: string, result: Result): void {
  const errors = result.errors + result.timeouts + result.non2xx;
  console.log(
    `${label.padEnd(46)} ${Math.round(result.requests.average).toLocaleString('en-GB').padStart(6)} req/s   ` +
      `p50 ${String(result.latency.p50).padStart(3)} ms   p99 ${String(result.latency.p99).padStart(3)} ms   ` +
      `max ${String(result.latency.max).padStart(4)} ms   errors ${errors}   (${result.requests.total} requests)`,
  );
}

async function waitForLists(db: Database, users: number): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*) AS n FROM user_recommendations r JOIN customers c USING (customer_id)
        WHERE r.purchases_hash = c.purchases_hash
          AND r.vectors_version = (SELECT version FROM embedding_models WHERE model = r.model)`,
    );
    if (rows[0]!.n >= users) return;
    process.stdout.write(`\rwaiting for the lists to be ready: ${rows[0]!.n}/${users}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function main(): Promise<void> {
  await runMigrations(DATABASE_URL);
  const env = {
    DATABASE_URL,
    QUEUE_PREFIX: 'retail-bench',
    EMBEDDING_PROVIDER: 'local',
    RECOMMENDATION_PORT: String(await freePort()),
    GATEWAY_PORT: String(await freePort()),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  const db = await connectDatabase(DATABASE_URL, { max: 2, applicationName: 'bench-api' });
  const running: RunningProcess[] = [];
  const start = async () => {
    const recommendation = startProcess('services/recommendation/dist/main.js', [], env);
    const gateway = startProcess('services/gateway/dist/main.js', [], env);
    running.push(recommendation, gateway);
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 100; i++) {
      const ok = await fetch(`http://127.0.0.1:${env.GATEWAY_PORT}/api/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the services did not become ready:\n${recommendation.output()}\n${gateway.output()}`);
  };
  const stop = async () => {
    for (const p of running.splice(0)) {
      p.kill('SIGTERM');
      await p.exited;
    }
  };
  try {
    if ((await db.query<{ n: number }>('SELECT count(*) AS n FROM customers')).rows[0]!.n === 0) {
      cli('services/ingestion/dist/main.js', ['--no-embeddings'], env);
    }
    cli('services/embedder/dist/embed.cli.js', ['--wait'], env);
    const users = (await db.query<{ id: string }>('SELECT customer_id::text AS id FROM customers')).rows.map(
      (r) => r.id,
    );
    const base = `http://127.0.0.1:${env.GATEWAY_PORT}`;

    // Warms the processes (code paths, connections) without touching any user's list.
    const warmUp = () =>
      autocannon({
        url: base,
        connections: CONNECTIONS,
        duration: 3,
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              path: `/api/users?query=${Math.floor(Math.random() * 90) + 10}&limit=1`,
            }),
          },
        ],
      });

    const everyUserOnce = async (label: string) => {
      await warmUp();
      const queue = shuffle([...users]);
      return autocannon({
        url: base,
        connections: CONNECTIONS,
        amount: queue.length,
        requests: [
          { setupRequest: (request) => ({ ...request, path: `/api/users/${queue.pop()}/recommendations` }) },
        ],
      }).then((result) => report(label, result));
    };

    // (a) lists ready: start the services, let the refresher finish, restart them (nothing warm in memory).
    await start();
    await waitForLists(db, users.length);
    console.log('');
    await stop();
    await start();
    await everyUserOnce('(a) every user once, lists kept ready');

    // (a') no stored list at all: every request computes its ranking.
    await stop();
    await db.query('DELETE FROM user_recommendations');
    await start();
    await everyUserOnce("(a') every user once, no stored list (cold)");

    // (b) 20 s of random users (the lists are all stored again by now).
    await waitForLists(db, users.length);
    console.log('');
    const randomUsers = (overallRate?: number) =>
      autocannon({
        url: base,
        connections: CONNECTIONS,
        duration: 20,
        ...(overallRate ? { overallRate } : {}),
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              path: `/api/users/${users[Math.floor(Math.random() * users.length)]}/recommendations`,
            }),
          },
        ],
      });
    report('(b) 20 s of random users, as fast as it goes', await randomUsers());
    // The same load held at the goal's rate: the latency a client sees when the system is not saturated.
    report("(b') 20 s of random users at 1,000 req/s", await randomUsers(1_000));
  } finally {
    await stop();
    await db.end();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:api failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
