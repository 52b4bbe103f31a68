import { Inject, Injectable } from '@nestjs/common';
import type { Database } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

/** One of a customer's purchases, and how much it pulled a recommended product up. */
export interface PurchaseInfluence {
  product_id: string;
  description: string;
  /** This purchase's share of the recommended product's score (larger pulls harder). */
  contribution: number;
}

/**
 * "For this user and this recommended product under model M, which of the user's purchases pulled it up?"
 * (for grounded explanations). Exact for every model:
 * - co-purchase and hybrid models (product_factors): a user's co-purchase vector is the sum of the input
 *   vectors of what they bought, so purchase j adds exactly input_j . output_i to the score of product i
 *   (output_i is the co-purchase part of i's vector; the hybrid's description and trend parts are not a
 *   purchase's doing);
 * - description models (product_embeddings): the user vector is the normalised mean of the bought vectors,
 *   so purchase j's share is proportional to the cosine between j and i; that cosine is returned.
 * Only purchases with a positive contribution are returned, the largest first, at most `limit` per product.
 */
@Injectable()
export class PurchaseInfluenceRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async influences(
    customerId: number,
    productIds: string[],
    model: string,
    limit: number,
  ): Promise<Map<string, PurchaseInfluence[]>> {
    const result = new Map<string, PurchaseInfluence[]>(productIds.map((id) => [id, []]));
    if (productIds.length === 0) return result;
    const { rows: factorModel } = await this.db.query<{ dimensions: number; rank: number }>(
      `SELECT dimensions, (params->>'rank')::int AS rank FROM recommender_models WHERE model = $1`,
      [model],
    );
    const factors = factorModel[0];
    const contribution = factors
      ? // the co-purchase part of the recommended product's vector: its last rank + 1 dimensions but the trend
        `-(f.input_vector <#> subvector(r.item_vector, ${factors.dimensions - factors.rank}, ${factors.rank}))`
      : '-(f.embedding <#> r.embedding)';
    const table = factors ? 'product_factors' : 'product_embeddings';
    const { rows } = await this.db.query<PurchaseInfluence & { recommended: string }>(
      `SELECT recommended, product_id, description, contribution
         FROM (SELECT r.product_id AS recommended, ui.product_id, p.description, ${contribution} AS contribution,
                      row_number() OVER (PARTITION BY r.product_id ORDER BY ${contribution} DESC, ui.product_id) AS rank
                 FROM ${table} r
                 JOIN user_items ui ON ui.customer_id = $1
                 JOIN products p ON p.product_id = ui.product_id AND p.is_merchandise
                 JOIN ${table} f ON f.model = $3 AND f.product_id = ui.product_id
                WHERE r.model = $3 AND r.product_id = ANY($2::text[])) ranked
        WHERE rank <= $4 AND contribution > 0
        ORDER BY recommended, rank`,
      [customerId, productIds, model, limit],
    );
    for (const row of rows) {
      result.get(row.recommended)?.push({
        product_id: row.product_id,
        description: row.description,
        contribution: row.contribution,
      });
    }
    return result;
  }
}
