import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import type { Queue } from 'bullmq';
import {
  EMBEDDING_JOB_NAME,
  LOCAL_EMBEDDING_MODEL,
  QueueNames,
  createQueue,
  loadConfig,
  type Database,
  type EmbeddingJobData,
  type RedisClient,
} from '@retail/common';
import { closeTestStores, openTestStores, resetRedis, runCli } from '@retail/testing';

let db: Database;
let redis: RedisClient;
let queue: Queue<EmbeddingJobData>;

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  queue = createQueue<EmbeddingJobData>(QueueNames.Embeddings, loadConfig());
});

afterAll(async () => {
  await queue.close();
  await closeTestStores({ db, redis });
});

describe('embedding jobs queued by the ingestion', () => {
  it('queues the merchandise products without a vector, once', async () => {
    const file = path.join(import.meta.dirname, 'fixtures', 'small.csv');
    const first = await runCli('services/ingestion/dist/main.js', ['--file', file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`6 products without a ${LOCAL_EMBEDDING_MODEL} vector -> 1 jobs queued`);

    const jobs = await queue.getJobs(['waiting']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.name).toBe(EMBEDDING_JOB_NAME);
    expect(jobs[0]!.data.model).toBe(LOCAL_EMBEDDING_MODEL);
    expect(jobs[0]!.data.products.map((p) => p.productId)).toEqual([
      '21754',
      '22632',
      '22633',
      '71053',
      '84406B',
      '85123A',
    ]);
    expect(jobs[0]!.data.products[0]!.textHash).toMatch(/^[0-9a-f]{64}$/);

    // The same work queued again is recognised by its content-derived job id.
    const second = await runCli('services/ingestion/dist/main.js', ['--file', file]);
    expect(second.code).toBe(0);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('splits large backlogs into batches of EMBEDDING_BATCH_SIZE', async () => {
    await resetRedis(redis);
    const file = path.join(import.meta.dirname, 'fixtures', 'small.csv');
    const result = await runCli('services/ingestion/dist/main.js', ['--file', file], {
      EMBEDDING_BATCH_SIZE: '4',
    });
    expect(result.stdout).toContain('-> 2 jobs queued');
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((job) => job.data.products.length).sort()).toEqual([2, 4]);
  });
});
