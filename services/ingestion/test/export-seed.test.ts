import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOCAL_EMBEDDING_MODEL, type Database } from '@retail/common';
import { connectTestDatabase, resetDatabase, runCli, tableCounts } from '@retail/testing';
import { IngestionService } from '../src/ingestion.service.js';

let db: Database;
let out: string;

interface SeedProduct {
  product_id: string;
  description: string;
  embedding: number[];
}

beforeAll(async () => {
  db = await connectTestDatabase();
  await resetDatabase(db);
  await new IngestionService(db).ingest(path.join(import.meta.dirname, 'fixtures', 'small.csv'));
  const embedded = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
  expect(embedded.stdout).toContain('embedded 6,');
  out = await mkdtemp(path.join(tmpdir(), 'seed-'));
});

afterAll(async () => {
  await db.end();
  await rm(out, { recursive: true, force: true });
});

describe('npm run export:seed', () => {
  it("writes the seed's user_purchases.json and product_embeddings.json", async () => {
    const result = await runCli('services/ingestion/dist/export-seed.cli.js', ['--out', out]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(3 users)');
    expect(result.stdout).toContain(`(6 products, model ${LOCAL_EMBEDDING_MODEL})`);

    const purchases = JSON.parse(await readFile(path.join(out, 'user_purchases.json'), 'utf8'));
    expect(purchases).toEqual({
      '12583': ['22632', '22633', '23444', '71053'],
      '13047': ['21754', '22632', '22633'],
      '17850': ['71053', '84406B', '85123A', 'POST'],
    });

    const products = JSON.parse(await readFile(path.join(out, 'product_embeddings.json'), 'utf8')) as Record<
      string,
      SeedProduct
    >;
    expect(Object.keys(products).sort()).toEqual(['21754', '22632', '22633', '71053', '84406B', '85123A']);
    expect(products['85123A']).toMatchObject({
      product_id: '85123A',
      description: 'WHITE HANGING HEART T-LIGHT HOLDER',
    });
    const { rows } = await db.query(
      `SELECT embedding FROM product_embeddings WHERE product_id = '85123A' AND model = $1`,
      [LOCAL_EMBEDDING_MODEL],
    );
    // The exported decimals give back exactly the stored float32 values.
    expect(Array.from(Float32Array.from(products['85123A']!.embedding))).toEqual(
      Array.from(rows[0].embedding),
    );
  });

  it('refuses to run without --out', async () => {
    const result = await runCli('services/ingestion/dist/export-seed.cli.js', []);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--out DIR is required');
  });
});

describe('npm run import:seed', () => {
  it('loads a seed product_embeddings.json as the vectors of a model, normalised', async () => {
    const seedDir = path.join(out, 'import');
    const products = {
      '85123A': {
        product_id: '85123A',
        description: 'WHITE HANGING HEART T-LIGHT HOLDER',
        embedding: ramp(1024, 3),
      },
      '71053': { product_id: '71053', description: 'WHITE METAL LANTERN', embedding: ramp(1024, 1) },
      '99999Z': { product_id: '99999Z', description: 'NOT IN THE CATALOG', embedding: ramp(1024, 2) },
    };
    await writeSeed(seedDir, products);
    const result = await runCli('services/ingestion/dist/import-seed.cli.js', [
      '--dir',
      seedDir,
      '--model',
      'seed-model',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('imported 2 vectors for model seed-model');
    expect(result.stdout).toContain('skipped 1 StockCodes not in the catalog: 99999Z');
    const { rows } = await db.query(
      `SELECT product_id, vector_norm(embedding) AS norm FROM product_embeddings WHERE model = 'seed-model' ORDER BY 1`,
    );
    expect(rows.map((r) => r.product_id)).toEqual(['71053', '85123A']);
    for (const row of rows) expect(row.norm).toBeCloseTo(1, 5);
  });

  it.each([
    [
      'a wrong dimension',
      { '85123A': { product_id: '85123A', description: 'X', embedding: ramp(768, 1) } },
      /"85123A" has 768-dimensional embedding, expected 1024/,
    ],
    [
      'a zero vector',
      { '85123A': { product_id: '85123A', description: 'X', embedding: new Array(1024).fill(0) } },
      /unusable embedding: the vector is all zeros/,
    ],
    [
      'text values',
      { '85123A': { product_id: '85123A', description: 'X', embedding: new Array(1024).fill('1') } },
      /values that are not numbers/,
    ],
  ])('refuses a file with %s and changes nothing', async (_label, products, message) => {
    const seedDir = path.join(out, `bad-${Math.random().toString(36).slice(2)}`);
    await writeSeed(seedDir, {
      '71053': { product_id: '71053', description: 'OK', embedding: ramp(1024, 1) },
      ...products,
    });
    const before = await tableCounts(db);
    const result = await runCli('services/ingestion/dist/import-seed.cli.js', [
      '--dir',
      seedDir,
      '--model',
      'bad-model',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await tableCounts(db)).toEqual(before);
  });
});

function ramp(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => Math.sin(seed * (i + 1)));
}

async function writeSeed(dir: string, products: Record<string, unknown>): Promise<void> {
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(path.join(dir, 'product_embeddings.json'), JSON.stringify(products));
}
