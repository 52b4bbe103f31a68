/**
 * What every benchmark shares: its own database (never the demo's), how it is prepared, and how a
 * benchmark ends.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, connectDatabase } from '@retail/common';
import { runMigrations } from '@retail/common/migrate';

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
 * trained (each step does nothing when it is already done).
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
}
