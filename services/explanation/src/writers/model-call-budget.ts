import PQueue from 'p-queue';
import { setTimeout as sleep } from 'node:timers/promises';
import { OutageLog, type AppConfig, type LlmConfig, type OutageLogger } from '@retail/common';
import type { ExplanationLane } from './explanation-writer.js';
import type { BudgetTake, SharedBudgetSettings } from './model-call-budget.repository.js';

/** Where the permits of the deployment's budget come from (ModelCallBudgetRepository, in Redis). */
export interface ModelCallPermits {
  takeInteractive(): Promise<BudgetTake>;
  takeBackground(): Promise<BudgetTake>;
}

export interface ModelCallBudgetOptions {
  /** Where it is said, once each, that the shared budget cannot be reached and that it can again. */
  logger?: OutageLogger;
  /** How long one call waits for an unreachable Redis before it fails (default UNREACHABLE_WAIT_MS). */
  unreachableWaitMs?: number;
}

/** How long one call waits for the shared budget while Redis cannot be reached, before it fails. */
export const UNREACHABLE_WAIT_MS = 30_000;
/** How often a waiting call asks an unreachable Redis again. */
const UNREACHABLE_RETRY_MS = 1_000;

/** The deployment's budget as the configuration sets it (see ModelCallBudget for the reserve). */
export function sharedBudgetSettings(
  config: Pick<AppConfig, 'queuePrefix' | 'llm' | 'explanations'>,
): SharedBudgetSettings {
  const all = config.llm.requestsPerMinute;
  const background = config.explanations.backgroundRequestsPerMinute;
  return {
    queuePrefix: config.queuePrefix,
    requestsPerWindow: all,
    backgroundPerWindow: background,
    interactiveReserve: Math.min(config.llm.concurrency, all - background),
  };
}

type Turn<T> = { value: T } | { closed: true };

/** Raised when a call could not be counted in the shared budget for UNREACHABLE_WAIT_MS: it was not made. */
export class ModelCallBudgetUnavailableError extends Error {
  constructor(waitedMs: number, cause: unknown) {
    super(
      `the shared model-call budget (Redis) could not be reached for ${Math.round(waitedMs / 1000)} s, ` +
        `so the model was not called: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'ModelCallBudgetUnavailableError';
  }
}

/**
 * The chat model's budget, for the whole deployment: every explanation process sharing the Redis and the
 * QUEUE_PREFIX draws from one count (ModelCallBudgetRepository).
 * - LLM_REQUESTS_PER_MINUTE calls start per window of a minute, both lanes together; a window starts with the
 *   first call after the last one ended (so at most that many in a minute from any quiet moment, and, as with
 *   a provider's token bucket, at most twice that in the worst 60 s that straddle two busy windows).
 * - Background calls also take from EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE (a part of the shared count,
 *   never more), take nothing while a shopper in any process waits for the next window, and never take the
 *   last calls of a window: a reserve of LLM_CONCURRENCY (one process's shoppers' slots; at most the
 *   shoppers' share, LLM_REQUESTS_PER_MINUTE - the background budget). So a background backlog anywhere
 *   takes at most its budget, and none of it from shoppers who are waiting.
 * - In this process: at most LLM_CONCURRENCY calls in flight (p-queue), interactive calls taking the next
 *   free slot before background ones, and background calls at most a quarter of them. Calls in flight stay
 *   per process: the provider's limit is on calls started, which the shared count holds, and a shared
 *   semaphore would need leases outliving a crashed holder for a call that may last minutes.
 * A call is counted when it takes its slot, just before it starts. When a window is spent, the process
 * remembers it until the window ends, so its waiting calls sleep instead of asking Redis again.
 * When Redis cannot be reached, no call is made: a call counted nowhere could exceed the provider's limit
 * across the processes, and what it wrote could not be stored anyway (the cache, the claims and the queues
 * live in the same Redis). A waiting call asks again every second and, after UNREACHABLE_WAIT_MS, fails with
 * ModelCallBudgetUnavailableError (its job is retried by its queue); the log says once that Redis is away
 * and once that it is back.
 */
export class ModelCallBudget {
  private readonly slots: PQueue;
  private readonly background: PQueue;
  /** Until when asking for a lane's call is known to be useless (its window spent, or Redis away). */
  private readonly closedUntil: Record<ExplanationLane, number> = { interactive: 0, background: 0 };
  private readonly outage: OutageLog | undefined;
  private readonly unreachableWaitMs: number;
  /** Why Redis did not answer the last time it was asked (undefined once it answers). */
  private unreachable: { error: unknown } | undefined;

  constructor(
    llm: Pick<LlmConfig, 'concurrency'>,
    private readonly permits: ModelCallPermits,
    options: ModelCallBudgetOptions = {},
  ) {
    this.slots = new PQueue({ concurrency: llm.concurrency });
    this.background = new PQueue({ concurrency: Math.max(1, Math.floor(llm.concurrency / 4)) });
    this.outage = options.logger
      ? new OutageLog('Redis (the shared model-call budget)', options.logger)
      : undefined;
    this.unreachableWaitMs = options.unreachableWaitMs ?? UNREACHABLE_WAIT_MS;
  }

  /** Runs one model call in `lane`'s turn (a call still waiting is dropped when `signal` aborts). */
  run<T>(lane: ExplanationLane, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (lane === 'interactive') return this.inTurn('interactive', call, signal);
    return this.background.add(() => this.inTurn('background', call, signal), { signal });
  }

  private async inTurn<T>(lane: ExplanationLane, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    /** When this call first found Redis away (directly, or from another call's failure) in this outage. */
    let waitingForRedisSince: number | undefined;
    for (;;) {
      await this.whileClosed(lane, signal);
      const turn = await this.slots.add(
        async (): Promise<Turn<T>> => {
          // Another call may have found the window spent, or Redis away, while this one waited for its slot.
          if (Date.now() < this.closedUntil[lane]) return { closed: true };
          let take: BudgetTake;
          try {
            take =
              lane === 'interactive'
                ? await this.permits.takeInteractive()
                : await this.permits.takeBackground();
          } catch (error) {
            this.unreachable = { error };
            this.outage?.failed(error);
            this.close('interactive', UNREACHABLE_RETRY_MS);
            this.close('background', UNREACHABLE_RETRY_MS);
            return { closed: true };
          }
          this.unreachable = undefined;
          this.outage?.ok();
          if (take.granted) return { value: await call() };
          this.close(lane, take.retryInMs);
          // A window spent for shoppers is spent for background work too.
          if (lane === 'interactive') this.close('background', take.retryInMs);
          return { closed: true };
        },
        { priority: lane === 'interactive' ? 1 : 0, signal },
      );
      if ('value' in turn) return turn.value;
      if (this.unreachable) {
        waitingForRedisSince ??= Date.now();
        const waited = Date.now() - waitingForRedisSince;
        if (waited >= this.unreachableWaitMs) {
          throw new ModelCallBudgetUnavailableError(waited, this.unreachable.error);
        }
      } else {
        waitingForRedisSince = undefined;
      }
    }
  }

  private close(lane: ExplanationLane, ms: number): void {
    this.closedUntil[lane] = Math.max(this.closedUntil[lane], Date.now() + ms);
  }

  private async whileClosed(lane: ExplanationLane, signal: AbortSignal | undefined): Promise<void> {
    for (
      let wait = this.closedUntil[lane] - Date.now();
      wait > 0;
      wait = this.closedUntil[lane] - Date.now()
    ) {
      await sleep(wait, undefined, { signal });
    }
    signal?.throwIfAborted();
  }
}
