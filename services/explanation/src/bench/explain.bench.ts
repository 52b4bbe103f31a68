#!/usr/bin/env node
/**
 * `npm run bench:explain`, on the real catalog in the bench database (BENCH_DATABASE_URL, default
 * retail_bench; `npm run bench:api` or `bench:embed` load it):
 *   1. with an OpenAI-compatible server (its own process) that answers each chat request after 1 s: the
 *      time from a recommendations answer for 12 products until all 12 explanations are ready, as the
 *      page sees it (polling the explanations endpoint every 20 ms), for 10 users one after the other;
 *   2. the cached path: the polling endpoint for 12 ready explanations under load (autocannon).
 */
import autocannon from 'autocannon';
import { createRedis } from '@retail/common';
import { freePort, startProcess, type RunningProcess } from '@retail/common/testing';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_bench';
const USERS = ['12347', '12348', '12352', '12356', '12359', '12362', '12370', '12380', '12393', '12409'];

interface Explanations {
  explanations: { explanation_status: string }[];
}

async function main(): Promise<void> {
  const fake = startProcess('services/common/dist/testing/fake-openai-server.cli.js', ['--delay-ms', '1000']);
  await fake.waitFor(/listening (\S+)/);
  const prefix = `retail-bench-explain-${Date.now()}`;
  const env = {
    DATABASE_URL,
    QUEUE_PREFIX: prefix,
    EMBEDDING_PROVIDER: 'local',
    LLM_PROVIDER: 'openai',
    LLM_API_KEY: 'bench',
    LLM_BASE_URL: /listening (\S+)/.exec(fake.output())![1]!,
    RECOMMENDATION_PORT: String(await freePort()),
    GATEWAY_PORT: String(await freePort()),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  const processes: RunningProcess[] = [fake];
  try {
    for (const script of ['recommendation', 'explanation', 'gateway']) {
      processes.push(startProcess(`services/${script}/dist/main.js`, [], env));
    }
    const base = `http://127.0.0.1:${env.GATEWAY_PORT}`;
    for (let i = 0; ; i++) {
      if (
        await fetch(`${base}/api/health/ready`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      if (i > 100) throw new Error('the services did not become ready');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the explanation worker connects

    const times: number[] = [];
    for (const user of USERS) {
      const started = performance.now();
      const answer = (await (await fetch(`${base}/api/users/${user}/recommendations?top_n=12`)).json()) as {
        recommendations: { product_id: string }[];
      };
      const ids = answer.recommendations.map((r) => r.product_id).join(',');
      for (;;) {
        const polled = (await (
          await fetch(`${base}/api/users/${user}/recommendations/explanations?product_ids=${ids}`)
        ).json()) as Explanations;
        if (polled.explanations.every((e) => e.explanation_status !== 'pending')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(
      `12 explanations with a 1 s chat model, recommendation answer -> all ready (10 users): ` +
        `median ${(times[5]! / 1000).toFixed(2)} s, max ${(times.at(-1)! / 1000).toFixed(2)} s (goal < 1.5 s)`,
    );

    const user = USERS[0]!;
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
        `cached polling endpoint, ${String(connections).padStart(2)} connections: ` +
          `${Math.round(result.requests.average).toLocaleString('en-GB')} req/s, p50 ${result.latency.p50} ms, ` +
          `p99 ${result.latency.p99} ms, errors ${result.errors + result.non2xx} (goal p99 < 5 ms)`,
      );
    }
  } finally {
    for (const p of processes) {
      p.kill('SIGTERM');
      await p.exited;
    }
    const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:explain failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
