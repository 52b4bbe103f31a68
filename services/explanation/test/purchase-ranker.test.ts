import { describe, expect, it } from '@jest/globals';
import { PurchaseRanker } from '../src/context/purchase-ranker.js';

const product = (product_id: string, description: string) => ({ product_id, description });

describe('PurchaseRanker: the purchases that resemble a product, closest first', () => {
  const ranker = new PurchaseRanker();
  const purchases = [
    product('A', 'BAKING SET 9 PIECE'),
    product('B', 'JUMBO BAG RED RETROSPOT'),
    product('C', 'HAND WARMER UNION JACK'),
    product('D', 'WOODEN PICTURE FRAME'),
  ];

  it('puts the purchases sharing words and word pieces first', () => {
    const ranked = ranker.closest([product('P', 'HAND WARMER RED RETROSPOT')], purchases, 4).get('P')!;
    expect(ranked.slice(0, 2).sort()).toEqual(['HAND WARMER UNION JACK', 'JUMBO BAG RED RETROSPOT']);
    expect(ranked.slice(2).sort()).toEqual(['BAKING SET 9 PIECE', 'WOODEN PICTURE FRAME']);
  });

  it('ranks every product of a list, each description once, at most k, the same way every time', () => {
    const repeated = [...purchases, product('E', 'JUMBO BAG RED RETROSPOT')];
    const products = [product('P1', 'RED RETROSPOT LUNCH BAG'), product('P2', 'PHOTO FRAME')];
    const closest = ranker.closest(products, repeated, 3);
    expect(closest.get('P1')![0]).toBe('JUMBO BAG RED RETROSPOT');
    expect(closest.get('P2')![0]).toBe('WOODEN PICTURE FRAME');
    for (const ranked of closest.values()) {
      expect(ranked).toHaveLength(3);
      expect(new Set(ranked).size).toBe(3);
    }
    expect(ranker.closest(products, repeated, 3)).toEqual(closest);
  });

  it('gives an empty list when the user bought nothing it can describe', () => {
    expect(ranker.closest([product('P', 'LANTERN')], []).get('P')).toEqual([]);
  });
});
