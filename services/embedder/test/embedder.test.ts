import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import {
  QueueNames,
  createQueue,
  dot,
  enqueueMissingEmbeddings,
  loadConfig,
  type AppConfig,
  type Database,
  type EmbeddingJobData,
  type RedisClient,
} from '@retail/common';
import { withCore } from '@retail/common/nest';
import {
  apiError,
  closeTestStores,
  embeddingsAnswer,
  eventually,
  FakeOpenAiServer,
  openTestStores,
  recordLogs,
  resetDatabase,
  resetRedis,
  startProcess,
  stop,
} from '@retail/testing';
import { EmbedderModule } from '../src/embedder.module.js';

const API_KEY = 'sk-test-7f3a9c1e-never-log-me';
const MODEL = 'Qwen/Qwen3-Embedding-0.6B';

let db: Database;
let redis: RedisClient;
let fake: FakeOpenAiServer;
let app: INestApplicationContext | undefined;
let queue: Queue<EmbeddingJobData>;
const logs = recordLogs();

function configFor(overrides: Record<string, string> = {}): AppConfig {
  return loadConfig({
    ...process.env,
    EMBEDDING_API_KEY: API_KEY,
    EMBEDDING_BASE_URL: fake.baseUrl,
    EMBEDDING_MODEL: MODEL,
    EMBEDDING_MAX_ATTEMPTS: '2',
    EMBEDDING_RETRY_DELAY_MS: '50',
    EMBEDDING_HTTP_RETRIES: '1',
    ...overrides,
  });
}

async function startEmbedder(config: AppConfig): Promise<void> {
  app = await NestFactory.createApplicationContext(withCore(EmbedderModule, config), {
    logger: logs,
  });
}

/** `count` merchandise products with distinct descriptions. */
async function seedProducts(count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => `P${String(i).padStart(4, '0')}`);
  await db.query(
    `INSERT INTO products (product_id, description, is_merchandise)
     SELECT id, 'PRODUCT NUMBER ' || id || ' IN RED', true FROM unnest($1::text[]) AS id`,
    [ids],
  );
}

async function finalStates(ids: string[]): Promise<string[]> {
  return eventually(async () => {
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    return states.every((s) => s === 'completed' || s === 'failed') ? states : undefined;
  });
}

async function embed(config: AppConfig) {
  const queued = await enqueueMissingEmbeddings(db, queue, config);
  const states = await finalStates(queued.jobIds);
  return { queued, states };
}

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
  logs.clear();
  queue = createQueue<EmbeddingJobData>(QueueNames.Embeddings, configFor());
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await queue.close();
});

describe('the embedder with an OpenAI-compatible API', () => {
  it('sends many texts per request, with the key as a bearer token, and stores normalised vectors', async () => {
    await seedProducts(150);
    const config = configFor({ EMBEDDING_BATCH_SIZE: '64' });
    await startEmbedder(config);
    const { queued, states } = await embed(config);

    expect(queued).toMatchObject({ products: 150, jobs: 3 });
    expect(states).toEqual(['completed', 'completed', 'completed']);
    const requests = fake.requestsTo('/embeddings');
    expect(requests.map((r) => (r.body as { input: string[] }).input.length).sort()).toEqual([22, 64, 64]);
    for (const request of requests) {
      expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(request.body).toMatchObject({ model: MODEL, encoding_format: 'float' });
    }
    const { rows } = await db.query<{ n: number; models: string[]; norm: number }>(
      `SELECT count(*) AS n, array_agg(DISTINCT model) AS models,
              max(abs(vector_norm(embedding) - 1)) AS norm FROM product_embeddings`,
    );
    expect(rows[0]).toMatchObject({ n: 150, models: [MODEL] });
    expect(rows[0]!.norm).toBeLessThan(1e-5);
    expect(logs.text()).not.toContain(API_KEY);
  });

  it('embeds a product again only when its text or the model changed', async () => {
    await seedProducts(10);
    const config = configFor();
    await startEmbedder(config);
    await embed(config);
    expect(fake.requestsTo('/embeddings')).toHaveLength(1);

    expect((await enqueueMissingEmbeddings(db, queue, config)).products).toBe(0);
    await db.query(`UPDATE products SET description = 'A BRAND NEW NAME' WHERE product_id = 'P0003'`);
    const again = await embed(config);
    expect(again.queued.products).toBe(1);
    const last = fake.requestsTo('/embeddings').at(-1)!;
    expect((last.body as { input: string[] }).input).toEqual(['A BRAND NEW NAME']);
    const { rows } = await db.query(`SELECT count(*) AS n FROM product_embeddings`);
    expect(rows[0].n).toBe(10);
  });

  it('a 429 is retried after the Retry-After delay, then succeeds', async () => {
    await seedProducts(5);
    fake.enqueue(apiError(429, 'slow down', { 'retry-after-ms': '400' }));
    const config = configFor();
    await startEmbedder(config);
    const { states } = await embed(config);

    expect(states).toEqual(['completed']);
    const [first, second] = fake.requestsTo('/embeddings');
    expect(second).toBeDefined();
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(400);
    const { rows } = await db.query(`SELECT count(*) AS n FROM product_embeddings`);
    expect(rows[0].n).toBe(5);
  });

  it('repeated 500s end in a failed job with its reason, which an operator can retry', async () => {
    await seedProducts(5);
    fake.onEmbeddings(() => apiError(500, 'model crashed'));
    const config = configFor();
    await startEmbedder(config);
    const { queued, states } = await embed(config);

    expect(states).toEqual(['failed']);
    const job = (await queue.getJob(queued.jobIds[0]!))!;
    expect(job.attemptsMade).toBe(2); // EMBEDDING_MAX_ATTEMPTS
    expect(job.failedReason).toContain('failed with HTTP 500');
    expect(fake.requestsTo('/embeddings')).toHaveLength(4); // 2 attempts x (1 + 1 HTTP retry)
    expect((await db.query(`SELECT count(*) AS n FROM product_embeddings`)).rows[0].n).toBe(0);

    // The failed job is kept; queueing the same work again does not hide it.
    expect((await enqueueMissingEmbeddings(db, queue, config)).failedBefore).toEqual(queued.jobIds);
    fake.onEmbeddings(() => ({ status: 200, body: embeddingsAnswer(5) }));
    await job.retry();
    expect(await finalStates(queued.jobIds)).toEqual(['completed']);
    expect((await db.query(`SELECT count(*) AS n FROM product_embeddings`)).rows[0].n).toBe(5);
  });

  it('a 401 fails at once and names the setting to fix, without the key', async () => {
    await seedProducts(5);
    fake.onEmbeddings(() => apiError(401, 'invalid api key'));
    const config = configFor();
    await startEmbedder(config);
    const { queued, states } = await embed(config);

    expect(states).toEqual(['failed']);
    expect(fake.requestsTo('/embeddings')).toHaveLength(1);
    const job = (await queue.getJob(queued.jobIds[0]!))!;
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('refused the credentials (HTTP 401): check EMBEDDING_API_KEY');
    expect(job.failedReason).not.toContain(API_KEY);
    expect(logs.text()).not.toContain(API_KEY);
  });

  it('rejects an answer with the wrong dimension, the wrong count, or a zero vector', async () => {
    await seedProducts(3);
    const config = configFor();
    await startEmbedder(config);

    fake.onEmbeddings(() => ({ body: embeddingsAnswer(3, 768) }));
    let { queued, states } = await embed(config);
    expect(states).toEqual(['failed']);
    let job = (await queue.getJob(queued.jobIds[0]!))!;
    expect(job.failedReason).toContain(
      'returned vectors of 768 dimensions, expected 1024: check EMBEDDING_MODEL and EMBEDDING_DIM',
    );
    expect(job.attemptsMade).toBe(1);

    await resetRedis(redis);
    fake.onEmbeddings(() => ({
      body: {
        ...embeddingsAnswer(3),
        data: embeddingsAnswer(3).data.map((d) => ({ ...d, embedding: new Array(1024).fill(0) })),
      },
    }));
    ({ queued, states } = await embed(config));
    expect(states).toEqual(['failed']);
    job = (await queue.getJob(queued.jobIds[0]!))!;
    expect(job.failedReason).toContain('unusable vector for text 0: the vector is all zeros');

    await resetRedis(redis);
    fake.onEmbeddings(() => ({ body: embeddingsAnswer(2) }));
    ({ queued, states } = await embed(config));
    expect(states).toEqual(['failed']);
    job = (await queue.getJob(queued.jobIds[0]!))!;
    expect(job.failedReason).toContain('returned 2 vectors for 3 texts');
    expect((await db.query(`SELECT count(*) AS n FROM product_embeddings`)).rows[0].n).toBe(0);
  });

  it('keeps the vectors of different models apart', async () => {
    await seedProducts(4);
    const local = configFor({ EMBEDDING_PROVIDER: 'local' });
    await startEmbedder(local);
    await embed(local);
    await app!.close();
    const cloud = configFor();
    await startEmbedder(cloud);
    await embed(cloud);
    const { rows } = await db.query(
      `SELECT model, count(*) AS n FROM product_embeddings GROUP BY model ORDER BY model`,
    );
    expect(rows).toEqual([
      { model: MODEL, n: 4 },
      { model: local.embedding.model, n: 4 },
    ]);
    const { rows: same } = await db.query(
      `SELECT a.embedding AS a, b.embedding AS b FROM product_embeddings a JOIN product_embeddings b USING (product_id)
        WHERE a.model = $1 AND b.model = $2 LIMIT 1`,
      [MODEL, local.embedding.model],
    );
    // The fake API happens to compute the same features: only the model name tells them apart.
    expect(dot(same[0].a as Float32Array, same[0].b as Float32Array)).toBeCloseTo(1, 5);
  });
});

describe('the embedder process', () => {
  it('never writes the API key to its output, whatever fails', async () => {
    await seedProducts(6);
    const env = {
      EMBEDDING_API_KEY: API_KEY,
      EMBEDDING_BASE_URL: fake.baseUrl,
      EMBEDDING_MODEL: MODEL,
      EMBEDDING_MAX_ATTEMPTS: '2',
      EMBEDDING_RETRY_DELAY_MS: '50',
      EMBEDDING_HTTP_RETRIES: '1',
      EMBEDDING_BATCH_SIZE: '3',
    };
    let calls = 0;
    fake.onEmbeddings(() =>
      ++calls % 2 === 0
        ? apiError(401, `bad key ${API_KEY}`)
        : apiError(503, `busy, your key ${API_KEY} is fine`),
    );
    const worker = startProcess('services/embedder/dist/main.js', [], env);
    try {
      await worker.waitFor(/started with/);
      const { states } = await embed(configFor({ EMBEDDING_BATCH_SIZE: '3' }));
      expect(states).toEqual(['failed', 'failed']);
      await worker.waitFor(/failed for good/);
    } finally {
      await stop(worker);
    }
    for (const request of fake.requestsTo('/embeddings')) {
      expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
    }
    expect(worker.output()).toContain('apiKey":"***"');
    expect(worker.output()).not.toContain(API_KEY);
  });
});
