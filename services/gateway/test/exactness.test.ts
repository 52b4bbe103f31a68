import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Database } from '@retail/common';
import { openRealCatalogStores, runCli, type RealCatalogStores } from '@retail/testing';
import { startStack, type TestStack } from './stack.js';

const MODEL = 'local-hashed-ngrams-v1';
const TOP_N = 12;
/** Below float32 resolution: two products closer than this may come in either order. */
const TIE = 1e-6;

let stores: RealCatalogStores;
let db: Database;
let stack: TestStack;

interface Scored {
  product_id: string;
  score: number;
}

beforeAll(async () => {
  stores = await openRealCatalogStores();
  ({ db } = stores);
  const embedded = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
  if (embedded.code !== 0) throw new Error(`embedding failed:\n${embedded.stdout}${embedded.stderr}`);
  stack = await startStack();
});

afterAll(async () => {
  await stack?.close();
  await stores?.close();
});

/** A small deterministic generator, so that a failure names users that can be tried again. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('exactness on the real catalog', () => {
  it('for 200 random users, the API lists equal a brute-force ranking over the same stored vectors', async () => {
    // Everything the brute force needs, straight from the tables.
    const { rows: vectorRows } = await db.query<{
      product_id: string;
      description: string;
      embedding: Float32Array;
    }>(
      `SELECT e.product_id, p.description, e.embedding FROM product_embeddings e JOIN products p USING (product_id)
        WHERE e.model = $1 AND p.is_merchandise`,
      [MODEL],
    );
    const vectors = new Map(vectorRows.map((row) => [row.product_id, row]));
    const { rows: items } = await db.query<{ customer_id: number; product_id: string; description: string }>(
      `SELECT ui.customer_id, ui.product_id, p.description FROM user_items ui JOIN products p USING (product_id)`,
    );
    const bought = new Map<number, { ids: Set<string>; descriptions: Set<string> }>();
    for (const item of items) {
      const entry = bought.get(item.customer_id) ?? { ids: new Set(), descriptions: new Set() };
      entry.ids.add(item.product_id);
      if (item.description !== '') entry.descriptions.add(item.description);
      bought.set(item.customer_id, entry);
    }
    const customers = [...bought.keys()].sort((a, b) => a - b);
    const random = seeded(20261125);
    const sample = new Set<number>();
    while (sample.size < 200) sample.add(customers[Math.floor(random() * customers.length)]!);

    let compared = 0;
    for (const userId of sample) {
      const mine = bought.get(userId)!;
      // The user vector: the mean of the bought merchandise vectors, L2-normalised, in double precision.
      const mean = new Float64Array(1024);
      let n = 0;
      for (const id of mine.ids) {
        const v = vectors.get(id);
        if (!v) continue;
        n++;
        for (let i = 0; i < 1024; i++) mean[i]! += v.embedding[i]!;
      }
      const response = await stack.get(`/api/users/${userId}/recommendations?top_n=${TOP_N}`);
      expect(response.status).toBe(200);
      const api: Scored[] = response.body.recommendations;
      if (n === 0) {
        expect(api).toEqual([]);
        continue;
      }
      const norm = Math.sqrt(mean.reduce((sum, x) => sum + x * x, 0));
      const ranking: Scored[] = [];
      for (const [id, v] of vectors) {
        if (mine.ids.has(id) || mine.descriptions.has(v.description)) continue;
        let dot = 0;
        for (let i = 0; i < 1024; i++) dot += v.embedding[i]! * mean[i]!;
        ranking.push({ product_id: id, score: dot / norm });
      }
      ranking.sort((a, b) => b.score - a.score || (a.product_id < b.product_id ? -1 : 1));
      const expected = ranking.slice(0, TOP_N);
      const exact = new Map(ranking.map((r) => [r.product_id, r.score]));

      expect(api).toHaveLength(expected.length);
      api.forEach((got, i) => {
        const want = expected[i]!;
        // Scores agree with the exact computation within 1e-5.
        expect(Math.abs(got.score - exact.get(got.product_id)!)).toBeLessThan(1e-5);
        // Same product at the same rank, unless the two are tied below float32 resolution.
        if (got.product_id !== want.product_id) {
          expect(Math.abs(exact.get(got.product_id)! - want.score)).toBeLessThan(TIE);
        }
      });
      compared++;
    }
    expect(compared).toBeGreaterThan(190);
  });
});
