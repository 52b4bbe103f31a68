import type { SandboxedJob } from 'bullmq';
import { connectDatabase, loadConfig, type TrainingJobData, type TrainingJobResult } from '@retail/common';
import { trainModels } from './model-trainer.js';

/**
 * The `model-training` job, run by BullMQ in a worker thread (a sandboxed processor): about a minute of
 * numeric work on the real data that must not block the recommendation service's event loop. It opens its
 * own small connection pool.
 */
export default async function processTraining(
  job: SandboxedJob<TrainingJobData, TrainingJobResult>,
): Promise<TrainingJobResult> {
  const config = loadConfig();
  const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'model-training' });
  try {
    return await trainModels(db, job.data.description_model, {
      progress: (phase, done, total) => void job.updateProgress({ phase, done, total }),
    });
  } finally {
    await db.end();
  }
}
