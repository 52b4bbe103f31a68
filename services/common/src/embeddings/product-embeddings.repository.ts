import { vectorLiteral, type Database, type DatabaseClient } from '../db/database.js';

/** A product's vector in a model's space, with the hash of the text it was made from. */
export interface ProductVector {
  productId: string;
  textHash: string;
  vector: Float32Array;
}

/** The one statement that writes product vectors (the embedder and the seed import share it). */
export class ProductEmbeddingsRepository {
  constructor(private readonly db: Database | DatabaseClient) {}

  /**
   * Stores vectors for `model`: a product has at most one vector per model (the primary key), so a batch
   * written twice (a retry, a crash) overwrites instead of duplicating. Products no longer in the catalog
   * are skipped.
   */
  async upsert(model: string, vectors: ProductVector[], chunkSize = 500): Promise<void> {
    for (let i = 0; i < vectors.length; i += chunkSize) {
      const part = vectors.slice(i, i + chunkSize);
      await this.db.query(
        `INSERT INTO product_embeddings (model, product_id, text_hash, embedding)
         SELECT $1, t.product_id, t.text_hash, t.embedding::vector
           FROM unnest($2::text[], $3::text[], $4::text[]) AS t(product_id, text_hash, embedding)
           JOIN products p ON p.product_id = t.product_id
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
