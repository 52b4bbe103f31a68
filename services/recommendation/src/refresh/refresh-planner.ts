import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  OutageLog,
  QueueNames,
  REFRESH_SLICE_WIDTH,
  createQueue,
  withDeadline,
  type AppConfig,
  type RefreshJobData,
} from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { EmbeddingRequests } from '../products/embedding-requests.js';
import { PurchasesRepository } from '../purchases/purchases.repository.js';
import { KeptListsService } from '../ranking/kept-lists.service.js';
import { RankingRepository } from '../ranking/ranking.repository.js';
import { ModelTrainingService } from '../training/model-training.service.js';
import { queuePurchases, queueRefresh, type PlannedSlice, type RefreshQueue } from './refresh-queue.js';
import { RefreshWorker } from './refresh.worker.js';

/** How long a pass may wait for Redis before it is given up (the next pass tries again). */
const QUEUE_DEADLINE_MS = 5_000;
/** Every this many passes, products still without a vector are asked of the embedder again (their job was lost). */
const EMBEDDINGS_EVERY = 15;
/** Posted invoices still unapplied this long after their commit lost their job (Redis was away): queued again. */
const LATE_PURCHASES_MS = 10_000;

/**
 * Plans the refresh of the kept lists, in every recommendation process (what one plans, the others find
 * planned: job ids derive from what they compute). Every RECOMMENDATION_REFRESH_INTERVAL_MS it reads the
 * versions of the served model and of the description model that stands in for it:
 * - a model whose version moved (new vectors, a retraining, a catalog change) gets one job per slice of
 *   customers with a list to compute (slices wait behind customers' own jobs);
 * - customers stamped since the last pass (their purchases changed, or they are new) get one job each,
 *   taken first; so do customers whose posted invoices are still unapplied well after their commit (their job
 *   was lost: Redis was away when the write API committed them);
 * - the models learned from purchases are queued for training when enough purchases came in, and the hybrid
 *   follows the description vectors written since its training.
 * The jobs are taken by RefreshWorker, in any process, RECOMMENDATION_REFRESH_CONCURRENCY at a time in all.
 */
@Injectable()
export class RefreshPlanner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RefreshPlanner.name);
  private readonly outage = new OutageLog('Redis (refresh planning)', this.logger);
  private readonly intervalMs: number;
  private readonly concurrency: number;
  private queue: RefreshQueue | undefined;
  /** Model -> the version this process planned its lists for. */
  private readonly planned = new Map<string, number>();
  /** Customers stamped up to this clock reading were planned (undefined: the first pass plans by slices). */
  private watermark: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private passing: Promise<void> | undefined;
  private stopped = false;
  private concurrencySet = false;
  private passes = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lists: KeptListsService,
    private readonly repository: RankingRepository,
    private readonly purchases: PurchasesRepository,
    private readonly trainer: ModelTrainingService,
    private readonly worker: RefreshWorker,
    private readonly embeddings: EmbeddingRequests,
  ) {
    this.intervalMs = config.recommendation.refreshIntervalMs;
    this.concurrency = config.recommendation.refreshConcurrency;
  }

  onApplicationBootstrap(): void {
    this.queue = createQueue<RefreshJobData>(
      QueueNames.RecommendationRefresh,
      this.config,
      this.outage,
    ) as RefreshQueue;
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.passing;
    await withDeadline(this.queue?.close() ?? Promise.resolve(), QUEUE_DEADLINE_MS, 'Redis').catch(
      () => undefined,
    );
  }

  /** One planning pass (also what tests and benchmarks call to plan at once). */
  async plan(): Promise<{ slices: number; customers: number; late: number }> {
    const queue = this.queue!;
    const served = this.lists.served;
    const models = served.kind === 'description' ? [served.name] : [served.name, served.descriptionModel];
    const versions = await this.repository.modelVersions(models);
    // Read before the lists are compared: a customer stamped after this is planned by the next pass.
    const clock = await this.repository.customerClock();
    const servedTrained = served.kind === 'description' || versions.get(served.name)!.trained;
    // The model every customer has a list of: the served one, or the description model until it is trained.
    const primary = servedTrained ? served.name : served.descriptionModel;
    const slices: PlannedSlice[] = [];
    const planned = new Map<string, number>();
    for (const model of models) {
      const { version, trained } = versions.get(model)!;
      const ranking = this.lists.kindOf(model);
      if (ranking === 'factors' && !trained) continue;
      if (this.planned.get(model) === version && this.watermark !== undefined) continue;
      const missing = model === primary;
      for (const slice of await this.repository.slicesToRefresh(
        model,
        version,
        missing,
        REFRESH_SLICE_WIDTH,
      )) {
        slices.push({ model, ranking, version, slice, mode: missing ? 'all' : 'existing' });
      }
      planned.set(model, version);
    }
    const customers =
      this.watermark === undefined ? [] : await this.repository.changedCustomers(primary, this.watermark);
    // An unapplied invoice recorded after the oldest job still waiting may have its job queued behind it (a
    // backlog, not a loss): only those recorded LATE_PURCHASES_MS before that job, or before now, lost theirs.
    const [oldestWaiting] = await withDeadline(queue.getWaiting(0, 0), QUEUE_DEADLINE_MS, 'Redis');
    const late = await this.purchases.pendingCustomers(LATE_PURCHASES_MS, oldestWaiting?.timestamp);
    await withDeadline(
      Promise.all([
        queueRefresh(queue, customers, slices, clock),
        queuePurchases(queue, late, `late-${Math.floor(Date.now() / 60_000)}`),
      ]),
      QUEUE_DEADLINE_MS,
      'Redis',
    );
    this.outage.ok();
    for (const [model, version] of planned) this.planned.set(model, version);
    this.watermark = clock;
    if (slices.length > 0 || customers.length > 0) {
      this.logger.log(
        `planned ${slices.length} slices of lists to refresh (${[...planned].map(([m, v]) => `${m} v${v}`).join(', ')})` +
          (customers.length > 0 ? ` and ${customers.length} customers' lists` : ''),
      );
    }
    if (late.length > 0) {
      this.logger.log(
        `queued the unapplied purchases of ${late.length} customers again (their job was lost while Redis was away)`,
      );
    }
    return { slices: slices.length, customers: customers.length, late: late.length };
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.passing = this.pass().finally(() => {
        this.passing = undefined;
        this.schedule(this.intervalMs);
      });
    }, delay);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    try {
      if (!this.concurrencySet) {
        await withDeadline(this.queue!.setGlobalConcurrency(this.concurrency), QUEUE_DEADLINE_MS, 'Redis');
        this.concurrencySet = true;
      }
      this.worker.balance(await withDeadline(this.queue!.getWorkersCount(), QUEUE_DEADLINE_MS, 'Redis'));
      await this.plan();
      if (this.passes++ % EMBEDDINGS_EVERY === EMBEDDINGS_EVERY - 1) await this.embeddings.queueMissing();
    } catch (error) {
      this.warn('planning the refresh', error);
    }
    if (!this.trainer.enabled) return;
    try {
      const followed = await this.trainer.followDescriptions();
      if (followed > 0) this.logger.log(`the hybrid follows ${followed} new description vectors`);
      await this.trainer.queueIfStale();
    } catch (error) {
      this.warn('keeping the models trained', error);
    }
  }

  private warn(what: string, error: unknown): void {
    this.logger.warn(`${what} failed, will retry: ${error instanceof Error ? error.message : String(error)}`);
  }
}
