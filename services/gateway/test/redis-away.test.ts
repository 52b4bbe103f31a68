import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Database, RedisClient } from '@retail/common';
import { closeTestStores, freePort, openTestStores, recordLogs, stop } from '@retail/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

/**
 * Redis away (nothing listens on REDIS_URL) for the gateway and the recommendation service: every path
 * answers within seconds, says what is down, and the log says it once, not once per retry.
 */
let db: Database;
let redis: RedisClient;
let stack: TestStack;
/** What the gateway logs at the levels an operator reads (debug and verbose left out). */
const logger = recordLogs({ levels: ['log', 'warn', 'error', 'fatal'] });

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv'); // with Redis there, as an operator would have
  stack = await startStack({ REDIS_URL: `redis://127.0.0.1:${await freePort()}/15` }, { logger });
});

afterAll(async () => {
  await stack?.close();
  await closeTestStores({ db, redis });
});

describe('with Redis away', () => {
  it('liveness answers, readiness says 503 and names Redis and the queues, at once', async () => {
    expect((await stack.get('/api/health')).status).toBe(200);
    const ready = await stack.get('/api/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({
      postgres: { ok: true },
      recommendation: { ok: true },
      redis: { ok: false, error: expect.any(String) },
      queues: { ok: false, error: expect.stringMatching(/did not answer within/) },
    });
  });

  it('/metrics answers with every family but the queue depths', async () => {
    const metrics = await stack.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('retail_http_request_duration_seconds');
  });

  it('recommendations and the polling endpoint answer, their explanations pending', async () => {
    for (const path of [
      '/api/users/17850/recommendations',
      '/api/users/17850/recommendations?explanations=now',
    ]) {
      const { status, body } = await stack.get(path);
      expect(status).toBe(200);
      expect(body.recommendations.length).toBeGreaterThan(0);
      for (const r of body.recommendations) expect(r.explanation_status).toBe('pending');
    }
    const polled = await stack.get('/api/users/17850/recommendations/explanations?product_ids=22632');
    expect(polled.status).toBe(200);
    expect(polled.body.explanations[0].explanation_status).toBe('pending');
  });

  it('logs the outage once per connection, not once per retry', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // a few reconnection attempts
    const aboutRedis = logger.about(/redis|ECONNREFUSED/i);
    expect(aboutRedis.length).toBeGreaterThan(0);
    // the request client, the queues, explanation requests, the rate limits (failing open)
    expect(aboutRedis.length).toBeLessThanOrEqual(4);
    expect(logger.at('error', 'fatal')).toEqual([]);
  });

  it('the recommendation service still stops within seconds', async () => {
    expect(await stop(stack.recommendation, 'SIGTERM', { withinMs: 10_000 })).toMatchObject({ late: false });
    // One line for each of its connections to Redis (the client, the events' queue, the refresh planner's
    // and the refresh worker's, the purchases' refresh queue and the embedding requests' queue), not one
    // per retry.
    const refused = stack.recommendation
      .output()
      .split('\n')
      .filter((line) => line.includes('ECONNREFUSED'));
    const components = refused.map((line) => /(?:WARN|LOG|ERROR)\s+\[(\w+)\]/.exec(line)?.[1] ?? line);
    expect(new Set(components).size).toBe(components.length);
    expect(components.length).toBeLessThanOrEqual(6);
    await stack.startRecommendation(); // for close()
  });
});
