import { Injectable } from '@nestjs/common';
import { LocalEmbeddingProvider, dot, type DescribedProduct } from '@retail/common';
import { PROMPT_PURCHASES } from '../writers/prompt.js';

/**
 * Picks the user's purchases most relevant to a recommended product, for the prompt and the template:
 * descriptions that share words and word pieces with the product's (cosine of the local hashed
 * n-gram vectors; instant, no network, whatever embedding model ranked the products).
 */
@Injectable()
export class PurchaseRanker {
  private readonly local = new LocalEmbeddingProvider();

  /** For each product, the `k` closest purchases, closest first (ties: the purchase bought most often). */
  closest(
    products: DescribedProduct[],
    purchases: DescribedProduct[],
    k = PROMPT_PURCHASES,
  ): Map<string, string[]> {
    const distinct = [...new Map(purchases.map((p) => [p.description, p])).values()];
    const vectors = distinct.map((p) => this.local.embedOne(p.description));
    const result = new Map<string, string[]>();
    for (const product of products) {
      const target = this.local.embedOne(product.description);
      const ranked = distinct
        .map((purchase, i) => ({
          description: purchase.description,
          score: dot(target, vectors[i]!),
          order: i,
        }))
        .sort((a, b) => b.score - a.score || a.order - b.order);
      result.set(
        product.product_id,
        ranked.slice(0, k).map((r) => r.description),
      );
    }
    return result;
  }
}
