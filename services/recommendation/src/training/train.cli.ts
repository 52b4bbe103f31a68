#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { QueueEvents, type Queue } from 'bullmq';
import {
  bullConnection,
  ConfigError,
  connectDatabase,
  createQueue,
  loadConfig,
  QueueNames,
  type TrainingJobData,
  type TrainingJobResult,
} from '@retail/common';
import { modelsAreStale } from './model-trainer.js';
import { createTrainingWorker, describeTraining, queueTraining } from './training-queue.js';

const USAGE = `Usage: npm run train -- [--wait]

Queues the training of the models learned from purchases (the co-purchase model, and the hybrid over the
active description model) when the purchases or the description vectors changed since the last training
(queue \`model-training\`, consumed by the recommendation service when it serves one of those models).
  --wait   wait until the models are trained and print the time; when no worker is running, the work is
           done in this process`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      wait: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  const descriptionModel = config.embedding.model;
  const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'train-cli' });
  const queue = createQueue<TrainingJobData>(QueueNames.ModelTraining, config) as Queue<
    TrainingJobData,
    TrainingJobResult
  >;
  let worker: ReturnType<typeof createTrainingWorker> | undefined;
  let events: QueueEvents | undefined;
  try {
    const state = await modelsAreStale(db, descriptionModel);
    if (!state) {
      console.log('the co-purchase and hybrid models are already trained from the current purchases');
      return 0;
    }
    const jobId = await queueTraining(queue, state, descriptionModel, 'cli');
    console.log(`queued training job ${jobId}`);
    if (!values.wait) return 0;
    events = new QueueEvents(QueueNames.ModelTraining, {
      connection: bullConnection(config),
      prefix: config.queuePrefix,
    });
    await events.waitUntilReady();
    if ((await queue.getWorkers()).length === 0) {
      console.log('no training worker is running: training in this process');
      worker = createTrainingWorker(config, {
        debug: () => undefined,
        log: () => undefined,
        warn: (line) => console.error(line),
        error: (line) => console.error(line),
      });
    }
    events.on('progress', ({ jobId: id, data }) => {
      if (id !== jobId || typeof data !== 'object' || data === null) return;
      const { phase, done, total } = data as { phase: string; done: number; total: number };
      console.log(`  ${done}/${total} ${phase}`);
    });
    const job = (await queue.getJob(jobId))!;
    const result = await job.waitUntilFinished(events);
    console.log(describeTraining(result));
    return 0;
  } finally {
    await worker?.close();
    await events?.close();
    await queue.close();
    await db.end();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`train failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
