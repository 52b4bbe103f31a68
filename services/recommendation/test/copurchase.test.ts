import { describe, expect, it } from '@jest/globals';
import {
  buildPurchaseMatrix,
  copurchaseInputVector,
  copurchaseItemVector,
  trainCopurchase,
  type CopurchaseParams,
  type PurchaseRecord,
} from '../src/models/copurchase.js';

const AS_OF = new Date('2011-10-01T00:00:00');
const day = (d: number) => new Date(AS_OF.getTime() - d * 86_400_000);

/** Two groups of products bought together: {A1, A2, A3} and {B1, B2, B3}; C0 by a few of each. */
const BASKETS: Record<number, string[]> = {
  1: ['A1', 'A2', 'A3'],
  2: ['A1', 'A2', 'A3', 'C0'],
  3: ['A1', 'A2'],
  4: ['A2', 'A3'],
  5: ['A1', 'A3'],
  6: ['B1', 'B2', 'B3'],
  7: ['B1', 'B2', 'B3', 'C0'],
  8: ['B1', 'B2'],
  9: ['B2', 'B3'],
  10: ['B1', 'B3'],
  11: ['A1'],
};

function records(recentProduct = 'C0'): PurchaseRecord[] {
  return Object.entries(BASKETS).flatMap(([customer, products]) =>
    products.map((productId) => ({
      customerId: Number(customer),
      productId,
      // C0 bought in the last week, everything else two months ago
      lastPurchasedAt: productId === recentProduct ? day(3) : day(60),
    })),
  );
}

/** 301 customers and 150 products in five groups of 30, each customer buying mostly from its own group. */
function randomPurchases(): PurchaseRecord[] {
  let seed = 5;
  const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const products = Array.from({ length: 150 }, (_, i) => `P${String(i).padStart(3, '0')}`);
  const bought: PurchaseRecord[] = [];
  for (let customer = 1; customer <= 301; customer++) {
    const group = customer % 5;
    for (let i = 0; i < products.length; i++) {
      const chance = Math.floor(i / 30) === group ? 0.2 : 0.02;
      if (next() < chance)
        bought.push({ customerId: customer, productId: products[i]!, lastPurchasedAt: day(60) });
    }
  }
  return bought;
}

const PARAMS: CopurchaseParams = {
  lambda: 1,
  rank: 7,
  oversample: 0,
  powerIterations: 1,
  trendDays: 14,
  trendWeight: 0.5,
  seed: 1,
};

/** EASE by the book, with a naive Gauss-Jordan inverse: B = I - P diag(1/diag P), P = (XᵀX + lambda I)⁻¹. */
function easeByTheBook(userItems: Int32Array[], n: number, lambda: number): number[][] {
  const a = Array.from({ length: n }, (_, i) =>
    Array.from({ length: 2 * n }, (_, j) => (j === n + i ? 1 : 0)),
  );
  for (const items of userItems) for (const i of items) for (const j of items) a[i]![j]! += 1;
  for (let i = 0; i < n; i++) a[i]![i]! += lambda;
  for (let c = 0; c < n; c++) {
    const pivot = a[c]![c]!;
    for (let j = 0; j < 2 * n; j++) a[c]![j]! /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < 2 * n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  const p = a.map((row) => row.slice(n));
  return p.map((row, i) => row.map((v, j) => (i === j ? 0 : -v / p[j]![j]!)));
}

describe('the co-purchase model', () => {
  it('builds the user-item matrix and counts recent buyers in the trend window', () => {
    const m = buildPurchaseMatrix(records(), AS_OF, 14);
    expect(m.productIds).toEqual(['A1', 'A2', 'A3', 'B1', 'B2', 'B3', 'C0']);
    expect(m.customerIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect([...m.userItems[1]!]).toEqual([0, 1, 2, 6]);
    expect([...m.recentBuyers]).toEqual([0, 0, 0, 0, 0, 0, 2]);
  });

  it('at full rank, scores equal EASE computed by the book', () => {
    const m = buildPurchaseMatrix(records(), AS_OF, 14);
    const f = trainCopurchase(m, PARAMS);
    const b = easeByTheBook(m.userItems, 7, PARAMS.lambda);
    for (const items of m.userItems) {
      for (let i = 0; i < 7; i++) {
        let ease = 0;
        for (const j of items) ease += b[j]![i]!;
        let factored = 0;
        for (let c = 0; c < f.rank; c++) {
          let user = 0;
          for (const j of items) user += f.input[j * f.rank + c]!;
          factored += user * f.output[i * f.rank + c]!;
        }
        expect(factored).toBeCloseTo(ease, 9);
      }
    }
  });

  it('at a low rank, ranks what was bought together first, and is deterministic', () => {
    const m = buildPurchaseMatrix(records(), AS_OF, 14);
    const f = trainCopurchase(m, { ...PARAMS, rank: 2, oversample: 3 });
    const again = trainCopurchase(m, { ...PARAMS, rank: 2, oversample: 3 });
    expect(again.output).toEqual(f.output);
    expect(again.input).toEqual(f.input);
    // Customer 11 bought A1 only: A2 and A3 score above every B.
    const user = copurchaseInputVector(f, 0);
    const score = (i: number) => {
      const item = copurchaseItemVector(f, i, 0);
      return [...user].reduce((s, v, c) => s + v * item[c]!, 0);
    };
    for (const a of [1, 2]) for (const other of [3, 4, 5]) expect(score(a)).toBeGreaterThan(score(other));
  });

  it('puts the trend in the last dimension of the product vectors', () => {
    const m = buildPurchaseMatrix(records(), AS_OF, 14);
    const f = trainCopurchase(m, PARAMS);
    expect(copurchaseItemVector(f, 6)[f.rank]).toBeCloseTo(0.5, 6); // C0: the most recent buyers (1), x 0.5
    expect(copurchaseItemVector(f, 0)[f.rank]).toBe(0);
    expect(copurchaseInputVector(f, 0)).toHaveLength(f.rank);
  });

  it("at full rank on a larger random matrix (odd sizes, across the kernels' blocks), equals EASE by the book", () => {
    const m = buildPurchaseMatrix(randomPurchases(), AS_OF, 14);
    const n = m.productIds.length;
    const f = trainCopurchase(m, { ...PARAMS, lambda: 3, rank: n, oversample: 0 });
    const b = easeByTheBook(m.userItems, n, 3);
    let worst = 0;
    for (const items of m.userItems) {
      const user = new Float64Array(f.rank);
      for (const j of items) for (let c = 0; c < f.rank; c++) user[c]! += f.input[j * f.rank + c]!;
      for (let i = 0; i < n; i++) {
        let ease = 0;
        for (const j of items) ease += b[j]![i]!;
        let factored = 0;
        for (let c = 0; c < f.rank; c++) factored += user[c]! * f.output[i * f.rank + c]!;
        worst = Math.max(worst, Math.abs(factored - ease));
      }
    }
    expect(n).toBeGreaterThan(128);
    expect(worst).toBeLessThan(1e-9);
  });

  it('gives the same bits on one thread and on three', () => {
    const m = buildPurchaseMatrix(randomPurchases(), AS_OF, 14);
    const params = { ...PARAMS, rank: 40, oversample: 7 };
    const one = trainCopurchase(m, params, undefined, 1);
    const two = trainCopurchase(m, params, undefined, 3);
    expect(two.output).toEqual(one.output);
    expect(two.input).toEqual(one.input);
  });

  it('refuses an empty matrix', () => {
    expect(() => trainCopurchase(buildPurchaseMatrix([], AS_OF, 14), PARAMS)).toThrow(/no purchases/);
  });
});
