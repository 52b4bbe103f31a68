import PQueue from 'p-queue';
import type { ExplanationsConfig, LlmConfig } from '@retail/common';
import type { ExplanationLane } from './explanation-writer.js';

const MINUTE = 60_000;

/**
 * The chat model's budget in this process (p-queue): at most LLM_CONCURRENCY calls in flight and
 * LLM_REQUESTS_PER_MINUTE started in any minute, shared by both lanes, and interactive calls (a person
 * waiting) always take the next free slot before background ones. Background calls first pass a budget of
 * their own: EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE, and at most a quarter of the concurrency, so
 * that a backlog never holds the slots a shopper needs.
 */
export class ModelCallBudget {
  private readonly shared: PQueue;
  private readonly background: PQueue;

  constructor(llm: Pick<LlmConfig, 'concurrency' | 'requestsPerMinute'>, explanations: ExplanationsConfig) {
    this.shared = new PQueue({
      concurrency: llm.concurrency,
      intervalCap: llm.requestsPerMinute,
      interval: MINUTE,
      strict: true,
    });
    this.background = new PQueue({
      concurrency: Math.max(1, Math.floor(llm.concurrency / 4)),
      intervalCap: Math.max(1, explanations.backgroundRequestsPerMinute),
      interval: MINUTE,
      strict: true,
    });
  }

  /** Runs one model call in `lane`'s turn (a call still waiting is dropped when `signal` aborts). */
  run<T>(lane: ExplanationLane, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (lane === 'interactive') return this.shared.add(call, { priority: 1, signal });
    return this.background.add(() => this.shared.add(call, { priority: 0, signal }), { signal });
  }
}
