import {
  ProductEmbeddingsRepository,
  type Database,
  type DatabaseClient,
  type ProductVector,
} from '@retail/common';

export interface SeedVector {
  productId: string;
  description: string;
  embedding: Float32Array;
}

/** SQL of the seed interchange files (README, "Ingestion": the seed's interchange format). */
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

  /** The stored vectors of `model`, with the products' current descriptions. */
  async productVectors(model: string): Promise<SeedVector[]> {
    const { rows } = await this.db.query<SeedVector>(
      `SELECT e.product_id AS "productId", p.description, e.embedding
         FROM product_embeddings e JOIN products p USING (product_id)
        WHERE e.model = $1
        ORDER BY e.product_id`,
      [model],
    );
    return rows;
  }

  async existingProducts(productIds: string[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ product_id: string }>(
      'SELECT product_id FROM products WHERE product_id = ANY($1::text[])',
      [productIds],
    );
    return new Set(rows.map((row) => row.product_id));
  }

  /** Upserts vectors for `model` on the transaction's client. */
  storeVectors(client: DatabaseClient, model: string, vectors: ProductVector[]): Promise<void> {
    return new ProductEmbeddingsRepository(client).upsert(model, vectors);
  }
}
