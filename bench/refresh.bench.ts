#!/usr/bin/env node
/**
 * `npm run bench:refresh`: what computing and refreshing the kept lists costs, per served model (BENCH_MODELS,
 * default copurchase,hybrid,description), on the real catalog in the bench database (BENCH_DATABASE_URL,
 * default retail_bench; loaded, embedded and trained first when it is not):
 *   one list    one customer's list computed by its pgvector query and kept (what a request pays when its
 *               list is missing), BENCH_SAMPLE random customers one at a time (default 500): p50, p99, max;
 *   refresh     BENCH_PROCESSES recommendation processes (default 1 and 2, in turn) with every list current,
 *               then every vector of the model rewritten in one transaction (its version moves, as after a
 *               training or an embedding run): the time until every list is current again, and how many lists
 *               each process computed (from their /metrics: the counters add up to the customers when no list
 *               is computed twice).
 * Prints the machine's load. The description model comes last: rewriting its vectors makes the co-purchase and
 * hybrid models stale, and a service serving them would retrain them in the middle of their runs; the next
 * invocation retrains them first (`npm run train -- --wait`).
 */
import { availableParallelism } from 'node:os';
import { Queue } from 'bullmq';
import {
  LOCAL_EMBEDDING_MODEL,
  QueueNames,
  bullConnection,
  connectDatabase,
  servedModelOf,
  type Database,
  type RecommenderKind,
} from '@retail/common';
import { freePort, startProcess, stop, type RunningProcess } from '@retail/testing';
import { RankingRepository } from '../services/recommendation/dist/ranking/ranking.repository.js';
import {
  BENCH_DATABASE_URL as DATABASE_URL,
  changeEveryVector,
  listsComputed,
  load,
  percentile,
  prepareBenchDatabase,
  runBench,
  untilEveryListCurrent,
} from './bench-kit.ts';

const DESCRIPTION_MODEL = LOCAL_EMBEDDING_MODEL;
const MODELS = (process.env.BENCH_MODELS ?? 'copurchase,hybrid,description').split(',') as RecommenderKind[];
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 500);
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2').split(',').map(Number);
const QUEUE_PREFIX = 'retail-bench';
const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;

async function oneList(db: Database, kind: RecommenderKind, customers: number[]): Promise<void> {
  const model = servedModelOf(kind, DESCRIPTION_MODEL).name;
  const repository = new RankingRepository(db);
  const ranking = kind === 'description' ? 'description' : 'factors';
  const times: number[] = [];
  for (let i = 0; i < SAMPLE; i++) {
    const id = customers[Math.floor(Math.random() * customers.length)]!;
    const started = performance.now();
    await repository.compute(id, model, ranking);
    times.push(performance.now() - started);
  }
  // The heaviest customer (the most purchases): the tail of the distribution.
  const { rows } = await db.query<{ customer_id: number; n: number }>(
    'SELECT customer_id, count(*)::int AS n FROM user_items GROUP BY 1 ORDER BY 2 DESC LIMIT 1',
  );
  const heaviest = rows[0]!;
  const started = performance.now();
  await repository.compute(heaviest.customer_id, model, ranking);
  console.log(
    `  one list by one query (${SAMPLE} random customers, one at a time): p50 ${ms(percentile(times, 50))}, ` +
      `p95 ${ms(percentile(times, 95))}, p99 ${ms(percentile(times, 99))}, max ${ms(Math.max(...times))}; ` +
      `the customer with the most purchases (${heaviest.n}): ${ms(performance.now() - started)}   load ${load()}`,
  );
}

async function refresh(db: Database, kind: RecommenderKind, processes: number, env: Record<string, string>) {
  const model = servedModelOf(kind, DESCRIPTION_MODEL).name;
  const running: { service: RunningProcess; metricsPort: number }[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      const metricsPort = await freePort();
      const service = startProcess('services/recommendation/dist/main.js', [], {
        ...env,
        RECOMMENDER_MODEL: kind,
        RECOMMENDATION_PORT: String(await freePort()),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'log',
      });
      running.push({ service, metricsPort });
    }
    await Promise.all(running.map(({ service }) => service.waitFor(/listening on tcp/, 60_000)));
    await untilEveryListCurrent(db, model);
    const before = await Promise.all(running.map(({ metricsPort }) => listsComputed(metricsPort)));
    const changed = performance.now();
    await changeEveryVector(db, model, kind);
    const committed = performance.now();
    const waited = await untilEveryListCurrent(db, model);
    const after = await Promise.all(running.map(({ metricsPort }) => listsComputed(metricsPort)));
    const byProcess = after.map((counts, i) => (counts.model ?? 0) - (before[i]!.model ?? 0));
    const customers = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0]!.n;
    console.log(
      `  ${processes} process${processes === 1 ? '' : 'es'}: every list current ${ms(waited)} after the commit ` +
        `(the UPDATE took ${ms(committed - changed)}); lists computed by each: ${byProcess.join(' + ')} = ` +
        `${byProcess.reduce((a, b) => a + b, 0)} for ${customers} customers   load ${load()}`,
    );
  } finally {
    await Promise.all(running.map(({ service }) => stop(service)));
  }
}

async function main(): Promise<void> {
  const env = {
    DATABASE_URL,
    QUEUE_PREFIX,
    EMBEDDING_PROVIDER: 'local',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  await prepareBenchDatabase(env, { train: MODELS.some((kind) => kind !== 'description') });
  // Jobs left by an earlier run (a run stopped halfway) must not count in this one.
  const queue = new Queue(QueueNames.RecommendationRefresh, {
    connection: bullConnection({ redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
    prefix: QUEUE_PREFIX,
  });
  await queue.obliterate({ force: true });
  await queue.close();
  const db = await connectDatabase(DATABASE_URL, { max: 2, applicationName: 'bench-refresh' });
  try {
    console.log(`load average ${load()} (1, 5, 15 min) on ${availableParallelism()} cores`);
    const customers = (await db.query<{ id: number }>('SELECT customer_id AS id FROM customers')).rows.map(
      (row) => row.id,
    );
    for (const kind of MODELS) {
      console.log(`\n${kind} (${servedModelOf(kind, DESCRIPTION_MODEL).name})`);
      await oneList(db, kind, customers);
      for (const processes of PROCESSES) await refresh(db, kind, processes, env);
    }
  } finally {
    await db.end();
  }
}

runBench('bench:refresh', main);
