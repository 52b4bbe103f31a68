import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import {
  ExplanationCacheRepository,
  QueueNames,
  RECOMMENDATION_EVENT_NAME,
  createQueue,
  loadConfig,
  type AppConfig,
  type CachedExplanation,
  type RecommendationEvent,
  type RedisClient,
} from '@retail/common';
import {
  FakeOpenAiServer,
  apiError,
  chatCompletion,
  connectTestRedis,
  eventually,
  resetRedis,
} from '@retail/common/testing';
import { ExplanationModule } from '../src/explanation.module.js';

const KEY = 'sk-llm-test-never-logged';

let redis: RedisClient;
let fake: FakeOpenAiServer;
let app: INestApplicationContext | undefined;
let queue: Queue<RecommendationEvent>;
let config: AppConfig;
let cache: ExplanationCacheRepository;

const event = (userId: string, productIds: string[]): RecommendationEvent => ({
  model: 'local-hashed-ngrams-v1',
  user_id: userId,
  created_at: new Date().toISOString(),
  products: productIds.map((id) => ({ product_id: id, description: `PRODUCT ${id} RED RETROSPOT` })),
  purchases: [
    { product_id: 'B3', description: 'BAKING SET 9 PIECE' },
    { product_id: 'B1', description: 'HAND WARMER RED RETROSPOT' },
    { product_id: 'B2', description: 'RED RETROSPOT LUNCH BAG' },
  ],
});

async function publish(e: RecommendationEvent, id: string): Promise<void> {
  await queue.add(RECOMMENDATION_EVENT_NAME, e, { jobId: id });
}

async function explanations(userId: string, productIds: string[]): Promise<CachedExplanation[]> {
  return eventually(async () => {
    const found = await cache.getMany(userId, productIds);
    return found.every((f) => f) ? (found as CachedExplanation[]) : undefined;
  });
}

const chatRequests = () => fake.requestsTo('/chat/completions');

beforeAll(async () => {
  redis = connectTestRedis();
  fake = await FakeOpenAiServer.start();
});

afterAll(async () => {
  await fake.close();
  redis.disconnect();
});

beforeEach(async () => {
  await resetRedis(redis);
  fake.reset();
  config = loadConfig({
    ...process.env,
    LLM_API_KEY: KEY,
    LLM_BASE_URL: fake.baseUrl,
    LLM_HTTP_RETRIES: '2',
  });
  cache = new ExplanationCacheRepository(redis, config);
  queue = createQueue<RecommendationEvent>(QueueNames.Explanations, config);
  app = await NestFactory.createApplicationContext(ExplanationModule.forRoot(config), { logger: false });
});

afterEach(async () => {
  await app?.close();
  await queue.close();
});

describe('the explanation service with an OpenAI-compatible chat model', () => {
  it('sends a prompt with the purchases and the product, and caches the sentence as the LLM source', async () => {
    fake.onChat(() => ({ body: chatCompletion('It matches the red retrospot pieces you already love.') }));
    await publish(event('17850', ['22632']), 'e1');
    const [explanation] = await explanations('17850', ['22632']);
    expect(explanation).toEqual({
      text: 'It matches the red retrospot pieces you already love.',
      source: 'llm',
      status: 'ready',
    });
    const [request] = chatRequests();
    expect(request!.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = request!.body as {
      model: string;
      messages: { content: string }[];
      reasoning_effort: string;
    };
    expect(body.model).toBe('openai/gpt-oss-120b');
    expect(body.reasoning_effort).toBe('low');
    const prompt = body.messages.at(-1)!.content;
    // The purchases closest to the product come first (the event lists them most bought first).
    const lines = prompt.split('\n').filter((line) => line.startsWith('- '));
    expect(lines).toHaveLength(3);
    expect(lines.slice(0, 2).sort()).toEqual(['- HAND WARMER RED RETROSPOT', '- RED RETROSPOT LUNCH BAG']);
    expect(lines[2]).toBe('- BAKING SET 9 PIECE');
    expect(prompt).toContain('Recommended product: PRODUCT 22632 RED RETROSPOT');
    expect(prompt).toContain('Do not mention technical terms like "algorithm" or "model"');
  });

  it('never asks again for a cached sentence', async () => {
    await publish(event('17850', ['A', 'B']), 'e1');
    await explanations('17850', ['A', 'B']);
    expect(chatRequests()).toHaveLength(2);
    await publish(event('17850', ['A', 'B', 'C']), 'e2');
    await explanations('17850', ['C']);
    await eventually(async () => (await queue.getJobCountByTypes('completed')) === 2);
    expect(chatRequests()).toHaveLength(3); // only C was new
  });

  it('makes one call for concurrent requests of the same sentence', async () => {
    fake.onChat(() => ({
      delayMs: 300,
      body: chatCompletion('A lovely companion to your red retrospot set.'),
    }));
    await Promise.all([
      publish(event('12583', ['X']), 'e1'),
      publish(event('12583', ['X']), 'e2'),
      publish(event('12583', ['X', 'Y']), 'e3'),
    ]);
    await explanations('12583', ['X', 'Y']);
    await eventually(async () => (await queue.getJobCountByTypes('completed')) === 3);
    expect(
      chatRequests()
        .map((r) => JSON.stringify(r.body))
        .filter((b) => b.includes('PRODUCT X')),
    ).toHaveLength(1);
  });

  it('retries a 429 and keeps the answer', async () => {
    fake.enqueue(apiError(429, 'slow down', { 'retry-after-ms': '200' }));
    fake.onChat(() => ({ body: chatCompletion('It brightens the kitchen you have been decorating.') }));
    await publish(event('17850', ['P1']), 'e1');
    const [explanation] = await explanations('17850', ['P1']);
    expect(explanation).toMatchObject({ source: 'llm', status: 'ready' });
    expect(chatRequests()).toHaveLength(2);
  });

  it('stores the template sentence, marked as such, after repeated 500s', async () => {
    fake.onChat(() => apiError(500, 'overloaded'));
    await publish(event('17850', ['P1']), 'e1');
    const [explanation] = await explanations('17850', ['P1']);
    expect(explanation).toEqual({
      text: expect.stringMatching(
        /^Pairs well with the (Hand Warmer Red Retrospot|Red Retrospot Lunch Bag) and the (Hand Warmer Red Retrospot|Red Retrospot Lunch Bag) you bought\.$/,
      ),
      source: 'template',
      status: 'failed',
    });
    expect(chatRequests()).toHaveLength(3); // 1 + LLM_HTTP_RETRIES
  });

  it.each([
    [
      'markdown',
      '## Why?\n**It matches** your *red retrospot* bags.',
      'llm',
      'It matches your red retrospot bags.',
    ],
    ['HTML', '<div>It <em>suits</em> your tea set.</div>', 'llm', 'It suits your tea set.'],
    [
      'a script tag',
      '<script>fetch("/steal")</script>It suits your tea set.',
      'llm',
      'It suits your tea set.',
    ],
    [
      'a link',
      'It suits your tea set, see [here](http://x.example).',
      'llm',
      'It suits your tea set, see here.',
    ],
    ['5,000 characters', `It ${'very '.repeat(1_000)}suits you.`, 'llm', undefined],
    ['nothing', null, 'template', /^Pairs well with the .*Retrospot.* and the .*Retrospot.* you bought\.$/],
    [
      'an empty string',
      '',
      'template',
      /^Pairs well with the .*Retrospot.* and the .*Retrospot.* you bought\.$/,
    ],
  ])(
    'turns an answer with %s into one clean sentence or the template',
    async (_label, answer, source, text) => {
      fake.onChat(() => ({ body: chatCompletion(answer) }));
      await publish(event('17850', ['P1']), 'e1');
      const [explanation] = await explanations('17850', ['P1']);
      expect(explanation!.source).toBe(source);
      expect(explanation!.status).toBe('ready');
      if (typeof text === 'string') expect(explanation!.text).toBe(text);
      else if (text) expect(explanation!.text).toMatch(text);
      expect(explanation!.text.length).toBeLessThanOrEqual(220);
      expect(explanation!.text).not.toMatch(/[<>\n*#`]|https?:/);
    },
  );
});
