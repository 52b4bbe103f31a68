import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '@retail/common';
import { SeedRepository } from './seed.repository.js';

export interface ExportResult {
  userPurchases: { file: string; users: number };
  productEmbeddings: { file: string; products: number; model: string };
}

/** Writes `text` to `file` atomically (a crash never leaves half a file). */
async function writeAtomically(file: string, text: string): Promise<void> {
  const partial = `${file}.partial`;
  await writeFile(partial, text);
  await rename(partial, file);
}

/** 9 significant digits: enough to give back the exact float32 value, and a third of the JSON size. */
const float32Text = (value: number) => String(Number(value.toPrecision(9)));

/**
 * Writes the seed's interchange files from the database:
 * `user_purchases.json` = { "<CustomerID>": ["<StockCode>", ...] } and
 * `product_embeddings.json` = { "<StockCode>": { product_id, description, embedding: [floats] } }
 * for the vectors of `model`.
 */
export async function exportSeed(db: Database, outDir: string, model: string): Promise<ExportResult> {
  await mkdir(outDir, { recursive: true });
  const repository = new SeedRepository(db);

  const purchases = await repository.userPurchases();
  const purchasesFile = path.join(outDir, 'user_purchases.json');
  await writeAtomically(
    purchasesFile,
    JSON.stringify(Object.fromEntries([...purchases].map(([id, products]) => [String(id), products]))),
  );

  const vectors = await repository.productVectors(model);
  const embeddingsFile = path.join(outDir, 'product_embeddings.json');
  const entries = vectors.map(
    (v) =>
      `${JSON.stringify(v.productId)}:{"product_id":${JSON.stringify(v.productId)},` +
      `"description":${JSON.stringify(v.description)},"embedding":[${Array.from(v.embedding, float32Text).join(',')}]}`,
  );
  await writeAtomically(embeddingsFile, `{${entries.join(',')}}`);

  return {
    userPurchases: { file: purchasesFile, users: purchases.size },
    productEmbeddings: { file: embeddingsFile, products: vectors.length, model },
  };
}
