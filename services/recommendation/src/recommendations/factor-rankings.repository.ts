import { Inject, Injectable } from '@nestjs/common';
import { MAX_TOP_N, type Database } from '@retail/common';
import { DATABASE } from '@retail/common/nest';

/** A model learned from purchases, as the rankings need it. */
export interface FactorModel {
  name: string;
  kind: 'copurchase' | 'hybrid';
  /** The description model the hybrid is built over (its user vectors' first part). */
  descriptionModel: string;
  /** Customers with fewer purchases known to the model get an empty list here (the service falls back). */
  minPurchases: number;
}

/**
 * The rankings of the models learned from purchases (product_factors), kept in user_recommendations like
 * the description model's (RecommendationsRepository reads them). Exact: inner product of the user's vector
 * with every product vector of the model, a sequential pgvector scan, the same exclusions and tie-breaking
 * as the description model.
 * - co-purchase: user vector = [sum of the input vectors of the merchandise they bought | 1];
 * - hybrid: user vector = [normalised mean of their description vectors | sum of the input vectors | 1]
 *   (the hybrid stores its own copy of the input vectors; the description part comes from the description
 *   model it is built over).
 */
@Injectable()
export class FactorRankingsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Whether the model has been trained (has a row in recommender_models). */
  async isTrained(model: string): Promise<boolean> {
    const { rows } = await this.db.query({
      name: 'factor-rankings.is-trained',
      text: 'SELECT 1 FROM recommender_models WHERE model = $1',
      values: [model],
    });
    return rows.length > 0;
  }

  async computeLists(customerIds: number[], model: FactorModel): Promise<void> {
    if (customerIds.length === 0) return;
    const userVector =
      model.kind === 'copurchase'
        ? `(sum(f.input_vector)::real[] || ARRAY[1]::real[])::vector`
        : `(coalesce(l2_normalize(avg(e.embedding))::real[],
                    array_fill(0::real, ARRAY[(SELECT (params->>'description_dimensions')::int FROM recommender_models WHERE model = $2)]))
             || sum(f.input_vector)::real[] || ARRAY[1]::real[])::vector`;
    const descriptionJoin =
      model.kind === 'hybrid'
        ? 'LEFT JOIN product_embeddings e ON e.model = $4 AND e.product_id = bp.product_id'
        : '';
    await this.db.query(
      `WITH version AS (
         SELECT coalesce((SELECT version FROM embedding_models WHERE model = $2), 0) AS v
       ), users AS (
         SELECT c.customer_id, c.purchases_hash, count(f.product_id)::int AS with_vectors,
                CASE WHEN count(f.product_id) >= $3 THEN ${userVector} END AS uv
           FROM customers c
           LEFT JOIN user_items ui ON ui.customer_id = c.customer_id
           LEFT JOIN products bp ON bp.product_id = ui.product_id AND bp.is_merchandise
           LEFT JOIN product_factors f ON f.model = $2 AND f.product_id = bp.product_id
           ${descriptionJoin}
          WHERE c.customer_id = ANY($1::int[])
          GROUP BY c.customer_id, c.purchases_hash
       ), excluded AS MATERIALIZED (
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
         SELECT u.customer_id, ranked.product_id, ranked.description, ranked.distance
           FROM users u
           LEFT JOIN excluded_counts x ON x.customer_id = u.customer_id
           CROSS JOIN LATERAL (
             SELECT f.product_id, p.description, f.item_vector <#> u.uv AS distance
               FROM product_factors f
               JOIN products p ON p.product_id = f.product_id
              WHERE f.model = $2 AND p.is_merchandise
              ORDER BY f.item_vector <#> u.uv, f.product_id
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
      model.kind === 'hybrid'
        ? [customerIds, model.name, model.minPurchases, model.descriptionModel]
        : [customerIds, model.name, model.minPurchases],
    );
  }

  /**
   * Customers whose description-model list is missing or out of date and who are cold-start customers of
   * `model` (its current list was computed from fewer than `minPurchases` products it knows): the lists the
   * fallback serves. Read from the model's own kept lists, so refresh those first.
   */
  async staleColdCustomers(
    descriptionModel: string,
    model: string,
    minPurchases: number,
    limit: number,
  ): Promise<number[]> {
    const { rows } = await this.db.query<{ customer_id: number }>(
      `SELECT r.customer_id
         FROM user_recommendations r
         JOIN customers c ON c.customer_id = r.customer_id AND c.purchases_hash = r.purchases_hash
         LEFT JOIN user_recommendations d ON d.customer_id = r.customer_id AND d.model = $1
        WHERE r.model = $2 AND r.purchased_with_vectors < $3
          AND (d.customer_id IS NULL
               OR d.purchases_hash <> c.purchases_hash
               OR d.vectors_version <> coalesce((SELECT version FROM embedding_models WHERE model = $1), 0))
        ORDER BY r.customer_id
        LIMIT $4`,
      [descriptionModel, model, minPurchases, limit],
    );
    return rows.map((row) => row.customer_id);
  }
}
