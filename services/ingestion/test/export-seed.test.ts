import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Database } from '@retail/common';
import { connectTestDatabase, resetDatabase, runCli } from '@retail/common/testing';
import { IngestionService } from '../src/ingestion.service.js';

let db: Database;
let out: string;

beforeAll(async () => {
  db = await connectTestDatabase();
  await resetDatabase(db);
  await new IngestionService(db).ingest(path.join(import.meta.dirname, 'fixtures', 'small.csv'));
  out = await mkdtemp(path.join(tmpdir(), 'seed-export-'));
});

afterAll(async () => {
  await db.end();
  await rm(out, { recursive: true, force: true });
});

describe('npm run export:seed', () => {
  it("writes the seed's user_purchases.json: each customer's distinct StockCodes", async () => {
    const result = await runCli('services/ingestion/dist/export-seed.cli.js', ['--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(3 users)');
    const written = JSON.parse(await readFile(path.join(out, 'user_purchases.json'), 'utf8'));
    expect(written).toEqual({
      '12583': ['22632', '22633', '23444', '71053'],
      '13047': ['21754', '22632', '22633'],
      '17850': ['71053', '84406B', '85123A', 'POST'],
    });
  });

  it('refuses to run without --out', async () => {
    const result = await runCli('services/ingestion/dist/export-seed.cli.js', []);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--out DIR is required');
  });
});
