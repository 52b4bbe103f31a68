import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Worker } from 'bullmq';
import {
  QueueNames,
  closeWorker,
  createQueueWorker,
  type AppConfig,
  type RecommendationEvent,
  type ServiceMetrics,
} from '@retail/common';
import { APP_CONFIG, METRICS } from '@retail/common/nest';
import { ExplanationService, type EventResult } from './explanation.service.js';

/**
 * The BullMQ worker of the `explanations` queue (recommendation events). Events wait in the queue while
 * the service is down and are worked through when it comes back.
 */
@Injectable()
export class ExplanationWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ExplanationWorker.name);
  private worker: Worker<RecommendationEvent, EventResult> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly explanations: ExplanationService,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {}

  onModuleInit(): void {
    // Enough events at once to keep LLM_CONCURRENCY requests busy (an event holds up to top_n products).
    const concurrency = Math.max(2, Math.ceil(this.config.llm.concurrency / 4));
    this.worker = createQueueWorker<RecommendationEvent, EventResult>({
      queue: QueueNames.Explanations,
      config: this.config,
      concurrency,
      metrics: this.metrics,
      logger: this.logger,
      process: (job) => this.explanations.explain(job.data),
      describe: (job, result) =>
        `user ${job.data.user_id}: ${result.written} written, ${result.cached} cached, ${result.elsewhere} elsewhere`,
    });
    const writer = this.config.llm.provider === 'openai' ? this.config.llm.model : 'template sentences';
    this.logger.log(`consuming "${QueueNames.Explanations}" with ${writer}, ${concurrency} events at once`);
  }

  async onApplicationShutdown(): Promise<void> {
    await closeWorker(this.worker);
  }
}
