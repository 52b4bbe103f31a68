import { Inject, Injectable } from '@nestjs/common';
import { MAX_TOP_N, type Database } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

export interface StoredList {
  customerId: number;
  purchasesHash: string;
  /** False when the purchases or the model's vectors changed since the list was computed (or there is none). */
  fresh: boolean;
  purchasedWithVectors: number;
  productIds: string[];
  descriptions: string[];
  scores: number[];
}

/**
 * Every SQL statement of the rankings. The ranking is exact: cosine similarity (inner product of
 * L2-normalised vectors) against every product of the model, by a sequential pgvector scan.
 */
@Injectable()
export class RecommendationsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * The customer's stored list, cut to `topN`, and whether it is current. Undefined for an unknown
   * customer.
   */
  async findList(customerId: number, model: string, topN: number): Promise<StoredList | undefined> {
    const { rows } = await this.db.query<{
      customer_id: number;
      purchases_hash: string;
      fresh: boolean;
      purchased_with_vectors: number | null;
      product_ids: string[] | null;
      descriptions: string[] | null;
      scores: number[] | null;
    }>({
      // A named statement: planned once per connection (planning cost more than running it).
      name: 'recommendations.find-list',
      text: `SELECT c.customer_id, c.purchases_hash, r.purchased_with_vectors,
              r.product_ids[1:$3] AS product_ids, r.descriptions[1:$3] AS descriptions, r.scores[1:$3] AS scores,
              coalesce(r.purchases_hash = c.purchases_hash AND r.vectors_version = coalesce(m.version, 0), false) AS fresh
         FROM customers c
         LEFT JOIN embedding_models m ON m.model = $2
         LEFT JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $2
        WHERE c.customer_id = $1`,
      values: [customerId, model, topN],
    });
    const row = rows[0];
    if (!row) return undefined;
    return {
      customerId: row.customer_id,
      purchasesHash: row.purchases_hash,
      fresh: row.fresh,
      purchasedWithVectors: row.purchased_with_vectors ?? 0,
      productIds: row.product_ids ?? [],
      descriptions: row.descriptions ?? [],
      scores: row.scores ?? [],
    };
  }

  /**
   * Computes and stores the lists of `customerIds` in one statement: the user vector is the
   * L2-normalised mean of the vectors of the merchandise the user bought; every merchandise product of
   * the model is scored against it; what the user bought is dropped, and so is any product described
   * exactly like something the user bought (the same article under another code); the best MAX_TOP_N
   * are kept, ties broken by product id.
   */
  async computeLists(customerIds: number[], model: string): Promise<void> {
    if (customerIds.length === 0) return;
    await this.db.query(
      `WITH version AS (
         SELECT coalesce((SELECT version FROM embedding_models WHERE model = $2), 0) AS v
       ), users AS (
         SELECT c.customer_id, c.purchases_hash,
                l2_normalize(avg(e.embedding)) AS uv,
                count(e.product_id)::int AS with_vectors
           FROM customers c
           LEFT JOIN user_items ui ON ui.customer_id = c.customer_id
           LEFT JOIN products bp ON bp.product_id = ui.product_id AND bp.is_merchandise
           LEFT JOIN product_embeddings e ON e.model = $2 AND e.product_id = bp.product_id
          WHERE c.customer_id = ANY($1::int[])
          GROUP BY c.customer_id, c.purchases_hash
       ), excluded AS MATERIALIZED (
         -- What the user bought, and every product described exactly like it (the same article under
         -- another code): never recommended.
         SELECT ui.customer_id, ui.product_id
           FROM user_items ui
          WHERE ui.customer_id = ANY($1::int[])
         UNION
         SELECT ui.customer_id, p.product_id
           FROM user_items ui
           JOIN products bp ON bp.product_id = ui.product_id
           JOIN products p ON p.description = bp.description
          WHERE ui.customer_id = ANY($1::int[]) AND bp.description <> ''
       ), excluded_counts AS (
         SELECT customer_id, count(*)::int AS n FROM excluded GROUP BY customer_id
       ), candidates AS MATERIALIZED (
         -- The exact top of each ranking, deep enough to survive the exclusions.
         SELECT u.customer_id, ranked.product_id, ranked.description, ranked.distance
           FROM users u
           LEFT JOIN excluded_counts x ON x.customer_id = u.customer_id
           CROSS JOIN LATERAL (
             SELECT e.product_id, p.description, e.embedding <#> u.uv AS distance
               FROM product_embeddings e
               JOIN products p ON p.product_id = e.product_id
              WHERE e.model = $2 AND p.is_merchandise
              ORDER BY e.embedding <#> u.uv, e.product_id
              LIMIT ${MAX_TOP_N} + coalesce(x.n, 0)
           ) ranked
          WHERE u.uv IS NOT NULL
       ), kept AS (
         SELECT c.*, row_number() OVER (PARTITION BY c.customer_id ORDER BY c.distance, c.product_id) AS rank
           FROM candidates c
          WHERE NOT EXISTS (SELECT 1 FROM excluded x WHERE x.customer_id = c.customer_id AND x.product_id = c.product_id)
       ), lists AS (
         SELECT customer_id,
                array_agg(product_id ORDER BY rank) AS product_ids,
                array_agg(description ORDER BY rank) AS descriptions,
                array_agg(-distance ORDER BY rank) AS scores
           FROM kept WHERE rank <= ${MAX_TOP_N}
          GROUP BY customer_id
       )
       INSERT INTO user_recommendations AS t (customer_id, model, user_vector, purchased_with_vectors, product_ids,
                                             descriptions, scores, purchases_hash, vectors_version, computed_at)
       SELECT u.customer_id, $2, u.uv, u.with_vectors,
              coalesce(l.product_ids, '{}'), coalesce(l.descriptions, '{}'), coalesce(l.scores, '{}'),
              u.purchases_hash, (SELECT v FROM version), now()
         FROM users u LEFT JOIN lists l ON l.customer_id = u.customer_id
       ON CONFLICT (customer_id, model) DO UPDATE
         SET user_vector = excluded.user_vector, purchased_with_vectors = excluded.purchased_with_vectors,
             product_ids = excluded.product_ids, descriptions = excluded.descriptions, scores = excluded.scores,
             purchases_hash = excluded.purchases_hash, vectors_version = excluded.vectors_version,
             computed_at = excluded.computed_at`,
      [customerIds, model],
    );
  }

  /** Customers whose list in `model` is missing or out of date, lowest ids first. */
  async staleCustomers(model: string, limit: number): Promise<number[]> {
    const { rows } = await this.db.query<{ customer_id: number }>(
      `SELECT c.customer_id
         FROM customers c
         LEFT JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $1
        WHERE r.customer_id IS NULL
           OR r.purchases_hash <> c.purchases_hash
           OR r.vectors_version <> coalesce((SELECT version FROM embedding_models WHERE model = $1), 0)
        ORDER BY c.customer_id
        LIMIT $2`,
      [model, limit],
    );
    return rows.map((row) => row.customer_id);
  }

  /**
   * Refreshes the planner's statistics of the tables the rankings read when many rows changed since
   * the last ANALYZE (after an ingestion or an embedding run), so that scans are planned for what is there.
   */
  async analyzeIfChanged(): Promise<void> {
    const { rows } = await this.db.query<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables
        WHERE relname IN ('product_embeddings', 'products', 'user_items', 'customers', 'user_recommendations')
          AND n_mod_since_analyze > 50 + 0.05 * greatest(n_live_tup, 1)`,
    );
    for (const row of rows) await this.db.query(`ANALYZE ${row.relname}`);
  }

  /** Drops the lists of customers that no longer exist. */
  async deleteOrphans(): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM user_recommendations r WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = r.customer_id)`,
    );
    return rowCount ?? 0;
  }

  /** When the model's vectors or the catalog last changed (undefined when the model has no vector). */
  async modelChangedAt(model: string): Promise<Date | undefined> {
    const { rows } = await this.db.query<{ updated_at: Date }>(
      'SELECT updated_at FROM embedding_models WHERE model = $1',
      [model],
    );
    return rows[0]?.updated_at;
  }
}
