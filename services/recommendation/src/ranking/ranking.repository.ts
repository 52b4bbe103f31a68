import { Inject, Injectable } from '@nestjs/common';
import type { Database } from '@retail/common';
import { MAX_TOP_N, type RankedProduct } from '@retail/contracts';
import { DATABASE } from '@retail/common/nest';

/**
 * How a model ranks: `description` models by cosine (`<=>`) against the normalised mean of the description
 * vectors of what the customer bought; `factors` models (co-purchase, hybrid) by inner product (`<#>`) against
 * the stored item vectors, the user vector being [normalised mean of the bought products' description part
 * (the hybrid only) | sum of their input vectors | 1].
 */
export type RankingKind = 'description' | 'factors';

/** A customer's kept list as served: the first products (descriptions from the catalog), and its versions. */
export interface KeptList {
  /** The customer's version now, and the model's (0: the model has no vector yet). */
  customerVersion: number;
  modelVersion: number;
  /** Whether a factors model is trained (always true for a description model). */
  trained: boolean;
  /** The kept list, when there is one. */
  list?: {
    customerVersion: number;
    modelVersion: number;
    /** The customer's merchandise purchases with a vector in the model. */
    withVectors: number;
    products: RankedProduct[];
  };
}

/** A list just computed (and kept), with the versions it was computed from. */
export interface ComputedList {
  customerVersion: number;
  modelVersion: number;
  withVectors: number;
  products: RankedProduct[];
}

/**
 * The ranking, defined once. `bought` is a one-row CTE with the customer's purchases (`ids text[]`: every
 * product bought, merchandise or not); from it:
 * - `excluded`: what is never recommended to them: what they bought, every product described exactly like
 *   something they bought, what is not merchandise (postage, fees...) and what the shop took out of its catalog;
 * - `taste`: the user vector `v` and `n`, how many of their merchandise purchases have a vector in the model;
 * - `ranked`: the best MAX_TOP_N products (`distance` ascending, ties by product id), with their `score`.
 * $1 is the model.
 */
function rankingSql(kind: RankingKind): string {
  const excluded = `excluded AS MATERIALIZED (
      SELECT unnest(b.ids) AS product_id FROM bought b
      UNION
      SELECT same.product_id FROM bought b
        JOIN products p ON p.product_id = ANY (b.ids) AND p.description <> ''
        JOIN products same ON same.description = p.description
      UNION
      SELECT product_id FROM products WHERE NOT is_merchandise OR retired_at IS NOT NULL
    )`;
  if (kind === 'description') {
    return `${excluded},
    taste AS (
      SELECT l2_normalize(avg(e.embedding)) AS v, count(*)::int AS n
        FROM bought b
        JOIN product_embeddings e ON e.model = $1 AND e.product_id = ANY (b.ids)
        JOIN products p ON p.product_id = e.product_id AND p.is_merchandise
    ),
    ranked AS (
      SELECT product_id, distance, 1 - distance AS score FROM (
        SELECT e.product_id, e.embedding <=> t.v AS distance
          FROM taste t JOIN product_embeddings e ON e.model = $1
         WHERE t.n > 0 AND e.product_id NOT IN (SELECT product_id FROM excluded)
         ORDER BY 2, 1
         LIMIT ${MAX_TOP_N}) best
    )`;
  }
  // The hybrid's description part is normalised like the description model's user vector (its item vectors
  // hold the weighted description vectors, and normalising cancels the weight); the co-purchase model has none.
  return `${excluded},
    shape AS (
      SELECT coalesce((params->>'description_dimensions')::int, 0) AS d FROM recommender_models WHERE model = $1
    ),
    taste AS (
      SELECT CASE WHEN max(s.d) > 0
                  THEN l2_normalize(subvector(avg(f.item_vector), 1, max(s.d))) || sum(f.input_vector)
                  ELSE sum(f.input_vector) END || '[1]'::vector AS v,
             count(*)::int AS n
        FROM bought b
        CROSS JOIN shape s
        JOIN product_factors f ON f.model = $1 AND f.product_id = ANY (b.ids)
        JOIN products p ON p.product_id = f.product_id AND p.is_merchandise
    ),
    ranked AS (
      SELECT product_id, distance, -distance AS score FROM (
        SELECT f.product_id, f.item_vector <#> t.v AS distance
          FROM taste t JOIN product_factors f ON f.model = $1
         WHERE t.n > 0 AND f.product_id NOT IN (SELECT product_id FROM excluded)
         ORDER BY 2, 1
         LIMIT ${MAX_TOP_N}) best
    )`;
}

/** `ranked`'s first $3 products as the answer's JSON array (descriptions from the catalog). */
const RANKED_JSON = `(SELECT coalesce(json_agg(json_build_object('product_id', x.product_id, 'description', p.description,
                                                      'score', x.score, 'unit_price', p.unit_price)
                                    ORDER BY x.distance, x.product_id), '[]')
     FROM (SELECT * FROM ranked ORDER BY distance, product_id LIMIT $3) x JOIN products p USING (product_id))`;

/**
 * Computes a customer's list in a model and keeps it (one statement: the pgvector query and the upsert), then
 * answers its first $3 products. A kept list is only ever replaced by one computed from versions at least as
 * new (two computations racing cannot put an older list back).
 */
function computeSql(kind: RankingKind): string {
  return `WITH bought AS MATERIALIZED (SELECT ARRAY(SELECT product_id FROM user_items WHERE customer_id = $2) AS ids),
    ${rankingSql(kind)},
    kept AS (
      INSERT INTO user_recommendations AS r (customer_id, model, product_ids, scores, purchased_with_vectors,
                                             customer_version, model_version)
      SELECT c.customer_id, $1,
             coalesce((SELECT array_agg(product_id ORDER BY distance, product_id) FROM ranked), '{}'),
             coalesce((SELECT array_agg(score ORDER BY distance, product_id) FROM ranked), '{}'),
             t.n, c.version, coalesce(m.version, 0)
        FROM customers c CROSS JOIN taste t LEFT JOIN model_versions m ON m.model = $1
       WHERE c.customer_id = $2
      ON CONFLICT (customer_id, model) DO UPDATE
        SET product_ids = excluded.product_ids, scores = excluded.scores,
            purchased_with_vectors = excluded.purchased_with_vectors, customer_version = excluded.customer_version,
            model_version = excluded.model_version, computed_at = now()
        WHERE r.customer_version <= excluded.customer_version AND r.model_version <= excluded.model_version
      RETURNING 1
    )
    SELECT c.version AS customer_version, coalesce(m.version, 0) AS model_version, t.n AS with_vectors,
           ${RANKED_JSON} AS products
      FROM customers c CROSS JOIN taste t LEFT JOIN model_versions m ON m.model = $1
     WHERE c.customer_id = $2`;
}

/** The ranking of an explicit set of purchases ($2 text[]), not kept: evaluation and tests. */
function rankBoughtSql(kind: RankingKind): string {
  return `WITH bought AS MATERIALIZED (SELECT $2::text[] AS ids),
    ${rankingSql(kind)}
    SELECT t.n AS with_vectors, ${RANKED_JSON} AS products FROM taste t`;
}

/**
 * A customer's kept list in a model, with what is current: one read by key ($1 customer, $2 model, $3 how
 * many products). Descriptions come from the catalog, and products taken out of it (retired, or no longer
 * merchandise) are left out at once.
 */
const KEPT_SQL = `SELECT c.version AS customer_version, coalesce(m.version, 0) AS model_version,
       EXISTS (SELECT 1 FROM recommender_models WHERE model = $2) AS trained,
       r.customer_version AS list_customer_version, r.model_version AS list_model_version,
       r.purchased_with_vectors AS with_vectors,
       (SELECT coalesce(json_agg(json_build_object('product_id', y.product_id, 'description', y.description,
                                                   'score', y.score, 'unit_price', y.unit_price) ORDER BY y.ord), '[]')
          FROM (SELECT u.ord, u.score, p.product_id, p.description, p.unit_price
                  FROM unnest(r.product_ids, r.scores) WITH ORDINALITY AS u (product_id, score, ord)
                  JOIN products p ON p.product_id = u.product_id AND p.is_merchandise AND p.retired_at IS NULL
                 ORDER BY u.ord LIMIT $3) y) AS products
  FROM customers c
  LEFT JOIN model_versions m ON m.model = $2
  LEFT JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $2
 WHERE c.customer_id = $1`;

interface KeptRow {
  customer_version: number;
  model_version: number;
  trained: boolean;
  list_customer_version: number | null;
  list_model_version: number | null;
  with_vectors: number | null;
  products: RankedProduct[];
}

interface ComputedRow {
  customer_version: number;
  model_version: number;
  with_vectors: number;
  products: RankedProduct[];
}

/** Every SQL statement of the rankings and the kept lists. */
@Injectable()
export class RankingRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** The kept list of a customer in a model, and the versions now; undefined for an unknown customer. */
  async kept(customerId: number, model: string, topN: number): Promise<KeptList | undefined> {
    const { rows } = await this.db.query<KeptRow>({
      name: 'ranking.kept',
      text: KEPT_SQL,
      values: [customerId, model, topN],
    });
    const row = rows[0];
    if (!row) return undefined;
    return {
      customerVersion: row.customer_version,
      modelVersion: row.model_version,
      trained: row.trained,
      ...(row.list_customer_version === null
        ? {}
        : {
            list: {
              customerVersion: row.list_customer_version,
              modelVersion: row.list_model_version!,
              withVectors: row.with_vectors!,
              products: row.products,
            },
          }),
    };
  }

  /**
   * Computes the customer's list in `model` by one pgvector query, keeps it, and answers its first `topN`
   * products; undefined for an unknown customer.
   */
  async compute(
    customerId: number,
    model: string,
    kind: RankingKind,
    topN: number = MAX_TOP_N,
  ): Promise<ComputedList | undefined> {
    const { rows } = await this.db.query<ComputedRow>({
      name: `ranking.compute.${kind}`,
      text: computeSql(kind),
      values: [model, customerId, topN],
    });
    const row = rows[0];
    return (
      row && {
        customerVersion: row.customer_version,
        modelVersion: row.model_version,
        withVectors: row.with_vectors,
        products: row.products,
      }
    );
  }

  /** The ranking of an explicit set of purchases in `model`, not kept (the evaluation's and the tests' view). */
  async rank(
    model: string,
    kind: RankingKind,
    bought: readonly string[],
    topN: number = MAX_TOP_N,
  ): Promise<{ withVectors: number; products: RankedProduct[] }> {
    const { rows } = await this.db.query<{ with_vectors: number; products: RankedProduct[] }>({
      name: `ranking.rank.${kind}`,
      text: rankBoughtSql(kind),
      values: [model, bought, topN],
    });
    return { withVectors: rows[0]!.with_vectors, products: rows[0]!.products };
  }

  /** How many merchandise products the customer bought (why a list can be empty). */
  async merchandiseBought(customerId: number): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>({
      name: 'ranking.merchandise-bought',
      text: `SELECT count(*)::int AS n FROM user_items ui JOIN products p USING (product_id)
              WHERE ui.customer_id = $1 AND p.is_merchandise`,
      values: [customerId],
    });
    return rows[0]!.n;
  }

  /** The versions of `models` now (0: no vector yet), and whether each factors model is trained. */
  async modelVersions(
    models: readonly string[],
  ): Promise<Map<string, { version: number; trained: boolean }>> {
    const { rows } = await this.db.query<{ model: string; version: number; trained: boolean }>({
      name: 'ranking.model-versions',
      text: `SELECT m.model, coalesce(v.version, 0) AS version,
                    EXISTS (SELECT 1 FROM recommender_models r WHERE r.model = m.model) AS trained
               FROM unnest($1::text[]) AS m (model) LEFT JOIN model_versions v USING (model)`,
      values: [models],
    });
    return new Map(rows.map((row) => [row.model, { version: row.version, trained: row.trained }]));
  }

  /** The highest customer version now (a watermark: customers stamped later changed after this read). */
  async customerClock(): Promise<number> {
    const { rows } = await this.db.query<{ v: number }>(
      'SELECT coalesce(max(version), 0) AS v FROM customers',
    );
    return rows[0]!.v;
  }

  /**
   * The slices of customers (customer_id / `width`) with a list of `model` to compute: out of date (another
   * model version, or the customer's purchases changed), or missing (with `missing`).
   */
  async slicesToRefresh(model: string, version: number, missing: boolean, width: number): Promise<number[]> {
    const { rows } = await this.db.query<{ slice: number }>({
      name: 'ranking.slices-to-refresh',
      text: `SELECT DISTINCT c.customer_id / $4::int AS slice
               FROM customers c LEFT JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $1
              WHERE CASE WHEN r.customer_id IS NULL THEN $3::boolean
                         ELSE r.model_version <> $2 OR r.customer_version <> c.version END
              ORDER BY 1`,
      values: [model, version, missing, width],
    });
    return rows.map((row) => row.slice);
  }

  /** The customers of one slice whose list of `model` is to compute (as slicesToRefresh decides). */
  async customersToRefresh(
    model: string,
    version: number,
    missing: boolean,
    slice: number,
    width: number,
  ): Promise<number[]> {
    const { rows } = await this.db.query<{ customer_id: number }>({
      name: 'ranking.customers-to-refresh',
      text: `SELECT c.customer_id
               FROM customers c LEFT JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $1
              WHERE c.customer_id >= $4::int * $5::int AND c.customer_id < ($4::int + 1) * $5::int
                AND CASE WHEN r.customer_id IS NULL THEN $3::boolean
                         ELSE r.model_version <> $2 OR r.customer_version <> c.version END
              ORDER BY c.customer_id`,
      values: [model, version, missing, slice, width],
    });
    return rows.map((row) => row.customer_id);
  }

  /**
   * Customers stamped after `since` whose list of `model` is missing or was computed from older purchases,
   * with their versions (what a customer job is queued for).
   */
  async changedCustomers(model: string, since: number): Promise<{ customerId: number; version: number }[]> {
    const { rows } = await this.db.query<{ customer_id: number; version: number }>({
      name: 'ranking.changed-customers',
      text: `SELECT c.customer_id, c.version
               FROM customers c LEFT JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $1
              WHERE c.version > $2 AND (r.customer_id IS NULL OR r.customer_version <> c.version)
              ORDER BY c.version`,
      values: [model, since],
    });
    return rows.map((row) => ({ customerId: row.customer_id, version: row.version }));
  }

  /**
   * The customer's kept list in `model` when it is current (computed from the customer's version and the
   * model's version of now): how many of their products had vectors then; undefined when it is not.
   */
  async currentList(customerId: number, model: string): Promise<{ withVectors: number } | undefined> {
    const { rows } = await this.db.query<{ purchased_with_vectors: number }>({
      name: 'ranking.current-list',
      text: `SELECT r.purchased_with_vectors FROM user_recommendations r
               JOIN customers c ON c.customer_id = r.customer_id AND c.version = r.customer_version
               JOIN model_versions m ON m.model = r.model AND m.version = r.model_version
              WHERE r.customer_id = $1 AND r.model = $2`,
      values: [customerId, model],
    });
    const row = rows[0];
    return row && { withVectors: row.purchased_with_vectors };
  }

  /** The customer's version now (undefined: no such customer), and whether a list of `model` exists. */
  async customerState(
    customerId: number,
    model: string,
  ): Promise<{ version: number; hasList: boolean } | undefined> {
    const { rows } = await this.db.query<{ version: number; has_list: boolean }>({
      name: 'ranking.customer-state',
      text: `SELECT c.version, EXISTS (SELECT 1 FROM user_recommendations r
                                        WHERE r.customer_id = c.customer_id AND r.model = $2) AS has_list
               FROM customers c WHERE c.customer_id = $1`,
      values: [customerId, model],
    });
    const row = rows[0];
    return row && { version: row.version, hasList: row.has_list };
  }
}
