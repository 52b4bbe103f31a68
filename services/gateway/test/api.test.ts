import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import type { Queue } from 'bullmq';
import {
  QueueNames,
  createQueue,
  type Database,
  type ExplanationJob,
  type RedisClient,
} from '@retail/common';
import { closeTestStores, eventually, insertShop, openTestStores, runCli } from '@retail/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

const fixtures = path.join(import.meta.dirname, '..', '..', 'ingestion', 'test', 'fixtures');

let db: Database;
let redis: RedisClient;
let stack: TestStack;
let events: Queue<ExplanationJob>;

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv');
  stack = await startStack();
  events = createQueue<ExplanationJob>(QueueNames.Explanations, stack.config);
});

afterAll(async () => {
  await events?.close();
  await stack?.close();
  await closeTestStores({ db, redis });
});

describe('GET /api/users', () => {
  it('lists the users with purchase history, filtered by id prefix', async () => {
    const all = await stack.get('/api/users');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      total: 3,
      users: [
        { user_id: '12583', products_bought: 3, country: 'France' },
        { user_id: '13047', products_bought: 3, country: 'United Kingdom' },
        { user_id: '17850', products_bought: 3, country: 'United Kingdom' },
      ],
    });
    const filtered = await stack.get('/api/users?query=1&limit=1&offset=1');
    expect(filtered.body).toEqual({
      total: 3,
      users: [{ user_id: '13047', products_bought: 3, country: 'United Kingdom' }],
    });
    expect((await stack.get('/api/users?query=9')).body).toEqual({ total: 0, users: [] });
  });
});

describe('GET /api/users/{user_id}/purchases', () => {
  it('lists the merchandise bought, most recent first', async () => {
    const { status, body } = await stack.get('/api/users/17850/purchases');
    expect(status).toBe(200);
    expect(body).toEqual({
      user_id: '17850',
      purchases: [
        {
          product_id: '85123A',
          description: 'WHITE HANGING HEART T-LIGHT HOLDER',
          times_bought: 2,
          last_purchased_at: '2010-12-02T09:00:00',
        },
        {
          product_id: '71053',
          description: 'WHITE MOROCCAN METAL LANTERN',
          times_bought: 1,
          last_purchased_at: '2010-12-01T08:26:00',
        },
        {
          product_id: '84406B',
          description: 'CREAM CUPID HEARTS COAT HANGER',
          times_bought: 1,
          last_purchased_at: '2010-12-01T08:26:00',
        },
      ],
    });
  });
});

describe('GET /api/users/{user_id}/recommendations', () => {
  it('ranks the products the user did not buy, leaving out service lines', async () => {
    const { status, body } = await stack.get('/api/users/17850/recommendations?top_n=10');
    expect(status).toBe(200);
    expect(body.user_id).toBe('17850');
    expect(body.model).toBe('local-hashed-ngrams-v1');
    const ids = body.recommendations.map((r: any) => r.product_id);
    expect(ids.sort()).toEqual(['21754', '22632', '22633']); // everything else was bought or is not merchandise
    for (const r of body.recommendations) {
      expect(r).toMatchObject({ explanation: null, explanation_status: 'pending', explanation_source: null });
      expect(r.score).toBeGreaterThanOrEqual(-1);
      expect(r.score).toBeLessThanOrEqual(1);
    }
    const scores = body.recommendations.map((r: any) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('cuts the list to top_n and defaults to 12', async () => {
    expect((await stack.get('/api/users/17850/recommendations?top_n=1')).body.recommendations).toHaveLength(
      1,
    );
    expect((await stack.get('/api/users/17850/recommendations')).body.recommendations).toHaveLength(3);
  });

  it('publishes one durable recommendation event per distinct answer, the products shown best first', async () => {
    const eventsOf = async (user: string) =>
      (await events.getJobs(['waiting'])).filter((job) => job.data.user_id === user);
    await stack.get('/api/users/13047/recommendations?top_n=2');
    await stack.get('/api/users/13047/recommendations?top_n=2');
    const jobs = await eventually(async () => {
      const found = await eventsOf('13047');
      return found.length > 0 ? found : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await eventsOf('13047')).toHaveLength(1);
    const event = jobs[0]!.data;
    const shown = (await stack.get('/api/users/13047/recommendations?top_n=2')).body.recommendations;
    expect(event).toEqual({
      user_id: '13047',
      model: 'local-hashed-ngrams-v1',
      product_ids: shown.map((r: { product_id: string }) => r.product_id),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    // A different answer (other products) is a different event.
    await stack.get('/api/users/13047/recommendations?top_n=3');
    await eventually(async () => (await eventsOf('13047')).length === 2);
  });

  it('gives an empty list with a reason to a user whose products have no vector yet', async () => {
    const before = (await stack.get('/api/users/13047/recommendations')).body;
    expect(before.refreshing).toBe(false);
    await db.query(
      `DELETE FROM product_embeddings WHERE product_id IN (SELECT product_id FROM user_items WHERE customer_id = 13047)`,
    );
    try {
      // The model changed: its lists are computed again by the refresh jobs (services/recommendation/test/
      // kept-lists.test.ts shows the list computed before answered meanwhile, marked `refreshing`).
      await eventually(
        async () => (await stack.get('/api/users/13047/recommendations')).body.refreshing === false,
      );
      const { status, body } = await stack.get('/api/users/13047/recommendations');
      expect(status).toBe(200);
      expect(body.model_version).toBeGreaterThan(before.model_version);
      expect(body.recommendations).toEqual([]);
      expect(body.reason).toMatch(
        /none of the products this user bought has a vector in model local-hashed-ngrams-v1/,
      );
    } finally {
      expect((await runCli('services/embedder/dist/embed.cli.js', ['--wait'])).code).toBe(0);
    }
    expect((await stack.get('/api/users/13047/recommendations')).body.recommendations.length).toBeGreaterThan(
      0,
    );
  });

  it('tells a customer who bought only postage and fees that there is nothing to go on, not to embed', async () => {
    await insertShop(db, { products: [], purchases: [{ customer_id: 99001, product_id: 'POST' }] });
    try {
      const { status, body } = await stack.get('/api/users/99001/recommendations');
      expect(status).toBe(200);
      expect(body.recommendations).toEqual([]);
      expect(body.reason).toMatch(/bought only postage, fees and other non-merchandise lines/);
      expect(body.reason).not.toMatch(/npm run embed/);
    } finally {
      await db.query('DELETE FROM user_items WHERE customer_id = 99001');
      await db.query('DELETE FROM customers WHERE customer_id = 99001');
    }
  });

  it('follows new purchases: a list computed before an ingestion is not served after it', async () => {
    const before = await stack.get('/api/users/17850/recommendations');
    expect(before.body.recommendations.map((r: any) => r.product_id)).toContain('22632');
    // malformed.csv has customer 17850 buying 22632 (and 85123A) only.
    expect(
      (
        await runCli('services/ingestion/dist/main.js', [
          '--file',
          path.join(fixtures, 'malformed.csv'),
          '--no-embeddings',
        ])
      ).code,
    ).toBe(0);
    try {
      const after = await stack.get('/api/users/17850/recommendations');
      expect(after.body.recommendations.map((r: any) => r.product_id)).not.toContain('22632');
    } finally {
      expect(
        (
          await runCli('services/ingestion/dist/main.js', [
            '--file',
            path.join(fixtures, 'small.csv'),
            '--no-embeddings',
          ])
        ).code,
      ).toBe(0);
    }
  });
});

describe('bad input: a clear JSON error, never a stack trace', () => {
  it.each([
    ['/api/users/99999/recommendations', 404, 'user 99999 has no purchase history'],
    ['/api/users/99999/purchases', 404, 'user 99999 has no purchase history'],
    ['/api/users/99999999999999999/recommendations', 404, 'has no purchase history'],
    // The id is quoted as given, however large (not as 1e+40), and the same for every endpoint.
    [`/api/users/${'1'.repeat(40)}/purchases`, 404, `user ${'1'.repeat(40)} has no purchase history`],
    ['/api/users/2147483648/recommendations/explanations?product_ids=22632', 404, 'user 2147483648 has no'],
    ['/api/users/99999999/recommendations/explanations?product_ids=22632', 404, 'user 99999999 has no'],
    ['/api/users/abc/recommendations', 400, 'user_id must be a customer number (digits only)'],
    ['/api/users/-17850/recommendations', 400, 'user_id must be a customer number'],
    ['/api/users/17850.5/purchases', 400, 'user_id must be a customer number'],
    ['/api/users/17850/recommendations?top_n=0', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users/17850/recommendations?top_n=101', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users/17850/recommendations?top_n=-1', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users/17850/recommendations?top_n=abc', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users/17850/recommendations?top_n=', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users/17850/recommendations?top_n=1e2', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users?limit=0', 400, 'limit must be an integer from 1 to 1000'],
    ['/api/users?query=abc', 400, 'query must be digits'],
    ['/api/users/17850/recommendations/explanations', 400, 'product_ids is required'],
    ['/api/users/17850/recommendations/explanations?product_ids=%3Cscript%3E', 400, 'malformed product id'],
    [`/api/users/${'1'.repeat(50)}/recommendations`, 400, 'user_id is too long'],
    ['/api/nothing-here', 404, 'Cannot GET /api/nothing-here'],
  ])('%s -> %i', async (url, status, message) => {
    const response = await stack.get(url);
    expect(response.status).toBe(status);
    expect(response.contentType).toMatch(/application\/json/);
    expect(response.body).toMatchObject({ statusCode: status, message: expect.stringContaining(message) });
    expect(response.text).not.toMatch(/\s+at \S+ \(/);
  });

  it('refuses extremely long ids and query strings cleanly, without echoing them', async () => {
    for (const length of [5_000, 10_000]) {
      const longId = await stack.get(`/api/users/${'7'.repeat(length)}/recommendations`);
      expect(longId.status).toBe(400);
      expect(longId.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'user_id is too long (a customer number has at most 40 digits here)',
      });
    }

    const longQuery = await stack.get(`/api/users/17850/recommendations?top_n=${'9'.repeat(100_000)}`);
    expect([400, 414, 431]).toContain(longQuery.status);
    expect(longQuery.body).toMatchObject({ statusCode: longQuery.status, message: expect.any(String) });
    expect(longQuery.text).not.toMatch(/\s+at \S+ \(/);
  });
});

describe('health', () => {
  it('answers liveness and readiness', async () => {
    expect((await stack.get('/api/health')).body).toEqual({ status: 'ok' });
    const ready = await stack.get('/api/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({
      postgres: { ok: true },
      redis: { ok: true },
      recommendation: { ok: true },
      queues: { ok: true },
    });
  });

  it('publishes the OpenAPI document', async () => {
    const { status, body } = await stack.get('/api/docs/openapi.json');
    expect(status).toBe(200);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/api/users',
        '/api/users/{user_id}/purchases',
        '/api/users/{user_id}/recommendations',
        '/api/users/{user_id}/recommendations/explanations',
        '/api/health/ready',
      ]),
    );
    expect((await stack.get('/api/docs')).status).toBe(200);
  });
});

describe('when the recommendation service is down', () => {
  it('answers 503 at once, and recovers by itself when the service is back', async () => {
    await stack.stopRecommendation('SIGKILL');
    const started = Date.now();
    const down = await stack.get('/api/users/17850/recommendations');
    const elapsed = Date.now() - started;
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      statusCode: 503,
      message: 'the recommendation service is unavailable',
    });
    expect(elapsed).toBeLessThan(stack.config.recommendation.timeoutMs); // refused, not waited for
    expect((await stack.get('/api/health/ready')).status).toBe(503);

    await stack.startRecommendation();
    const back = await stack.get('/api/users/17850/recommendations');
    expect(back.status).toBe(200);
    expect(back.body.recommendations.length).toBeGreaterThan(0);
  });
});
