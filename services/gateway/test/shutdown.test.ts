import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import type { Queue } from 'bullmq';
import {
  ExplanationCacheRepository,
  QueueNames,
  RECOMMENDATION_EVENT_NAME,
  createQueue,
  enqueueMissingEmbeddings,
  loadConfig,
  writerNamespace,
  type Database,
  type EmbeddingJobData,
  type ExplanationJob,
  type RedisClient,
} from '@retail/common';
import {
  chatCompletion,
  closeTestStores,
  embeddingsAnswer,
  eventually,
  FakeOpenAiServer,
  insertShop,
  openTestStores,
  resetDatabase,
  resetRedis,
  runCli,
  startProcess,
  stop,
  type RunningProcess,
} from '@retail/testing';
import { startStack } from './stack.js';

const fixtures = path.join(import.meta.dirname, '..', '..', 'ingestion', 'test', 'fixtures');
/** The shutdown budget of every worker. */
const SHUTDOWN_LIMIT_MS = 10_000;

let db: Database;
let redis: RedisClient;
let fake: FakeOpenAiServer;

/** Sends SIGTERM and resolves with how the process ended; `late` (and killed) past the limit. */
const terminate = (process: RunningProcess) => stop(process, 'SIGTERM', { withinMs: SHUTDOWN_LIMIT_MS });

beforeAll(async () => {
  ({ db, redis } = await openTestStores({ empty: false }));
  fake = await FakeOpenAiServer.start();
});

afterAll(async () => {
  await fake.close();
  await closeTestStores({ db, redis });
});

beforeEach(async () => {
  await resetDatabase(db);
  await resetRedis(redis);
  fake.reset();
});

describe('SIGTERM in the middle of work', () => {
  it('the embedder finishes or hands back its batches, exits within 10 s, and no job is lost', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `S${String(i).padStart(3, '0')}`);
    await db.query(
      `INSERT INTO products (product_id, description, is_merchandise)
       SELECT id, 'SHUTDOWN TEST PRODUCT ' || id, true FROM unnest($1::text[]) AS id`,
      [ids],
    );
    const env = {
      EMBEDDING_API_KEY: 'sk-shutdown',
      EMBEDDING_BASE_URL: fake.baseUrl,
      EMBEDDING_MODEL: 'shutdown-model',
      EMBEDDING_BATCH_SIZE: '5',
      EMBEDDING_CONCURRENCY: '1',
      WORKER_LOCK_MS: '2000',
    };
    const config = loadConfig({ ...process.env, ...env });
    const queue: Queue<EmbeddingJobData> = createQueue(QueueNames.Embeddings, config);
    try {
      fake.onEmbeddings((request) => ({
        delayMs: 1_500,
        body: embeddingsAnswer((request.body as { input: string[] }).input.length),
      }));
      const queued = await enqueueMissingEmbeddings(db, queue, config);
      expect(queued.jobs).toBe(4);
      const worker = startProcess('services/embedder/dist/main.js', [], env);
      await eventually(() => Promise.resolve(fake.requestsTo('/embeddings').length >= 1), 30_000, 20);
      expect(await terminate(worker)).toMatchObject({ late: false });
      expect(await queue.getJobCountByTypes('failed')).toBe(0);

      fake.reset(); // a fast API for the next worker
      const next = startProcess('services/embedder/dist/main.js', [], env);
      try {
        await eventually(async () => (await queue.getJobCountByTypes('completed')) === 4, 60_000, 100);
      } finally {
        await terminate(next);
      }
      const { rows } = await db.query(
        `SELECT count(*) AS n FROM product_embeddings WHERE model = 'shutdown-model'`,
      );
      expect(rows[0].n).toBe(20);
    } finally {
      await queue.close();
    }
  });

  it('the explanation service finishes its sentences, exits within 10 s, and every explanation arrives', async () => {
    const env = { LLM_API_KEY: 'sk-shutdown', LLM_BASE_URL: fake.baseUrl, WORKER_LOCK_MS: '2000' };
    const config = loadConfig({ ...process.env, ...env });
    const events: Queue<ExplanationJob> = createQueue(QueueNames.Explanations, config);
    const cache = new ExplanationCacheRepository(redis, config);
    const namespace = writerNamespace(config.llm.model, config.recommender.model);
    await insertShop(db, {
      products: ['A', 'B', 'C', 'D', 'P'].map((id) => ({ product_id: id, description: `LANTERN ${id}` })),
      purchases: [1, 2, 3].map((customer_id) => ({ customer_id, product_id: 'P' })),
    });
    try {
      fake.onChat(() => ({
        delayMs: 1_500,
        body: chatCompletion('It sits nicely beside the lantern you bought.'),
      }));
      for (const user of ['1', '2', '3']) {
        await events.add(
          RECOMMENDATION_EVENT_NAME,
          {
            model: config.embedding.model,
            user_id: user,
            created_at: new Date().toISOString(),
            product_ids: ['A', 'B', 'C', 'D'],
          },
          { jobId: `shutdown-${user}` },
        );
      }
      const worker = startProcess('services/explanation/dist/main.js', [], env);
      await eventually(() => Promise.resolve(fake.requestsTo('/chat/completions').length >= 1), 30_000, 20);
      expect(await terminate(worker)).toMatchObject({ late: false });

      fake.onChat(() => ({ body: chatCompletion('It sits nicely beside the lantern you bought.') }));
      const next = startProcess('services/explanation/dist/main.js', [], env);
      try {
        for (const user of ['1', '2', '3']) {
          const found = await eventually(async () => {
            const cached = await cache.getMany(namespace, user, ['A', 'B', 'C', 'D']);
            return cached.every(Boolean) ? cached : undefined;
          }, 60_000);
          for (const explanation of found)
            expect(explanation).toMatchObject({ source: 'llm', status: 'ready' });
        }
      } finally {
        await terminate(next);
      }
      expect(await events.getJobCountByTypes('failed')).toBe(0);
    } finally {
      await events.close();
    }
  });

  it('the recommendation service publishes the events of the answers it gave, then exits within 10 s', async () => {
    expect(
      (await runCli('services/ingestion/dist/main.js', ['--file', path.join(fixtures, 'small.csv')])).code,
    ).toBe(0);
    expect((await runCli('services/embedder/dist/embed.cli.js', ['--wait'])).code).toBe(0);
    const stack = await startStack();
    const events: Queue<ExplanationJob> = createQueue(QueueNames.Explanations, stack.config);
    try {
      const answers = await Promise.all(
        ['12583', '13047', '17850'].map((user) => stack.get(`/api/users/${user}/recommendations`)),
      );
      for (const answer of answers) expect(answer.status).toBe(200);
      expect(await terminate(stack.recommendation)).toMatchObject({ late: false });
      expect(await events.getJobCountByTypes('waiting')).toBe(3);
    } finally {
      await events.close();
      await stack.gateway.close();
    }
  });
});
