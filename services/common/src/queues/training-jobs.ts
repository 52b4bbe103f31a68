import type { JobsOptions } from 'bullmq';
import { sha256Hex } from '../util/hash.js';

/**
 * A job of the `model-training` queue: (re)train the models learned from purchases, because the purchases
 * (or the description vectors the hybrid is built over) changed. The worker skips the work when the stored
 * models were already trained from this state.
 */
export interface TrainingJobData {
  /** Digest of the purchases the job was queued for (customers' items hashes). */
  purchases_digest: string;
  /** The description model the hybrid is built over, and its vectors' version then. */
  description_model: string;
  description_version: number;
  /** Who asked: `refresher` (purchases or vectors changed), `cli`. */
  requested_by: string;
}

export interface TrainingJobResult {
  /** False when the models were already trained from this state. */
  trained: boolean;
  models: string[];
  customers: number;
  products: number;
  training_ms: number;
  storing_ms: number;
}

export const TRAINING_JOB_NAME = 'train-models';

/** Same purchases, same description vectors: the same job, queued once. */
export function trainingJobId(data: TrainingJobData, method: string): string {
  const content = [
    method,
    data.purchases_digest,
    data.description_model,
    String(data.description_version),
  ].join('\n');
  return `train-${sha256Hex(content).slice(0, 40)}`;
}

export function trainingJobOptions(): JobsOptions {
  return {
    attempts: 3,
    backoff: { type: 'exponential', delay: 5_000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 1_000 },
    removeOnFail: false,
  };
}
