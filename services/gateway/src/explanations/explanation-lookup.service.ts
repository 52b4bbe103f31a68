import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  EXPLANATION_REQUEST_NAME,
  ExplanationCacheRepository,
  OutageLog,
  QueueNames,
  explanationRequestId,
  explanationRequestOptions,
  withDeadline,
  type AppConfig,
  type CachedExplanation,
  type ExplanationJob,
  type RedisClient,
  type ServiceMetrics,
} from '@retail/common';
import { APP_CONFIG, METRICS, REDIS } from '@retail/common/nest';
import { QueuesService } from '../queues/queues.service.js';

import type { Explanation } from '@retail/contracts';

/** One product's explanation as every answer carries it. */
export type ExplanationView = Explanation;

/** How long the writer's namespace is trusted before it is read again. */
const NAMESPACE_TTL_MS = 2_000;
/** Repeated polls for the same sentences queue one request in this span (BullMQ deduplicates the rest). */
const REQUEST_REPEAT_MS = 1_000;
/** Requests still waiting for Redis (while it is away) beyond which new ones are not queued. */
const MAX_REQUESTS_IN_FLIGHT = 200;

/**
 * The gateway's side of the explanations: reads the sentences the explanation service wrote (under the
 * namespace it announced, whatever this process's own LLM settings), and when a person is waiting for
 * sentences not written yet, queues them in `explanations-interactive`, ahead of every background event.
 * A sentence still not written twice EXPLANATION_WAIT_MS after a person first asked (the explanation
 * service is down or swamped) is answered as `failed` without text instead of `pending` for ever.
 */
@Injectable()
export class ExplanationLookupService {
  private readonly logger = new Logger(ExplanationLookupService.name);
  private readonly cache: ExplanationCacheRepository;
  private readonly giveUpMs: number;
  private namespace: { value: string | undefined; readAt: number } = { value: undefined, readAt: 0 };
  private readonly recentRequests = new Map<string, number>();
  private requestsInFlight = 0;
  private readonly requests = new OutageLog('queueing explanation requests', this.logger);

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(REDIS) redis: RedisClient,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
    private readonly queues: QueuesService,
  ) {
    this.cache = new ExplanationCacheRepository(redis, config);
    this.giveUpMs = 2 * config.explanations.waitMs;
  }

  /**
   * The explanations of `productIds` for `userId`, `pending` where none is written yet (or Redis cannot
   * be read). With `waiting`, a person is waiting for them: the missing ones are asked for at once.
   */
  async lookup(userId: string, productIds: string[], waiting: boolean): Promise<ExplanationView[]> {
    let namespace: string | undefined;
    let cached: (CachedExplanation | undefined)[];
    try {
      namespace = await this.writerNamespace();
      cached = namespace
        ? await this.cache.getMany(namespace, userId, productIds)
        : productIds.map(() => undefined);
    } catch {
      // recommendations still answer while Redis is away
      return productIds.map(pendingView);
    }
    const hits = cached.filter(Boolean).length;
    this.metrics.cacheLookups.inc({ result: 'hit' }, hits);
    this.metrics.cacheLookups.inc({ result: 'miss' }, cached.length - hits);
    const views = productIds.map((product_id, i): ExplanationView => {
      const hit = cached[i];
      return hit
        ? {
            product_id,
            explanation_status: hit.status,
            explanation: hit.text,
            explanation_source: hit.source,
          }
        : pendingView(product_id);
    });
    const pending = productIds.filter((_, i) => !cached[i]);
    if (!waiting || pending.length === 0) return views;

    let askedAt: number[] = pending.map(() => Date.now());
    try {
      askedAt = await this.cache.markWanted(namespace ?? 'none', userId, pending, 3 * this.giveUpMs);
    } catch {
      // nothing remembered: they stay pending
    }
    this.requestNow(userId, pending, Math.min(...askedAt));
    const now = Date.now();
    const overdue = new Set(pending.filter((_, i) => now - askedAt[i]! > this.giveUpMs));
    if (overdue.size === 0) return views;
    return views.map((view) =>
      overdue.has(view.product_id) ? { ...view, explanation_status: 'failed' } : view,
    );
  }

  /** Queues the sentences a person waits for (not awaited: the answer never waits for the queue). */
  private requestNow(userId: string, productIds: string[], askedAt: number): void {
    const id = explanationRequestId(userId, productIds);
    const now = Date.now();
    if ((this.recentRequests.get(id) ?? 0) > now - REQUEST_REPEAT_MS) return;
    if (this.requestsInFlight >= MAX_REQUESTS_IN_FLIGHT) return; // Redis is away: they stay pending
    this.recentRequests.set(id, now);
    this.requestsInFlight++;
    if (this.recentRequests.size > 10_000) this.forgetOldRequests(now);
    const job: ExplanationJob = {
      user_id: userId,
      product_ids: productIds,
      created_at: new Date(askedAt).toISOString(),
    };
    this.queues
      .get(QueueNames.ExplanationsInteractive)
      .add(EXPLANATION_REQUEST_NAME, job, { ...explanationRequestOptions(), jobId: id })
      .then(
        () => this.requests.ok(),
        (error: unknown) => {
          this.recentRequests.delete(id);
          this.requests.failed(error);
        },
      )
      .finally(() => this.requestsInFlight--);
  }

  private forgetOldRequests(now: number): void {
    for (const [id, at] of this.recentRequests) {
      if (at <= now - REQUEST_REPEAT_MS) this.recentRequests.delete(id);
    }
  }

  /** Forgets every sentence of an erased customer (fails after `deadlineMs` when Redis does not answer). */
  forget(userId: string, deadlineMs = 5_000): Promise<number> {
    return withDeadline(this.cache.forgetUser(userId), deadlineMs, 'Redis');
  }

  /** The namespace the running explanation service writes under (read at most every 2 s). */
  private async writerNamespace(): Promise<string | undefined> {
    const now = Date.now();
    if (this.namespace.value && now - this.namespace.readAt < NAMESPACE_TTL_MS) return this.namespace.value;
    const value = await this.cache.activeWriter();
    this.namespace = { value, readAt: now };
    return value;
  }
}

function pendingView(product_id: string): ExplanationView {
  return { product_id, explanation_status: 'pending', explanation: null, explanation_source: null };
}
