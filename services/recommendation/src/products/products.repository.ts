import { Inject, Injectable } from '@nestjs/common';
import type { Database } from '@retail/common';
import type { Product } from '@retail/contracts';
import { DATABASE } from '@retail/common/nest';

/** A product of "more like this": its description, score and price. */
export interface SimilarRow {
  product_id: string;
  description: string;
  score: number;
  unit_price: number | null;
}

const PRODUCT_COLUMNS = `product_id, description, unit_price::float8 AS unit_price, is_merchandise,
                         retired_at IS NOT NULL AS retired`;

/** Every SQL statement about the catalog's products (the write API's and the gateway's questions). */
@Injectable()
export class ProductsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Which of `productIds` the catalog holds (in no particular order). */
  async known(productIds: string[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ product_id: string }>({
      name: 'products.known',
      text: 'SELECT product_id FROM products WHERE product_id = ANY($1)',
      values: [productIds],
    });
    return new Set(rows.map((row) => row.product_id));
  }

  /**
   * The shop describes a product (PUT): added when new, its description (and price, when given) replaced,
   * back in the catalog when it was retired; a new ingestion keeps what the shop said (described_by).
   */
  async put(
    productId: string,
    description: string,
    isMerchandise: boolean,
    unitPrice: number | undefined,
  ): Promise<Product> {
    const { rows } = await this.db.query<Product>({
      name: 'products.put',
      text: `INSERT INTO products AS t (product_id, description, is_merchandise, unit_price, described_by)
             VALUES ($1, $2, $3, $4, 'api')
             ON CONFLICT (product_id) DO UPDATE
               SET description = excluded.description, is_merchandise = excluded.is_merchandise,
                   unit_price = coalesce(excluded.unit_price, t.unit_price), described_by = 'api',
                   retired_at = NULL, updated_at = now()
             RETURNING ${PRODUCT_COLUMNS}, (xmax = 0) AS created`,
      values: [productId, description, isMerchandise, unitPrice ?? null],
    });
    return rows[0]!;
  }

  /** Takes a product out of the catalog (never recommended again; purchase history keeps it). */
  async retire(productId: string): Promise<Product | undefined> {
    const { rows } = await this.db.query<Product>({
      name: 'products.retire',
      text: `UPDATE products SET retired_at = coalesce(retired_at, now()), updated_at = now()
              WHERE product_id = $1
              RETURNING ${PRODUCT_COLUMNS}, false AS created`,
      values: [productId],
    });
    return rows[0];
  }

  /**
   * "More like this": one pgvector query, cosine (`<=>`) against the product's description vector in
   * `model`, what is described exactly like it, retired or not merchandise left out. `found` is false for an
   * unknown product; `embedded` false while it has no vector in the model.
   */
  async similar(
    model: string,
    productId: string,
    topN: number,
  ): Promise<{ found: boolean; embedded: boolean; products: SimilarRow[] }> {
    const { rows } = await this.db.query<{ found: boolean; embedded: boolean; products: SimilarRow[] }>({
      name: 'products.similar',
      text: `WITH target AS (
               SELECT p.description, e.embedding FROM products p
                 LEFT JOIN product_embeddings e ON e.model = $1 AND e.product_id = p.product_id
                WHERE p.product_id = $2
             ), best AS (
               SELECT e.product_id, e.embedding <=> t.embedding AS distance
                 FROM target t JOIN product_embeddings e ON e.model = $1
                WHERE t.embedding IS NOT NULL AND e.product_id <> $2
                  AND e.product_id NOT IN (SELECT product_id FROM products
                                            WHERE NOT is_merchandise OR retired_at IS NOT NULL
                                               OR description = (SELECT description FROM target))
                ORDER BY 2, 1
                LIMIT $3
             )
             SELECT EXISTS (SELECT 1 FROM target) AS found,
                    EXISTS (SELECT 1 FROM target WHERE embedding IS NOT NULL) AS embedded,
                    (SELECT coalesce(json_agg(json_build_object('product_id', b.product_id, 'description', p.description,
                                                                'score', 1 - b.distance, 'unit_price', p.unit_price)
                                              ORDER BY b.distance, b.product_id), '[]')
                       FROM best b JOIN products p USING (product_id)) AS products`,
      values: [model, productId, topN],
    });
    return rows[0]!;
  }
}
