import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import {
  OutageLog,
  QueueNames,
  RECOMMENDATION_EVENT_NAME,
  createQueue,
  recommendationEventId,
  recommendationEventOptions,
  withDeadline,
  type AppConfig,
  type ExplanationJob,
} from '@retail/common';
import type { RankedProduct } from '@retail/contracts';
import { APP_CONFIG } from '@retail/common/nest';

/** Event ids remembered as published, to skip Redis for repeats (a bounded, insertion-ordered set). */
const REMEMBERED_EVENTS = 50_000;
/** Answers are gathered this long, then published together (one Redis round trip). */
const BATCH_MS = 20;
const MAX_BATCH = 500;
/** A publication that Redis does not acknowledge in this time counts as failed (it may still land later). */
const PUBLISH_DEADLINE_MS = 2_000;
/** Publications still waiting for Redis beyond which new batches are not even tried. */
const MAX_FLUSHING = 20;

interface PendingEvent {
  id: string;
  event: ExplanationJob;
}

/**
 * Publishes a durable recommendation event (BullMQ queue `explanations`, background work) for each
 * answer, after the answer has gone: the user and the products shown. Events are gathered for BATCH_MS
 * and published together, so that a burst of answers costs one Redis round trip. Repeats
 * (same user, products and purchases) have the same job id and are not queued again; those already
 * published by this process are not even sent to Redis. An event that cannot be published (Redis down)
 * is not remembered: the next identical answer publishes it again.
 */
@Injectable()
export class RecommendationEventsPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(RecommendationEventsPublisher.name);
  private readonly queue: Queue<ExplanationJob>;
  private readonly published = new Set<string>();
  private readonly pending = new Map<string, PendingEvent>();
  private readonly flushing = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly outage = new OutageLog(
    'Redis (recommendation events: answers are not explained until it is back)',
    this.logger,
  );

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.queue = createQueue<ExplanationJob>(QueueNames.Explanations, config, this.outage);
  }

  /** Schedules the event of an answer ranked by `model`; returns at once. */
  publishSoon(userId: number, model: string, purchases: string, products: RankedProduct[]): void {
    const productIds = products.map((p) => p.product_id);
    const id = recommendationEventId(model, String(userId), productIds, purchases);
    if (this.published.has(id) || this.pending.has(id)) return;
    this.pending.set(id, {
      id,
      event: {
        model,
        user_id: String(userId),
        product_ids: productIds,
        created_at: new Date().toISOString(),
      },
    });
    if (this.pending.size >= MAX_BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  /** Publishes what is pending and waits for every publication in progress (tests, shutdown). */
  async settle(): Promise<void> {
    this.flush();
    await Promise.all(this.flushing);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settle();
    await withDeadline(this.queue.close(), PUBLISH_DEADLINE_MS, 'Redis').catch(() => undefined);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    if (this.flushing.size >= MAX_FLUSHING) return; // Redis is away: the next identical answers try again
    const work = withDeadline(this.publish(batch), PUBLISH_DEADLINE_MS, 'Redis')
      .then(
        () => this.outage.ok(),
        (error: unknown) => this.outage.failed(error),
      )
      .finally(() => this.flushing.delete(work));
    this.flushing.add(work);
  }

  private async publish(batch: PendingEvent[]): Promise<void> {
    await this.queue.addBulk(
      batch.map(({ id, event }) => ({
        name: RECOMMENDATION_EVENT_NAME,
        data: event,
        opts: { ...recommendationEventOptions(), jobId: id },
      })),
    );
    for (const event of batch) this.remember(event.id);
  }

  private remember(id: string): void {
    this.published.add(id);
    if (this.published.size > REMEMBERED_EVENTS) {
      const oldest = this.published.values().next().value;
      if (oldest !== undefined) this.published.delete(oldest);
    }
  }
}
