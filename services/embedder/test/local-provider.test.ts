import { describe, expect, it } from '@jest/globals';
import { LOCAL_EMBEDDING_MODEL, LocalEmbeddingProvider, dot } from '@retail/common';

const provider = new LocalEmbeddingProvider();
const embed = (text: string) => provider.embedOne(text);
const cosine = (a: string, b: string) => dot(embed(a), embed(b));

describe('the local embedding provider', () => {
  it('is deterministic, 1024-d and L2-normalised', async () => {
    const [a, b] = await provider.embed([
      'WHITE HANGING HEART T-LIGHT HOLDER',
      'WHITE HANGING HEART T-LIGHT HOLDER',
    ]);
    expect(a).toHaveLength(1024);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(dot(a!, a!)).toBeCloseTo(1, 6);
    expect(provider.model).toBe(LOCAL_EMBEDDING_MODEL);
  });

  it('puts products sharing words close together, unrelated ones apart', () => {
    const related = cosine('HAND WARMER RED RETROSPOT', 'HAND WARMER UNION JACK');
    const unrelated = cosine('HAND WARMER RED RETROSPOT', 'BAKING SET 9 PIECE');
    expect(related).toBeGreaterThan(0.4);
    expect(Math.abs(unrelated)).toBeLessThan(0.15);
    expect(related).toBeGreaterThan(unrelated + 0.3);
  });

  it('puts products sharing word pieces close together', () => {
    expect(cosine('REGENCY CAKESTAND 3 TIER', 'CAKE STAND WHITE')).toBeGreaterThan(
      cosine('REGENCY CAKESTAND 3 TIER', 'JUMBO BAG PINK POLKADOT'),
    );
    expect(cosine('T-LIGHT HOLDER', 'TLIGHT HOLDER')).toBeGreaterThan(0.5);
  });

  it('never returns a zero vector, even for text without letters', () => {
    for (const text of ['', '???', '  ']) {
      const v = embed(text);
      expect(dot(v, v)).toBeCloseTo(1, 6);
    }
  });
});
