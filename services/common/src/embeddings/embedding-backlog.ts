import type { Queue } from 'bullmq';
import type { AppConfig } from '../config/config.js';
import type { Database } from '../db/database.js';
import { QueueNames } from '../queues/queue-names.js';
import { createQueue } from '../queues/queues.js';
import {
  EMBEDDING_JOB_NAME,
  embeddingBatches,
  embeddingJobId,
  embeddingJobOptions,
  type EmbeddingJobData,
} from '../queues/embedding-jobs.js';
import { EmbeddingBacklogRepository } from './embedding-backlog.repository.js';

export interface EnqueueResult {
  model: string;
  /** Products that need a vector in the active model. */
  products: number;
  /** Jobs those products were split into (a job already known to the queue is not added twice). */
  jobs: number;
  jobIds: string[];
  /** Jobs of this work that already failed for good: they wait for an operator's retry. */
  failedBefore: string[];
}

/** Queues embedding jobs for every product that has no current vector in the active model. */
export async function enqueueMissingEmbeddings(
  db: Database,
  queue: Queue<EmbeddingJobData>,
  config: Pick<AppConfig, 'embedding'>,
): Promise<EnqueueResult> {
  const { model, batchSize, maxAttempts, retryDelayMs } = config.embedding;
  const items = await new EmbeddingBacklogRepository(db).findProductsToEmbed(model);
  const batches = embeddingBatches(model, items, batchSize);
  const options = embeddingJobOptions(maxAttempts, retryDelayMs);
  const jobIds = batches.map(embeddingJobId);
  const failedBefore: string[] = [];
  // A completed job with the same content ran before, yet its products still lack a vector (they were
  // removed and re-added since): it must run again, so the finished record is dropped first.
  const states = await Promise.all(jobIds.map((id) => queue.getJobState(id)));
  const removals: Promise<unknown>[] = [];
  states.forEach((state, i) => {
    if (state === 'failed') failedBefore.push(jobIds[i]!);
    if (state === 'completed') removals.push(queue.remove(jobIds[i]!));
  });
  await Promise.all(removals);
  if (batches.length > 0) {
    await queue.addBulk(
      batches.map((data, i) => ({ name: EMBEDDING_JOB_NAME, data, opts: { ...options, jobId: jobIds[i] } })),
    );
  }
  return { model, products: items.length, jobs: batches.length, jobIds, failedBefore };
}

/**
 * enqueueMissingEmbeddings for a process that holds no queue of its own (the ingestion after a load): opens
 * the `embeddings` queue for the call and closes it again.
 */
export async function queueMissingEmbeddings(
  db: Database,
  config: Pick<AppConfig, 'embedding' | 'redisUrl' | 'queuePrefix'>,
): Promise<EnqueueResult> {
  const queue = createQueue<EmbeddingJobData>(QueueNames.Embeddings, config);
  try {
    return await enqueueMissingEmbeddings(db, queue, config);
  } finally {
    await queue.close().catch(() => undefined);
  }
}
