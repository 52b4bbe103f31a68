/** What every benchmark shares: its own database (never the demo's) and how it ends. */

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
