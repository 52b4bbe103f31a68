import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  EMBEDDING_DIMENSIONS,
  normaliseInPlace,
  sha256Hex,
  withTransaction,
  type Database,
  type ProductVector,
} from '@retail/common';
import { IngestionInputError } from '../errors.js';
import { SeedRepository } from './seed.repository.js';

export interface ImportResult {
  file: string;
  model: string;
  imported: number;
  /** StockCodes of the file that are not in the catalog (ingest the data first). */
  unknownProducts: string[];
}

interface SeedEntry {
  product_id?: unknown;
  description?: unknown;
  embedding?: unknown;
}

/**
 * Loads a seed-format `product_embeddings.json` as the vectors of `model`. Every entry is checked
 * before anything is written (the dimension, finite values, a non-zero vector); any bad entry refuses the
 * whole file. Vectors are stored L2-normalised, with the hash of the description they were made from.
 */
export async function importSeed(db: Database, dir: string, model: string): Promise<ImportResult> {
  const file = path.resolve(dir, 'product_embeddings.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new IngestionInputError(`file not found: ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new IngestionInputError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new IngestionInputError(
      `${file} must be an object { "<StockCode>": { product_id, description, embedding } }`,
    );
  }

  const vectors: (ProductVector & { description: string })[] = [];
  for (const [key, value] of Object.entries(parsed as Record<string, SeedEntry>)) {
    const entry = value ?? {};
    const productId = (typeof entry.product_id === 'string' ? entry.product_id : key).trim().toUpperCase();
    const description = typeof entry.description === 'string' ? entry.description : '';
    const values = entry.embedding;
    if (!Array.isArray(values) || values.length !== EMBEDDING_DIMENSIONS) {
      throw new IngestionInputError(
        `${file}: "${key}" has ${Array.isArray(values) ? values.length : 'no'}-dimensional embedding, ` +
          `expected ${EMBEDDING_DIMENSIONS}`,
      );
    }
    if (!values.every((v) => typeof v === 'number')) {
      throw new IngestionInputError(`${file}: "${key}" has an embedding with values that are not numbers`);
    }
    const vector = Float32Array.from(values);
    try {
      normaliseInPlace(vector);
    } catch (error) {
      throw new IngestionInputError(
        `${file}: "${key}" has an unusable embedding: ${(error as Error).message}`,
      );
    }
    vectors.push({ productId, description, textHash: sha256Hex(description), vector });
  }

  const repository = new SeedRepository(db);
  const known = await repository.existingProducts(vectors.map((v) => v.productId));
  const importable = vectors.filter((v) => known.has(v.productId));
  await withTransaction(db, (client) => repository.storeVectors(client, model, importable));
  return {
    file,
    model,
    imported: importable.length,
    unknownProducts: vectors.filter((v) => !known.has(v.productId)).map((v) => v.productId),
  };
}
