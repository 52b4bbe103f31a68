import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue, QueueEvents } from 'bullmq';
import {
  LOCAL_EMBEDDING_MODEL,
  QueueNames,
  bullConnection,
  loadConfig,
  type AppConfig,
  type Database,
  type RedisClient,
  type ServiceMetrics,
} from '@retail/common';
import { METRICS, withCore } from '@retail/common/nest';
import { closeTestStores, eventually, insertShop, openTestStores, runCli } from '@retail/testing';
import { RecommendationModule } from '../src/recommendation.module.js';
import { RankingRepository } from '../src/ranking/ranking.repository.js';
import { RecommendationsService } from '../src/recommendations/recommendations.service.js';
import { RefreshPlanner } from '../src/refresh/refresh-planner.js';

/**
 * The kept lists and their refresh, in two recommendation "processes" (two application contexts sharing the
 * test database and Redis, as two replicas share them): lists are computed once between them, a list computed
 * before the model changed is answered marked `refreshing`, and a customer's own change goes first.
 */
let db: Database;
let redis: RedisClient;
let config: AppConfig;
const apps: INestApplicationContext[] = [];

/** 40 customers, each in a slice of their own (ids 64 apart), buying 3 of 24 products. */
const PRODUCTS = Array.from({ length: 24 }, (_, i) => ({
  product_id: `P${String(i).padStart(2, '0')}`,
  description: `${['RED', 'BLUE', 'GREEN', 'PINK'][i % 4]} ${['HEART', 'STAR', 'LANTERN', 'MUG', 'BAG', 'TIN'][i % 6]} ${i}`,
}));
const CUSTOMERS = Array.from({ length: 40 }, (_, i) => 20_000 + 64 * i);

async function start(): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(withCore(RecommendationModule, config), {
    logger: process.env.DEBUG_TEST ? undefined : false,
  });
  app.enableShutdownHooks();
  await app.init();
  apps.push(app);
  return app;
}

function computed(app: INestApplicationContext, reason: string): Promise<number> {
  return app
    .get<ServiceMetrics>(METRICS)
    .listsComputed.get()
    .then((metric) =>
      metric.values.filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0),
    );
}

async function currentLists(model: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM customers c JOIN user_recommendations r ON r.customer_id = c.customer_id AND r.model = $1
      WHERE r.customer_version = c.version AND r.model_version = (SELECT version FROM model_versions WHERE model = $1)`,
    [model],
  );
  return rows[0]!.n;
}

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await insertShop(db, {
    products: PRODUCTS,
    purchases: CUSTOMERS.flatMap((customer, i) =>
      [0, 7, 13].map((k) => ({ customer_id: customer, product_id: PRODUCTS[(i + k) % 24]!.product_id })),
    ),
  });
  const embedded = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
  if (embedded.code !== 0) throw new Error(`embedding failed:\n${embedded.stdout}${embedded.stderr}`);
  // Planning at the start only (the tests plan when they choose), the description model served.
  config = loadConfig({ ...process.env, RECOMMENDATION_REFRESH_INTERVAL_MS: '3600000' });
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

afterAll(async () => {
  await closeTestStores({ db, redis });
});

describe('kept lists', () => {
  it('are computed once between two processes after a model change; meanwhile the previous list answers, marked refreshing', async () => {
    const [a, b] = [await start(), await start()];
    // The first plan (at the start) computes every list.
    await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    const before = await Promise.all([computed(a, 'model'), computed(b, 'model')]);
    expect(before[0] + before[1]).toBe(CUSTOMERS.length);

    const service = a.get(RecommendationsService);
    const previous = await service.recommend(CUSTOMERS[0]!, 5);
    expect(previous.refreshing).toBe(false);
    await db.query('UPDATE product_embeddings SET embedding = embedding WHERE model = $1', [
      LOCAL_EMBEDDING_MODEL,
    ]);

    // Not refreshed yet (nothing planned since): the list computed before the change, and the answer says so.
    const during = await service.recommend(CUSTOMERS[0]!, 5);
    expect(during.refreshing).toBe(true);
    expect(during.model_version).toBe(previous.model_version);
    expect(during.recommendations).toEqual(previous.recommendations);

    // Both processes plan the same refresh: one job per slice between them, each list computed once.
    await Promise.all([a.get(RefreshPlanner).plan(), b.get(RefreshPlanner).plan()]);
    await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    const after = await Promise.all([computed(a, 'model'), computed(b, 'model')]);
    expect(after[0] - before[0] + (after[1] - before[1])).toBe(CUSTOMERS.length);

    const refreshed = await service.recommend(CUSTOMERS[0]!, 5);
    expect(refreshed.refreshing).toBe(false);
    expect(refreshed.model_version).toBeGreaterThan(previous.model_version);
    expect(refreshed.recommendations.map((r) => r.product_id)).toEqual(
      previous.recommendations.map((r) => r.product_id),
    );
  });

  it("compute a list missing when asked, and keep it; a customer's purchases make their list current at once", async () => {
    const app = await start();
    await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    const customer = CUSTOMERS[1]!;
    await db.query('DELETE FROM user_recommendations WHERE customer_id = $1', [customer]);
    const asked = await computed(app, 'request');
    const answer = await app.get(RecommendationsService).recommend(customer, 3);
    expect(answer.refreshing).toBe(false);
    expect(await computed(app, 'request')).toBe(asked + 1);
    const { rows } = await db.query('SELECT 1 FROM user_recommendations WHERE customer_id = $1', [customer]);
    expect(rows).toHaveLength(1);

    // They buy the first product recommended: the next answer leaves it out (computed on the request,
    // before any refresh job could run).
    const bought = answer.recommendations[0]!.product_id;
    await db.query(
      `INSERT INTO user_items (customer_id, product_id, times_bought, total_quantity, first_purchased_at, last_purchased_at)
       VALUES ($1, $2, 1, 1, '2011-07-01 10:00', '2011-07-01 10:00')`,
      [customer, bought],
    );
    await db.query(`UPDATE customers SET purchases_hash = md5(purchases_hash) WHERE customer_id = $1`, [
      customer,
    ]);
    const next = await app.get(RecommendationsService).recommend(customer, 3);
    expect(next.recommendations.map((r) => r.product_id)).not.toContain(bought);
    expect(next.refreshing).toBe(false);
  });

  it("queue a customer's own change ahead of a model's slices", async () => {
    const app = await start();
    await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    const queue = new Queue(QueueNames.RecommendationRefresh, {
      connection: bullConnection(config),
      prefix: config.queuePrefix,
    });
    const events = new QueueEvents(QueueNames.RecommendationRefresh, {
      connection: bullConnection(config),
      prefix: config.queuePrefix,
    });
    try {
      await events.waitUntilReady();
      await queue.pause();
      await db.query('UPDATE product_embeddings SET embedding = embedding WHERE model = $1', [
        LOCAL_EMBEDDING_MODEL,
      ]);
      const customer = CUSTOMERS.at(-1)!;
      await db.query(`UPDATE customers SET purchases_hash = md5(purchases_hash) WHERE customer_id = $1`, [
        customer,
      ]);
      const planned = await app.get(RefreshPlanner).plan();
      expect(planned.customers).toBe(1);
      expect(planned.slices).toBe(CUSTOMERS.length);
      // The order in which the workers take the jobs: the customer's first, though queued with the slices.
      const order: string[] = [];
      events.on('active', ({ jobId }) => order.push(jobId));
      await queue.resume();
      await eventually(() => Promise.resolve(order.length === CUSTOMERS.length + 1));
      expect(order[0]).toMatch(new RegExp(`^customer-${customer}-`));
      await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    } finally {
      await events.close();
      await queue.close();
    }
  });

  it('follow a TRUNCATE of the vectors: every model is stamped, and the lists become empty with their reason', async () => {
    const app = await start();
    await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    const { rows } = await db.query<{ version: number }>(
      'SELECT version FROM model_versions WHERE model = $1',
      [LOCAL_EMBEDDING_MODEL],
    );
    await db.query('TRUNCATE product_embeddings');
    const stamped = await app.get(RankingRepository).modelVersions([LOCAL_EMBEDDING_MODEL]);
    expect(stamped.get(LOCAL_EMBEDDING_MODEL)!.version).toBeGreaterThan(rows[0]!.version);
    await app.get(RefreshPlanner).plan();
    await eventually(async () => (await currentLists(LOCAL_EMBEDDING_MODEL)) === CUSTOMERS.length);
    const answer = await app.get(RecommendationsService).recommend(CUSTOMERS[2]!, 5);
    expect(answer.recommendations).toEqual([]);
    expect(answer.refreshing).toBe(false);
    expect(answer.reason).toMatch(/none of the products this user bought has a vector/);
    // Back for the other tests.
    const embedded = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
    expect(embedded.code).toBe(0);
  });
});
