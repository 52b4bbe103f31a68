import type { Database } from '../db/database.js';
import type { EmbeddingJobItem } from '../queues/embedding-jobs.js';

/** SQL that decides which products still need a vector in a model's space. */
export class EmbeddingBacklogRepository {
  constructor(private readonly db: Database) {}

  /**
   * Merchandise products with no vector for `model`, or whose description changed since it was
   * embedded (the stored text hash differs from the current one).
   */
  async findProductsToEmbed(model: string): Promise<EmbeddingJobItem[]> {
    const { rows } = await this.db.query<{ product_id: string; text_hash: string }>(
      `SELECT p.product_id, encode(sha256(convert_to(p.description, 'UTF8')), 'hex') AS text_hash
         FROM products p
         LEFT JOIN product_embeddings e ON e.model = $1 AND e.product_id = p.product_id
        WHERE p.is_merchandise
          AND (e.product_id IS NULL OR e.text_hash <> encode(sha256(convert_to(p.description, 'UTF8')), 'hex'))
        ORDER BY p.product_id`,
      [model],
    );
    return rows.map((row) => ({ productId: row.product_id, textHash: row.text_hash }));
  }
}
