import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Delete, Get, Module, Post, type LoggerService } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiOkResponse, ApiResponse } from '@nestjs/swagger';
import { loadConfig, type AppConfig, type RedisClient } from '@retail/common';
import { REDIS, withCore } from '@retail/common/nest';
import { errorBody } from '@retail/contracts';
import { closeTestStores, freePort, openTestStores, recordLogs } from '@retail/testing';
import { z } from 'zod';
import { PublicEndpoint, WriteEndpoint } from '../src/access/access.js';
import { AccessGuard } from '../src/access/access.guard.js';
import { ApiKeys } from '../src/access/api-keys.js';
import { FLUSH_MS, RateLimits } from '../src/access/rate-limits.js';
import { gatewayAdapter } from '../src/app.js';
import { JsonErrorsFilter } from '../src/http/json-errors.filter.js';
import { createApiDocument } from '../src/openapi/api-document.js';

/**
 * The access guard (API keys, rate limits, trusted proxies) on a test-only controller with a write endpoint
 * of each kind (the API has none yet), a read and a public one, on the real Redis.
 */
const KEY = 'test-key-0123456789abcdef';
const OTHER_KEY = 'other-key-0123456789abcdef';
const done = z.object({ done: z.boolean() });

@Controller('api/things')
class ThingsForTest {
  @Get()
  @ApiOkResponse({ description: 'things', standardSchema: done })
  @ApiResponse({ status: 400, description: 'bad', standardSchema: errorBody })
  read(): { done: boolean } {
    return { done: true };
  }

  @Get('health')
  @PublicEndpoint()
  @ApiOkResponse({ description: 'alive', standardSchema: done })
  health(): { done: boolean } {
    return { done: true };
  }

  @Post()
  @WriteEndpoint()
  @ApiOkResponse({ description: 'written', standardSchema: done })
  write(): { done: boolean } {
    return { done: true };
  }

  /** No decorator: a DELETE is a write all the same. */
  @Delete(':id')
  remove(): { done: boolean } {
    return { done: true };
  }
}

@Module({
  controllers: [ThingsForTest],
  providers: [
    RateLimits,
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_FILTER, useClass: JsonErrorsFilter },
  ],
})
class AccessTestModule {
  static readonly core = { applicationName: 'gateway-access-test', poolSize: 1 };
}

let redis: RedisClient;
const apps: NestFastifyApplication[] = [];

interface Running {
  url: string;
  config: AppConfig;
  app: NestFastifyApplication;
}

async function start(
  env: Record<string, string> = {},
  logger: LoggerService | false = false,
): Promise<Running> {
  const config = loadConfig({ ...process.env, API_KEYS: `${KEY},${OTHER_KEY}`, ...env });
  const app = await NestFactory.create<NestFastifyApplication>(
    withCore(AccessTestModule, config),
    gatewayAdapter(config),
    { logger },
  );
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return { url: await app.getUrl(), config, app };
}

function call(
  url: string,
  { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {},
) {
  return fetch(url, { method, headers, signal: AbortSignal.timeout(10_000) });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  ({ redis } = await openTestStores({ empty: false }));
});

afterEach(async () => {
  for (const app of apps.splice(0)) {
    const client = app.get<RedisClient>(REDIS);
    await app.close();
    client.disconnect(); // no reconnection left running (Redis away)
  }
  // Every test starts with fresh counters.
  const keys = await redis.keys(`${process.env.QUEUE_PREFIX}:rate-limit:*`);
  if (keys.length > 0) await redis.del(...keys);
});

afterAll(async () => {
  await closeTestStores({ redis });
});

describe('API keys', () => {
  it('write endpoints: 401 without a key, 401 for a malformed header, 403 for a wrong key, done with one', async () => {
    const { url } = await start();
    for (const [method, path] of [
      ['POST', '/api/things'],
      ['DELETE', '/api/things/7'],
    ] as const) {
      const none = await call(`${url}${path}`, { method });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="retail API"');
      expect(await none.json()).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'this endpoint needs an API key: `Authorization: Bearer <API key>`',
      });
      const basic = await call(`${url}${path}`, { method, headers: { authorization: `Basic ${KEY}` } });
      expect(basic.status).toBe(401);
      expect(basic.headers.get('www-authenticate')).toContain('error="invalid_request"');
      const wrong = await call(`${url}${path}`, { method, headers: bearer(`${KEY.slice(0, -1)}X`) });
      expect(wrong.status).toBe(403);
      expect(await wrong.json()).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        message: 'the API key is not valid',
      });
      for (const key of [KEY, OTHER_KEY]) {
        const right = await call(`${url}${path}`, { method, headers: bearer(key) });
        expect({ method, status: right.status }).toEqual({ method, status: method === 'POST' ? 201 : 200 });
      }
    }
  });

  it('read endpoints are public, but a key that is sent must be right', async () => {
    const { url } = await start();
    expect((await call(`${url}/api/things`)).status).toBe(200);
    expect((await call(`${url}/api/things`, { headers: bearer(KEY) })).status).toBe(200);
    expect((await call(`${url}/api/things`, { headers: bearer('not-one-of-the-keys') })).status).toBe(403);
  });

  it('with API_KEYS_REQUIRED_FOR_READS the reads need a key too; public endpoints never do', async () => {
    const { url } = await start({ API_KEYS_REQUIRED_FOR_READS: 'true' });
    expect((await call(`${url}/api/things`)).status).toBe(401);
    expect((await call(`${url}/api/things`, { headers: bearer(OTHER_KEY) })).status).toBe(200);
    expect((await call(`${url}/api/things/health`)).status).toBe(200);
  });

  it('without API_KEYS every write is refused, and says why', async () => {
    const { url } = await start({ API_KEYS: '' });
    const refused = await call(`${url}/api/things`, { method: 'POST' });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /has none configured \(API_KEYS\)/,
    );
    expect((await call(`${url}/api/things`, { method: 'POST', headers: bearer(KEY) })).status).toBe(403);
  });

  it('compares in constant time over digests, and names a key by a digest, never by itself', () => {
    const keys = new ApiKeys([KEY, OTHER_KEY]);
    const id = keys.match(KEY);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    expect(keys.match(OTHER_KEY)).not.toBe(id);
    expect(keys.match(KEY)).toBe(id);
    expect(keys.match(`${KEY} `)).toBeUndefined();
    expect(keys.match(KEY.toUpperCase())).toBeUndefined();
    expect(keys.match('')).toBeUndefined();
    expect(KEY).not.toContain(id!);
    expect(new ApiKeys([]).configured).toBe(false);
  });
});

describe('rate limits', () => {
  it('counts reads per client: the RateLimit headers, then 429 with Retry-After', async () => {
    const { url } = await start({ RATE_LIMIT_READS_PER_MINUTE: '3' });
    for (const remaining of [2, 1, 0]) {
      const answer = await call(`${url}/api/things`);
      expect(answer.status).toBe(200);
      expect(
        Object.fromEntries([...answer.headers].filter(([name]) => name.startsWith('ratelimit'))),
      ).toEqual({
        'ratelimit-limit': '3',
        'ratelimit-remaining': String(remaining),
        'ratelimit-reset': expect.stringMatching(/^\d+$/),
        'ratelimit-policy': '3;w=60',
      });
      expect(Number(answer.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60);
    }
    for (let i = 0; i < 2; i++) {
      const refused = await call(`${url}/api/things`);
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
      expect(await refused.json()).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        message: expect.stringMatching(
          /^too many requests: 3 reads a minute per client; try again in \d+ s$/,
        ),
      });
    }
    // Health checks count against the same reads.
    expect((await call(`${url}/api/things/health`)).status).toBe(429);
  });

  it('counts writes per key, apart from the reads and from the other keys', async () => {
    const { url } = await start({ RATE_LIMIT_READS_PER_MINUTE: '2', RATE_LIMIT_WRITES_PER_MINUTE: '2' });
    const write = (key: string) => call(`${url}/api/things`, { method: 'POST', headers: bearer(key) });
    expect((await write(KEY)).status).toBe(201);
    expect((await write(KEY)).status).toBe(201);
    const refused = await write(KEY);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-policy')).toBe('2;w=60');
    expect((await write(OTHER_KEY)).status).toBe(201);
    expect((await call(`${url}/api/things`)).status).toBe(200);
  });

  it('counts wrong keys by address, so guessing keys is limited too', async () => {
    const { url } = await start({ RATE_LIMIT_WRITES_PER_MINUTE: '2' });
    const guess = (key: string) => call(`${url}/api/things`, { method: 'POST', headers: bearer(key) });
    expect((await guess('guess-number-one-0000')).status).toBe(403);
    expect((await guess('guess-number-two-0000')).status).toBe(403);
    expect((await guess('guess-number-three-00')).status).toBe(429);
    expect((await guess(KEY)).status).toBe(201); // a real key has its own count
  });

  it('lets exactly the limit through one gateway, however many requests come at once', async () => {
    const { url } = await start({ RATE_LIMIT_READS_PER_MINUTE: '5' });
    const burst = (address: string, n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          call(`${url}/api/things`, { headers: { 'x-forwarded-for': address } }).then((r) => r.status),
        ),
      );
    // A window nobody has counted yet: every request is counted in Redis before its answer.
    const cold = await burst('203.0.113.1', 12);
    expect(cold.filter((status) => status === 200)).toHaveLength(5);
    expect(cold.filter((status) => status === 429)).toHaveLength(7);
    // A window this gateway knows: counted here, added to Redis in the background.
    expect((await burst('203.0.113.2', 1))[0]).toBe(200);
    const warm = await burst('203.0.113.2', 10);
    expect(warm.filter((status) => status === 200)).toHaveLength(4);
    await sleep(3 * FLUSH_MS);
    expect(await redis.get(`${process.env.QUEUE_PREFIX}:rate-limit:reads:address:203.0.113.2`)).toBe('5');
  });

  it('holds across gateway replicas: one count in Redis, each gateway hearing the others within FLUSH_MS', async () => {
    const env = { RATE_LIMIT_READS_PER_MINUTE: '4' };
    const [one, two] = [await start(env), await start(env)];
    const status = async (via: Running) => (await call(`${via.url}/api/things`)).status;
    expect(await status(one)).toBe(200); // 1, counted in Redis before the answer
    expect(await status(one)).toBe(200); // 2, added to Redis within FLUSH_MS
    await sleep(3 * FLUSH_MS);
    expect(await status(two)).toBe(200); // 3: two counts it in Redis, and so hears of one's two
    expect(await status(two)).toBe(200); // 4
    expect(await status(two)).toBe(429);
    // One has not heard of two's requests yet: it lets one more through, then hears of them.
    expect(await status(one)).toBe(200);
    await sleep(3 * FLUSH_MS);
    expect(await status(one)).toBe(429);
    expect(await status(two)).toBe(429);
  });

  it("counts the shopper a trusted proxy names, and nobody else's X-Forwarded-For", async () => {
    const trusted = await start({ RATE_LIMIT_READS_PER_MINUTE: '2' }); // TRUSTED_PROXIES: loopback
    const from = (address: string, extra: Record<string, string> = {}) =>
      call(`${trusted.url}/api/things`, { headers: { 'x-forwarded-for': address, ...extra } });
    expect((await from('203.0.113.1')).status).toBe(200);
    expect((await from('203.0.113.1')).status).toBe(200);
    expect((await from('203.0.113.1')).status).toBe(429);
    expect((await from('203.0.113.2')).status).toBe(200); // another shopper behind the same proxy
    // Behind the proxy, a key does not make the shop one client: still counted by shopper.
    expect((await from('203.0.113.2', bearer(KEY))).status).toBe(200);
    expect((await from('203.0.113.2', bearer(KEY))).status).toBe(429);

    for (const app of apps.splice(0)) {
      const client = app.get<RedisClient>(REDIS);
      await app.close();
      client.disconnect();
    }
    const untrusted = await start({ RATE_LIMIT_READS_PER_MINUTE: '2', TRUSTED_PROXIES: '192.0.2.1' });
    const spoofed = (address: string) =>
      call(`${untrusted.url}/api/things`, { headers: { 'x-forwarded-for': address } });
    expect((await spoofed('198.51.100.1')).status).toBe(200);
    expect((await spoofed('198.51.100.2')).status).toBe(200);
    expect((await spoofed('198.51.100.3')).status).toBe(429); // all of them 127.0.0.1
  });

  it('with RATE_LIMIT_READS_PER_MINUTE=0 there is no read limit (and no headers)', async () => {
    const { url } = await start({ RATE_LIMIT_READS_PER_MINUTE: '0' });
    const answer = await call(`${url}/api/things`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('ratelimit-limit')).toBeNull();
  });

  it('fails open with Redis away: answers uncounted, says so once', async () => {
    const logger = recordLogs();
    const { url } = await start(
      { REDIS_URL: `redis://127.0.0.1:${await freePort()}/0`, RATE_LIMIT_READS_PER_MINUTE: '1' },
      logger,
    );
    for (let i = 0; i < 5; i++) {
      const answer = await call(`${url}/api/things`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit-limit')).toBeNull();
    }
    expect(logger.about(/the rate limits \(Redis\) is unavailable/)).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'the rate limits (Redis) is unavailable: Redis connection is not ready',
      }),
    ]);
    expect(logger.at('error', 'fatal')).toEqual([]);
  });
});

describe('the OpenAPI document', () => {
  type Operation = { security: unknown[]; responses: Record<string, { headers?: Record<string, unknown> }> };
  const operations = async (env: Record<string, string> = {}) => {
    const { app, config } = await start(env);
    const { paths } = createApiDocument(app, config) as unknown as {
      paths: Record<string, Record<string, Operation>>;
    };
    return {
      read: paths['/api/things']!.get!,
      health: paths['/api/things/health']!.get!,
      write: paths['/api/things']!.post!,
      remove: paths['/api/things/{id}']!.delete!,
    };
  };

  it('marks reads public and writes keyed, with their 401, 403 and 429', async () => {
    const { read, health, write, remove } = await operations();
    expect(read.security).toEqual([]);
    expect(health.security).toEqual([]);
    expect(write.security).toEqual([{ apiKey: [] }]);
    expect(remove.security).toEqual([{ apiKey: [] }]); // a DELETE, as the guard treats it
    expect(Object.keys(read.responses)).toEqual(['200', '400', '401', '403', '429']);
    expect(Object.keys(write.responses)).toEqual(['200', '401', '403', '429']);
    expect(Object.keys(write.responses['429']!.headers!)).toEqual([
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'RateLimit-Policy',
    ]);
    expect(Object.keys(read.responses['200']!.headers!)).toContain('RateLimit-Remaining');
    expect(JSON.stringify(write)).not.toContain('x-retail-access');
  });

  it('marks reads keyed with API_KEYS_REQUIRED_FOR_READS, never the public ones', async () => {
    const { read, health } = await operations({ API_KEYS_REQUIRED_FOR_READS: 'true' });
    expect(read.security).toEqual([{ apiKey: [] }]);
    expect(Object.keys(read.responses)).toEqual(['200', '400', '401', '403', '429']);
    expect(health.security).toEqual([]);
  });
});
