import { describe, expect, it } from '@jest/globals';
import { rankingMetrics, topK } from '../src/eval/metrics.js';

describe('ranking metrics on a hand-checked fixture', () => {
  // K = 3, a catalog of 10 products.
  //   A wants {x, y}, gets [x, p, y]: hits at ranks 1 and 3. DCG = 1 + 1/log2(4) = 1.5,
  //     IDCG = 1 + 1/log2(3) = 1.63093 -> NDCG 0.91972; recall 2/2.
  //   B wants {z}, gets [p, q, r]: no hit.
  //   C wants {q}, gets [p, q]: hit at rank 2. DCG = 1/log2(3) = 0.63093, IDCG = 1; recall 1/1.
  //   D wants {w}, gets [w, x, p, q]: only the first K = 3 count (hit at rank 1: NDCG 1; q is not read).
  // HR = 3/4, NDCG = (0.91972 + 0 + 0.63093 + 1) / 4, recall = (1 + 0 + 1 + 1) / 4,
  // coverage = |{x, p, y, q, r, w}| / 10 = 0.6.
  const lists = new Map<number, string[]>([
    [1, ['x', 'p', 'y']],
    [2, ['p', 'q', 'r']],
    [3, ['p', 'q']],
    [4, ['w', 'x', 'p', 'q']],
  ]);
  const targets = new Map<number, Set<string>>([
    [1, new Set(['x', 'y'])],
    [2, new Set(['z'])],
    [3, new Set(['q'])],
    [4, new Set(['w'])],
  ]);

  it('computes HR, NDCG, recall and coverage at K', () => {
    const m = rankingMetrics(lists, targets, 3, 10);
    expect(m.users).toBe(4);
    expect(m.hr).toBeCloseTo(0.75, 12);
    expect(m.ndcg).toBeCloseTo((1.5 / (1 + 1 / Math.log2(3)) + 0 + 1 / Math.log2(3) + 1) / 4, 12);
    expect(m.ndcg).toBeCloseTo(0.637663, 5);
    expect(m.recall).toBeCloseTo(0.75, 12);
    expect(m.coverage).toBeCloseTo(0.6, 12);
  });

  it('counts a user without a list as a miss, and skips users without targets', () => {
    const m = rankingMetrics(
      new Map([[1, ['x']]]),
      new Map([
        [1, new Set(['x'])],
        [2, new Set(['y'])],
        [3, new Set<string>()],
      ]),
      12,
      4,
    );
    expect(m.users).toBe(2);
    expect(m.hr).toBe(0.5);
    expect(m.ndcg).toBe(0.5);
    expect(m.recall).toBe(0.5);
    expect(m.coverage).toBe(0.25);
  });

  it('refuses K < 1 and an empty catalog', () => {
    expect(() => rankingMetrics(lists, targets, 0, 10)).toThrow(/K must be/);
    expect(() => rankingMetrics(lists, targets, 3, 0)).toThrow(/catalog is empty/);
  });
});

describe('topK', () => {
  it('returns the best indices, highest first, skipping the excluded, ties to the lower index', () => {
    const scores = [0.5, 0.9, 0.1, 0.9, 0.7, -Infinity, 0.95];
    expect(topK(scores, 3, new Set())).toEqual([6, 1, 3]);
    expect(topK(scores, 3, new Set([6]))).toEqual([1, 3, 4]);
    expect(topK(scores, 10, new Set([0]))).toEqual([6, 1, 3, 4, 2]);
  });
});
