import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import { QueueNames, REFRESH_SLICE_WIDTH, type RefreshJobData, type RefreshJobResult } from '@retail/common';
import { QueueConsumer } from '@retail/common/nest';
import { PurchasesService } from '../purchases/purchases.service.js';
import { descriptionStandsIn } from '../ranking/cold-start.js';
import { KeptListsService } from '../ranking/kept-lists.service.js';
import { RankingRepository } from '../ranking/ranking.repository.js';

/**
 * Takes the jobs of the `recommendation-refresh` queue (RefreshPlanner, and the write path for customers'
 * purchases), in every recommendation process; BullMQ's global concurrency bounds the lists computed at once
 * across the processes (RECOMMENDATION_REFRESH_CONCURRENCY), so that answers keep their latency.
 * - a purchases job applies the customer's posted invoices to their purchases, then computes their lists, and
 *   records how long after the commit that was (retail_purchase_to_list_seconds);
 * - a customer's job computes their list in the served model, and in the description model when it stands in
 *   for them (or a list of it is kept);
 * - a slice job computes the lists of its slice that are out of date or missing; planned for a model version
 *   older than the model's now, it leaves the work to the newer plan.
 * A job cut off by a shutdown goes back to the queue; a process killed outright loses nothing either (its job
 * returns when its lock lapses), and lists already computed by it are current, so they are not computed again.
 */
@Injectable()
export class RefreshWorker extends QueueConsumer implements OnApplicationBootstrap {
  private worker: Worker<RefreshJobData, RefreshJobResult> | undefined;
  constructor(
    private readonly lists: KeptListsService,
    private readonly repository: RankingRepository,
    private readonly purchases: PurchasesService,
  ) {
    super();
  }

  /**
   * Shares the global concurrency among the processes: each takes at most its part of it (BullMQ's global
   * concurrency only caps the total; a process finishing a job would otherwise always take the next one
   * first, and the others would wait). Called by the planner on every pass with the workers it sees.
   */
  balance(workers: number): void {
    if (!this.worker) return;
    const total = this.config.recommendation.refreshConcurrency;
    const share = Math.max(1, Math.floor(total / Math.max(1, workers)));
    if (this.worker.concurrency !== share) this.worker.concurrency = share;
  }

  onApplicationBootstrap(): void {
    this.worker = this.consume<RefreshJobData, RefreshJobResult>({
      queue: QueueNames.RecommendationRefresh,
      concurrency: this.config.recommendation.refreshConcurrency,
      process: (job, signal) => this.process(job, signal),
      describe: (job, result) =>
        result.superseded
          ? `job ${job.id}: a newer plan covers it`
          : `job ${job.id}: ${result.computed} lists computed`,
    });
  }

  private async process(
    job: Job<RefreshJobData, RefreshJobResult>,
    signal?: AbortSignal,
  ): Promise<RefreshJobResult> {
    const data = job.data;
    if (data.kind === 'purchases') {
      const applied = await this.purchases.apply(data.customer_id);
      if (applied.invoices === 0) return { computed: 0 };
      const computed = await this.refreshCustomer(data.customer_id);
      if (applied.oldestRecordedAt) {
        this.metrics.purchaseLag.observe((Date.now() - applied.oldestRecordedAt.getTime()) / 1000);
      }
      return { computed };
    }
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
      if (await this.lists.compute(customerId, data.model, 'model', 0)) computed++;
    }
    return { computed };
  }

  /**
   * The customer's lists after their purchases changed; returns how many were computed. A list still current
   * (a purchase of products they had bought before leaves their version as it was) is not computed again.
   */
  private async refreshCustomer(customerId: number): Promise<number> {
    const served = this.lists.served;
    let computed = 0;
    let standsIn = served.kind === 'description';
    if (served.kind !== 'description') {
      const trained = (await this.repository.modelVersions([served.name])).get(served.name)!.trained;
      let list = trained ? await this.repository.currentList(customerId, served.name) : undefined;
      if (trained && !list) {
        list = await this.lists.compute(customerId, served.name, 'customer', 0);
        if (list) computed++;
      }
      const description = await this.repository.customerState(customerId, served.descriptionModel);
      standsIn =
        !list ||
        descriptionStandsIn(list.withVectors, this.config.recommender.minPurchases) ||
        (description?.hasList ?? false);
    }
    if (
      standsIn &&
      !(await this.repository.currentList(customerId, served.descriptionModel)) &&
      (await this.lists.compute(customerId, served.descriptionModel, 'customer', 0))
    )
      computed++;
    return computed;
  }
}
