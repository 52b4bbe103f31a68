import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { servedModel, type AppConfig, type ServedModel } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { BATCH } from '../ranking/product-matrix.js';
import type { ListModel } from '../ranking/ranking-engine.js';
import { RankingInputsRepository } from '../ranking/ranking-inputs.repository.js';
import { RankingStore } from '../ranking/ranking-store.js';
import { ModelTrainingService } from '../training/model-training.service.js';
import { ListsWriter } from './lists-writer.js';

/** Lists computed between two turns of the event loop (a few milliseconds: requests are served in between). */
const SLICE = BATCH;

/**
 * Keeps every customer's list current in the background: whenever the RankingStore applied a change
 * (purchases, catalog, vectors; and once after the start), the stale lists are recomputed in memory, a slice
 * at a time between requests, and written to user_recommendations. A request that comes first computes its
 * own list (RecommendationsService), so answers are never stale. When a model learned from purchases is
 * served, it also keeps the description lists of its cold-start customers (the fallback) current, and on a
 * timer (RECOMMENDATION_REFRESH_INTERVAL_MS) queues the model's training when purchases changed.
 */
@Injectable()
export class RecommendationRefresher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RecommendationRefresher.name);
  private readonly served: ServedModel;
  private readonly intervalMs: number;
  private readonly minPurchases: number;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private training: Promise<void> | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly store: RankingStore,
    private readonly writer: ListsWriter,
    private readonly repository: RankingInputsRepository,
    private readonly trainer: ModelTrainingService,
  ) {
    this.served = servedModel(config);
    this.intervalMs = config.recommendation.refreshIntervalMs;
    this.minPurchases = config.recommender.minPurchases;
  }

  onApplicationBootstrap(): void {
    this.store.subscribe((change) => {
      if (change.customers) {
        void this.repository
          .deleteOrphans()
          .catch((error: unknown) => this.warn('deleting old lists', error));
      }
      this.kick();
    });
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all([this.refreshing, this.training]);
  }

  /** Recomputes every stale list now (and waits for it); returns how many were computed. */
  async refreshStale(): Promise<number> {
    await this.store.ready();
    const started = Date.now();
    let refreshed: number;
    const engine = this.store.engine;
    if (this.served.kind === 'description' || !engine.isTrained()) {
      refreshed = await this.drain('description');
    } else {
      refreshed = await this.drain('served');
      // The fallback lists of the served model's cold-start customers.
      refreshed += await this.drain('description', (id) => {
        const list = engine.freshList('served', id);
        return list !== undefined && list.withVectors < this.minPurchases;
      });
    }
    if (refreshed > 0) {
      this.logger.log(`refreshed ${refreshed} lists in ${((Date.now() - started) / 1000).toFixed(2)} s`);
    }
    return refreshed;
  }

  /** Computes slice after slice of stale lists until none is left (or the service stops), yielding to requests. */
  private async drain(which: ListModel, only?: (customerId: number) => boolean): Promise<number> {
    const engine = this.store.engine;
    let refreshed = 0;
    // One pass over the customers finds the stale lists; each is checked again just before it is computed
    // (a request may have computed it meanwhile). A change of inputs meanwhile ends the pass: the store
    // kicks the refresher again once it has read the change.
    const stale = engine.staleCustomers(which, Number.MAX_SAFE_INTEGER, only);
    let next = 0;
    while (!this.stopped && this.store.isCurrent() && next < stale.length) {
      const slice: number[] = [];
      while (slice.length < SLICE && next < stale.length) {
        const id = stale[next++]!;
        if (!engine.freshList(which, id)) slice.push(id);
      }
      for (const [customerId, list] of engine.compute(which, slice))
        this.writer.keep(which, customerId, list);
      refreshed += slice.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return refreshed;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = this.refreshStale()
      .then(
        () => undefined,
        (error: unknown) => this.warn('refreshing the lists', error),
      )
      .finally(() => {
        this.refreshing = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** The periodic pass: queue the training when purchases changed (models learned from purchases only). */
  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.training = (
        this.trainer.enabled ? this.trainer.queueIfStale().then(() => undefined) : Promise.resolve()
      )
        .catch((error: unknown) => this.warn('queueing the training', error))
        .then(() => {
          this.training = undefined;
          this.kick();
          this.schedule(this.intervalMs);
        });
    }, delay);
    this.timer.unref();
  }

  private warn(what: string, error: unknown): void {
    this.logger.warn(`${what} failed, will retry: ${error instanceof Error ? error.message : String(error)}`);
  }
}
