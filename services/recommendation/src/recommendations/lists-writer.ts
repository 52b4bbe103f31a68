import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { servedModel, type AppConfig, type ServedModel } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import type { ListModel, RankedList } from '../ranking/ranking-engine.js';
import { RankingInputsRepository, type ListToSave } from '../ranking/ranking-inputs.repository.js';
import { RankingStore } from '../ranking/ranking-store.js';

/** Lists gathered this long, then written in one statement. */
const FLUSH_MS = 250;
const MAX_BATCH = 1_000;

/**
 * Writes the lists computed in memory to user_recommendations (what is served, for anyone who looks), after
 * the answers went and off the request path: gathered for FLUSH_MS, then one statement per MAX_BATCH lists,
 * one write at a time. A write that fails is dropped with a warning (the lists stay correct in memory and are
 * written again the next time they are computed).
 */
@Injectable()
export class ListsWriter implements OnApplicationShutdown {
  private readonly logger = new Logger(ListsWriter.name);
  private readonly served: ServedModel;
  private pending = new Map<string, { which: ListModel; customerId: number; list: RankedList }>();
  private timer: NodeJS.Timeout | undefined;
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
    this.pending.set(`${model}:${customerId}`, { which, customerId, list });
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
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
      if (this.pending.size > 0) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
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
        if (this.pending.size > 0) this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
      });
  }
}
