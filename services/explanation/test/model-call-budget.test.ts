import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis, loadConfig, type RedisClient } from '@retail/common';
import {
  TEST_QUEUE_PREFIX,
  TEST_REDIS_URL,
  closeTestStores,
  connectTestRedis,
  eventually,
  openTestStores,
  recordLogs,
  resetRedis,
} from '@retail/testing';
import {
  ModelCallBudget,
  ModelCallBudgetRepository,
  ModelCallBudgetUnavailableError,
  sharedBudgetSettings,
  type ExplanationLane,
  type ModelCallPermits,
} from '../src/writers/index.js';

/** One call let through by a budget: which lane, and which of the processes asked. */
interface Started {
  lane: ExplanationLane;
  process: number;
}

/**
 * Several explanation processes as far as the budget can tell: one ModelCallBudget each, each on its own
 * Redis connection, all under one prefix of the tests' Redis database.
 */
class Deployment {
  readonly started: Started[] = [];
  readonly budgets: ModelCallBudget[] = [];
  readonly repositories: ModelCallBudgetRepository[] = [];
  private readonly clients: RedisClient[] = [];
  private readonly pending: Promise<unknown>[] = [];
  private readonly stop = new AbortController();
  /** Every connection answering (a process starts its work once connected). */
  readonly ready: Promise<unknown>[] = [];

  constructor(processes: number, env: Record<string, string>, windowSeconds?: number) {
    const config = loadConfig({
      ...process.env,
      QUEUE_PREFIX: `${TEST_QUEUE_PREFIX}-${++deployments}`,
      ...env,
    });
    for (let i = 0; i < processes; i++) {
      const client = connectTestRedis();
      this.ready.push(client.ping());
      const repository = new ModelCallBudgetRepository(client, {
        ...sharedBudgetSettings(config),
        windowSeconds,
      });
      this.clients.push(client);
      this.repositories.push(repository);
      this.budgets.push(new ModelCallBudget(config.llm, repository));
    }
  }

  /** `count` calls of `lane` from process `process`, each recorded when the budget lets it start. */
  async connected(): Promise<this> {
    await Promise.all(this.ready);
    return this;
  }

  ask(process: number, lane: ExplanationLane, count: number): void {
    for (let i = 0; i < count; i++) {
      const call = this.budgets[process]!.run(
        lane,
        () => Promise.resolve(void this.started.push({ lane, process })),
        this.stop.signal,
      );
      this.pending.push(call.catch((error: unknown) => (this.stop.signal.aborted ? undefined : error)));
    }
  }

  count(lane?: ExplanationLane): number {
    return this.started.filter((s) => lane === undefined || s.lane === lane).length;
  }

  /** Ends the calls still waiting; resolves with the errors of calls that failed otherwise. */
  async close(): Promise<unknown[]> {
    this.stop.abort();
    const errors = (await Promise.all(this.pending)).filter((e) => e !== undefined);
    for (const client of this.clients) client.disconnect();
    return errors;
  }
}

let deployments = 0;
let redis: RedisClient;
let deployment: Deployment | undefined;

/** A count once it has not moved for `quietMs`: every call that could start has started. */
async function settled(read: () => number, quietMs = 750): Promise<number> {
  let last = read();
  let since = Date.now();
  for (;;) {
    await sleep(50);
    const now = read();
    if (now !== last) [last, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return now;
  }
}

beforeAll(async () => {
  ({ redis } = await openTestStores({ empty: false }));
  await resetRedis(redis); // the windows of an earlier run last a minute
});

afterAll(async () => {
  await closeTestStores({ redis });
});

afterEach(async () => {
  const errors = await deployment?.close();
  deployment = undefined;
  expect(errors ?? []).toEqual([]);
});

describe('the model-call budget shared by the explanation processes of a deployment', () => {
  it('lets three processes start no more than LLM_REQUESTS_PER_MINUTE calls between them', async () => {
    deployment = await new Deployment(3, { LLM_REQUESTS_PER_MINUTE: '10', LLM_CONCURRENCY: '4' }).connected();
    for (let p = 0; p < 3; p++) deployment.ask(p, 'interactive', 15);
    // With a budget each, every process would have let 10 of its 15 through; here the rest wait.
    expect(await settled(() => deployment!.count())).toBe(10);
  });

  it('holds the background budget across processes, as a part of the shared one', async () => {
    deployment = await new Deployment(3, {
      LLM_REQUESTS_PER_MINUTE: '10',
      EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE: '3',
      LLM_CONCURRENCY: '4',
    }).connected();
    for (let p = 0; p < 3; p++) deployment.ask(p, 'background', 6);
    expect(await settled(() => deployment!.count('background'))).toBe(3);
    for (let p = 0; p < 3; p++) deployment.ask(p, 'interactive', 4);
    expect(await settled(() => deployment!.count('interactive'))).toBe(7);
    expect(deployment.count('background')).toBe(3);
  });

  it('never lets background work take the reserve left for shoppers', async () => {
    // 10 calls, 6 of them for background work at most, a reserve of LLM_CONCURRENCY = 4 calls: background
    // work stops once 6 calls of the window are taken, whoever took them.
    deployment = await new Deployment(3, {
      LLM_REQUESTS_PER_MINUTE: '10',
      EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE: '6',
      LLM_CONCURRENCY: '4',
    }).connected();
    deployment.ask(0, 'interactive', 3);
    expect(await settled(() => deployment!.count())).toBe(3);
    deployment.ask(1, 'background', 10);
    expect(await settled(() => deployment!.count('background'))).toBe(3);
    deployment.ask(2, 'interactive', 4);
    expect(await settled(() => deployment!.count('interactive'))).toBe(7);
    expect(deployment.count('background')).toBe(3);
  });

  it.each([
    ['another process', 1],
    ['the same process', 2],
  ])(
    'gives the next window to shoppers waiting in any process before a background backlog in %s',
    async (_label, backlogProcess) => {
      // Windows of 2 s, 4 calls each, background work allowed all of them (no reserve).
      deployment = await new Deployment(
        3,
        {
          LLM_REQUESTS_PER_MINUTE: '4',
          EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE: '4',
          LLM_CONCURRENCY: '4',
        },
        2,
      ).connected();
      deployment.ask(0, 'interactive', 4);
      expect(await settled(() => deployment!.count(), 200)).toBe(4);
      // The window is spent: a backlog waits in one process, then shoppers in process 2.
      deployment.ask(backlogProcess, 'background', 10);
      await sleep(100);
      deployment.ask(2, 'interactive', 4);
      // The next window goes to the shoppers, then background work goes on in the window after.
      await eventually(() => Promise.resolve(deployment!.count('background') > 0), 15_000, 20);
      expect(deployment.started.slice(4, 8)).toEqual(Array(4).fill({ lane: 'interactive', process: 2 }));
      expect(deployment.started.slice(8).every((s) => s.lane === 'background')).toBe(true);
    },
  );

  it('keeps background work out of the first second of a window that shoppers were refused before', async () => {
    deployment = await new Deployment(
      3,
      { LLM_REQUESTS_PER_MINUTE: '2', EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE: '2', LLM_CONCURRENCY: '1' },
      2,
    ).connected();
    const [shop, backlog, other] = deployment.repositories as [
      ModelCallBudgetRepository,
      ModelCallBudgetRepository,
      ModelCallBudgetRepository,
    ];
    expect(await shop.takeInteractive()).toEqual({ granted: true });
    expect(await backlog.takeBackground()).toEqual({ granted: true });
    const refused = await shop.takeInteractive();
    expect(refused).toMatchObject({ granted: false, reason: 'spent' });
    await sleep((refused as { retryInMs: number }).retryInMs + 50); // the next window
    expect(await backlog.takeBackground()).toMatchObject({ granted: false, reason: 'shoppers-waiting' });
    expect(await other.takeInteractive()).toEqual({ granted: true });
    await eventually(async () => (await backlog.takeBackground()).granted, 5_000, 50);
  });

  it('lets waiting calls start when a new window begins, in every process', async () => {
    deployment = await new Deployment(
      3,
      { LLM_REQUESTS_PER_MINUTE: '3', LLM_CONCURRENCY: '4' },
      1,
    ).connected();
    for (let p = 0; p < 3; p++) deployment.ask(p, 'interactive', 3);
    await eventually(() => Promise.resolve(deployment!.count() === 9), 20_000, 20);
    expect(new Set(deployment.started.map((s) => s.process))).toEqual(new Set([0, 1, 2]));
  });
});

describe('the model-call budget without Redis', () => {
  /** The budget's permits, counting how often they were asked for. */
  const counted = (permits: ModelCallPermits) => {
    const asked = { times: 0 };
    const wrapped: ModelCallPermits = {
      takeInteractive: () => (asked.times++, permits.takeInteractive()),
      takeBackground: () => (asked.times++, permits.takeBackground()),
    };
    return { asked, wrapped };
  };
  const settings = () =>
    sharedBudgetSettings(
      loadConfig({
        ...process.env,
        QUEUE_PREFIX: `${TEST_QUEUE_PREFIX}-${++deployments}`,
        LLM_CONCURRENCY: '4',
      }),
    );

  it('makes no call, asks again about once a second, and fails the call after its deadline', async () => {
    const away = createRedis('redis://127.0.0.1:1/0', { maxRetriesPerRequest: 0 });
    away.on('error', () => undefined);
    try {
      const { asked, wrapped } = counted(new ModelCallBudgetRepository(away, settings()));
      const log = recordLogs();
      const budget = new ModelCallBudget({ concurrency: 4 }, wrapped, {
        logger: log,
        unreachableWaitMs: 2_500,
      });
      let made = 0;
      const outcomes = await Promise.allSettled(
        (['interactive', 'background', 'interactive'] as const).map((lane) =>
          budget.run(lane, () => Promise.resolve(made++)),
        ),
      );
      expect(made).toBe(0);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(ModelCallBudgetUnavailableError);
        expect(String((outcome as PromiseRejectedResult).reason)).toMatch(
          /model-call budget \(Redis\) could not be reached for \d+ s, so the model was not called/,
        );
      }
      // Three calls waiting about 3 s, each asking about once a second: no spinning.
      expect(asked.times).toBeGreaterThanOrEqual(3);
      expect(asked.times).toBeLessThanOrEqual(15);
      expect(log.entries).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: expect.stringMatching(/^Redis \(the shared model-call budget\) is unavailable/),
        }),
      ]);
    } finally {
      away.disconnect();
    }
  });

  it('waits while Redis is away and calls the model once it is back', async () => {
    const client = createRedis(TEST_REDIS_URL);
    try {
      await client.ping();
      const { asked, wrapped } = counted(new ModelCallBudgetRepository(client, settings()));
      const log = recordLogs();
      const budget = new ModelCallBudget({ concurrency: 4 }, wrapped, { logger: log });
      client.disconnect();
      let made = 0;
      const call = budget.run('interactive', () => Promise.resolve(++made));
      await eventually(() => Promise.resolve(asked.times >= 2), 10_000, 20);
      expect(made).toBe(0);
      await client.connect();
      expect(await call).toBe(1);
      expect(log.entries).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: expect.stringMatching(/^Redis \(the shared model-call budget\) is unavailable/),
        }),
        expect.objectContaining({
          level: 'log',
          message: expect.stringMatching(/^Redis \(the shared model-call budget\) is back after/),
        }),
      ]);
    } finally {
      client.disconnect();
    }
  });
});
