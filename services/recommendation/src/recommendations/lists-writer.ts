import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { servedModel, type AppConfig, type ServedModel } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import type { ListModel, RankedList } from '../ranking/ranking-engine.js';
import { RankingInputsRepository, type ListToSave } from '../ranking/ranking-inputs.repository.js';
import { RankingStore } from '../ranking/ranking-store.js';

/** Lists are written once none was computed for this long (a refresh is over)... */
const QUIET_MS = 250;
/** ...or this long after the first of them was computed, whichever comes first. */
const MAX_DELAY_MS = 5_000;
const MAX_BATCH = 1_000;

/**
 * Writes the lists computed in memory to user_recommendations (what is served, for anyone who looks), after
 * the answers went and off the request path: gathered until the computing stops (QUIET_MS without a new list,
 * at most MAX_DELAY_MS), so that the writing does not compete for the CPU with a refresh and the requests
 * right after a change; then one statement per MAX_BATCH lists, one write at a time. A write that fails is dropped with a warning (the lists stay correct in memory and are
 * written again the next time they are computed).
 */
@Injectable()
export class ListsWriter implements OnApplicationShutdown {
  private readonly logger = new Logger(ListsWriter.name);
  private readonly served: ServedModel;
  private pending = new Map<string, { which: ListModel; customerId: number; list: RankedList }>();
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private writing: Promise<void> | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly store: RankingStore,
    private readonly repository: RankingInputsRepository,
  ) {
    this.served = servedModel(config);
  }

  keep(which: ListModel, customerId: number, list: RankedList): void {
    const model = which === 'served' ? this.served.name : this.served.descriptionModel;
    if (this.pending.size === 0) this.firstPendingAt = Date.now();
    this.pending.set(`${model}:${customerId}`, { which, customerId, list });
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(QUIET_MS, this.firstPendingAt + MAX_DELAY_MS - Date.now()));
    this.timer = setTimeout(() => this.flush(), delay);
  }

  /** Writes everything pending (tests, shutdown, benchmarks). */
  async settle(): Promise<void> {
    while (this.pending.size > 0 || this.writing) {
      this.flush();
      await this.writing;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.settle();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.pending.size === 0) {
      if (this.pending.size > 0) this.timer = setTimeout(() => this.flush(), QUIET_MS);
      return;
    }
    const engine = this.store.engine;
    const batch: ListToSave[] = [];
    for (const [key, { which, customerId, list }] of this.pending) {
      if (batch.length >= MAX_BATCH) break;
      this.pending.delete(key);
      batch.push({
        customerId,
        model: which === 'served' ? this.served.name : this.served.descriptionModel,
        productIds: Array.from(list.products, (product) => engine.productId(product)),
        list,
      });
    }
    this.writing = this.repository
      .saveLists(batch)
      .catch((error: unknown) =>
        this.logger.warn(
          `${batch.length} lists not written: ${error instanceof Error ? error.message : String(error)}`,
        ),
      )
      .finally(() => {
        this.writing = undefined;
        if (this.pending.size > 0) this.timer ??= setTimeout(() => this.flush(), 0);
      });
  }
}
