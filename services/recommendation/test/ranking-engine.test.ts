import { describe, expect, it } from '@jest/globals';
import { MAX_TOP_N, type ServedModel } from '@retail/common';
import { BATCH, ProductMatrix } from '../src/ranking/product-matrix.js';
import { RankingEngine, type CatalogRow } from '../src/ranking/ranking-engine.js';

/** A small deterministic generator, so that a failure can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** rows x dims float32 vectors: the first `denseDims` dimensions used by every row, the rest by ~5 %. */
function vectors(rows: number, dims: number, denseDims: number, random: () => number): Float32Array {
  const out = new Float32Array(rows * dims);
  for (let r = 0; r < rows; r++) {
    for (let d = 0; d < dims; d++) {
      if (d < denseDims || random() < 0.05) out[r * dims + d] = random() * 2 - 1;
    }
  }
  return out;
}

function dot(matrix: Float32Array, row: number, dims: number, user: Float64Array): number {
  let sum = 0;
  for (let d = 0; d < dims; d++) sum += matrix[row * dims + d]! * user[d]!;
  return sum;
}

describe('ProductMatrix', () => {
  it.each([
    ['dense and sparse dimensions', 37, 11],
    ['dense only', 24, 24],
    ['sparse only', 50, 0],
  ])('scores equal a double-precision brute force (%s), one user or a batch', (_label, dims, denseDims) => {
    const random = seeded(dims);
    const rows = 301;
    const data = vectors(rows, dims, denseDims, random);
    const matrix = new ProductMatrix(data, rows, dims);
    for (const count of [1, 3, BATCH]) {
      const users = Array.from({ length: count }, () =>
        Float64Array.from({ length: dims }, () => random() - 0.5),
      );
      const seen: number[] = [];
      matrix.score(users, (k, scores) => {
        seen.push(k);
        expect(scores).toHaveLength(rows);
        for (let r = 0; r < rows; r++) {
          const exact = dot(data, r, dims, users[k]!);
          expect(Math.abs(scores[r]! - exact)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(exact)));
        }
      });
      expect(seen).toEqual(Array.from({ length: count }, (_, k) => k));
    }
  });

  it('refuses a user vector of the wrong dimension', () => {
    const matrix = new ProductMatrix(new Float32Array(8), 2, 4);
    expect(() => matrix.score([new Float64Array(3)], () => undefined)).toThrow(/3 dimensions, not 4/);
  });
});

describe('RankingEngine', () => {
  const description: ServedModel = { kind: 'description', name: 'm', descriptionModel: 'm' };

  /** 150 merchandise products P000..P149 (P007 and P008 share a description), and one service line. */
  function shop(engine: RankingEngine, random: () => number) {
    const catalog: CatalogRow[] = Array.from({ length: 150 }, (_, i) => ({
      productId: `P${String(i).padStart(3, '0')}`,
      description: i === 8 ? 'PRODUCT 7' : `PRODUCT ${i}`,
      isMerchandise: true,
    }));
    catalog.push({ productId: 'POST', description: 'POSTAGE', isMerchandise: false });
    engine.setCatalog(catalog);
    const dims = 16;
    const data = vectors(150, dims, 4, random);
    engine.setDescriptionModel({
      model: 'm',
      version: 3,
      productIds: catalog.slice(0, 150).map((p) => p.productId),
      dims,
      vectors: data,
    });
    return { catalog, data, dims };
  }

  it('ranks like the SQL did: normalised mean of what was bought, purchases and their namesakes left out', () => {
    const engine = new RankingEngine(description, 1);
    const { catalog, data, dims } = shop(engine, seeded(7));
    engine.setCustomers(
      [{ customerId: 1, purchasesHash: 'h1', itemsHash: 'i1' }],
      new Map([[1, ['P007', 'P020', 'POST']]]),
    );
    const list = engine.list('description', 1)!;
    const mean = new Float64Array(dims);
    for (const row of [7, 20]) for (let d = 0; d < dims; d++) mean[d]! += data[row * dims + d]!;
    const norm = Math.hypot(...mean);
    const expected = catalog
      .slice(0, 150)
      .map((p, row) => ({ id: p.productId, score: dot(data, row, dims, mean) / norm }))
      .filter((p) => !['P007', 'P008', 'P020'].includes(p.id))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
      .slice(0, MAX_TOP_N);
    expect(list.withVectors).toBe(2);
    expect(Array.from(list.products, (p) => engine.productId(p))).toEqual(expected.map((p) => p.id));
    list.scores.forEach((score, i) => expect(score).toBeCloseTo(expected[i]!.score, 12));
  });

  it('breaks ties by product id', () => {
    const engine = new RankingEngine(description, 1);
    engine.setCatalog(
      ['B', 'A', 'C', 'X'].map((id) => ({ productId: id, description: id, isMerchandise: true })),
    );
    // A, B and C score the same for a customer who bought X.
    engine.setDescriptionModel({
      model: 'm',
      version: 1,
      productIds: ['B', 'A', 'C', 'X'],
      dims: 2,
      vectors: Float32Array.from([1, 0, 1, 0, 1, 0, 1, 0]),
    });
    engine.setCustomers([{ customerId: 1, purchasesHash: 'h', itemsHash: 'i' }], new Map([[1, ['X']]]));
    const list = engine.list('description', 1)!;
    expect(Array.from(list.products, (p) => engine.productId(p))).toEqual(['A', 'B', 'C']);
  });

  it('keeps a list until its inputs change: purchases or the model version', () => {
    const engine = new RankingEngine(description, 1);
    const { catalog, data, dims } = shop(engine, seeded(11));
    const customers = (hash: string) =>
      engine.setCustomers(
        [{ customerId: 5, purchasesHash: hash, itemsHash: hash }],
        new Map([[5, ['P001']]]),
      );
    customers('a');
    const first = engine.list('description', 5)!;
    expect(engine.freshList('description', 5)).toBe(first);
    customers('b');
    expect(engine.freshList('description', 5)).toBeUndefined();
    expect(engine.staleCustomers('description', 10)).toEqual([5]);
    const second = engine.list('description', 5)!;
    expect(second).not.toBe(first);
    engine.setDescriptionModel({
      model: 'm',
      version: 4,
      productIds: catalog.slice(0, 150).map((p) => p.productId),
      dims,
      vectors: data,
    });
    expect(engine.freshList('description', 5)).toBeUndefined();
    expect(engine.list('description', 5)!.version).toBe(4);
    expect(engine.list('description', 99)).toBeUndefined();
  });

  it('builds the hybrid vector from the description mean and the input vectors; cold customers get none', () => {
    const hybrid: ServedModel = { kind: 'hybrid', name: 'h', descriptionModel: 'm' };
    const random = seeded(3);
    const engine = new RankingEngine(hybrid, 2);
    const { catalog, data: descriptions, dims: descriptionDims } = shop(engine, random);
    const rank = 5;
    const dims = descriptionDims + rank + 1;
    const items = vectors(150, dims, dims, random);
    const inputs = vectors(150, rank, rank, random);
    engine.setFactorModel({
      model: 'h',
      kind: 'hybrid',
      version: 9,
      productIds: catalog.slice(0, 150).map((p) => p.productId),
      dims,
      vectors: items,
      rank,
      inputs,
      descriptionDims,
    });
    engine.setCustomers(
      [
        { customerId: 1, purchasesHash: 'a', itemsHash: 'a' },
        { customerId: 2, purchasesHash: 'b', itemsHash: 'b' },
      ],
      new Map([
        [1, ['P003', 'P004', 'POST']],
        [2, ['P005']],
      ]),
    );
    const user = new Float64Array(dims);
    for (const row of [3, 4]) {
      for (let d = 0; d < descriptionDims; d++) user[d]! += descriptions[row * descriptionDims + d]!;
      for (let c = 0; c < rank; c++) user[descriptionDims + c]! += inputs[row * rank + c]!;
    }
    const norm = Math.hypot(...user.subarray(0, descriptionDims));
    for (let d = 0; d < descriptionDims; d++) user[d]! /= norm;
    user[dims - 1] = 1;
    const expected = catalog
      .slice(0, 150)
      .map((p, row) => ({ id: p.productId, score: dot(items, row, dims, user) }))
      .filter((p) => !['P003', 'P004'].includes(p.id))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
      .slice(0, MAX_TOP_N);
    const list = engine.list('served', 1)!;
    expect(Array.from(list.products, (p) => engine.productId(p))).toEqual(expected.map((p) => p.id));
    list.scores.forEach((score, i) => expect(score).toBeCloseTo(expected[i]!.score, 12));
    // One purchase known to the model, fewer than the 2 it needs: no list (the service falls back).
    const cold = engine.list('served', 2)!;
    expect(cold.withVectors).toBe(1);
    expect(cold.products).toHaveLength(0);
    expect(engine.list('description', 2)!.products.length).toBeGreaterThan(0);
  });
});
