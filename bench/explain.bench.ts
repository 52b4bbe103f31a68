#!/usr/bin/env node
/**
 * `npm run bench:explain`: how long a shopper waits for the 12 sentences of a recommendations answer, with
 * an OpenAI-compatible server (its own process) that answers each chat request after 1 s, at the default
 * limits, on the real catalog in the bench database (BENCH_DATABASE_URL, default retail_bench; loaded and
 * embedded first when empty). Every run takes 10 users nobody asked for before, through the page's path
 * (`recommendations?explanations=now`, then polling the explanations endpoint, here every 20 ms):
 *   (a) an idle system;
 *   (b) right after a change: every kept list stale (the refresher recomputing them all);
 *   (c) behind a backlog: an API sweep of every customer, twice with different top_n (background events);
 *   then (d) how long the backlog takes to drain, and what the background policy did with each event
 *   (written or dropped: counted by the explanation service), and (e) the cached polling endpoint under load.
 * The background events' age limit is BENCH_BACKGROUND_MAX_AGE_SECONDS (default 120; the product default is
 * 900 s, which would make the drain take a quarter of an hour); every other setting is the default.
 */
import autocannon from 'autocannon';
import { connectDatabase, createQueue, createRedis, QueueNames, type Database } from '@retail/common';
import { freePort, metricSum, startProcess, stop, type RunningProcess } from '@retail/testing';
import {
  BENCH_DATABASE_URL as DATABASE_URL,
  prepareBenchDatabase,
  runBench,
  untilGatewayReady,
} from './bench-kit.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const MAX_AGE_SECONDS = process.env.BENCH_BACKGROUND_MAX_AGE_SECONDS ?? '120';
const USERS_PER_RUN = 10;
const SWEEP_CONNECTIONS = 16;

interface Explanations {
  explanations: { explanation_status: string; explanation_source: string | null }[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  await prepareBenchDatabase(
    { DATABASE_URL, REDIS_URL, QUEUE_PREFIX: 'retail-bench', EMBEDDING_PROVIDER: 'local', LOG_LEVEL: 'warn' },
    { train: false },
  );
  const fake = startProcess('services/testing/dist/fake-openai-server.cli.js', ['--delay-ms', '1000']);
  await fake.waitFor(/listening (\S+)/);
  const prefix = `retail-bench-explain-${Date.now()}`;
  const metricsPort = await freePort();
  const env = {
    DATABASE_URL,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    EMBEDDING_PROVIDER: 'local',
    LLM_PROVIDER: 'openai',
    LLM_API_KEY: 'bench',
    LLM_BASE_URL: /listening (\S+)/.exec(fake.output())![1]!,
    EXPLANATION_BACKGROUND_MAX_AGE_SECONDS: MAX_AGE_SECONDS,
    RECOMMENDATION_PORT: String(await freePort()),
    GATEWAY_PORT: String(await freePort()),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    // One load generator is one client: the sweep alone is 8,678 reads a minute, past the default read limit.
    RATE_LIMIT_READS_PER_MINUTE: '10000000',
  };
  const db = await connectDatabase(DATABASE_URL, { max: 2, applicationName: 'bench-explain' });
  const processes: RunningProcess[] = [fake];
  const background = createQueue(QueueNames.Explanations, { redisUrl: REDIS_URL, queuePrefix: prefix });
  try {
    processes.push(startProcess('services/recommendation/dist/main.js', [], env));
    processes.push(
      startProcess('services/explanation/dist/main.js', [], { ...env, METRICS_PORT: String(metricsPort) }),
    );
    const gateway = startProcess('services/gateway/dist/main.js', [], env);
    processes.push(gateway);
    const base = `http://127.0.0.1:${env.GATEWAY_PORT}`;
    await untilGatewayReady(base, gateway, 150);
    await sleep(1_000); // the explanation workers connect
    console.log(
      `chat model: 1 s a sentence; LLM_CONCURRENCY 16, LLM_REQUESTS_PER_MINUTE 600, background 60 calls/min, ` +
        `background events older than ${MAX_AGE_SECONDS} s dropped`,
    );

    const customers = await testUsers(db, USERS_PER_RUN * 3);
    const run = async (label: string, users: string[]) => {
      const times: number[] = [];
      let byModel = 0;
      let sentences = 0;
      for (const user of users) {
        const started = performance.now();
        const response = await fetch(`${base}/api/users/${user}/recommendations?top_n=12&explanations=now`);
        if (!response.ok)
          throw new Error(`recommendations of ${user}: ${response.status} ${await response.text()}`);
        const answer = (await response.json()) as { recommendations: { product_id: string }[] };
        const ids = answer.recommendations.map((r) => r.product_id).join(',');
        let polled: Explanations;
        for (;;) {
          polled = (await (
            await fetch(`${base}/api/users/${user}/recommendations/explanations?product_ids=${ids}`)
          ).json()) as Explanations;
          if (polled.explanations.every((e) => e.explanation_status !== 'pending')) break;
          await sleep(20);
        }
        times.push(performance.now() - started);
        sentences += polled.explanations.length;
        byModel += polled.explanations.filter(
          (e) => e.explanation_status === 'ready' && e.explanation_source === 'llm',
        ).length;
      }
      times.sort((a, b) => a - b);
      console.log(
        `${label.padEnd(58)} median ${seconds(times[Math.floor(times.length / 2)]!)}, max ${seconds(times.at(-1)!)} ` +
          `(goal 1.5 s / 3 s); ${byModel} of ${sentences} sentences by the model`,
      );
    };

    await run('(a) idle: recommendations -> 12 sentences ready', customers.slice(0, USERS_PER_RUN));

    await db.query(`UPDATE model_versions SET version = nextval('change_clock'), updated_at = now()`);
    await run(
      '(b) right after a change (every kept list refreshing)',
      customers.slice(USERS_PER_RUN, 2 * USERS_PER_RUN),
    );

    const everyone = (
      await db.query<{ id: string }>('SELECT customer_id::text AS id FROM customers')
    ).rows.map((r) => r.id);
    const sweepStarted = performance.now();
    for (const topN of [12, 20]) {
      let next = 0;
      await autocannon({
        url: base,
        connections: SWEEP_CONNECTIONS,
        amount: everyone.length,
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              path: `/api/users/${everyone[next++ % everyone.length]}/recommendations?top_n=${topN}`,
            }),
          },
        ],
      });
    }
    await sleep(500); // the last events are published in batches
    const counts = await background.getJobCounts('waiting', 'active', 'completed');
    const queued = counts.waiting! + counts.active! + counts.completed!;
    console.log(
      `    API sweep of ${everyone.length.toLocaleString('en-GB')} customers twice (top_n 12, 20) in ` +
        `${seconds(performance.now() - sweepStarted)}: ${queued.toLocaleString('en-GB')} background events, ` +
        `${counts.waiting!.toLocaleString('en-GB')} waiting`,
    );
    await run('(c) behind that backlog', customers.slice(2 * USERS_PER_RUN));

    const drainStarted = performance.now();
    for (let polls = 0; ; polls++) {
      const left = await background.getJobCounts('waiting', 'active', 'delayed');
      const remaining = left.waiting! + left.active! + left.delayed!;
      if (remaining === 0) break;
      if (polls % 10 === 0) {
        console.log(
          `    draining the backlog: ${remaining.toLocaleString('en-GB')} events left after ` +
            seconds(performance.now() - drainStarted),
        );
      }
      await sleep(2_000);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const explained = metricSum(metrics, 'retail_explanation_jobs_total', {
      lane: 'background',
      outcome: 'explained',
    });
    const dropped = metricSum(metrics, 'retail_explanation_jobs_total', {
      lane: 'background',
      outcome: 'dropped',
    });
    const failed = await background.getFailedCount();
    console.log(
      `(d) the backlog drained ${seconds(performance.now() - drainStarted)} after the last shopper: ` +
        `${explained.toLocaleString('en-GB')} events explained + ${dropped.toLocaleString('en-GB')} dropped by the ` +
        `policy + ${failed} failed = ${(explained + dropped + failed).toLocaleString('en-GB')} ` +
        `(${queued.toLocaleString('en-GB')} queued by the sweep and the runs)`,
    );
    console.log(
      `    model calls: interactive ${metricSum(metrics, 'retail_explanation_model_calls_total', { lane: 'interactive' })}, ` +
        `background ${metricSum(metrics, 'retail_explanation_model_calls_total', { lane: 'background' })}; ` +
        `template stood in at the deadline ${metricSum(metrics, 'retail_explanation_sentences_total', { outcome: 'late' })} times`,
    );

    const user = customers[0]!;
    const ids = (
      (await (await fetch(`${base}/api/users/${user}/recommendations?top_n=12`)).json()) as {
        recommendations: { product_id: string }[];
      }
    ).recommendations
      .map((r) => r.product_id)
      .join(',');
    for (const connections of [1, 8, 32]) {
      const result = await autocannon({
        url: `${base}/api/users/${user}/recommendations/explanations?product_ids=${ids}`,
        connections,
        duration: 8,
      });
      console.log(
        `(e) cached polling endpoint, ${String(connections).padStart(2)} connections: ` +
          `${Math.round(result.requests.average).toLocaleString('en-GB')} req/s, p50 ${result.latency.p50} ms, ` +
          `p99 ${result.latency.p99} ms, errors ${result.errors + result.non2xx}`,
      );
    }
  } finally {
    for (const p of processes) await stop(p);
    await background.close();
    await db.end();
    const redis = createRedis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
  }
}

/** Customers with a real history (5+ products), in a fixed pseudo-random order. */
async function testUsers(db: Database, count: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT customer_id::text AS id FROM customers WHERE products_bought >= 5
      ORDER BY md5(customer_id::text) LIMIT $1`,
    [count],
  );
  return rows.map((r) => r.id);
}

runBench('bench:explain', main);
