import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import {
  MAX_EVENT_PURCHASES,
  QueueNames,
  RECOMMENDATION_EVENT_NAME,
  createQueue,
  recommendationEventId,
  recommendationEventOptions,
  type AppConfig,
  type RecommendationEvent,
  type RecommendedProduct,
} from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { RecommendationsRepository } from './recommendations.repository.js';

/** Event ids remembered as published, to skip Redis for repeats (a bounded, insertion-ordered set). */
const REMEMBERED_EVENTS = 50_000;

/**
 * Publishes a durable recommendation event (BullMQ queue `explanations`) for each answer, after the
 * answer has gone: the products shown and what the user bought. Repeats (same user, products and
 * purchases) have the same job id and are not queued again; those already published by this process are
 * not even sent to Redis.
 */
@Injectable()
export class RecommendationEventsPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(RecommendationEventsPublisher.name);
  private readonly queue: Queue<RecommendationEvent>;
  private readonly published = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly model: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: RecommendationsRepository,
  ) {
    this.model = config.embedding.model;
    this.queue = createQueue<RecommendationEvent>(QueueNames.Explanations, config);
  }

  /** Starts publishing in the background; failures are logged, and the next request tries again. */
  publishSoon(userId: number, purchasesHash: string, products: RecommendedProduct[]): void {
    const id = recommendationEventId(
      this.model,
      String(userId),
      products.map((p) => p.product_id),
      purchasesHash,
    );
    if (this.published.has(id) || this.inFlight.has(id)) return;
    const work = this.publish(id, userId, products)
      .then(() => this.remember(id))
      .catch((error: unknown) =>
        this.logger.warn(
          `recommendation event for user ${userId} not queued yet: ${(error as Error).message}`,
        ),
      )
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, work);
  }

  /** Waits for the events being published (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight.values());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settle();
    await this.queue.close();
  }

  private async publish(id: string, userId: number, products: RecommendedProduct[]): Promise<void> {
    const event: RecommendationEvent = {
      model: this.model,
      user_id: String(userId),
      products: products.map(({ product_id, description }) => ({ product_id, description })),
      purchases: await this.repository.purchaseContext(userId, MAX_EVENT_PURCHASES),
      created_at: new Date().toISOString(),
    };
    await this.queue.add(RECOMMENDATION_EVENT_NAME, event, { ...recommendationEventOptions(), jobId: id });
  }

  private remember(id: string): void {
    this.published.add(id);
    if (this.published.size > REMEMBERED_EVENTS) {
      const oldest = this.published.values().next().value;
      if (oldest !== undefined) this.published.delete(oldest);
    }
  }
}
