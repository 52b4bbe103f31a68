import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { createRetailClient, type RetailClient } from '@retail/client';
import type { Database, RedisClient } from '@retail/common';
import { closeTestStores, openTestStores } from '@retail/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

/**
 * Every endpoint through the generated client (@retail/client), as a consumer would call it, against a
 * running gateway: each answer's status is one the document lists for the operation, and its body
 * validates against the schema the document gives for that status. Every operation of the document is
 * called at least once.
 */
interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>>; components: Record<string, unknown> };

const COMMITTED = path.join(import.meta.dirname, '..', '..', 'client', 'openapi.json');

let db: Database;
let redis: RedisClient;
let stack: TestStack;
let api: RetailClient;
let writer: RetailClient;
const KEY = 'client-test-key-0123456789';
let doc: Document;
const ajv = new Ajv({ strict: false, allErrors: true });
const called = new Set<string>();

/** Checks one answer against the document's operation `operationId`. */
function expectDocumented(
  operationId: string,
  answer: { data?: unknown; error?: unknown; response: Response },
  status: number,
): void {
  called.add(operationId);
  const operation = Object.values(doc.paths)
    .flatMap((item) => Object.values(item))
    .find((candidate) => candidate.operationId === operationId)!;
  expect({ operationId, status: answer.response.status }).toEqual({ operationId, status });
  const schema = operation.responses[String(status)]?.content?.['application/json']?.schema;
  expect({ operationId, status, documented: schema !== undefined }).toEqual({
    operationId,
    status,
    documented: true,
  });
  const validate = ajv.compile(
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/')) as object,
  );
  const body = answer.response.ok ? answer.data : answer.error;
  expect({ operationId, valid: validate(body), errors: validate.errors ?? null }).toEqual({
    operationId,
    valid: true,
    errors: null,
  });
}

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv');
  stack = await startStack({ API_KEYS: KEY });
  api = createRetailClient({ baseUrl: stack.url });
  writer = createRetailClient({ baseUrl: stack.url, apiKey: KEY });
  doc = (await stack.get('/api/docs/openapi.json')).body as Document;
  ajv.addSchema({ $id: 'openapi', components: doc.components });
});

afterAll(async () => {
  await stack?.close();
  await closeTestStores({ db, redis });
});

describe('the generated client against a running gateway', () => {
  it('is generated from the document this gateway publishes', () => {
    expect(doc).toEqual(JSON.parse(readFileSync(COMMITTED, 'utf8')));
  });

  it('listUsers: pages, and a 400 for a limit out of range', async () => {
    const page = await api.GET('/api/users', { params: { query: { query: '1', limit: 2 } } });
    expectDocumented('listUsers', page, 200);
    expect(page.data?.next_offset).toBe(2);
    const next = await api.GET('/api/users', { params: { query: { query: '1', limit: 2, offset: 2 } } });
    expectDocumented('listUsers', next, 200);
    expect(next.data).toMatchObject({ users: [{ user_id: '17850' }], next_offset: null });
    expectDocumented('listUsers', await api.GET('/api/users', { params: { query: { limit: 0 } } }), 400);
  });

  it('getPurchases: the purchases, 404 and 400', async () => {
    const path = '/api/users/{user_id}/purchases';
    const bought = await api.GET(path, { params: { path: { user_id: '17850' } } });
    expectDocumented('getPurchases', bought, 200);
    expect(bought.response.headers.get('etag')).toMatch(/^".+"$/);
    expectDocumented('getPurchases', await api.GET(path, { params: { path: { user_id: '99999' } } }), 404);
    expectDocumented('getPurchases', await api.GET(path, { params: { path: { user_id: 'abc' } } }), 400);
  });

  it('getRecommendations: top_n as a number, both urgencies, 400 and 404', async () => {
    const path = '/api/users/{user_id}/recommendations';
    const now = await api.GET(path, {
      params: { path: { user_id: '17850' }, query: { top_n: 2, explanations: 'now' } },
    });
    expectDocumented('getRecommendations', now, 200);
    expect(now.data?.recommendations).toHaveLength(2);
    const background = await api.GET(path, { params: { path: { user_id: '13047' } } });
    expectDocumented('getRecommendations', background, 200);
    expectDocumented(
      'getRecommendations',
      await api.GET(path, { params: { path: { user_id: '17850' }, query: { top_n: 101 } } }),
      400,
    );
    expectDocumented(
      'getRecommendations',
      await api.GET(path, { params: { path: { user_id: '99999' } } }),
      404,
    );
  });

  it('getExplanations: the sentences asked for, 404 for an unknown product, 400 for a malformed one', async () => {
    const path = '/api/users/{user_id}/recommendations/explanations';
    const polled = await api.GET(path, {
      params: { path: { user_id: '17850' }, query: { product_ids: '22632,21754' } },
    });
    expectDocumented('getExplanations', polled, 200);
    expect(polled.data?.explanations.map((e) => e.product_id)).toEqual(['22632', '21754']);
    expectDocumented(
      'getExplanations',
      await api.GET(path, { params: { path: { user_id: '17850' }, query: { product_ids: 'NOPE' } } }),
      404,
    );
    expectDocumented(
      'getExplanations',
      await api.GET(path, { params: { path: { user_id: '17850' }, query: { product_ids: '<b>' } } }),
      400,
    );
  });

  it('getLiveness and getReadiness', async () => {
    expectDocumented('getLiveness', await api.GET('/api/health'), 200);
    expectDocumented('getReadiness', await api.GET('/api/health/ready'), 200);
  });

  it('postPurchases: 202 with what was recorded, 400 for a malformed batch, 401 without the key', async () => {
    const line = {
      invoice_no: '900100',
      stock_code: '71053',
      description: 'WHITE METAL LANTERN',
      quantity: 1,
      invoice_date: '2011-12-10 10:00:00',
      unit_price: 3.39,
      customer_id: 13047,
      country: 'United Kingdom',
    };
    const posted = await writer.POST('/api/purchases', {
      body: { lines: [line, { ...line, quantity: -1 }] },
    });
    expectDocumented('postPurchases', posted, 202);
    expect(posted.data).toEqual({
      accepted: 1,
      duplicates: 0,
      dropped: [{ index: 1, reason: 'non_positive_quantity' }],
    });
    expectDocumented('postPurchases', await writer.POST('/api/purchases', { body: { lines: [] } }), 400);
    expectDocumented('postPurchases', await api.POST('/api/purchases', { body: { lines: [line] } }), 401);
  });

  it('putProduct, getSimilarProducts and retireProduct: a product described, found alike, retired', async () => {
    const product = { params: { path: { product_id: '90001' } } };
    const put = await writer.PUT('/api/products/{product_id}', {
      ...product,
      body: { description: 'RED POLKA DOT HAND WARMER', unit_price: 2.5 },
    });
    expectDocumented('putProduct', put, 200);
    expect(put.data).toMatchObject({ product_id: '90001', description: 'RED POLKA DOT HAND WARMER' });
    expectDocumented(
      'putProduct',
      await writer.PUT('/api/products/{product_id}', { ...product, body: { description: '' } }),
      400,
    );
    const similar = '/api/products/{product_id}/similar';
    const alike = await api.GET(similar, { params: { path: { product_id: '22632' }, query: { top_n: 2 } } });
    expectDocumented('getSimilarProducts', alike, 200);
    expect(alike.data?.products.length).toBeGreaterThan(0);
    expectDocumented(
      'getSimilarProducts',
      await api.GET(similar, { params: { path: { product_id: 'NOPE' } } }),
      404,
    );
    expectDocumented(
      'getSimilarProducts',
      await api.GET(similar, { params: { path: { product_id: '22632' }, query: { top_n: 0 } } }),
      400,
    );
    expectDocumented('retireProduct', await writer.DELETE('/api/products/{product_id}', product), 200);
    expectDocumented(
      'retireProduct',
      await writer.DELETE('/api/products/{product_id}', { params: { path: { product_id: 'NOPE' } } }),
      404,
    );
  });

  it('eraseUser: erased, then 404 for a customer never known; 403 with a wrong key', async () => {
    const path = '/api/users/{user_id}';
    expectDocumented('eraseUser', await writer.DELETE(path, { params: { path: { user_id: '12583' } } }), 200);
    expectDocumented('eraseUser', await writer.DELETE(path, { params: { path: { user_id: '77777' } } }), 404);
    const wrong = createRetailClient({ baseUrl: stack.url, apiKey: 'not-a-key-of-this-gateway' });
    expectDocumented('eraseUser', await wrong.DELETE(path, { params: { path: { user_id: '12583' } } }), 403);
  });

  it('sends the API key it is given (a wrong one is refused with the documented error)', async () => {
    const keyed = createRetailClient({ baseUrl: stack.url, apiKey: 'not-a-key-of-this-gateway' });
    const refused = await keyed.GET('/api/health');
    expectDocumented('getLiveness', refused, 403);
    expect(refused.error).toMatchObject({ statusCode: 403, error: 'Forbidden' });
  });

  it('has called every operation of the document', () => {
    const all = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect([...called].sort()).toEqual([...all].sort());
  });
});
