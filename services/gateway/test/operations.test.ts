import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { loadConfig, type Database, type RedisClient } from '@retail/common';
import {
  closeTestStores,
  eventually,
  freePort,
  metricSample,
  openTestStores,
  recordLogs,
  runCli,
  startProcess,
  stop,
} from '@retail/testing';
import { createGateway } from '../src/app.js';
import { startStack, type TestStack } from './stack.js';

const fixtures = path.join(import.meta.dirname, '..', '..', 'ingestion', 'test', 'fixtures');
const PASSWORD = 'a-real-test-password';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let db: Database;
let redis: RedisClient;
let stack: TestStack;

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  expect(
    (await runCli('services/ingestion/dist/main.js', ['--file', path.join(fixtures, 'small.csv')])).code,
  ).toBe(0);
  stack = await startStack({ QUEUE_DASHBOARD_USER: 'ops', QUEUE_DASHBOARD_PASSWORD: PASSWORD });
});

afterAll(async () => {
  await stack?.close();
  await closeTestStores({ db, redis });
});

describe('the queue dashboard', () => {
  it('answers 401 without credentials, and shows the queues with them', async () => {
    const anonymous = await fetch(`${stack.url}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(await anonymous.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    const wrong = await fetch(`${stack.url}/admin/queues`, {
      headers: { authorization: basic('ops', 'guess') },
    });
    expect(wrong.status).toBe(401);
    const api = await fetch(`${stack.url}/admin/queues/api/queues`, {
      headers: { authorization: basic('ops', 'guess') },
    });
    expect(api.status).toBe(401);

    const page = await fetch(`${stack.url}/admin/queues`, {
      headers: { authorization: basic('ops', PASSWORD) },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const queues = await fetch(`${stack.url}/admin/queues/api/queues`, {
      headers: { authorization: basic('ops', PASSWORD) },
    });
    expect(queues.status).toBe(200);
    const body = (await queues.json()) as { queues: { name: string; counts: Record<string, number> }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual([
      'embeddings',
      'explanations',
      'explanations-interactive',
      'model-training',
      'recommendation-refresh',
    ]);
    // The ingestion queued one embedding job for the fixture's six products.
    expect(body.queues.find((q) => q.name === 'embeddings')!.counts.waiting).toBe(1);
  });

  it('is read-only in production, and the development password never makes it writable beyond loopback', async () => {
    const cases = [
      {
        env: { NODE_ENV: 'production', QUEUE_DASHBOARD_PASSWORD: PASSWORD },
        user: 'admin',
        password: PASSWORD,
        writable: false,
      },
      {
        env: { NODE_ENV: 'development', GATEWAY_HOST: '0.0.0.0' },
        user: 'admin',
        password: 'admin',
        writable: false,
      },
      {
        env: { NODE_ENV: 'development', GATEWAY_HOST: '127.0.0.1' },
        user: 'admin',
        password: 'admin',
        writable: true,
      },
      {
        env: {
          NODE_ENV: 'production',
          QUEUE_DASHBOARD_PASSWORD: PASSWORD,
          QUEUE_DASHBOARD_READ_ONLY: 'false',
        },
        user: 'admin',
        password: PASSWORD,
        writable: true,
      },
    ];
    for (const { env, user, password, writable } of cases) {
      const config = loadConfig({
        ...process.env,
        QUEUE_DASHBOARD_USER: undefined,
        QUEUE_DASHBOARD_PASSWORD: undefined,
        ...env,
        RECOMMENDATION_PORT: String(stack.config.recommendation.port),
      });
      const logs = recordLogs();
      const gateway = await createGateway(config, logs);
      await gateway.listen(0, '127.0.0.1');
      const url = `${await gateway.getUrl()}/admin/queues/api/queues`;
      const headers = { authorization: basic(user, password) };
      try {
        const read = await fetch(url, { headers });
        expect(read.status).toBe(200);
        const pause = await fetch(`${url}/pause`, { method: 'PUT', headers });
        expect({ env, status: pause.status }).toEqual({ env, status: writable ? 200 : 405 });
        if (writable) {
          await fetch(`${url}/resume`, { method: 'PUT', headers });
        } else {
          expect(await pause.json()).toMatchObject({
            statusCode: 405,
            message: 'the queue dashboard is read-only (QUEUE_DASHBOARD_READ_ONLY)',
          });
          expect(logs.text()).toMatch(/read-only/);
        }
      } finally {
        await gateway.close();
      }
    }
  });

  it('is not started in production with no password or a default one', async () => {
    for (const password of [undefined, 'admin']) {
      const config = loadConfig({
        ...process.env,
        NODE_ENV: 'production',
        QUEUE_DASHBOARD_PASSWORD: password,
        RECOMMENDATION_PORT: String(stack.config.recommendation.port),
      });
      const logs = recordLogs();
      const gateway = await createGateway(config, logs);
      await gateway.listen(0, '127.0.0.1');
      try {
        const response = await fetch(`${await gateway.getUrl()}/admin/queues`, {
          headers: { authorization: basic('admin', 'admin') },
        });
        expect(response.status).toBe(404);
        expect(logs.text()).toContain('queue dashboard disabled: set QUEUE_DASHBOARD_PASSWORD');
        // The API itself still runs.
        expect((await fetch(`${await gateway.getUrl()}/api/health`)).status).toBe(200);
      } finally {
        await gateway.close();
      }
    }
  });
});

describe('/metrics', () => {
  it('exposes HTTP latency, queue depth, service calls and cache lookups with real values', async () => {
    expect((await runCli('services/embedder/dist/embed.cli.js', ['--wait'])).code).toBe(0);
    for (let i = 0; i < 3; i++) await stack.get('/api/users/17850/recommendations');
    await stack.get('/api/users/99999/recommendations');
    await eventually(async () => {
      const text = await (await fetch(`${stack.url}/metrics`)).text();
      return (metricSample(text, 'retail_queue_jobs', { queue: 'explanations', state: 'waiting' }) ?? 0) >= 1;
    });
    const response = await fetch(`${stack.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(
      metricSample(text, 'retail_http_request_duration_seconds_count', {
        route: '/api/users/:user_id/recommendations',
        status: '200',
      }),
    ).toBe(3);
    expect(
      metricSample(text, 'retail_http_request_duration_seconds_count', {
        route: '/api/users/:user_id/recommendations',
        status: '404',
      }),
    ).toBe(1);
    expect(
      metricSample(text, 'retail_rpc_duration_seconds_count', {
        pattern: 'users.recommendations',
        outcome: 'success',
      }),
    ).toBe(3);
    expect(metricSample(text, 'retail_queue_jobs', { queue: 'embeddings', state: 'completed' })).toBe(1);
    expect(metricSample(text, 'retail_queue_jobs', { queue: 'explanations', state: 'waiting' })).toBe(1);
    // The backlog's age: the event has waited since the first answer; nobody waits in the interactive queue.
    expect(
      metricSample(text, 'retail_queue_oldest_waiting_seconds', { queue: 'explanations' }),
    ).toBeGreaterThan(0);
    expect(
      metricSample(text, 'retail_queue_oldest_waiting_seconds', { queue: 'explanations-interactive' }),
    ).toBe(0);
    expect(metricSample(text, 'retail_explanation_cache_lookups_total', { result: 'miss' })).toBe(9); // 3 answers x 3 products
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('workers expose model calls by outcome and latency, job outcomes and cache lookups, and /health', async () => {
    const port = await freePort();
    const explanation = startProcess('services/explanation/dist/main.js', [], { METRICS_PORT: String(port) });
    try {
      await explanation.waitFor(/\/metrics and \/health on port/);
      const text = await eventually(async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return metricSample(body, 'retail_queue_job_outcomes_total', {
          queue: 'explanations',
          outcome: 'completed',
        }) === 1
          ? body
          : undefined;
      });
      expect(
        metricSample(text, 'retail_model_calls_total', {
          kind: 'chat',
          model: 'template',
          outcome: 'template',
        }),
      ).toBe(3);
      expect(
        metricSample(text, 'retail_model_call_duration_seconds_count', { kind: 'chat', outcome: 'template' }),
      ).toBe(3);
      expect(metricSample(text, 'retail_explanation_cache_lookups_total', { result: 'miss' })).toBe(3);
      expect(
        metricSample(text, 'retail_explanation_jobs_total', { lane: 'background', outcome: 'explained' }),
      ).toBe(1);
      expect(
        metricSample(text, 'retail_explanation_sentences_total', { lane: 'background', outcome: 'template' }),
      ).toBe(3);
      expect(text).toContain('service="explanation"');
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', service: 'explanation' });
    } finally {
      await stop(explanation);
    }

    const embedderPort = await freePort();
    const embedder = startProcess('services/embedder/dist/main.js', [], {
      METRICS_PORT: String(embedderPort),
    });
    try {
      await embedder.waitFor(/\/metrics and \/health on port/);
      await db.query(
        `UPDATE products SET description = 'WHITE METAL LANTERN LARGE' WHERE product_id = '71053'`,
      );
      expect((await runCli('services/embedder/dist/embed.cli.js', ['--wait'])).stdout).toContain(
        'embedded 1,',
      );
      const text = await (await fetch(`http://127.0.0.1:${embedderPort}/metrics`)).text();
      expect(
        metricSample(text, 'retail_model_calls_total', {
          kind: 'embedding',
          model: 'local-hashed-ngrams-v1',
          outcome: 'success',
        }),
      ).toBe(1);
      expect(
        metricSample(text, 'retail_queue_job_outcomes_total', { queue: 'embeddings', outcome: 'completed' }),
      ).toBe(1);
    } finally {
      await stop(embedder);
    }
  });
});
