import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '@retail/common';
import { SeedRepository } from './seed.repository.js';

export interface ExportResult {
  userPurchases: { file: string; users: number };
}

/** Writes `data` as JSON to `file` atomically (a crash never leaves half a file). */
async function writeJsonAtomically(file: string, data: unknown): Promise<void> {
  const partial = `${file}.partial`;
  await writeFile(partial, JSON.stringify(data));
  await rename(partial, file);
}

/**
 * Writes the seed's interchange files from the database:
 * `user_purchases.json` = { "<CustomerID>": ["<StockCode>", ...] }.
 */
export async function exportSeed(db: Database, outDir: string): Promise<ExportResult> {
  await mkdir(outDir, { recursive: true });
  const purchases = await new SeedRepository(db).userPurchases();
  const file = path.join(outDir, 'user_purchases.json');
  await writeJsonAtomically(
    file,
    Object.fromEntries([...purchases].map(([id, products]) => [String(id), products])),
  );
  return { userPurchases: { file, users: purchases.size } };
}
