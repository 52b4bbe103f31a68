import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import {
  QueueNames,
  createQueue,
  type Database,
  type RecommendationEvent,
  type RedisClient,
} from '@retail/common';
import {
  connectTestDatabase,
  connectTestRedis,
  eventually,
  resetDatabase,
  resetRedis,
  startProcess,
  type RunningProcess,
} from '@retail/common/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

let db: Database;
let redis: RedisClient;
let stack: TestStack;
let explanation: RunningProcess | undefined;
let events: Queue<RecommendationEvent>;

beforeAll(async () => {
  db = await connectTestDatabase();
  redis = connectTestRedis();
  await resetDatabase(db);
  await resetRedis(redis);
  await loadCatalog('small.csv');
  stack = await startStack();
  events = createQueue<RecommendationEvent>(QueueNames.Explanations, stack.config);
});

afterAll(async () => {
  explanation?.kill('SIGTERM');
  await explanation?.exited;
  await events?.close();
  await stack?.close();
  redis.disconnect();
  await db.end();
});

describe('explanations through the gateway', () => {
  it('recommendations answer with pending explanations while the explanation service is down; it catches up', async () => {
    const users = ['12583', '13047', '17850'];
    for (const user of users) {
      const { status, body } = await stack.get(`/api/users/${user}/recommendations`);
      expect(status).toBe(200);
      expect(body.recommendations.length).toBeGreaterThan(0);
      for (const r of body.recommendations)
        expect(r).toMatchObject({ explanation_status: 'pending', explanation: null });
    }
    // The events wait, durable, in the queue.
    await eventually(async () => (await events.getJobCountByTypes('waiting')) === users.length);

    explanation = startProcess('services/explanation/dist/main.js');
    await explanation.waitFor(/consuming "explanations"/);
    for (const user of users) {
      const listed = (await stack.get(`/api/users/${user}/recommendations`)).body.recommendations;
      const ids = listed.map((r: any) => r.product_id).join(',');
      const polled = await eventually(async () => {
        const { body } = await stack.get(
          `/api/users/${user}/recommendations/explanations?product_ids=${ids}`,
        );
        return body.explanations.every((e: any) => e.explanation_status === 'ready') ? body : undefined;
      });
      expect(polled.user_id).toBe(user);
      for (const e of polled.explanations) {
        expect(e.explanation_source).toBe('template');
        expect(e.explanation).toMatch(/^Pairs well with the .+ you bought\.$/);
      }
      // The recommendations answer now carries them too.
      const again = (await stack.get(`/api/users/${user}/recommendations`)).body.recommendations;
      for (const r of again)
        expect(r).toMatchObject({ explanation_status: 'ready', explanation_source: 'template' });
    }
    expect(await events.getJobCountByTypes('failed')).toBe(0);
  });

  it('answers the polling endpoint for products not (yet) explained as pending', async () => {
    const { status, body } = await stack.get(
      '/api/users/17850/recommendations/explanations?product_ids=NOPE1,nope2',
    );
    expect(status).toBe(200);
    expect(body.explanations).toEqual([
      { product_id: 'NOPE1', explanation_status: 'pending', explanation: null, explanation_source: null },
      { product_id: 'NOPE2', explanation_status: 'pending', explanation: null, explanation_source: null },
    ]);
  });
});
