import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  buy,
  DEFAULT_COUNTRY,
  newInvoiceNumber,
  OFFERED,
  parseBuyRequest,
  shopLocalTime,
} from '../src/lib/server/buy.ts';
import type { Gateway } from '../src/lib/server/gateway-proxy.ts';

/**
 * The page's Buy on its server, against a stand-in gateway that records what it is sent: the product is
 * looked up in the customer's recommendations (never taken from the browser), one line is posted with the
 * server's key and the shopper's address, and the gateway's refusals come back as clear errors.
 */
const KEY = 'web-buy-key-0123456789abcdef';

interface Received {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

let server: http.Server;
let gateway: Gateway;
let received: Received[];
let routes: Record<string, { status: number; body: unknown; headers?: Record<string, string> }>;
/** What the server logs for its operator (a missing or refused key). */
let logged: string[];

const recommendation = (product_id: string, description: string, unit_price: number | null) => ({
  product_id,
  description,
  score: 0.5,
  unit_price,
  explanation: null,
  explanation_status: 'pending',
  explanation_source: null,
});

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://gateway.test');
      received.push({
        method: request.method ?? '',
        url,
        headers: request.headers,
        body: text ? JSON.parse(text) : undefined,
      });
      const route = routes[`${request.method} ${url.pathname}`] ?? {
        status: 404,
        body: { statusCode: 404, error: 'Not Found', message: 'no such route' },
      };
      response
        .writeHead(route.status, { 'content-type': 'application/json', ...route.headers })
        .end(JSON.stringify(route.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: KEY };
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  logged = [];
  jest.spyOn(console, 'error').mockImplementation((message: unknown) => void logged.push(String(message)));
  routes = {
    'GET /api/users/17850/recommendations': {
      status: 200,
      body: {
        user_id: '17850',
        model: 'description',
        basis: 'description',
        model_version: 1,
        refreshing: false,
        recommendations: [
          recommendation('22633', 'HAND WARMER UNION JACK', 2.1),
          recommendation('84029E', 'RED WOOLLY HOTTIE WHITE HEART.', 3.75),
          recommendation('99999X', 'A PRODUCT WITHOUT A PRICE', null),
        ],
      },
    },
    'GET /api/users': {
      status: 200,
      body: {
        total: 1,
        users: [{ user_id: '17850', products_bought: 21, country: 'France' }],
        next_offset: 1,
      },
    },
    'POST /api/purchases': { status: 202, body: { accepted: 1, duplicates: 0, dropped: [] } },
  };
});

afterEach(() => {
  jest.restoreAllMocks();
});

const buying = (productId: string, via: Gateway = gateway, userId = '17850') =>
  buy({ userId, productId }, { clientAddress: '203.0.113.9' }, via);

describe('buy', () => {
  it('posts one line at the price the shop has, for the customer, with the key and the shopper', async () => {
    const before = Date.now();
    const response = await buying('84029E');
    expect(response.status).toBe(201);
    const bought = (await response.json()) as Record<string, unknown>;

    const lookup = received.find((r) => r.url.pathname === '/api/users/17850/recommendations')!;
    expect(lookup.url.searchParams.get('top_n')).toBe(String(OFFERED));
    const posts = received.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(1);
    const post = posts[0]!;
    expect(post.url.pathname).toBe('/api/purchases');
    expect(post.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(post.headers['x-forwarded-for']).toBe('203.0.113.9');
    const { lines } = post.body as { lines: Record<string, unknown>[] };
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual({
      invoice_no: expect.stringMatching(/^W[0-9A-Z]{8,}$/),
      stock_code: '84029E',
      description: 'RED WOOLLY HOTTIE WHITE HEART.',
      quantity: 1,
      invoice_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
      unit_price: 3.75,
      customer_id: 17850,
      country: 'France',
    });
    // "now", in London: within a day of the test's clock whatever the zone
    const date = Date.parse(`${String(lines[0]!.invoice_date).replace(' ', 'T')}Z`);
    expect(Math.abs(date - before)).toBeLessThan(26 * 3600_000);
    const { stock_code, customer_id, ...rest } = lines[0]!;
    expect(bought).toEqual({ user_id: String(customer_id), product_id: stock_code, ...rest });
  });

  it('makes a new invoice for every purchase, and takes the default country when it knows none', async () => {
    routes['GET /api/users'] = { status: 200, body: { total: 0, users: [], next_offset: null } };
    await buying('22633');
    await buying('22633');
    const lines = received
      .filter((r) => r.method === 'POST')
      .map((r) => (r.body as { lines: { invoice_no: string; country: string }[] }).lines[0]!);
    expect(lines.map((line) => line.country)).toEqual([DEFAULT_COUNTRY, DEFAULT_COUNTRY]);
    expect(lines[0]!.invoice_no).not.toBe(lines[1]!.invoice_no);
    expect(newInvoiceNumber().length).toBeLessThanOrEqual(32);
    expect(newInvoiceNumber()).not.toMatch(/^C/i); // an invoice starting with C is a cancellation
  });

  it('refuses what the customer is not offered, and what has no price, without posting', async () => {
    const unknown = await buying('85123A');
    expect(unknown.status).toBe(409);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/not among the products offered/);
    const unpriced = await buying('99999X');
    expect(unpriced.status).toBe(409);
    expect(((await unpriced.json()) as { message: string }).message).toMatch(/no price/);
    expect(received.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it("passes the gateway's refusals on, and never its verdict on the key as the shopper's problem", async () => {
    routes['GET /api/users/17850/recommendations'] = {
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'user 17850 has no purchase history' },
    };
    const missing = await buying('22633');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'user 17850 has no purchase history',
    });

    beforeEachRoutesAgain();
    routes['POST /api/purchases'] = {
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', message: 'the API key is not valid' },
    };
    const wrongKey = await buying('22633');
    expect(wrongKey.status).toBe(503);
    const body = (await wrongKey.json()) as { message: string };
    expect(body.message).toMatch(/GATEWAY_API_KEY/);
    expect(JSON.stringify(body)).not.toContain(KEY);
    expect(logged).toEqual([expect.stringMatching(/refused the web server's API key \(403\)/)]);

    routes['POST /api/purchases'] = {
      status: 429,
      headers: { 'retry-after': '7' },
      body: { statusCode: 429, error: 'Too Many Requests', message: 'too many requests' },
    };
    const limited = await buying('22633');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');

    routes['POST /api/purchases'] = {
      status: 202,
      body: { accepted: 0, duplicates: 0, dropped: [{ index: 0, reason: 'non_positive_quantity' }] },
    };
    const dropped = await buying('22633');
    expect(dropped.status).toBe(502);
    expect(((await dropped.json()) as { message: string }).message).toMatch(/non_positive_quantity/);
  });

  it('asks nothing of the gateway without a key, and says so when the gateway is down', async () => {
    const keyless = await buying('22633', { ...gateway, apiKey: undefined });
    expect(keyless.status).toBe(503);
    expect(received).toEqual([]);
    expect(logged).toEqual([expect.stringMatching(/GATEWAY_API_KEY is not set/)]);
    const down = await buying('22633', { url: 'http://127.0.0.1:1', apiKey: KEY });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
  });
});

/** The routes of beforeEach, for a test that changes them twice. */
function beforeEachRoutesAgain(): void {
  routes['GET /api/users/17850/recommendations'] = {
    status: 200,
    body: {
      user_id: '17850',
      model: 'description',
      basis: 'description',
      model_version: 1,
      refreshing: false,
      recommendations: [recommendation('22633', 'HAND WARMER UNION JACK', 2.1)],
    },
  };
}

describe('parseBuyRequest', () => {
  it('takes a customer number and a product number, and says clearly what is wrong otherwise', () => {
    expect(parseBuyRequest({ user_id: '17850', product_id: ' 84029e ' })).toEqual({
      userId: '17850',
      productId: '84029E',
    });
    const refusal = async (body: unknown) => {
      const answer = parseBuyRequest(body);
      expect(answer).toBeInstanceOf(Response);
      const response = answer as Response;
      expect(response.status).toBe(400);
      return ((await response.json()) as { message: string }).message;
    };
    return Promise.all([
      expect(refusal(null)).resolves.toMatch(/JSON object/),
      expect(refusal([])).resolves.toMatch(/JSON object/),
      expect(refusal({ product_id: '22633' })).resolves.toMatch(/user_id must be a customer number/),
      expect(refusal({ user_id: '17850x', product_id: '22633' })).resolves.toMatch(/user_id/),
      expect(refusal({ user_id: '0', product_id: '22633' })).resolves.toMatch(/user_id/),
      expect(refusal({ user_id: '99999999999', product_id: '22633' })).resolves.toMatch(/user_id/),
      expect(refusal({ user_id: '17850' })).resolves.toMatch(/product_id must be a product number/),
      expect(refusal({ user_id: '17850', product_id: '../admin' })).resolves.toMatch(/product_id/),
      expect(refusal({ user_id: '17850', product_id: 'X'.repeat(33) })).resolves.toMatch(/product_id/),
    ]);
  });
});

describe('shopLocalTime', () => {
  it('writes London time as the data does', () => {
    expect(shopLocalTime(new Date('2011-07-01T11:30:05Z'))).toBe('2011-07-01 12:30:05'); // summer time
    expect(shopLocalTime(new Date('2011-12-09T12:50:00Z'))).toBe('2011-12-09 12:50:00');
  });
});
