import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { QueueNames, createQueue, loadConfig, type ExplanationJob, type RedisClient } from '@retail/common';
import { connectTestRedis, freePort, resetRedis } from '@retail/testing';
import type { Queue } from 'bullmq';
import { RecommendationEventsPublisher } from '../src/recommendations/recommendation-events.publisher.js';

const shown = (...ids: string[]) =>
  ids.map((product_id) => ({ product_id, description: product_id, score: 0.5, unit_price: null }));

let redis: RedisClient;
let queue: Queue<ExplanationJob>;
const config = loadConfig();

beforeAll(() => {
  redis = connectTestRedis();
  queue = createQueue<ExplanationJob>(QueueNames.Explanations, config);
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
});

beforeEach(async () => {
  await resetRedis(redis);
});

describe('RecommendationEventsPublisher', () => {
  it('publishes one background event per distinct answer, repeats once, the products best first', async () => {
    const publisher = new RecommendationEventsPublisher(config);
    try {
      publisher.publishSoon(17850, 'model-a', 'hash-1', shown('P2', 'P1'));
      publisher.publishSoon(17850, 'model-a', 'hash-1', shown('P2', 'P1')); // the same answer again
      publisher.publishSoon(17850, 'model-a', 'hash-2', shown('P2', 'P1')); // purchases changed
      publisher.publishSoon(12583, 'model-b', 'hash-1', shown('P3'));
      await publisher.settle();
      publisher.publishSoon(17850, 'model-a', 'hash-1', shown('P2', 'P1')); // remembered: not even sent
      await publisher.settle();
      const jobs = await queue.getJobs(['waiting']);
      expect(jobs).toHaveLength(3);
      const events = jobs.map((job) => job.data).sort((a, b) => a.user_id.localeCompare(b.user_id));
      expect(events[0]).toEqual({
        user_id: '12583',
        model: 'model-b',
        product_ids: ['P3'],
        created_at: expect.stringMatching(/^\d{4}-/),
      });
      expect(events.slice(1).map((e) => e.product_ids)).toEqual([
        ['P2', 'P1'],
        ['P2', 'P1'],
      ]);
    } finally {
      await publisher.onApplicationShutdown();
    }
  });

  it('never holds a shutdown when Redis is away: the events are given up, to be published again later', async () => {
    const away = loadConfig({ ...process.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}/15` });
    const publisher = new RecommendationEventsPublisher(away);
    publisher.publishSoon(17850, 'model-a', 'hash-1', shown('P1'));
    const started = Date.now();
    await publisher.onApplicationShutdown();
    expect(Date.now() - started).toBeLessThan(10_000); // a deadline, not a hang
  });
});
