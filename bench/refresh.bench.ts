#!/usr/bin/env node
/**
 * `npm run bench:refresh`: how long the recommendation lists take to be current again after a change, per
 * served model (description, copurchase, hybrid), on the real catalog in the bench database
 * (BENCH_DATABASE_URL, default retail_bench; loaded, embedded and trained first when it is not).
 *   in process  the RankingEngine alone, as the service holds it: reading its inputs from Postgres (one
 *               snapshot, vectors by binary COPY), computing every customer's list (wall and CPU time), one
 *               cold list at a time (what a request pays when its list is not ready: no database time at
 *               all), and writing every list to user_recommendations;
 *   end to end  the recommendation service as its own process: its lists current, then a change of every
 *               vector of the served model (each row rewritten in one transaction, as a training or an
 *               embedding run does: the model's version moves and the trigger notifies), and the time until
 *               every customer's list in user_recommendations is current again (notification, reading the
 *               new vectors, computing, writing), BENCH_RUNS times (default 2).
 * BENCH_MODELS (default copurchase,hybrid,description) chooses the models. Prints the machine's load. The
 * description model comes last: rewriting its vectors makes the co-purchase and hybrid models stale, and a
 * service serving them would retrain them (a minute or two of CPU) in the middle of their runs; the next
 * invocation retrains them first (`npm run train -- --wait`).
 */
import { loadavg } from 'node:os';
import {
  LOCAL_EMBEDDING_MODEL,
  connectDatabase,
  servedModelOf,
  type Database,
  type RecommenderKind,
  type ServedModel,
} from '@retail/common';
import { freePort, startProcess, type RunningProcess } from '@retail/testing';
import { RankingEngine } from '../services/recommendation/dist/ranking/ranking-engine.js';
import { RankingInputsRepository } from '../services/recommendation/dist/ranking/ranking-inputs.repository.js';
import { BENCH_DATABASE_URL as DATABASE_URL, prepareBenchDatabase, runBench } from './bench-kit.ts';

const DESCRIPTION_MODEL = LOCAL_EMBEDDING_MODEL;
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const MODELS = (process.env.BENCH_MODELS ?? 'copurchase,hybrid,description').split(',') as RecommenderKind[];
const COLD_SAMPLE = 500;

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const modelName = (kind: RecommenderKind): string => servedModelOf(kind, DESCRIPTION_MODEL).name;

async function inProcess(db: Database, kind: RecommenderKind): Promise<void> {
  const served: ServedModel = { kind, name: modelName(kind), descriptionModel: DESCRIPTION_MODEL };
  const repository = new RankingInputsRepository(db);
  const engine = new RankingEngine(served, 1);
  const started = performance.now();
  const read = await repository.read({
    catalog: true,
    customers: true,
    descriptionModel: DESCRIPTION_MODEL,
    ...(kind === 'description' ? {} : { factorModel: { name: served.name, kind } }),
    loaded: { description: undefined, factor: undefined },
  });
  const readMs = performance.now() - started;
  engine.setCatalog(read.catalog!);
  engine.setCustomers(read.customers!.rows, read.customers!.items);
  engine.setDescriptionModel(read.description ?? undefined);
  if (kind !== 'description') engine.setFactorModel(read.factor ?? undefined);
  const which = kind === 'description' ? 'description' : 'served';
  console.log(`  inputs read in ${ms(readMs)} (${engine.layout(which)})`);

  const customers = [...engine.customerIds()];
  for (let run = 1; run <= RUNS; run++) {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    // As the refresher does: slices of 16 (two batches of 8 users per pass over the products).
    const stale = engine.staleCustomers(which, Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < stale.length; i += 16) engine.compute(which, stale.slice(i, i + 16));
    const wallMs = performance.now() - wall;
    const cpuMs = process.cpuUsage(cpu).user / 1000;
    console.log(
      `  every list (${stale.length}) computed: ${ms(wallMs)} wall, ${ms(cpuMs)} CPU ` +
        `(${((cpuMs / stale.length) * 1000).toFixed(0)} µs CPU a list)   load ${load()}`,
    );
    // Force the next run to recompute everything.
    engine.setCustomers(
      read.customers!.rows.map((r) => ({ ...r, purchasesHash: `${r.purchasesHash}~${run}` })),
      read.customers!.items,
    );
  }

  const cold: number[] = [];
  for (let i = 0; i < COLD_SAMPLE; i++) {
    const id = customers[Math.floor(Math.random() * customers.length)]!;
    const t = performance.now();
    engine.compute(which, [id]);
    cold.push(performance.now() - t);
  }
  console.log(
    `  one cold list at a time (${COLD_SAMPLE} random customers): p50 ${ms(percentile(cold, 50))}, ` +
      `p99 ${ms(percentile(cold, 99))}, 0 ms of database time`,
  );

  const lists = [...engine.compute(which, customers)].map(([customerId, list]) => ({
    customerId,
    model: served.name,
    productIds: Array.from(list.products, (p) => engine.productId(p)),
    list,
  }));
  const write = performance.now();
  for (let i = 0; i < lists.length; i += 1_000) await repository.saveLists(lists.slice(i, i + 1_000));
  console.log(`  every list written to user_recommendations: ${ms(performance.now() - write)}`);
}

async function endToEnd(db: Database, kind: RecommenderKind, env: Record<string, string>): Promise<void> {
  const model = modelName(kind);
  const customers = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0]!.n;
  const fresh = async () =>
    (
      await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM user_recommendations r JOIN customers c USING (customer_id)
          WHERE r.model = $1 AND r.purchases_hash = c.purchases_hash
            AND r.vectors_version = (SELECT version FROM embedding_models WHERE model = $1)`,
        [model],
      )
    ).rows[0]!.n;
  const untilFresh = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while ((await fresh()) < customers) {
      if (Date.now() > deadline)
        throw new Error(`the lists of ${model} were not current after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const service: RunningProcess = startProcess('services/recommendation/dist/main.js', [], {
    ...env,
    RECOMMENDER_MODEL: kind,
    RECOMMENDATION_PORT: String(await freePort()),
    LOG_LEVEL: 'log',
  });
  try {
    const start = Date.now();
    await service.waitFor(/listening on tcp/);
    await untilFresh(300_000);
    console.log(`  after a start: every list current and written in ${ms(Date.now() - start)}`);
    for (let run = 1; run <= RUNS; run++) {
      const changed = Date.now();
      if (kind === 'description') {
        await db.query('UPDATE product_embeddings SET embedding = embedding WHERE model = $1', [model]);
      } else {
        await db.query('UPDATE product_factors SET item_vector = item_vector WHERE model = $1', [model]);
      }
      const committed = Date.now();
      await untilFresh(300_000);
      console.log(
        `  after every vector of the model changed (run ${run}): every list current and written ` +
          `${ms(Date.now() - committed)} after the commit (the UPDATE took ${ms(committed - changed)})   load ${load()}`,
      );
    }
    const lines = service
      .output()
      .split('\n')
      .filter((line) => /RankingStore|RecommendationRefresher/.test(line))
      .map(
        (line) =>
          `    ${(/"message":"([^"]*)"/.exec(line) ?? [line, line.replace(/^.*?(LOG|WARN) /, '')])[1]}`,
      );
    console.log(lines.join('\n'));
  } finally {
    service.kill('SIGTERM');
    await service.exited;
  }
}

async function main(): Promise<void> {
  const env = {
    DATABASE_URL,
    QUEUE_PREFIX: 'retail-bench',
    EMBEDDING_PROVIDER: 'local',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  await prepareBenchDatabase(env, { train: MODELS.some((kind) => kind !== 'description') });
  const db = await connectDatabase(DATABASE_URL, { max: 2, applicationName: 'bench-refresh' });
  try {
    console.log(
      `load average ${load()} (1, 5, 15 min) on ${(await import('node:os')).availableParallelism()} cores`,
    );
    for (const kind of MODELS) {
      console.log(`\n${kind} (${modelName(kind)})`);
      await inProcess(db, kind);
      await endToEnd(db, kind, env);
    }
  } finally {
    await db.end();
  }
}

runBench('bench:refresh', main);
