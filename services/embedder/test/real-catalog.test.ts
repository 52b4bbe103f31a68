import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import {
  QueueNames,
  createQueue,
  enqueueMissingEmbeddings,
  loadConfig,
  type Database,
  type EmbeddingJobData,
  type RedisClient,
} from '@retail/common';
import {
  eventually,
  FakeOpenAiServer,
  openRealCatalogStores,
  resetRedis,
  runCli,
  startProcess,
  type RealCatalogStores,
  stop,
} from '@retail/testing';

let stores: RealCatalogStores;
let db: Database;
let redis: RedisClient;
let merchandise: number;

const vectorCounts = async (model: string) =>
  (
    await db.query<{ total: number; products: number }>(
      `SELECT count(*) AS total, count(DISTINCT product_id) AS products FROM product_embeddings WHERE model = $1`,
      [model],
    )
  ).rows[0]!;

beforeAll(async () => {
  // The real file, ingested once for the whole run (services/testing/src/real-catalog.ts).
  stores = await openRealCatalogStores();
  ({ db, redis } = stores);
  merchandise = (await db.query<{ n: number }>('SELECT count(*) AS n FROM products WHERE is_merchandise'))
    .rows[0]!.n;
  expect(merchandise).toBe(3_658);
});

afterAll(async () => {
  await stores?.close();
});

describe('the real catalog', () => {
  it('is embedded end to end with the local provider; a second run embeds nothing', async () => {
    const first = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('3658 products without a local-hashed-ngrams-v1 vector -> 58 jobs');
    expect(first.stdout).toMatch(/embedded 3658, skipped 0, failed 0 in/);
    expect(await vectorCounts('local-hashed-ngrams-v1')).toEqual({ total: 3_658, products: 3_658 });

    const second = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('0 products without a local-hashed-ngrams-v1 vector -> 0 jobs');
    expect(await vectorCounts('local-hashed-ngrams-v1')).toEqual({ total: 3_658, products: 3_658 });
  });

  it('survives a worker killed with SIGKILL mid-catalog: every product ends with exactly one vector', async () => {
    await resetRedis(redis);
    const fake = await FakeOpenAiServer.start({ delayMs: 60 });
    const env = {
      EMBEDDING_PROVIDER: 'openai',
      EMBEDDING_API_KEY: 'sk-crash-test',
      EMBEDDING_BASE_URL: fake.baseUrl,
      EMBEDDING_MODEL: 'crash-test-model',
      EMBEDDING_BATCH_SIZE: '16',
      EMBEDDING_CONCURRENCY: '4',
      WORKER_LOCK_MS: '2000',
    };
    const config = loadConfig({ ...process.env, ...env });
    const queue: Queue<EmbeddingJobData> = createQueue(QueueNames.Embeddings, config);
    try {
      const queued = await enqueueMissingEmbeddings(db, queue, config);
      expect(queued.jobs).toBe(229);

      const first = startProcess('services/embedder/dist/main.js', [], env);
      await eventually(async () => (await vectorCounts('crash-test-model')).total >= 1_000, 60_000, 20);
      expect((await stop(first, 'SIGKILL')).signal).toBe('SIGKILL');
      const atCrash = await vectorCounts('crash-test-model');
      expect(atCrash.total).toBeLessThan(merchandise);
      // The killed worker's jobs are still marked active: nothing finishes them until a worker returns.
      expect(await queue.getJobCountByTypes('active')).toBeGreaterThan(0);

      const second = startProcess('services/embedder/dist/main.js', [], env);
      try {
        await eventually(
          async () => (await queue.getJobCountByTypes('completed', 'failed')) === queued.jobs,
          120_000,
          200,
        );
      } finally {
        await stop(second);
      }
      expect(await queue.getJobCountByTypes('failed')).toBe(0);
      expect(await vectorCounts('crash-test-model')).toEqual({ total: merchandise, products: merchandise });
      const { rows } = await db.query(
        `SELECT count(*) AS n FROM products p WHERE p.is_merchandise AND NOT EXISTS
           (SELECT 1 FROM product_embeddings e WHERE e.model = 'crash-test-model' AND e.product_id = p.product_id)`,
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await queue.close();
      await fake.close();
    }
  });
});
