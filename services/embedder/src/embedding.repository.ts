import { Inject, Injectable } from '@nestjs/common';
import { vectorLiteral, type Database } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

export interface ProductText {
  productId: string;
  description: string;
  /** Hash of the text embedded for this model so far, if any. */
  storedHash: string | null;
}

export interface NewVector {
  productId: string;
  textHash: string;
  vector: Float32Array;
}

/** Every SQL statement of the embedder. */
@Injectable()
export class EmbeddingRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** The current descriptions of `productIds` (those still in the catalog) and their stored hashes. */
  async loadTexts(model: string, productIds: string[]): Promise<ProductText[]> {
    const { rows } = await this.db.query<{
      product_id: string;
      description: string;
      text_hash: string | null;
    }>(
      `SELECT p.product_id, p.description, e.text_hash
         FROM products p
         LEFT JOIN product_embeddings e ON e.model = $1 AND e.product_id = p.product_id
        WHERE p.product_id = ANY($2::text[])
        ORDER BY p.product_id`,
      [model, productIds],
    );
    return rows.map((row) => ({
      productId: row.product_id,
      description: row.description,
      storedHash: row.text_hash,
    }));
  }

  /**
   * Stores a batch in one statement: a product has at most one vector per model (the primary key), so
   * a batch processed twice (after a crash, or a retry) overwrites instead of duplicating.
   */
  async store(model: string, vectors: NewVector[]): Promise<void> {
    if (vectors.length === 0) return;
    await this.db.query(
      `INSERT INTO product_embeddings (model, product_id, text_hash, embedding)
       SELECT $1, t.product_id, t.text_hash, t.embedding::vector
         FROM unnest($2::text[], $3::text[], $4::text[]) AS t(product_id, text_hash, embedding)
         JOIN products p ON p.product_id = t.product_id
       ON CONFLICT (model, product_id) DO UPDATE
         SET text_hash = excluded.text_hash, embedding = excluded.embedding, created_at = now()`,
      [
        model,
        vectors.map((v) => v.productId),
        vectors.map((v) => v.textHash),
        vectors.map((v) => vectorLiteral(v.vector)),
      ],
    );
  }
}
