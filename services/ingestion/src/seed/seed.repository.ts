import type { Database } from '@retail/common';

/** SQL of the seed interchange files (DESIGN.md, "Data rules"). */
export class SeedRepository {
  constructor(private readonly db: Database) {}

  /** Every customer's distinct products, in the order first bought. */
  async userPurchases(): Promise<Map<number, string[]>> {
    const { rows } = await this.db.query<{ customer_id: number; product_ids: string[] }>(`
      SELECT customer_id, array_agg(product_id ORDER BY first_purchased_at, product_id) AS product_ids
        FROM user_items
       GROUP BY customer_id
       ORDER BY customer_id`);
    return new Map(rows.map((row) => [row.customer_id, row.product_ids]));
  }
}
