/**
 * What every benchmark shares: its own database (never the demo's), how it is prepared, and how a
 * benchmark ends.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, connectDatabase, type Database, type RecommenderKind } from '@retail/common';
import { runMigrations } from '@retail/common/migrate';
import { metricSamples, type RunningProcess } from '@retail/testing';

/** The benchmarks' database: BENCH_DATABASE_URL, default retail_bench (created by `npm run setup`). */
export const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_bench';

/** Runs a benchmark: exit code 0 when it finishes, one line on standard error and 1 when it fails. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}

/** Runs one of the project's built commands to its end, its output on this terminal; throws when it fails. */
export function runStep(script: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, script), ...args], {
    env: { ...process.env, ...env },
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`${script} failed`);
}

/**
 * The bench database as the benchmarks need it: migrated, the real data set loaded (the first time only),
 * every product embedded with the configured model, and with `train` the models learned from purchases
 * trained (each step does nothing when it is already done); then its tables compacted.
 */
export async function prepareBenchDatabase(
  env: NodeJS.ProcessEnv,
  { train }: { train: boolean },
): Promise<void> {
  await runMigrations(BENCH_DATABASE_URL);
  const db = await connectDatabase(BENCH_DATABASE_URL, { max: 1, applicationName: 'bench-prepare' });
  try {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
    if (rows[0]!.n === 0) runStep('services/ingestion/dist/main.js', ['--no-embeddings'], env);
  } finally {
    await db.end();
  }
  runStep('services/embedder/dist/embed.cli.js', ['--wait'], env);
  if (train) runStep('services/recommendation/dist/training/train.cli.js', ['--wait'], env);
  await compactBenchTables();
}

/**
 * Every benchmark rewrites vectors and lists, and a Postgres without autovacuum (as the CI machines' is
 * configured) keeps every dead row version: after a few runs the tables the rankings scan were 9 times their
 * live size, and one list took 65 ms instead of 8. Each benchmark therefore starts from compacted tables.
 */
async function compactBenchTables(): Promise<void> {
  const db = await connectDatabase(BENCH_DATABASE_URL, { max: 1, applicationName: 'bench-prepare' });
  try {
    await db.query(
      'VACUUM (FULL, ANALYZE) product_factors, product_embeddings, user_recommendations, user_items',
    );
  } finally {
    await db.end();
  }
}

/** Waits until the gateway at `url` answers ready (throws with its output after about 20 s). */
export async function untilGatewayReady(url: string, gateway: RunningProcess, attempts = 100): Promise<void> {
  for (let i = 0; ; i++) {
    const ok = await fetch(new URL('/api/health/ready', url)).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (i === attempts) throw new Error(`the gateway did not become ready:\n${gateway.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The machine's load average (1, 5, 15 min), printed beside every figure. */
export function load(): string {
  return loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; 0 elsewhere). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** How many customers have a current list in `model` (computed from their purchases and the model as they are). */
export async function currentLists(db: Database, model: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM customers c
       JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $1
      WHERE r.customer_version = c.version
        AND r.model_version = (SELECT version FROM model_versions WHERE model = $1)`,
    [model],
  );
  return rows[0]!.n;
}

/** Waits until every customer has a current list in `model`; returns the milliseconds waited. */
export async function untilEveryListCurrent(
  db: Database,
  model: string,
  timeoutMs = 300_000,
): Promise<number> {
  const started = performance.now();
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
  const customers = rows[0]!.n;
  while ((await currentLists(db, model)) < customers) {
    if (performance.now() - started > timeoutMs) {
      throw new Error(`the lists of ${model} were not all current after ${timeoutMs} ms`);
    }
    // Not too often: each look is a join over every customer, and the refresh needs the cores.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return performance.now() - started;
}

/** Rewrites every vector of `model` in one transaction (its version moves, as after a training or an embedding run). */
export async function changeEveryVector(db: Database, model: string, kind: RecommenderKind): Promise<void> {
  await db.query(
    kind === 'description'
      ? 'UPDATE product_embeddings SET embedding = embedding WHERE model = $1'
      : 'UPDATE product_factors SET item_vector = item_vector WHERE model = $1',
    [model],
  );
}

/** Lists a recommendation process computed so far, by reason (its /metrics on `metricsPort`). */
export async function listsComputed(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const { labels, value } of metricSamples(text, 'retail_recommendation_lists_computed_total')) {
    const reason = labels.reason ?? '?';
    counts[reason] = (counts[reason] ?? 0) + value;
  }
  return counts;
}
