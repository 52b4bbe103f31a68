import type { Database, DatabaseClient } from '@retail/common';
import type { PurchaseRecord } from '../models/copurchase.js';
import { copyIn, copyOut } from './copy-binary.js';

/** The purchases digest of a database without purchases (nothing to train on: no training is queued). */
export const NO_PURCHASES = 'empty';

/** What the models learned from purchases depend on, now. */
export interface TrainingState {
  /** Digest of every customer's user-item rows (products, counts, dates). */
  purchasesDigest: string;
  /** The description model's vectors version (model_versions), 0 when it has none. */
  descriptionVersion: number;
}

export interface StoredModel {
  model: string;
  kind: 'copurchase' | 'hybrid';
  dimensions: number;
  params: Record<string, unknown>;
  trainedFrom: string;
  customers: number;
  products: number;
  trainingMs: number;
}

export interface FactorRow {
  productId: string;
  item: Float32Array;
  input: Float32Array;
}

/** Every SQL statement of the training of the models learned from purchases. */
export class TrainingRepository {
  constructor(private readonly db: Database) {}

  async state(descriptionModel: string): Promise<TrainingState> {
    const { rows } = await this.db.query<{ digest: string | null; version: number | null }>(
      `SELECT (SELECT md5(string_agg(customer_id::text || ':' || items_hash, ',' ORDER BY customer_id)) FROM customers) AS digest,
              (SELECT version FROM model_versions WHERE model = $1) AS version`,
      [descriptionModel],
    );
    return { purchasesDigest: rows[0]?.digest ?? NO_PURCHASES, descriptionVersion: rows[0]?.version ?? 0 };
  }

  /** What each stored model was trained from (model -> trained_from). */
  async trainedFrom(models: string[]): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ model: string; trained_from: string }>(
      'SELECT model, trained_from FROM recommender_models WHERE model = ANY($1::text[])',
      [models],
    );
    return new Map(rows.map((row) => [row.model, row.trained_from]));
  }

  /**
   * What happened since `model` was trained: purchase lines posted since, whether a file was ingested since,
   * and the seconds since (undefined: never trained).
   */
  async sinceTraining(
    model: string,
  ): Promise<{ lines: number; ingested: boolean; seconds: number } | undefined> {
    const { rows } = await this.db.query<{ lines: number; ingested: boolean; seconds: number }>(
      `SELECT (SELECT count(*)::int FROM posted_lines l WHERE l.recorded_at > m.trained_at) AS lines,
              EXISTS (SELECT 1 FROM ingestion_runs r WHERE r.finished_at > m.trained_at) AS ingested,
              extract(epoch FROM now() - m.trained_at)::float8 AS seconds
         FROM recommender_models m WHERE m.model = $1`,
      [model],
    );
    return rows[0];
  }

  /**
   * Between two trainings the hybrid follows its description model: a product whose description vector was
   * written after the training (a new product, a new description) gets the hybrid's description part from it
   * (weighted as the training weights it), its co-purchase part kept (zero for a product the training never
   * saw). Returns the products updated.
   */
  async followDescriptions(hybrid: string, descriptionModel: string): Promise<number> {
    const { rowCount } = await this.db.query(
      `WITH m AS (
         SELECT model, dimensions, (params->>'description_dimensions')::int AS d,
                array_fill((params->>'descriptionWeight')::float4, ARRAY[(params->>'description_dimensions')::int])::vector AS w,
                trained_at
           FROM recommender_models WHERE model = $1 AND (params->>'description_dimensions')::int > 0
       ), changed AS (
         SELECT e.product_id, e.embedding * m.w AS part
           FROM m JOIN product_embeddings e ON e.model = $2 AND e.created_at > m.trained_at
           JOIN products p ON p.product_id = e.product_id AND p.is_merchandise
       )
       INSERT INTO product_factors AS t (model, product_id, item_vector, input_vector)
       SELECT m.model, c.product_id,
              c.part || coalesce(subvector(f.item_vector, m.d + 1, m.dimensions - m.d),
                                 array_fill(0::float4, ARRAY[m.dimensions - m.d])::vector),
              coalesce(f.input_vector, array_fill(0::float4, ARRAY[m.dimensions - m.d - 1])::vector)
         FROM m CROSS JOIN changed c
         LEFT JOIN product_factors f ON f.model = m.model AND f.product_id = c.product_id
        WHERE f.product_id IS NULL OR subvector(f.item_vector, 1, m.d) <> c.part
       ON CONFLICT (model, product_id) DO UPDATE SET item_vector = excluded.item_vector`,
      [hybrid, descriptionModel],
    );
    return rowCount ?? 0;
  }

  /** Every (customer, merchandise product) bought, with the last time it was bought. */
  async purchases(): Promise<PurchaseRecord[]> {
    const reader = await this.withClient((client) =>
      copyOut(
        client,
        `SELECT ui.customer_id, ui.product_id, ui.last_purchased_at::text
           FROM user_items ui JOIN products p ON p.product_id = ui.product_id AND p.is_merchandise`,
      ),
    );
    // Timestamps are the shop-local text of the file, read as local time (as the evaluation does); an
    // invoice's lines share theirs, each parsed once.
    const times = new Map<string, Date>();
    const out: PurchaseRecord[] = [];
    while (reader.nextRow()) {
      const customerId = reader.int32();
      const productId = reader.text();
      const text = reader.text();
      let lastPurchasedAt = times.get(text);
      if (!lastPurchasedAt) times.set(text, (lastPurchasedAt = new Date(text.replace(' ', 'T'))));
      out.push({ customerId, productId, lastPurchasedAt });
    }
    return out;
  }

  /** The description vectors of the merchandise products in `model`. */
  async descriptionVectors(model: string): Promise<Map<string, Float32Array>> {
    const reader = await this.withClient((client) =>
      copyOut(
        client,
        `SELECT e.product_id, e.embedding FROM product_embeddings e
           JOIN products p ON p.product_id = e.product_id AND p.is_merchandise
          WHERE e.model = ${client.escapeLiteral(model)}`,
      ),
    );
    const out = new Map<string, Float32Array>();
    while (reader.nextRow()) out.set(reader.text(), reader.vector());
    return out;
  }

  /**
   * Replaces the models' rows and vectors in one transaction (a ranking never sees half a model, a training
   * stopped half-way leaves the previous models); the vectors go in with a binary COPY. Products no longer
   * in the catalog are skipped.
   */
  async store(models: { model: StoredModel; rows: FactorRow[] }[]): Promise<void> {
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      for (const { model, rows } of models) {
        await client.query(
          `INSERT INTO recommender_models AS m (model, kind, dimensions, params, trained_from, customers, products, training_ms, trained_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
           ON CONFLICT (model) DO UPDATE SET kind = excluded.kind, dimensions = excluded.dimensions, params = excluded.params,
             trained_from = excluded.trained_from, customers = excluded.customers, products = excluded.products,
             training_ms = excluded.training_ms, trained_at = excluded.trained_at`,
          [
            model.model,
            model.kind,
            model.dimensions,
            JSON.stringify(model.params),
            model.trainedFrom,
            model.customers,
            model.products,
            model.trainingMs,
          ],
        );
        await client.query('DELETE FROM product_factors WHERE model = $1', [model.model]);
        const { rows: known } = await client.query<{ product_id: string }>(
          'SELECT product_id FROM products WHERE product_id = ANY($1::text[])',
          [rows.map((row) => row.productId)],
        );
        const catalog = new Set(known.map((row) => row.product_id));
        await copyIn(
          client,
          'product_factors (model, product_id, item_vector, input_vector)',
          rows.filter((row) => catalog.has(row.productId)),
          (writer, row) => {
            writer.row(4);
            writer.text(model.model);
            writer.text(row.productId);
            writer.vector(row.item);
            writer.vector(row.input);
          },
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async withClient<T>(body: (client: DatabaseClient) => Promise<T>): Promise<T> {
    const client = await this.db.connect();
    try {
      return await body(client);
    } finally {
      client.release();
    }
  }
}
