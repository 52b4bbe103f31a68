#!/usr/bin/env node
/**
 * `npm run bench:embed`: embedding throughput on the real catalog, in its own database (BENCH_DATABASE_URL,
 * default retail_bench; loaded by the ingestion first when empty) and queue prefix.
 *   1. the local provider alone, in memory;
 *   2. the local provider end to end: queue -> worker -> Postgres;
 *   3. an OpenAI-compatible server that answers each request after 200 ms, against the ideal
 *      ceil(products / batch size) / concurrency x 200 ms.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { Queue } from 'bullmq';
import {
  LocalEmbeddingProvider,
  QueueNames,
  REPO_ROOT,
  createQueue,
  connectDatabase,
  createRedis,
  enqueueMissingEmbeddings,
  loadConfig,
  type AppConfig,
  type Database,
  type EmbeddingJobData,
} from '@retail/common';
import { withCore } from '@retail/common/nest';
import { runMigrations } from '@retail/common/migrate';
import { startProcess, stop } from '@retail/testing';
import { EmbedderModule } from '../services/embedder/dist/embedder.module.js';
import { BENCH_DATABASE_URL as DATABASE_URL, runBench } from './bench-kit.ts';

const PREFIX = 'retail-bench';

async function ensureCatalog(db: Database): Promise<number> {
  const count = async () =>
    (await db.query<{ n: number }>('SELECT count(*) AS n FROM products WHERE is_merchandise')).rows[0]!.n;
  if ((await count()) === 0) {
    console.log('loading the real catalog into the bench database first ...');
    const result = spawnSync(
      process.execPath,
      [path.join(REPO_ROOT, 'services/ingestion/dist/main.js'), '--no-embeddings'],
      {
        env: { ...process.env, DATABASE_URL },
        stdio: 'inherit',
      },
    );
    if (result.status !== 0) throw new Error('ingestion failed');
  }
  return count();
}

async function runPipeline(db: Database, config: AppConfig): Promise<number> {
  await db.query('DELETE FROM product_embeddings WHERE model = $1', [config.embedding.model]);
  const redis = createRedis(config.redisUrl);
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();

  const app = await NestFactory.createApplicationContext(withCore(EmbedderModule, config), {
    logger: ['error'],
  });
  const queue: Queue<EmbeddingJobData> = createQueue(QueueNames.Embeddings, config);
  try {
    const started = performance.now();
    const queued = await enqueueMissingEmbeddings(db, queue, config);
    for (;;) {
      const done = await queue.getJobCountByTypes('completed', 'failed');
      if (done >= queued.jobs) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const elapsed = performance.now() - started;
    const failed = await queue.getJobCountByTypes('failed');
    if (failed > 0) throw new Error(`${failed} jobs failed`);
    return elapsed;
  } finally {
    await queue.close();
    await app.close();
  }
}

async function main(): Promise<void> {
  await runMigrations(DATABASE_URL);
  const db = await connectDatabase(DATABASE_URL, { max: 4, applicationName: 'bench-embed' });
  try {
    const products = await ensureCatalog(db);
    const { rows } = await db.query<{ description: string }>(
      'SELECT description FROM products WHERE is_merchandise ORDER BY product_id',
    );
    const texts = rows.map((row) => row.description);
    const base = { ...process.env, DATABASE_URL, QUEUE_PREFIX: PREFIX };

    const local = new LocalEmbeddingProvider();
    await local.embed(texts.slice(0, 200)); // warm-up
    const t0 = performance.now();
    await local.embed(texts);
    const alone = performance.now() - t0;
    console.log(
      `local provider, in memory:        ${products} products in ${(alone / 1000).toFixed(3)} s = ` +
        `${Math.round(products / (alone / 1000)).toLocaleString('en-GB')} products/s`,
    );

    const localConfig = loadConfig({ ...base, EMBEDDING_PROVIDER: 'local' });
    const pipeline = await runPipeline(db, localConfig);
    console.log(
      `local provider, queue -> Postgres: ${products} products in ${(pipeline / 1000).toFixed(3)} s = ` +
        `${Math.round(products / (pipeline / 1000)).toLocaleString('en-GB')} products/s ` +
        `(batches of ${localConfig.embedding.batchSize}, concurrency ${localConfig.embedding.concurrency})`,
    );

    // The 200 ms server runs in its own process, as a real API would.
    const fake = startProcess('services/testing/dist/fake-openai-server.cli.js', ['--delay-ms', '200']);
    try {
      await fake.waitFor(/listening (\S+)/);
      const baseUrl = /listening (\S+)/.exec(fake.output())![1]!;
      const remoteConfig = loadConfig({
        ...base,
        EMBEDDING_PROVIDER: 'openai',
        EMBEDDING_API_KEY: 'bench',
        EMBEDDING_BASE_URL: baseUrl,
        EMBEDDING_MODEL: 'bench-200ms-model',
      });
      const { batchSize, concurrency } = remoteConfig.embedding;
      const remote = await runPipeline(db, remoteConfig);
      const ideal = (Math.ceil(products / batchSize) / concurrency) * 200;
      console.log(
        `200 ms API (batch ${batchSize}, concurrency ${concurrency}): ${(remote / 1000).toFixed(2)} s for ${products} ` +
          `products in ${Math.ceil(products / batchSize)} requests; ideal ${(ideal / 1000).toFixed(2)} s ` +
          `-> ${(remote / ideal).toFixed(2)}x (goal <= 1.3x)`,
      );
    } finally {
      await stop(fake);
    }
  } finally {
    await db.end();
  }
}

runBench('bench:embed', main);
