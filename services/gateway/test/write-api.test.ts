import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PurchaseLine } from '@retail/contracts';
import net from 'node:net';
import {
  ExplanationCacheRepository,
  loadConfig,
  writerNamespace,
  type Database,
  type RedisClient,
} from '@retail/common';
import {
  closeTestStores,
  eventually,
  openTestStores,
  runCli,
  tableCounts,
  TEST_REDIS_URL,
} from '@retail/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

/**
 * The write API against the real Postgres and Redis, with the recommendation service as its own process:
 * purchases recorded once per invoice (also when posted twice at once), refused with a clear 4xx (nothing
 * recorded) when malformed or without the key, followed by the customer's list; products added and embedded,
 * then recommended; a customer erased with nothing left behind; and with Redis away, the lines accepted into
 * Postgres and the work caught up once Redis is back.
 */
const KEY = 'write-api-test-key-0123456789';
let db: Database;
let redis: RedisClient;
let stack: TestStack;

type Line = PurchaseLine;

const line = (overrides: Partial<Line> = {}): Line => ({
  invoice_no: '900001',
  stock_code: '22633',
  description: 'HAND WARMER UNION JACK',
  quantity: 2,
  invoice_date: '2011-12-10 10:00:00',
  unit_price: 2.1,
  customer_id: 17850,
  country: 'United Kingdom',
  ...overrides,
});

async function send(
  target: TestStack,
  method: string,
  path: string,
  body?: unknown,
  key: string | undefined = KEY,
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const post = (lines: unknown[], key?: string) => send(stack, 'POST', '/api/purchases', { lines }, key);

async function recorded(): Promise<{ invoices: number; lines: number }> {
  const { rows } = await db.query<{ invoices: number; lines: number }>(
    `SELECT (SELECT count(*)::int FROM posted_invoices) AS invoices, (SELECT count(*)::int FROM posted_lines) AS lines`,
  );
  return rows[0]!;
}

async function recommended(userId: number): Promise<string[]> {
  const answer = await stack.get(`/api/users/${userId}/recommendations?top_n=100`);
  expect(answer.status).toBe(200);
  return (answer.body.recommendations as { product_id: string }[]).map((r) => r.product_id);
}

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv');
  stack = await startStack({ API_KEYS: KEY });
});

afterAll(async () => {
  await stack?.close();
  await closeTestStores({ db, redis });
});

describe('POST /api/purchases', () => {
  it('refuses a missing or wrong key, a malformed field and an oversized batch with a clear 4xx, and records nothing', async () => {
    const before = { ...(await tableCounts(db)), ...(await recorded()) };
    expect((await post([line()], '')).status).toBe(401);
    expect((await post([line()], 'a-wrong-key-0123456789')).status).toBe(403);
    const cases: [unknown, RegExp][] = [
      [{ ...line(), quantity: 'six' }, /quantity must be an integer/],
      [{ ...line(), quantity: 1.5 }, /quantity must be an integer/],
      [{ ...line(), unit_price: 'cheap' }, /unit_price must be a number/],
      [{ ...line(), customer_id: -3 }, /customer_id must be a customer number/],
      [{ ...line(), invoice_no: '' }, /invoice_no must not be empty/],
      [{ ...line(), invoice_date: 'yesterday' }, /InvoiceDate is not a date/],
      [{ ...line(), colour: 'red' }, /colour|unrecognized|Unrecognized/i],
      [(({ country: _, ...rest }) => rest)(line()), /country/],
    ];
    for (const [bad, message] of cases) {
      const answer = await post([line({ invoice_no: '900002' }), bad]);
      expect({ bad, status: answer.status }).toEqual({ bad, status: 400 });
      expect(answer.body.message).toMatch(message);
    }
    const mixed = await post([
      line({ invoice_no: '900003' }),
      line({ invoice_no: '900003', customer_id: 13047 }),
    ]);
    expect(mixed.status).toBe(400);
    expect(mixed.body.message).toMatch(/invoice 900003 names customers 17850 and 13047/);
    const tooMany = await post(Array.from({ length: 1001 }, () => line()));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.message).toMatch(/at most 1000 lines/);
    expect((await send(stack, 'POST', '/api/purchases', { lines: [] })).status).toBe(400);
    expect({ ...(await tableCounts(db)), ...(await recorded()) }).toEqual(before);
  });

  it('records a batch once, also posted twice at the same moment, dropping by the data rules', async () => {
    const batch = [
      line({ invoice_no: '900010', stock_code: '22632', description: 'HAND WARMER RED RETROSPOT' }),
      line({ invoice_no: '900010', stock_code: '21754', description: 'HOME BUILDING BLOCK WORD' }),
      line({ invoice_no: '900011', customer_id: 13047, stock_code: '85123A' }),
      line({ invoice_no: 'C900012', quantity: -1 }),
      line({ invoice_no: '900013', customer_id: null }),
      line({ invoice_no: '900014', quantity: 0 }),
    ];
    const before = await recorded();
    const [first, second] = await Promise.all([post(batch), post(batch)]);
    expect([first.status, second.status]).toEqual([202, 202]);
    const answers = [first.body, second.body].sort((a, b) => b.accepted - a.accepted);
    expect(answers[0]).toEqual({
      accepted: 3,
      duplicates: 0,
      dropped: [
        { index: 3, reason: 'cancellation' },
        { index: 4, reason: 'missing_customer_id' },
        { index: 5, reason: 'non_positive_quantity' },
      ],
    });
    expect(answers[1]).toMatchObject({ accepted: 0, duplicates: 3 });
    expect(await recorded()).toEqual({ invoices: before.invoices + 2, lines: before.lines + 3 });
    // An invoice the ingested file holds counts once too.
    const fromFile = await post([line({ invoice_no: '536365' })]);
    expect(fromFile.body).toEqual({ accepted: 0, duplicates: 1, dropped: [] });
  });

  it("is followed by the customer's list (what they bought left out), and a new customer appears with a list", async () => {
    const already = await recommended(13047);
    const bought = already[0]!;
    const answer = await post([
      line({ invoice_no: '900020', customer_id: 13047, stock_code: bought, description: 'WHATEVER' }),
      line({ invoice_no: '900021', customer_id: 99001, stock_code: '22632', description: 'HAND WARMER' }),
    ]);
    expect(answer.body.accepted).toBe(2);
    await eventually(async () => !(await recommended(13047)).includes(bought));
    const purchases = await stack.get('/api/users/13047/purchases');
    expect(purchases.body.purchases.map((p: { product_id: string }) => p.product_id)).toContain(bought);
    await eventually(async () => (await stack.get('/api/users?query=99001')).body.total === 1);
    const newcomer = await recommended(99001);
    expect(newcomer.length).toBeGreaterThan(0);
    expect(newcomer).not.toContain('22632');
    const lists = await db.query('SELECT 1 FROM user_recommendations WHERE customer_id = 99001');
    expect(lists.rows.length).toBeGreaterThan(0);
  });
});

describe('products', () => {
  it('a new product gets its vector and is recommended to a customer whose purchases resemble it', async () => {
    const put = await send(stack, 'PUT', '/api/products/HW999', {
      description: 'HAND WARMER RED UNION JACK RETROSPOT',
      unit_price: 2.25,
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ product_id: 'HW999', created: true, retired: false, unit_price: 2.25 });
    // The embedder's queue: `npm run embed -- --wait` works the job when no embedder runs.
    expect((await runCli('services/embedder/dist/embed.cli.js', ['--wait'])).code).toBe(0);
    await eventually(async () => (await recommended(12583)).includes('HW999'));
    const similar = await stack.get('/api/products/22632/similar?top_n=3');
    expect(similar.status).toBe(200);
    expect(similar.body.products.map((p: { product_id: string }) => p.product_id)).toContain('HW999');
    expect((await stack.get('/api/products/NOPE/similar')).status).toBe(404);
  });

  it('a retired product is never recommended again, and its purchases stay', async () => {
    expect((await send(stack, 'DELETE', '/api/products/NOPE')).status).toBe(404);
    const retired = await send(stack, 'DELETE', '/api/products/HW999');
    expect(retired.body).toMatchObject({ product_id: 'HW999', retired: true });
    expect(await recommended(12583)).not.toContain('HW999');
    await eventually(async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM user_recommendations WHERE 'HW999' = ANY (product_ids)`,
      );
      return rows[0]!.n === 0;
    });
  });
});

describe('DELETE /api/users/{user_id}', () => {
  it('leaves no row, list or cached sentence of the customer behind, and can be repeated', async () => {
    const config = loadConfig({ ...process.env });
    const cache = new ExplanationCacheRepository(redis, config);
    const sentence = {
      text: 'Because you bought hand warmers.',
      source: 'template' as const,
      status: 'ready' as const,
    };
    await cache.set(writerNamespace('template', 'description'), '12583', '22633', sentence);
    await cache.set(writerNamespace('template', 'description'), '17850', '22633', sentence);
    await recommended(12583);
    const erased = await send(stack, 'DELETE', '/api/users/12583');
    expect(erased).toEqual({ status: 200, body: { user_id: '12583', erased: true } });
    const { rows } = await db.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM customers WHERE customer_id = 12583) AS customers,
              (SELECT count(*)::int FROM user_items WHERE customer_id = 12583) AS items,
              (SELECT count(*)::int FROM order_lines WHERE customer_id = 12583) AS lines,
              (SELECT count(*)::int FROM posted_lines WHERE customer_id = 12583) AS posted,
              (SELECT count(*)::int FROM user_recommendations WHERE customer_id = 12583) AS lists`,
    );
    expect(rows[0]).toEqual({ customers: 0, items: 0, lines: 0, posted: 0, lists: 0 });
    expect(await redis.keys(`${config.queuePrefix}:explanation:*:12583:*`)).toEqual([]);
    expect(await redis.keys(`${config.queuePrefix}:explanation:*:17850:*`)).toHaveLength(1);
    expect((await stack.get('/api/users/12583/recommendations')).status).toBe(404);
    expect((await send(stack, 'DELETE', '/api/users/12583')).status).toBe(200);
    expect((await send(stack, 'DELETE', '/api/users/77777')).status).toBe(404);
    // A new ingestion of the file does not bring them back.
    await loadCatalog('small.csv', { embed: false });
    expect((await db.query('SELECT 1 FROM customers WHERE customer_id = 12583')).rows).toEqual([]);
  });
});

describe('with Redis away', () => {
  it('accepts the lines into Postgres, and the work that follows catches up once Redis is back', async () => {
    // A relay in front of Redis that the test cuts and restores (the stack's own connections go through it).
    const target = new URL(TEST_REDIS_URL);
    const sockets = new Set<net.Socket>();
    let open = true;
    const relay = net.createServer((inbound) => {
      if (!open) {
        inbound.destroy();
        return;
      }
      const outbound = net.connect(Number(target.port || 6379), target.hostname);
      sockets.add(inbound).add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      for (const socket of [inbound, outbound]) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          sockets.delete(socket);
          inbound.destroy();
          outbound.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.address() as net.AddressInfo).port;
    const away = await startStack({
      API_KEYS: KEY,
      REDIS_URL: `redis://127.0.0.1:${port}${target.pathname}`,
    });
    try {
      const already = await (async () => {
        const answer = await away.get('/api/users/17850/recommendations?top_n=100');
        return (answer.body.recommendations as { product_id: string }[]).map((r) => r.product_id);
      })();
      const bought = already[0]!;
      open = false;
      for (const socket of sockets) socket.destroy();
      const answer = await send(away, 'POST', '/api/purchases', {
        lines: [line({ invoice_no: '900030', stock_code: bought, description: 'WHATEVER' })],
      });
      expect(answer).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, dropped: [] } });
      const { rows } = await db.query('SELECT applied_at FROM posted_invoices WHERE invoice_no = $1', [
        '900030',
      ]);
      expect(rows).toEqual([{ applied_at: null }]);
      open = true;
      await eventually(async () => {
        const list = await away.get('/api/users/17850/recommendations?top_n=100');
        return (list.body.recommendations as { product_id: string }[]).every((r) => r.product_id !== bought);
      }, 60_000);
    } finally {
      await away.close();
      relay.close();
      for (const socket of sockets) socket.destroy();
    }
  });
});
