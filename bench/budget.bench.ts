#!/usr/bin/env node
/**
 * `npm run bench:budget`: does the chat model's budget hold for a deployment of several explanation processes?
 * Three explanation processes (the built service, default limits: LLM_REQUESTS_PER_MINUTE 600, LLM_CONCURRENCY
 * 16, background 60 a minute) share one Redis; 200 customers of the bench database (BENCH_DATABASE_URL, default
 * retail_bench; loaded and embedded first when empty) each ask at the same moment for the sentences of 12
 * products (200 interactive jobs, 2,400 sentences). A local OpenAI-compatible server answers every chat request
 * after 1 s and counts the requests it received: the figure is how many arrived within 30 s of the burst (at
 * most 600 when the budget holds for the deployment, up to 3 x 600 when each process has its own).
 * BENCH_EXPLANATION_ENTRY runs another build of the service instead (a path relative to the repository, e.g.
 * `../before/services/explanation/dist/main.js`), to measure a version side by side.
 */
import {
  EXPLANATION_REQUEST_NAME,
  QueueNames,
  connectDatabase,
  createQueue,
  createRedis,
  type ExplanationJob,
} from '@retail/common';
import { FakeOpenAiServer, startProcess, stop, type RunningProcess } from '@retail/testing';
import { BENCH_DATABASE_URL as DATABASE_URL, load, prepareBenchDatabase, runBench } from './bench-kit.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ENTRY = process.env.BENCH_EXPLANATION_ENTRY ?? 'services/explanation/dist/main.js';
const PROCESSES = 3;
const CUSTOMERS = 200;
const SENTENCES = 12;
const WINDOW_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  await prepareBenchDatabase(
    { DATABASE_URL, REDIS_URL, QUEUE_PREFIX: 'retail-bench', EMBEDDING_PROVIDER: 'local', LOG_LEVEL: 'warn' },
    { train: false },
  );
  const db = await connectDatabase(DATABASE_URL, { max: 1, applicationName: 'bench-budget' });
  const fake = await FakeOpenAiServer.start({ delayMs: 1_000 });
  const prefix = `retail-bench-budget-${Date.now()}`;
  const interactive = createQueue<ExplanationJob>(QueueNames.ExplanationsInteractive, {
    redisUrl: REDIS_URL,
    queuePrefix: prefix,
  });
  const processes: RunningProcess[] = [];
  try {
    const env = {
      DATABASE_URL,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      EMBEDDING_PROVIDER: 'local',
      LLM_PROVIDER: 'openai',
      LLM_API_KEY: 'bench',
      LLM_BASE_URL: fake.baseUrl,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
    };
    for (let i = 0; i < PROCESSES; i++) processes.push(startProcess(ENTRY, [], env));
    for (let i = 0; (await interactive.getWorkersCount()) < PROCESSES; i++) {
      if (i > 300) throw new Error(`the explanation processes did not start:\n${processes[0]!.output()}`);
      await sleep(100);
    }

    // 200 customers with a history, each with 12 products they did not buy, in a fixed pseudo-random order.
    const { rows } = await db.query<{ customer_id: string; product_ids: string[] }>(
      `SELECT c.customer_id::text AS customer_id,
              ARRAY(SELECT p.product_id FROM products p
                     WHERE p.is_merchandise
                       AND NOT EXISTS (SELECT 1 FROM user_items u
                                        WHERE u.customer_id = c.customer_id AND u.product_id = p.product_id)
                     ORDER BY md5(p.product_id || c.customer_id::text) LIMIT $2) AS product_ids
         FROM customers c WHERE c.products_bought >= 5
        ORDER BY md5(c.customer_id::text) LIMIT $1`,
      [CUSTOMERS, SENTENCES],
    );
    console.log(
      `${PROCESSES} explanation processes (${ENTRY}), default limits (LLM_REQUESTS_PER_MINUTE 600, ` +
        `LLM_CONCURRENCY 16); chat model: 1 s a sentence; ${rows.length} customers x ${SENTENCES} sentences ` +
        `asked for at once`,
    );
    const created_at = new Date().toISOString();
    const burst = Date.now();
    await interactive.addBulk(
      rows.map((row) => ({
        name: EXPLANATION_REQUEST_NAME,
        data: { user_id: row.customer_id, product_ids: row.product_ids, created_at },
        opts: { jobId: `burst-${row.customer_id}` },
      })),
    );
    const chat = () => fake.requestsTo('/chat/completions');
    for (let t = 5_000; t <= WINDOW_MS; t += 5_000) {
      await sleep(burst + t - Date.now());
      console.log(`    ${t / 1000} s: ${chat().length} chat requests received (load ${load()})`);
    }
    const within = chat().filter((r) => r.receivedAt - burst <= WINDOW_MS).length;
    console.log(
      `chat requests received within ${WINDOW_MS / 1000} s of the burst: ${within} ` +
        `(LLM_REQUESTS_PER_MINUTE 600; load ${load()})`,
    );
  } finally {
    await Promise.all(processes.map((p) => stop(p)));
    await interactive.close();
    await fake.close();
    await db.end();
    const redis = createRedis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
  }
}

runBench('bench:budget', main);
