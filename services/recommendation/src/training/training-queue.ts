import { fileURLToPath } from 'node:url';
import { Worker, type Queue } from 'bullmq';
import {
  bullConnection,
  TRAINING_JOB_NAME,
  trainingJobId,
  trainingJobOptions,
  type AppConfig,
  type TrainingJobData,
  type TrainingJobResult,
  QueueNames,
} from '@retail/common';
import { TRAINING_METHOD } from './model-trainer.js';
import type { TrainingState } from './training.repository.js';

/** The sandboxed processor (a worker thread), built next to this file. */
export const TRAINING_PROCESSOR = fileURLToPath(new URL('./training.processor.js', import.meta.url));

/** Queues a training job for `state` (the job id derives from it: queued once per state). */
export async function queueTraining(
  queue: Queue<TrainingJobData, TrainingJobResult>,
  state: TrainingState,
  descriptionModel: string,
  requestedBy: string,
): Promise<string> {
  const data: TrainingJobData = {
    purchases_digest: state.purchasesDigest,
    description_model: descriptionModel,
    description_version: state.descriptionVersion,
    requested_by: requestedBy,
  };
  const jobId = trainingJobId(data, TRAINING_METHOD);
  // A job of this id that completed while the models are still stale (they were deleted since): run it again.
  const existing = await queue.getJob(jobId);
  if (existing && (await existing.isCompleted())) await existing.remove();
  await queue.add(TRAINING_JOB_NAME, data, { ...trainingJobOptions(), jobId });
  return jobId;
}

/**
 * A worker of the `model-training` queue, one job at a time, the work in a worker thread (BullMQ sandboxed
 * processor), so that the process keeps answering and renewing its job locks while it trains.
 */
export function createTrainingWorker(config: AppConfig): Worker<TrainingJobData, TrainingJobResult> {
  return new Worker<TrainingJobData, TrainingJobResult>(QueueNames.ModelTraining, TRAINING_PROCESSOR, {
    connection: bullConnection(config),
    prefix: config.queuePrefix,
    concurrency: 1,
    useWorkerThreads: true,
    lockDuration: config.workerLockMs,
    stalledInterval: config.workerLockMs,
    maxStalledCount: 3,
  });
}
