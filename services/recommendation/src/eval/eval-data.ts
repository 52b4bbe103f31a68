import { type Database, type EmbeddingConfig } from '@retail/common';
import { createEmbeddingProvider } from '@retail/common/embedding-providers';
import { readCleanPurchases } from '@retail/ingestion/clean-purchases';
import type { EvalData, EvalLine } from './evaluation.js';

/**
 * The evaluation's data from the database: every cleaned line of a merchandise product (order_lines, with
 * their dates), the canonical descriptions, the retired products, and the description vectors of
 * `descriptionModel`.
 */
export async function loadEvalData(db: Database, descriptionModel: string): Promise<EvalData> {
  const { rows: lineRows } = await db.query<{
    customer_id: number;
    product_id: string;
    invoice_date: string;
  }>(
    `SELECT o.customer_id, o.product_id, o.invoice_date
       FROM order_lines o JOIN products p ON p.product_id = o.product_id AND p.is_merchandise`,
  );
  const lines: EvalLine[] = lineRows.map((row) => ({
    customerId: row.customer_id,
    productId: row.product_id,
    // Timestamps come as the shop-local text the file had; read as local time, like the --cut date.
    at: new Date(row.invoice_date.replace(' ', 'T')),
  }));
  const { rows: products } = await db.query<{
    product_id: string;
    description: string;
    retired: boolean;
    embedding: Float32Array | null;
  }>(
    `SELECT p.product_id, p.description, p.retired_at IS NOT NULL AS retired, e.embedding
       FROM products p LEFT JOIN product_embeddings e ON e.model = $1 AND e.product_id = p.product_id
      WHERE p.is_merchandise`,
    [descriptionModel],
  );
  if (lines.length === 0) throw new Error('the database has no purchases: run `npm run ingest` first');
  const vectors = new Map<string, Float32Array>();
  for (const row of products) {
    if (row.embedding) vectors.set(row.product_id, row.embedding);
  }
  if (vectors.size === 0) {
    throw new Error(`no product has a ${descriptionModel} vector: run \`npm run embed -- --wait\` first`);
  }
  return {
    lines,
    descriptions: new Map(products.map((row) => [row.product_id, row.description])),
    vectors,
    retired: new Set(products.filter((row) => row.retired).map((row) => row.product_id)),
    descriptionModel,
  };
}

/**
 * The evaluation's data from an Online Retail file, without a database: read and cleaned by the ingestion's
 * own code (same rules, same canonical descriptions, same merchandise flags), and the merchandise described by
 * the configured embedding provider (the `local` model offline: a fraction of a second).
 */
export async function loadEvalDataFromFile(file: string, embedding: EmbeddingConfig): Promise<EvalData> {
  const { lines, products } = await readCleanPurchases(file);
  const merchandise = products.filter((p) => p.isMerchandise && p.description !== '');
  const provider = createEmbeddingProvider(embedding, { maxRetries: embedding.httpRetries });
  const vectors = new Map<string, Float32Array>();
  for (let i = 0; i < merchandise.length; i += embedding.batchSize) {
    const batch = merchandise.slice(i, i + embedding.batchSize);
    const embedded = await provider.embed(batch.map((p) => p.description));
    batch.forEach((p, j) => vectors.set(p.productId, embedded[j]!));
  }
  const isMerchandise = new Set(products.filter((p) => p.isMerchandise).map((p) => p.productId));
  return {
    lines: lines
      .filter((line) => isMerchandise.has(line.productId))
      .map((line) => ({
        customerId: line.customerId,
        productId: line.productId,
        at: new Date(line.invoiceDate.replace(' ', 'T')),
      })),
    descriptions: new Map(products.map((p) => [p.productId, p.description])),
    vectors,
    retired: new Set(),
    descriptionModel: provider.model,
  };
}
