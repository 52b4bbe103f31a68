import type { JobsOptions } from 'bullmq';
import { sha256Hex } from '../util/hash.js';

/** One product of an embedding batch: the text to embed is the product's current description. */
export interface EmbeddingJobItem {
  productId: string;
  /** sha256 of the description when the job was queued; the worker embeds the current text. */
  textHash: string;
}

/** The payload of a job in the `embeddings` queue (the contract between producers and the embedder). */
export interface EmbeddingJobData {
  model: string;
  products: EmbeddingJobItem[];
}

export const EMBEDDING_JOB_NAME = 'embed-products';

/**
 * Job ids come from content (model + product ids + text hashes): queueing the same work twice is a
 * no-op while the first job is still known to Redis; after that the worker skips what is stored.
 */
export function embeddingJobId(data: EmbeddingJobData): string {
  const content = [data.model, ...data.products.map((p) => `${p.productId}\t${p.textHash}`)].join('\n');
  return `embed-${sha256Hex(content).slice(0, 40)}`;
}

/** Splits the missing products into batches of `batchSize`. */
export function embeddingBatches(
  model: string,
  items: EmbeddingJobItem[],
  batchSize: number,
): EmbeddingJobData[] {
  const batches: EmbeddingJobData[] = [];
  for (let i = 0; i < items.length; i += batchSize) {
    batches.push({ model, products: items.slice(i, i + batchSize) });
  }
  return batches;
}

/** The result an embedding job returns (visible on the dashboard, summed by `npm run embed`). */
export interface EmbeddingJobResult {
  embedded: number;
  /** Products whose stored vector already matches their current text, or that no longer exist. */
  skipped: number;
}

export function embeddingJobOptions(maxAttempts: number, retryDelayMs: number): JobsOptions {
  return {
    attempts: maxAttempts,
    backoff: { type: 'exponential', delay: retryDelayMs },
    // Completed jobs stay a day so that re-queues are recognised; failed ones stay for operators.
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: false,
  };
}
