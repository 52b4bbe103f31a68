import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { COPURCHASE_MODEL, hybridModel, vectorLiteral, type Database } from '@retail/common';
import { closeTestStores, insertShop, openTestStores, resetDatabase, type TestStores } from '@retail/testing';
import { buildPurchaseMatrix, COPURCHASE_PARAMS, trainCopurchase } from '../src/models/copurchase.js';
import { HYBRID_PARAMS } from '../src/models/hybrid.js';
import { modelsToStore, trainModels, trainingAsOf } from '../src/training/model-trainer.js';
import { TrainingRepository } from '../src/training/training.repository.js';

/**
 * The training's reads and writes against the real Postgres: purchases and description vectors read with
 * binary COPY (the same values as the plain queries), both models written with binary COPY (the exact
 * float32 values of the factors), products outside the catalog skipped, and a store that fails leaving the
 * previous models as they were.
 */

const DESCRIPTION_MODEL = 'test-description-v1';
const HYBRID = hybridModel(DESCRIPTION_MODEL);
const DIMENSIONS = 1024;

let stores: TestStores | undefined;
let db: Database;

/** Deterministic values in (-1, 1). */
function random(seed: number): () => number {
  let s = seed;
  return () => (2 * (s = (s * 16807) % 2147483647)) / 2147483647 - 1;
}

async function shop(): Promise<void> {
  const products = [
    ...['A1', 'A2', 'A3', 'A4', 'B1', 'B2', 'B3', 'B4', 'C1'].map((id) => ({
      product_id: id,
      description: `PRODUCT ${id}`,
    })),
    { product_id: 'POST', description: 'POSTAGE', is_merchandise: false },
  ];
  const next = random(3);
  const purchases: { customer_id: number; product_id: string }[] = [];
  for (let customer = 1; customer <= 24; customer++) {
    const group = customer % 2 === 0 ? 'A' : 'B';
    for (const k of [1, 2, 3, 4])
      if (next() > -0.3) purchases.push({ customer_id: customer, product_id: `${group}${k}` });
    if (customer % 5 === 0) purchases.push({ customer_id: customer, product_id: 'C1' });
    if (customer % 3 === 0) purchases.push({ customer_id: customer, product_id: 'POST' });
  }
  await insertShop(db, { products, purchases });
  // Different times of purchase, for the trend term.
  await db.query(
    `UPDATE user_items SET last_purchased_at = timestamp '2011-11-01 10:00' + customer_id * interval '1 day'
                                               + length(product_id) * interval '7 minutes'`,
  );
  // Description vectors for every merchandise product but C1 (the hybrid gives it zeros there).
  for (const id of ['A1', 'A2', 'A3', 'A4', 'B1', 'B2', 'B3', 'B4']) {
    const v = Float32Array.from({ length: DIMENSIONS }, next);
    await db.query(
      `INSERT INTO product_embeddings (model, product_id, text_hash, embedding) VALUES ($1, $2, 'h', $3::vector)`,
      [DESCRIPTION_MODEL, id, vectorLiteral(v)],
    );
  }
}

async function stored(model: string): Promise<Map<string, { item: Float32Array; input: Float32Array }>> {
  const { rows } = await db.query<{
    product_id: string;
    item_vector: Float32Array;
    input_vector: Float32Array;
  }>('SELECT product_id, item_vector, input_vector FROM product_factors WHERE model = $1', [model]);
  return new Map(rows.map((row) => [row.product_id, { item: row.item_vector, input: row.input_vector }]));
}

beforeAll(async () => {
  stores = await openTestStores({ empty: false });
  db = stores.db;
});

beforeEach(async () => {
  await resetDatabase(db);
  await shop();
});

afterAll(async () => {
  await closeTestStores(stores ?? {});
});

describe('the training repository and trainer', () => {
  it('reads the purchases and the description vectors as the plain queries do', async () => {
    const repository = new TrainingRepository(db);
    const purchases = await repository.purchases();
    const { rows } = await db.query<{ customer_id: number; product_id: string; at: string }>(
      `SELECT ui.customer_id, ui.product_id, ui.last_purchased_at AS at
         FROM user_items ui JOIN products p ON p.product_id = ui.product_id AND p.is_merchandise`,
    );
    const key = (c: number, p: string, t: number) => `${c}|${p}|${t}`;
    expect(purchases.map((r) => key(r.customerId, r.productId, r.lastPurchasedAt.getTime())).sort()).toEqual(
      rows.map((r) => key(r.customer_id, r.product_id, new Date(r.at.replace(' ', 'T')).getTime())).sort(),
    );
    expect(purchases.some((r) => r.productId === 'POST')).toBe(false);

    const vectors = await repository.descriptionVectors(DESCRIPTION_MODEL);
    const { rows: plain } = await db.query<{ product_id: string; embedding: Float32Array }>(
      'SELECT product_id, embedding FROM product_embeddings WHERE model = $1',
      [DESCRIPTION_MODEL],
    );
    expect(vectors.size).toBe(8);
    for (const row of plain) expect(vectors.get(row.product_id)).toEqual(row.embedding);
    expect((await repository.descriptionVectors("a model's name that has none")).size).toBe(0);
  });

  it('stores both models with the exact float32 values of the factors, once per state', async () => {
    const result = await trainModels(db, DESCRIPTION_MODEL);
    // The same training in this process.
    const records = await new TrainingRepository(db).purchases();
    const matrix = buildPurchaseMatrix(records, trainingAsOf(records), COPURCHASE_PARAMS.trendDays);
    const factors = trainCopurchase(matrix);
    expect(result).toMatchObject({
      trained: true,
      models: [COPURCHASE_MODEL, HYBRID],
      products: 9,
      customers: matrix.customerIds.length,
    });
    const { rank } = factors;
    const copurchase = await stored(COPURCHASE_MODEL);
    const hybrid = await stored(HYBRID);
    const descriptions = await new TrainingRepository(db).descriptionVectors(DESCRIPTION_MODEL);
    expect([...copurchase.keys()].sort()).toEqual(factors.productIds);
    expect([...hybrid.keys()].sort()).toEqual(factors.productIds);
    factors.productIds.forEach((id, i) => {
      const output = Array.from(factors.output.subarray(i * rank, (i + 1) * rank), Math.fround);
      const input = Array.from(factors.input.subarray(i * rank, (i + 1) * rank), Math.fround);
      const trend = Math.fround(factors.trendWeight * factors.trend[i]!);
      expect([...copurchase.get(id)!.item]).toEqual([...output, trend]);
      expect([...copurchase.get(id)!.input]).toEqual(input);
      const description = descriptions.get(id);
      const part = description
        ? Array.from(description, (x) => Math.fround(HYBRID_PARAMS.descriptionWeight * x))
        : new Array<number>(DIMENSIONS).fill(0);
      const hybridTrend = Math.fround(HYBRID_PARAMS.trendWeight * factors.trend[i]!);
      expect([...hybrid.get(id)!.item]).toEqual([...part, ...output, hybridTrend]);
      expect([...hybrid.get(id)!.input]).toEqual(input);
    });
    expect(factors.trend.some((t) => t > 0 && t < 1)).toBe(true);

    expect(await trainModels(db, DESCRIPTION_MODEL)).toMatchObject({ trained: false });
  });

  it('skips products no longer in the catalog', async () => {
    await trainModels(db, DESCRIPTION_MODEL);
    const repository = new TrainingRepository(db);
    const records = await repository.purchases();
    const matrix = buildPurchaseMatrix(records, trainingAsOf(records), COPURCHASE_PARAMS.trendDays);
    const models = modelsToStore(
      trainCopurchase(matrix),
      await repository.descriptionVectors(DESCRIPTION_MODEL),
      {
        descriptionModel: DESCRIPTION_MODEL,
        state: await repository.state(DESCRIPTION_MODEL),
        asOf: trainingAsOf(records),
        trainingMs: 1,
      },
    );
    const gone = models.map(({ model, rows }) => ({
      model,
      rows: [...rows, { ...rows[0]!, productId: 'GONE' }],
    }));
    await repository.store(gone);
    expect((await stored(COPURCHASE_MODEL)).size).toBe(9);
    expect((await stored(HYBRID)).has('GONE')).toBe(false);
  });

  it('leaves the previous models as they were when a store fails half-way', async () => {
    await trainModels(db, DESCRIPTION_MODEL);
    const before = {
      copurchase: await stored(COPURCHASE_MODEL),
      hybrid: await stored(HYBRID),
      models: (await db.query('SELECT * FROM recommender_models ORDER BY model')).rows,
    };
    const repository = new TrainingRepository(db);
    const records = await repository.purchases();
    const matrix = buildPurchaseMatrix(records, trainingAsOf(records), COPURCHASE_PARAMS.trendDays);
    const models = modelsToStore(
      trainCopurchase(matrix, { ...COPURCHASE_PARAMS, lambda: 10 }),
      await repository.descriptionVectors(DESCRIPTION_MODEL),
      {
        descriptionModel: DESCRIPTION_MODEL,
        state: await repository.state(DESCRIPTION_MODEL),
        asOf: new Date(),
        trainingMs: 1,
      },
    );
    // The co-purchase model is written, then the hybrid's last row fails (pgvector refuses NaN).
    const broken = models[1]!.rows.at(-1)!;
    broken.item = Float32Array.from(broken.item, (x, c) => (c === 0 ? Number.NaN : x));
    await expect(repository.store(models)).rejects.toThrow(/NaN/);
    expect(await stored(COPURCHASE_MODEL)).toEqual(before.copurchase);
    expect(await stored(HYBRID)).toEqual(before.hybrid);
    expect((await db.query('SELECT * FROM recommender_models ORDER BY model')).rows).toEqual(before.models);
  });
});
