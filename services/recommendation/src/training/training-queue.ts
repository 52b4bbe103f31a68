import { fileURLToPath } from 'node:url';
import type { Queue, Worker } from 'bullmq';
import {
  createQueueWorker,
  TRAINING_JOB_NAME,
  trainingJobId,
  trainingJobOptions,
  type AppConfig,
  type TrainingJobData,
  type TrainingJobResult,
  type ServiceMetrics,
  type WorkerLogger,
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

/** One line on a finished training job. */
export function describeTraining(result: TrainingJobResult): string {
  return result.trained
    ? `trained ${result.models.join(' and ')} on ${result.customers} customers x ${result.products} products ` +
        `in ${(result.training_ms / 1000).toFixed(1)} s (stored in ${(result.storing_ms / 1000).toFixed(1)} s)`
    : 'the models were already trained from this state';
}

/**
 * A worker of the `model-training` queue, one job at a time, the work in a worker thread (BullMQ sandboxed
 * processor), so that the process keeps answering and renewing its job locks while it trains.
 */
export function createTrainingWorker(
  config: AppConfig,
  logger: WorkerLogger,
  metrics?: ServiceMetrics,
): Worker<TrainingJobData, TrainingJobResult> {
  return createQueueWorker<TrainingJobData, TrainingJobResult>({
    queue: QueueNames.ModelTraining,
    config,
    concurrency: 1,
    metrics,
    logger,
    process: { sandboxed: TRAINING_PROCESSOR },
    describe: (_job, result) => describeTraining(result),
    completedLevel: 'log',
  });
}
