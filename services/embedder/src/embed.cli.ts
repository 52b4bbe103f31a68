#!/usr/bin/env node
import type { Queue } from 'bullmq';
import {
  QueueNames,
  connectDatabase,
  createQueue,
  enqueueMissingEmbeddings,
  loadConfig,
  runCommand,
  type EmbeddingJobData,
  type EmbeddingJobResult,
} from '@retail/common';
import { createProgressReporter } from '@retail/common/progress';

const USAGE = `Usage: npm run embed -- [--wait] [--retry-failed] [--after-ingestion]

Queues embedding jobs for the products without a vector in the active model (EMBEDDING_PROVIDER /
EMBEDDING_MODEL). A product is embedded again only when its description or the model changed.
  --wait           show progress until the jobs are done, then print the totals; when no embedder
                   worker is running, the work is done in this process
  --retry-failed   first send the jobs that failed for good back to the queue
  --after-ingestion  first wait until the data is loaded (start-up scripts: this step can start beside the
                   ingestion, which commits everything at once, and a start that finds the data does not wait)`;

/** How often --after-ingestion looks whether an ingestion has committed. */
const INGESTION_POLL_MS = 500;

interface Totals {
  embedded: number;
  skipped: number;
  failed: number;
  failures: string[];
}

async function waitForJobs(
  queue: Queue<EmbeddingJobData>,
  jobIds: string[],
  products: number,
): Promise<Totals> {
  const progress = createProgressReporter();
  progress.start('embedding', products, 'products');
  const totals: Totals = { embedded: 0, skipped: 0, failed: 0, failures: [] };
  const pending = new Set(jobIds);
  let done = 0;
  while (pending.size > 0) {
    const ids = [...pending];
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    for (const [i, state] of states.entries()) {
      if (state !== 'completed' && state !== 'failed') continue;
      const job = await queue.getJob(ids[i]!);
      if (!job) continue;
      pending.delete(ids[i]!);
      const finished = state;
      done += job.data.products.length;
      if (finished === 'completed') {
        const result = job.returnvalue as EmbeddingJobResult;
        totals.embedded += result.embedded;
        totals.skipped += result.skipped;
      } else {
        totals.failed += job.data.products.length;
        totals.failures.push(`job ${job.id}: ${job.failedReason}`);
      }
    }
    progress.update(done, `${totals.embedded} embedded, ${totals.failed} failed`);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  progress.stop();
  return totals;
}

runCommand({
  name: 'embed',
  usage: USAGE,
  options: {
    wait: { type: 'boolean', default: false },
    'retry-failed': { type: 'boolean', default: false },
    'after-ingestion': { type: 'boolean', default: false },
  },
  async run(values) {
    const config = loadConfig();
    const startedAt = Date.now();
    const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'embed-cli' });
    const queue = createQueue<EmbeddingJobData>(QueueNames.Embeddings, config);
    let worker: { close(): Promise<void> } | undefined;
    try {
      if (values['retry-failed']) {
        const failed = await queue.getJobCountByTypes('failed');
        await queue.retryJobs({ state: 'failed' });
        console.log(`sent ${failed} failed jobs back to the queue`);
      }
      if (values['after-ingestion']) {
        let said = false;
        const loaded = async () =>
          (await db.query<{ done: boolean }>('SELECT EXISTS (SELECT 1 FROM products) AS done')).rows[0]!.done;
        while (!(await loaded())) {
          if (!said) console.log('waiting for the ingestion to load the data');
          said = true;
          await new Promise((resolve) => setTimeout(resolve, INGESTION_POLL_MS));
        }
      }
      const queued = await enqueueMissingEmbeddings(db, queue, config);
      console.log(
        `${queued.products} products without a ${queued.model} vector -> ${queued.jobs} jobs ` +
          `(batches of ${config.embedding.batchSize})`,
      );
      if (queued.failedBefore.length > 0) {
        console.log(
          `${queued.failedBefore.length} of them failed before and wait for an operator: run with --retry-failed ` +
            '(or retry them on the queue dashboard)',
        );
      }
      if (!values.wait || queued.jobs === 0) return 0;

      if ((await queue.getWorkers()).length === 0) {
        console.log('no embedder worker is running: processing the jobs in this process');
        // Loaded only now: a run with nothing to embed (every later start of the demo) starts a second sooner.
        await import('reflect-metadata');
        const [{ NestFactory }, { withCore }, { EmbedderModule }] = await Promise.all([
          import('@nestjs/core'),
          import('@retail/common/nest'),
          import('./embedder.module.js'),
        ]);
        worker = await NestFactory.createApplicationContext(withCore(EmbedderModule, config), {
          logger: ['error'],
        });
      }
      const totals = await waitForJobs(queue, queued.jobIds, queued.products);
      const seconds = (Date.now() - startedAt) / 1000;
      console.log(
        `embedded ${totals.embedded}, skipped ${totals.skipped}, failed ${totals.failed} in ${seconds.toFixed(1)} s` +
          (totals.embedded > 0 ? ` (${Math.round(totals.embedded / seconds)} products/s)` : ''),
      );
      for (const failure of totals.failures) console.log(`  ${failure}`);
      return totals.failed > 0 ? 1 : 0;
    } finally {
      await worker?.close();
      await queue.close();
      await db.end();
    }
  },
});
