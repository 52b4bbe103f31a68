#!/usr/bin/env node
/**
 * `npm run bench:ingest`: the whole real file into Postgres, timed. Uses its own database
 * (BENCH_DATABASE_URL, default retail_bench) so that it never disturbs the demo's data: one load into
 * empty tables, then re-runs of the same file (which write nothing but the order lines).
 */
import { connectDatabase, defaultDataFile } from '@retail/common';
import { runMigrations } from '@retail/common/migrate';
import { IngestionService, type IngestionReport } from '../services/ingestion/dist/ingestion.service.js';
import { BENCH_DATABASE_URL as url, runBench } from './bench-kit.ts';

const file = process.env.DATA_FILE ?? defaultDataFile();
const reruns = Number(process.env.BENCH_RERUNS ?? 3);

function line(label: string, r: IngestionReport): string {
  const seconds = r.elapsedMs / 1000;
  return (
    `${label.padEnd(22)} ${seconds.toFixed(2).padStart(6)} s  ${Math.round(r.rowsRead / seconds)
      .toLocaleString('en-GB')
      .padStart(9)} rows/s` +
    `   (read+COPY ${r.phasesMs.load} ms, derive ${r.phasesMs.derive} ms, merge ${r.phasesMs.merge} ms)`
  );
}

async function main(): Promise<void> {
  await runMigrations(url);
  const db = await connectDatabase(url, { max: 2, applicationName: 'bench-ingest' });
  try {
    await db.query(
      'TRUNCATE customers, products, order_lines, user_items, product_embeddings, ingestion_runs CASCADE',
    );
    const service = new IngestionService(db);
    console.log(`bench:ingest  ${file}`);
    const first = await service.ingest(file);
    console.log(
      `rows read ${first.rowsRead.toLocaleString('en-GB')}, kept ${first.rowsKept.toLocaleString('en-GB')}`,
    );
    console.log(line('first load (empty db)', first));
    const times: number[] = [];
    for (let i = 1; i <= reruns; i++) {
      const report = await service.ingest(file);
      times.push(report.elapsedMs);
      console.log(line(`re-run ${i} (same file)`, report));
    }
    times.sort((a, b) => a - b);
    if (times.length > 0) {
      console.log(`median re-run          ${(times[Math.floor(times.length / 2)]! / 1000).toFixed(2)} s`);
    }
  } finally {
    await db.end();
  }
}

runBench('bench:ingest', main);
