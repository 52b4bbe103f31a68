import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { servedModel, type AppConfig, type ServedModel } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { ModelTrainingService } from '../training/model-training.service.js';
import { FactorRankingsRepository, type FactorModel } from './factor-rankings.repository.js';
import { RecommendationsRepository } from './recommendations.repository.js';

/** Users per statement: small enough to keep statements short, large enough to amortise round trips. */
const CHUNK = 50;
/** While the model's vectors are still changing (an embedding run), wait this long after the last change. */
const QUIET_PERIOD_MS = 3_000;

/**
 * Keeps every customer's list current in the background: after an ingestion changed purchases, or the
 * embedder changed vectors, the stale lists are recomputed in chunks, so that requests find them ready.
 * A request that arrives first computes its own list (RecommendationsService), so answers are never
 * stale, only slower. When a model learned from purchases is served, each pass also queues its training
 * when purchases changed, and keeps the description lists of its cold-start customers (the fallback) current.
 */
@Injectable()
export class RecommendationRefresher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RecommendationRefresher.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly model: string;
  private readonly served: ServedModel;
  private readonly intervalMs: number;
  private readonly minPurchases: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: RecommendationsRepository,
    private readonly factors: FactorRankingsRepository,
    private readonly training: ModelTrainingService,
  ) {
    this.model = config.embedding.model;
    this.served = servedModel(config);
    this.intervalMs = config.recommendation.refreshIntervalMs;
    this.minPurchases = config.recommender.minPurchases;
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: recompute every stale list (returns how many were refreshed). */
  async refreshStale(): Promise<number> {
    const changedAt = await this.repository.modelChangedAt(this.model);
    if (changedAt && Date.now() - changedAt.getTime() < QUIET_PERIOD_MS) return 0;
    await this.repository.analyzeIfChanged();
    await this.repository.deleteOrphans();
    const started = Date.now();
    let refreshed: number;
    const { kind, name } = this.served;
    if (kind === 'description') {
      refreshed = await this.drain(
        () => this.repository.staleCustomers(this.model, CHUNK),
        (ids) => this.repository.computeLists(ids, this.model),
      );
    } else {
      await this.training.queueIfStale();
      if (await this.factors.isTrained(name)) {
        const model: FactorModel = {
          name,
          kind,
          descriptionModel: this.model,
          minPurchases: this.minPurchases,
        };
        refreshed = await this.drain(
          () => this.repository.staleCustomers(name, CHUNK),
          (ids) => this.factors.computeLists(ids, model),
        );
        refreshed += await this.drain(
          () => this.factors.staleColdCustomers(this.model, name, model.minPurchases, CHUNK),
          (ids) => this.repository.computeLists(ids, this.model),
        );
      } else {
        // Not trained yet: every answer falls back to the description model.
        refreshed = await this.drain(
          () => this.repository.staleCustomers(this.model, CHUNK),
          (ids) => this.repository.computeLists(ids, this.model),
        );
      }
    }
    if (refreshed > 0) {
      this.logger.log(`refreshed ${refreshed} lists in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    return refreshed;
  }

  /** Recomputes chunk after chunk of stale lists until none is left (or the service stops). */
  private async drain(
    next: () => Promise<number[]>,
    compute: (ids: number[]) => Promise<void>,
  ): Promise<number> {
    let refreshed = 0;
    while (!this.stopped) {
      const stale = await next();
      if (stale.length === 0) break;
      await compute(stale);
      refreshed += stale.length;
    }
    return refreshed;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.refreshStale()
        .catch((error: unknown) => {
          this.logger.warn(`refresh failed, will retry: ${(error as Error).message}`);
          return 0;
        })
        .then(() => this.schedule(this.intervalMs));
    }, delay);
    this.timer.unref();
  }
}
