import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { AppConfig } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { RecommendationsRepository } from './recommendations.repository.js';

/** Users per statement: small enough to keep statements short, large enough to amortise round trips. */
const CHUNK = 50;
/** While the model's vectors are still changing (an embedding run), wait this long after the last change. */
const QUIET_PERIOD_MS = 3_000;

/**
 * Keeps every customer's list current in the background: after an ingestion changed purchases, or the
 * embedder changed vectors, the stale lists are recomputed in chunks, so that requests find them ready.
 * A request that arrives first computes its own list (RecommendationsService), so answers are never
 * stale, only slower.
 */
@Injectable()
export class RecommendationRefresher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RecommendationRefresher.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly model: string;
  private readonly intervalMs: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: RecommendationsRepository,
  ) {
    this.model = config.embedding.model;
    this.intervalMs = config.recommendation.refreshIntervalMs;
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
    let refreshed = 0;
    const started = Date.now();
    while (!this.stopped) {
      const stale = await this.repository.staleCustomers(this.model, CHUNK);
      if (stale.length === 0) break;
      await this.repository.computeLists(stale, this.model);
      refreshed += stale.length;
    }
    if (refreshed > 0) {
      this.logger.log(`refreshed ${refreshed} lists in ${((Date.now() - started) / 1000).toFixed(1)} s`);
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
