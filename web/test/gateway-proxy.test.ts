import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardToGateway, type Gateway } from '../src/lib/server/gateway-proxy.ts';

/**
 * The page's server as a proxy in front of the gateway, against a stand-in gateway that records what it is
 * sent: it names the shopper (not the browser's own X-Forwarded-For), passes If-None-Match and the key on,
 * and hands back the status, the body and the headers a cache and a client need.
 */
let server: http.Server;
let gateway: Gateway;
let received: http.IncomingHttpHeaders[];
let answer: { status: number; headers: Record<string, string>; body: string };

beforeAll(async () => {
  server = http.createServer((request, response) => {
    received.push(request.headers);
    response.writeHead(answer.status, answer.headers).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: undefined };
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  answer = {
    status: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      etag: '"v1"',
      'cache-control': 'private, no-cache',
      link: '</api/users?limit=2&offset=2>; rel="next"',
      'ratelimit-limit': '6000',
      'ratelimit-remaining': '5999',
      'ratelimit-reset': '60',
      'ratelimit-policy': '6000;w=60',
      'x-internal': 'not for the browser',
    },
    body: '{"ok":true}',
  };
});

const forward = (path: string, headers: Record<string, string> = {}, via: Gateway = gateway) =>
  forwardToGateway(
    {
      url: new URL(path, 'http://shop.test'),
      request: new Request(new URL(path, 'http://shop.test'), { headers }),
      clientAddress: '203.0.113.9',
    },
    via,
  );

describe('forwardToGateway', () => {
  it("names the shopper, never the browser's own X-Forwarded-For, and passes If-None-Match on", async () => {
    await forward('/api/users/17850/purchases', {
      'x-forwarded-for': '198.51.100.66',
      'if-none-match': '"v1"',
      authorization: 'Bearer from-the-browser',
    });
    expect(received[0]).toMatchObject({ 'x-forwarded-for': '203.0.113.9', 'if-none-match': '"v1"' });
    expect(received[0]!.authorization).toBeUndefined();
  });

  it('sends GATEWAY_API_KEY when there is one', async () => {
    await forward('/api/users', {}, { ...gateway, apiKey: 'web-key-0123456789abcdef' });
    expect(received[0]!.authorization).toBe('Bearer web-key-0123456789abcdef');
  });

  it('hands back the body and what a cache and a client need, nothing else', async () => {
    const response = await forward('/api/users?limit=2');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"ok":true}');
    expect(Object.fromEntries(response.headers)).toEqual({
      'content-type': 'application/json; charset=utf-8',
      etag: '"v1"',
      'cache-control': 'private, no-cache',
      link: '</api/users?limit=2&offset=2>; rel="next"',
      'ratelimit-limit': '6000',
      'ratelimit-remaining': '5999',
      'ratelimit-reset': '60',
      'ratelimit-policy': '6000;w=60',
    });
  });

  it('passes a 304 on without a body, and a 429 with its Retry-After', async () => {
    answer = { status: 304, headers: { etag: '"v1"', 'cache-control': 'private, no-cache' }, body: '' };
    const notModified = await forward('/api/users/17850/purchases', { 'if-none-match': '"v1"' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe('"v1"');
    expect(await notModified.text()).toBe('');

    answer = {
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '12' },
      body: '{"statusCode":429,"error":"Too Many Requests","message":"too many requests"}',
    };
    const limited = await forward('/api/users');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('12');
    expect(limited.headers.get('cache-control')).toBe('no-store');
  });

  it('forwards reads only: a write is refused before the gateway hears of it, even with a key', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const path = '/api/purchases';
      const refused = await forwardToGateway(
        {
          url: new URL(path, 'http://shop.test'),
          request: new Request(new URL(path, 'http://shop.test'), {
            method,
            headers: { 'content-type': 'application/json' },
            body: '{"lines":[]}',
          }),
          clientAddress: '203.0.113.9',
        },
        { ...gateway, apiKey: 'web-key-0123456789abcdef' },
      );
      expect(refused.status).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET, HEAD');
      expect(await refused.json()).toMatchObject({ statusCode: 405, error: 'Method Not Allowed' });
    }
    expect(received).toEqual([]);
  });

  it('refuses to leave /api/, and says so when the gateway is down', async () => {
    const outside = await forward('/api/../admin/queues');
    expect(outside.status).toBe(404);
    expect(received).toEqual([]);
    const down = await forward('/api/users', {}, { url: 'http://127.0.0.1:1', apiKey: undefined });
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      statusCode: 503,
      message: 'the shop API cannot be reached right now',
    });
  });
});
