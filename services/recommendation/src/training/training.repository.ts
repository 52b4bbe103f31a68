import type { Database, DatabaseClient } from '@retail/common';
import type { PurchaseRecord } from '../models/copurchase.js';
import { copyIn, copyOut } from './copy-binary.js';

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
    return { purchasesDigest: rows[0]?.digest ?? 'empty', descriptionVersion: rows[0]?.version ?? 0 };
  }

  /** What each stored model was trained from (model -> trained_from). */
  async trainedFrom(models: string[]): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ model: string; trained_from: string }>(
      'SELECT model, trained_from FROM recommender_models WHERE model = ANY($1::text[])',
      [models],
    );
    return new Map(rows.map((row) => [row.model, row.trained_from]));
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
