import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import {
  QueueNames,
  createQueue,
  type Database,
  type ExplanationJob,
  type RedisClient,
} from '@retail/common';
import {
  closeTestStores,
  eventually,
  FakeOpenAiServer,
  openTestStores,
  resetRedis,
  startProcess,
  stop,
  type RunningProcess,
} from '@retail/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

/** A shopper waits this long for the model before the template stands in; the gateway gives up after twice. */
const WAIT_MS = 1_000;

let db: Database;
let redis: RedisClient;
let fake: FakeOpenAiServer;
let stack: TestStack;
let explanation: RunningProcess | undefined;
let events: Queue<ExplanationJob>;
let requests: Queue<ExplanationJob>;

interface Explained {
  product_id: string;
  explanation_status: string;
  explanation: string | null;
  explanation_source: string | null;
}

async function startExplanation(env: Record<string, string> = {}): Promise<void> {
  explanation = startProcess('services/explanation/dist/main.js', [], {
    EXPLANATION_WAIT_MS: String(WAIT_MS),
    ...env,
  });
  await explanation.waitFor(/consuming "explanations-interactive"/);
}

async function stopExplanation(): Promise<void> {
  await stop(explanation);
  explanation = undefined;
}

/** Polls as the page does until no sentence is pending, and returns the last answer. */
async function pollUntilAnswered(user: string, ids: string[]): Promise<Explained[]> {
  return eventually(async () => {
    const { body } = await stack.get(
      `/api/users/${user}/recommendations/explanations?product_ids=${ids.join(',')}`,
    );
    const explained = body.explanations as Explained[];
    return explained.every((e) => e.explanation_status !== 'pending') ? explained : undefined;
  });
}

const idsOf = (body: { recommendations: { product_id: string }[] }) =>
  body.recommendations.map((r) => r.product_id);

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  fake = await FakeOpenAiServer.start();
  await loadCatalog('small.csv');
  // The gateway runs with the tests' environment: no LLM settings at all.
  stack = await startStack({ EXPLANATION_WAIT_MS: String(WAIT_MS) });
  events = createQueue<ExplanationJob>(QueueNames.Explanations, stack.config);
  requests = createQueue<ExplanationJob>(QueueNames.ExplanationsInteractive, stack.config);
});

afterAll(async () => {
  await stopExplanation();
  await events?.close();
  await requests?.close();
  await stack?.close();
  await fake.close();
  await closeTestStores({ db, redis });
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
    // The events wait, durable, in the background queue; nobody asked for them now.
    await eventually(async () => (await events.getJobCountByTypes('waiting')) === users.length);
    expect(await requests.getJobCountByTypes('waiting', 'active', 'completed')).toBe(0);

    await startExplanation();
    for (const user of users) {
      const ids = idsOf((await stack.get(`/api/users/${user}/recommendations`)).body);
      const answered = await pollUntilAnswered(user, ids);
      for (const e of answered) {
        expect(e.explanation_status).toBe('ready');
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

  it('queues what a person waits for in the interactive queue: explanations=now, and every poll of pending sentences', async () => {
    await stopExplanation();
    await resetRedis(redis);
    const { status, body } = await stack.get('/api/users/12583/recommendations?top_n=2&explanations=now');
    expect(status).toBe(200);
    const ids = idsOf(body);
    const [request] = await eventually(async () => {
      const found = await requests.getJobs(['waiting']);
      return found.length > 0 ? found : undefined;
    });
    expect(request!.data).toEqual({
      user_id: '12583',
      product_ids: ids,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    // Polling the same sentences again is the same request: queued once.
    await stack.get(`/api/users/12583/recommendations/explanations?product_ids=${ids.join(',')}`);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await stack.get(`/api/users/12583/recommendations/explanations?product_ids=${ids.join(',')}`);
    expect(await requests.getJobCountByTypes('waiting')).toBe(1);

    const bad = await stack.get('/api/users/12583/recommendations?explanations=soon');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('explanations must be `now` or `background`');
  });

  it('answers `failed` without text, instead of pending for ever, when no writer answers for a while', async () => {
    const ids = ['22632', '21754'];
    const path = `/api/users/17850/recommendations/explanations?product_ids=${ids.join(',')}`;
    const first = (await stack.get(path)).body.explanations as Explained[];
    expect(first.map((e) => e.explanation_status)).toEqual(['pending', 'pending']);
    const given = await eventually(async () => {
      const now = (await stack.get(path)).body.explanations as Explained[];
      return now.every((e) => e.explanation_status === 'failed') ? now : undefined;
    });
    expect(given).toEqual(
      ids.map((product_id) => ({
        product_id,
        explanation_status: 'failed',
        explanation: null,
        explanation_source: null,
      })),
    );
  });

  it('shows the sentences of an explanation service with an LLM to a gateway that has no LLM settings', async () => {
    await stopExplanation();
    await resetRedis(redis);
    await startExplanation({ LLM_API_KEY: 'sk-explanation-only', LLM_BASE_URL: fake.baseUrl });
    expect(stack.config.llm.provider).toBe('template'); // the gateway's own settings

    const { body } = await stack.get('/api/users/13047/recommendations?explanations=now');
    const answered = await pollUntilAnswered('13047', idsOf(body));
    for (const e of answered) {
      expect(e).toMatchObject({ explanation_status: 'ready', explanation_source: 'llm' });
      expect(e.explanation).toMatch(/^The .+ goes well with the things you already love\.$/);
    }
    expect(fake.requestsTo('/chat/completions')).toHaveLength(answered.length);
  });
});
