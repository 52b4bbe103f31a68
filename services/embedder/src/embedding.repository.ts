import { Inject, Injectable } from '@nestjs/common';
import { ProductEmbeddingsRepository, type Database, type ProductVector } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

export interface ProductText {
  productId: string;
  description: string;
  /** Hash of the text embedded for this model so far, if any. */
  storedHash: string | null;
}

/** Every SQL statement of the embedder. */
@Injectable()
export class EmbeddingRepository {
  private readonly vectors: ProductEmbeddingsRepository;

  constructor(@Inject(DATABASE) private readonly db: Database) {
    this.vectors = new ProductEmbeddingsRepository(db);
  }

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

  /** Stores a batch in one statement (see ProductEmbeddingsRepository.upsert). */
  store(model: string, vectors: ProductVector[]): Promise<void> {
    return this.vectors.upsert(model, vectors);
  }
}
