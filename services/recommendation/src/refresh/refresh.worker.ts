import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import {
  QueueNames,
  REFRESH_SLICE_WIDTH,
  closeWorker,
  createQueueWorker,
  type AppConfig,
  type RefreshJobData,
  type RefreshJobResult,
  type ServiceMetrics,
} from '@retail/common';
import { APP_CONFIG, METRICS } from '@retail/common/nest';
import { KeptListsService } from '../ranking/kept-lists.service.js';
import { RankingRepository } from '../ranking/ranking.repository.js';

/**
 * Takes the jobs of the `recommendation-refresh` queue (RefreshPlanner, and the write path for customers'
 * purchases), in every recommendation process; BullMQ's global concurrency bounds the lists computed at once
 * across the processes (RECOMMENDATION_REFRESH_CONCURRENCY), so that answers keep their latency.
 * - a customer's job computes their list in the served model, and in the description model when it stands in
 *   for them (or a list of it is kept);
 * - a slice job computes the lists of its slice that are out of date or missing; planned for a model version
 *   older than the model's now, it leaves the work to the newer plan.
 * A job cut off by a shutdown goes back to the queue; a process killed outright loses nothing either (its job
 * returns when its lock lapses), and lists already computed by it are current, so they are not computed again.
 */
@Injectable()
export class RefreshWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RefreshWorker.name);
  private worker: Worker<RefreshJobData, RefreshJobResult> | undefined;
  private readonly minPurchases: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
    private readonly lists: KeptListsService,
    private readonly repository: RankingRepository,
  ) {
    this.minPurchases = config.recommender.minPurchases;
  }

  onApplicationBootstrap(): void {
    this.worker = createQueueWorker<RefreshJobData, RefreshJobResult>({
      queue: QueueNames.RecommendationRefresh,
      config: this.config,
      concurrency: this.config.recommendation.refreshConcurrency,
      metrics: this.metrics,
      logger: this.logger,
      process: (job, signal) => this.process(job, signal),
      describe: (job, result) =>
        result.superseded
          ? `job ${job.id}: a newer plan covers it`
          : `job ${job.id}: ${result.computed} lists computed`,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await closeWorker(this.worker);
  }

  private async process(
    job: Job<RefreshJobData, RefreshJobResult>,
    signal?: AbortSignal,
  ): Promise<RefreshJobResult> {
    const data = job.data;
    if (data.kind === 'customer') return { computed: await this.refreshCustomer(data.customer_id) };
    const now = (await this.repository.modelVersions([data.model])).get(data.model)!;
    if (now.version > data.version) return { computed: 0, superseded: true };
    const customers = await this.repository.customersToRefresh(
      data.model,
      now.version,
      data.mode === 'all',
      data.slice,
      REFRESH_SLICE_WIDTH,
    );
    let computed = 0;
    for (const customerId of customers) {
      if (signal?.aborted) throw new Error('the worker is shutting down');
      if (await this.lists.compute(customerId, data.model, 'model')) computed++;
    }
    return { computed };
  }

  /** The customer's lists after their purchases changed; returns how many were computed. */
  private async refreshCustomer(customerId: number): Promise<number> {
    const served = this.lists.served;
    let computed = 0;
    let standsIn = served.kind === 'description';
    if (served.kind !== 'description') {
      const trained = (await this.repository.modelVersions([served.name])).get(served.name)!.trained;
      const list = trained ? await this.lists.compute(customerId, served.name, 'customer') : undefined;
      if (list) computed++;
      const description = await this.repository.customerState(customerId, served.descriptionModel);
      standsIn = !list || list.withVectors < this.minPurchases || (description?.hasList ?? false);
    }
    if (standsIn && (await this.lists.compute(customerId, served.descriptionModel, 'customer'))) computed++;
    return computed;
  }
}
