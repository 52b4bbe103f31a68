import { vectorLiteral, type Database, type DatabaseClient } from '@retail/common';

export interface SeedVector {
  productId: string;
  description: string;
  embedding: Float32Array;
}

export interface NewSeedVector {
  productId: string;
  textHash: string;
  vector: Float32Array;
}

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

  /** The stored vectors of `model`, with the products' current descriptions. */
  async productVectors(model: string): Promise<SeedVector[]> {
    const { rows } = await this.db.query<{
      product_id: string;
      description: string;
      embedding: Float32Array;
    }>(
      `SELECT e.product_id, p.description, e.embedding
         FROM product_embeddings e JOIN products p USING (product_id)
        WHERE e.model = $1
        ORDER BY e.product_id`,
      [model],
    );
    return rows.map((row) => ({
      productId: row.product_id,
      description: row.description,
      embedding: row.embedding,
    }));
  }

  async existingProducts(productIds: string[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ product_id: string }>(
      'SELECT product_id FROM products WHERE product_id = ANY($1::text[])',
      [productIds],
    );
    return new Set(rows.map((row) => row.product_id));
  }

  /** Upserts vectors for `model` on the transaction's client. */
  async storeVectors(client: DatabaseClient, model: string, vectors: NewSeedVector[]): Promise<void> {
    const chunk = 500;
    for (let i = 0; i < vectors.length; i += chunk) {
      const part = vectors.slice(i, i + chunk);
      await client.query(
        `INSERT INTO product_embeddings (model, product_id, text_hash, embedding)
         SELECT $1, t.product_id, t.text_hash, t.embedding::vector
           FROM unnest($2::text[], $3::text[], $4::text[]) AS t(product_id, text_hash, embedding)
         ON CONFLICT (model, product_id) DO UPDATE
           SET text_hash = excluded.text_hash, embedding = excluded.embedding, created_at = now()`,
        [
          model,
          part.map((v) => v.productId),
          part.map((v) => v.textHash),
          part.map((v) => vectorLiteral(v.vector)),
        ],
      );
    }
  }
}
