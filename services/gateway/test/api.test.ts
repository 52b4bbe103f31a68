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
/** A storefront on another origin, allowed by CORS_ORIGINS. */
const SHOP = 'https://shop.example';

let db: Database;
let redis: RedisClient;
let stack: TestStack;
let events: Queue<ExplanationJob>;

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv');
  stack = await startStack({ CORS_ORIGINS: `${SHOP}, https://other.example` });
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
      next_offset: null,
    });
    const filtered = await stack.get('/api/users?query=1&limit=1&offset=1');
    expect(filtered.body).toEqual({
      total: 3,
      users: [{ user_id: '13047', products_bought: 3, country: 'United Kingdom' }],
      next_offset: 2,
    });
    expect((await stack.get('/api/users?query=9')).body).toEqual({ total: 0, users: [], next_offset: null });
  });

  it('gives the next page as next_offset and as a Link header, until the last page', async () => {
    const pages: string[][] = [];
    let path: string | undefined = '/api/users?limit=2';
    while (path) {
      const response = await fetch(`${stack.url}${path}`);
      const body = (await response.json()) as { users: { user_id: string }[]; next_offset: number | null };
      pages.push(body.users.map((u) => u.user_id));
      const link = response.headers.get('link');
      if (body.next_offset === null) {
        expect(link).toBeNull();
        path = undefined;
      } else {
        expect(link).toBe(`</api/users?limit=2&offset=${body.next_offset}>; rel="next"`);
        path = /^<([^>]+)>; rel="next"$/.exec(link!)![1];
      }
    }
    expect(pages).toEqual([['12583', '13047'], ['17850']]);
    const filtered = await fetch(`${stack.url}/api/users?query=1&limit=1`);
    expect(filtered.headers.get('link')).toBe('</api/users?limit=1&offset=1&query=1>; rel="next"');
    // Past the end: an empty page, no next one.
    expect((await stack.get('/api/users?offset=10')).body).toEqual({
      total: 3,
      users: [],
      next_offset: null,
    });
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
          unit_price: 2.55,
        },
        {
          product_id: '71053',
          description: 'WHITE MOROCCAN METAL LANTERN',
          times_bought: 1,
          last_purchased_at: '2010-12-01T08:26:00',
          unit_price: 3.39,
        },
        {
          product_id: '84406B',
          description: 'CREAM CUPID HEARTS COAT HANGER',
          times_bought: 1,
          last_purchased_at: '2010-12-01T08:26:00',
          unit_price: 2.75,
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
    const beforeTag = (await fetch(`${stack.url}/api/users/17850/recommendations`)).headers.get('etag')!;
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
      // A client revalidating the list it holds gets the new one, not a 304.
      const revalidated = await fetch(`${stack.url}/api/users/17850/recommendations`, {
        headers: { 'if-none-match': beforeTag },
      });
      expect(revalidated.status).toBe(200);
      expect(revalidated.headers.get('etag')).not.toBe(beforeTag);
      expect(await revalidated.json()).toEqual(after.body);
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

describe('conditional requests', () => {
  it.each(['/api/users/17850/purchases', '/api/users/17850/recommendations?top_n=2'])(
    '%s: an ETag, revalidated by every cache, and 304 while it is current',
    async (path) => {
      const first = await fetch(`${stack.url}${path}`);
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
      expect(first.headers.get('cache-control')).toBe('private, no-cache');
      const body = await first.text();

      const same = await fetch(`${stack.url}${path}`);
      expect(same.headers.get('etag')).toBe(etag);
      expect(await same.text()).toBe(body);

      for (const ifNoneMatch of [etag, `W/${etag}`, `"something-else", ${etag}`, '*']) {
        const again = await fetch(`${stack.url}${path}`, { headers: { 'if-none-match': ifNoneMatch } });
        expect({ ifNoneMatch, status: again.status }).toEqual({ ifNoneMatch, status: 304 });
        expect(again.headers.get('etag')).toBe(etag);
        expect(again.headers.get('cache-control')).toBe('private, no-cache');
        expect(await again.text()).toBe('');
      }
      const stale = await fetch(`${stack.url}${path}`, { headers: { 'if-none-match': '"an-old-version"' } });
      expect(stale.status).toBe(200);
      expect(await stale.text()).toBe(body);
    },
  );

  it('a different answer has a different ETag; errors have none', async () => {
    const etagOf = async (path: string) => (await fetch(`${stack.url}${path}`)).headers.get('etag');
    expect(await etagOf('/api/users/17850/recommendations')).not.toBe(
      await etagOf('/api/users/13047/recommendations'),
    );
    expect(await etagOf('/api/users/17850/purchases')).not.toBe(await etagOf('/api/users/13047/purchases'));
    const missing = await fetch(`${stack.url}/api/users/99999/purchases`, {
      headers: { 'if-none-match': '*' },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('etag')).toBeNull();
  });
});

describe('CORS (CORS_ORIGINS)', () => {
  it('answers the preflight of an allowed origin', async () => {
    const preflight = await fetch(`${stack.url}/api/users/17850/recommendations?top_n=2`, {
      method: 'OPTIONS',
      headers: {
        origin: SHOP,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'if-none-match, authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('GET');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('if-none-match');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(Number(preflight.headers.get('access-control-max-age'))).toBeGreaterThan(0);
  });

  it('lets an allowed origin read the answer and its ETag and rate-limit headers', async () => {
    const answer = await fetch(`${stack.url}/api/users/17850/purchases`, { headers: { origin: SHOP } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe(SHOP);
    const exposed = answer.headers
      .get('access-control-expose-headers')!
      .toLowerCase()
      .split(/\s*,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['etag', 'link', 'retry-after', 'ratelimit-remaining']));
    expect(answer.headers.get('vary')?.toLowerCase()).toContain('origin');
  });

  it('gives any other origin nothing', async () => {
    const answer = await fetch(`${stack.url}/api/users/17850/purchases`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${stack.url}/api/users/17850/purchases`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
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
    ['/api/users/17850/recommendations?top_n=%205', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users/17850/recommendations?top_n=1&top_n=2', 400, 'top_n must be an integer from 1 to 100'],
    ['/api/users?offset=-1', 400, 'offset must be an integer from 0 to 9999999'],
    ['/api/users?limit=1001', 400, 'limit must be an integer from 1 to 1000'],
    ['/api/users?limit=0', 400, 'limit must be an integer from 1 to 1000'],
    ['/api/users?query=abc', 400, 'query must be digits'],
    ['/api/users/17850/recommendations/explanations', 400, 'product_ids is required'],
    ['/api/users/17850/recommendations/explanations?product_ids=%3Cscript%3E', 400, 'malformed product id'],
    [
      '/api/users/17850/recommendations/explanations?product_ids=22632,NOPE',
      404,
      'no product has the id NOPE',
    ],
    [
      '/api/users/17850/recommendations/explanations?product_ids=NOPE,22632,X-1',
      404,
      'no products have the ids NOPE, X-1',
    ],
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
