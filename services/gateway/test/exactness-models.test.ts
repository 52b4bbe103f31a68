import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import {
  COPURCHASE_MODEL,
  SHARED_DATA_FILE,
  hybridModel,
  type Database,
  type RedisClient,
} from '@retail/common';
import { closeTestStores, eventually, openTestStores, runCli } from '@retail/testing';
import { startStack, type TestStack } from './stack.js';

const DESCRIPTION_MODEL = 'local-hashed-ngrams-v1';
const HYBRID_MODEL = hybridModel(DESCRIPTION_MODEL);
const TOP_N = 12;
/** The served lists are computed in float32 (pgvector): two products closer than this may swap. */
const TIE = 1e-5;
/** Cold start in these tests: fewer than 3 purchases known to the model. */
const MIN_PURCHASES = 3;

let db: Database;
let redis: RedisClient;
let dir: string;

/**
 * The first week of the real file (lines dated before 2010-12-08: 422 customers, 1,852 products), so that
 * the co-purchase model trains in seconds; the serving query does not depend on the catalog's size.
 */
async function firstWeek(file: string): Promise<void> {
  const lines = createInterface({ input: createReadStream(SHARED_DATA_FILE).pipe(createGunzip()) });
  const kept: string[] = [];
  for await (const line of lines) {
    if (kept.length === 0) kept.push(line);
    else if (/,2010-12-0[1-7] /.test(line)) kept.push(line);
  }
  await writeFile(file, `${kept.join('\n')}\n`);
}

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  dir = await mkdtemp(path.join(tmpdir(), 'retail-models-'));
  const file = path.join(dir, 'first-week.csv');
  await firstWeek(file);
  const ingest = await runCli('services/ingestion/dist/main.js', ['--file', file]);
  if (ingest.code !== 0) throw new Error(`ingestion failed:\n${ingest.stderr}`);
  const embed = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
  if (embed.code !== 0) throw new Error(`embedding failed:\n${embed.stdout}${embed.stderr}`);
});

afterAll(async () => {
  await closeTestStores({ db, redis });
  await rm(dir, { recursive: true, force: true });
});

interface Scored {
  product_id: string;
  score: number;
}

async function bruteForce(model: string, kind: 'copurchase' | 'hybrid') {
  const { rows: factorRows } = await db.query<{
    product_id: string;
    description: string;
    item_vector: Float32Array;
    input_vector: Float32Array;
  }>(
    `SELECT f.product_id, p.description, f.item_vector, f.input_vector
       FROM product_factors f JOIN products p USING (product_id) WHERE f.model = $1 AND p.is_merchandise`,
    [model],
  );
  const factors = new Map(factorRows.map((row) => [row.product_id, row]));
  const { rows: embeddingRows } = await db.query<{ product_id: string; embedding: Float32Array }>(
    `SELECT product_id, embedding FROM product_embeddings WHERE model = $1`,
    [DESCRIPTION_MODEL],
  );
  const embeddings = new Map(embeddingRows.map((row) => [row.product_id, row.embedding]));
  const { rows: items } = await db.query<{
    customer_id: number;
    product_id: string;
    description: string;
    is_merchandise: boolean;
  }>(
    `SELECT ui.customer_id, ui.product_id, p.description, p.is_merchandise FROM user_items ui JOIN products p USING (product_id)`,
  );
  const bought = new Map<number, { ids: Set<string>; merchandise: string[]; descriptions: Set<string> }>();
  for (const item of items) {
    const entry = bought.get(item.customer_id) ?? {
      ids: new Set(),
      merchandise: [],
      descriptions: new Set(),
    };
    entry.ids.add(item.product_id);
    if (item.is_merchandise) entry.merchandise.push(item.product_id);
    if (item.description !== '') entry.descriptions.add(item.description);
    bought.set(item.customer_id, entry);
  }
  const rank = factorRows[0]!.input_vector.length;

  /** The user's vector in double precision, from the stored vectors; undefined for a cold-start customer. */
  const userVector = (customer: number): Float64Array | undefined => {
    const mine = bought.get(customer)!;
    const known = mine.merchandise.filter((id) => factors.has(id));
    if (known.length < MIN_PURCHASES) return undefined;
    const sum = new Float64Array(rank);
    for (const id of known) {
      const input = factors.get(id)!.input_vector;
      for (let c = 0; c < rank; c++) sum[c]! += input[c]!;
    }
    if (kind === 'copurchase') return Float64Array.from([...sum, 1]);
    const mean = new Float64Array(1024);
    for (const id of mine.merchandise) {
      const e = embeddings.get(id);
      if (e) for (let c = 0; c < 1024; c++) mean[c]! += e[c]!;
    }
    const norm = Math.sqrt(mean.reduce((s, x) => s + x * x, 0));
    return Float64Array.from([...mean.map((x) => (norm > 0 ? x / norm : 0)), ...sum, 1]);
  };

  const ranking = (customer: number): Scored[] | undefined => {
    const u = userVector(customer);
    if (!u) return undefined;
    const mine = bought.get(customer)!;
    const scored: Scored[] = [];
    for (const [id, row] of factors) {
      if (mine.ids.has(id) || mine.descriptions.has(row.description)) continue;
      let dot = 0;
      for (let c = 0; c < u.length; c++) dot += row.item_vector[c]! * u[c]!;
      scored.push({ product_id: id, score: dot });
    }
    return scored.sort((a, b) => b.score - a.score || (a.product_id < b.product_id ? -1 : 1));
  };
  return { customers: [...bought.keys()].sort((a, b) => a - b), ranking, bought };
}

async function expectExact(stack: TestStack, model: string, kind: 'copurchase' | 'hybrid'): Promise<void> {
  const { customers, ranking, bought } = await bruteForce(model, kind);
  let compared = 0;
  let cold = 0;
  for (const customer of customers) {
    const response = await stack.get(`/api/users/${customer}/recommendations?top_n=${TOP_N}`);
    expect(response.status).toBe(200);
    const exact = ranking(customer);
    if (!exact) {
      // Cold start: the description model's list, and the answer says so.
      cold++;
      expect(response.body.model).toBe(DESCRIPTION_MODEL);
      expect(response.body.basis).toBe('description');
      expect(response.body.fallback).toMatch(
        /fewer than the 3 it needs: these picks come from product descriptions/,
      );
      continue;
    }
    expect(response.body.model).toBe(model);
    expect(response.body.basis).toBe(kind);
    expect(response.body.fallback).toBeUndefined();
    const api: Scored[] = response.body.recommendations;
    const scores = new Map(exact.map((r) => [r.product_id, r.score]));
    const expected = exact.slice(0, TOP_N);
    expect(api).toHaveLength(expected.length);
    api.forEach((got, i) => {
      expect(bought.get(customer)!.ids.has(got.product_id)).toBe(false);
      expect(Math.abs(got.score - scores.get(got.product_id)!)).toBeLessThan(TIE);
      if (got.product_id !== expected[i]!.product_id) {
        expect(Math.abs(scores.get(got.product_id)! - expected[i]!.score)).toBeLessThan(TIE);
      }
    });
    compared++;
  }
  expect(compared).toBeGreaterThan(300);
  expect(cold).toBeGreaterThan(0);
}

describe('the co-purchase and hybrid models', () => {
  it('answer from descriptions until trained, train through the queue, then serve exact pgvector rankings', async () => {
    const stack = await startStack({
      RECOMMENDER_MODEL: 'hybrid',
      RECOMMENDER_MIN_PURCHASES: String(MIN_PURCHASES),
    });
    try {
      // Right after the start nothing is trained yet (a training takes seconds even on this subset): the
      // answer comes from descriptions, and says so.
      const first = await stack.get('/api/users/17850/recommendations');
      expect(first.status).toBe(200);
      expect(first.body.model).toBe(DESCRIPTION_MODEL);
      expect(first.body.basis).toBe('description');
      expect(first.body.fallback).toMatch(/the hybrid model is not trained yet/);
      expect(first.body.recommendations).toHaveLength(12);
      // The service queued the training itself (the purchases changed) and its worker ran it.
      await eventually(async () => {
        const { rows } = await db.query('SELECT 1 FROM recommender_models WHERE model = $1', [HYBRID_MODEL]);
        return rows.length > 0;
      }, 120_000);
      await expectExact(stack, HYBRID_MODEL, 'hybrid');
    } finally {
      await stack.close();
    }
  });

  it('the co-purchase model serves exact rankings of its own vectors', async () => {
    const trained = await runCli('services/recommendation/dist/training/train.cli.js', ['--wait']);
    expect(trained.stdout).toMatch(/already trained from the current purchases/);
    const stack = await startStack({
      RECOMMENDER_MODEL: 'copurchase',
      RECOMMENDER_MIN_PURCHASES: String(MIN_PURCHASES),
    });
    try {
      await expectExact(stack, COPURCHASE_MODEL, 'copurchase');
    } finally {
      await stack.close();
    }
  });

  it('names, for a pick, the purchases that pulled it up, with their exact contributions', async () => {
    const { PurchaseInfluenceRepository } =
      await import('../../explanation/src/context/purchase-influence.repository.js');
    const influence = new PurchaseInfluenceRepository(db);
    const { rows } = await db.query<{ product_ids: string[] }>(
      `SELECT product_ids FROM user_recommendations WHERE customer_id = 17850 AND model = $1`,
      [COPURCHASE_MODEL],
    );
    const pick = rows[0]!.product_ids[0]!;
    const found = (await influence.influences(17850, [pick], COPURCHASE_MODEL, 5)).get(pick)!;
    expect(found.length).toBeGreaterThan(0);
    // Recomputed from the stored vectors: input_j . (the co-purchase part of the pick's vector).
    const { rows: vectors } = await db.query<{
      product_id: string;
      item_vector: Float32Array;
      input_vector: Float32Array;
    }>(`SELECT product_id, item_vector, input_vector FROM product_factors WHERE model = $1`, [
      COPURCHASE_MODEL,
    ]);
    const byId = new Map(vectors.map((v) => [v.product_id, v]));
    const item = byId.get(pick)!.item_vector;
    const contributions = found.map((f) => {
      const input = byId.get(f.product_id)!.input_vector;
      return input.reduce((s, x, c) => s + x * item[c]!, 0);
    });
    found.forEach((f, i) => expect(f.contribution).toBeCloseTo(contributions[i]!, 5));
    for (let i = 1; i < found.length; i++)
      expect(found[i]!.contribution).toBeLessThanOrEqual(found[i - 1]!.contribution);
  });
});
