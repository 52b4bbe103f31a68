import { Inject, Injectable, Logger } from '@nestjs/common';
import type {
  CachedExplanation,
  EventProduct,
  ExplanationCacheRepository,
  ExplanationWriter,
  RecommendationEvent,
  ServiceMetrics,
} from '@retail/common';
import { METRICS } from '@retail/common/nest';
import { PurchaseRanker } from './purchase-ranker.js';
import { EXPLANATION_CACHE, EXPLANATION_WRITER } from './tokens.js';

/** How long one writer may hold a sentence before another process may take over (a crashed writer). */
const CLAIM_MS = 60_000;

export interface EventResult {
  written: number;
  cached: number;
  /** Sentences another process was writing at the same time. */
  elsewhere: number;
}

/**
 * Explains the products of one recommendation event: a sentence already cached is never asked for
 * again; concurrent requests for the same sentence make one call (in this process by sharing the
 * promise, across processes by a short Redis claim).
 */
@Injectable()
export class ExplanationService {
  private readonly logger = new Logger(ExplanationService.name);
  private readonly inFlight = new Map<string, Promise<'written' | 'elsewhere'>>();

  constructor(
    @Inject(EXPLANATION_WRITER) private readonly writer: ExplanationWriter,
    @Inject(EXPLANATION_CACHE) private readonly cache: ExplanationCacheRepository,
    private readonly ranker: PurchaseRanker,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {}

  async explain(event: RecommendationEvent): Promise<EventResult> {
    const userId = event.user_id;
    const cached = await this.cache.getMany(
      userId,
      event.products.map((p) => p.product_id),
    );
    const missing = event.products.filter((_, i) => !cached[i]);
    this.metrics.cacheLookups.inc({ result: 'hit' }, event.products.length - missing.length);
    this.metrics.cacheLookups.inc({ result: 'miss' }, missing.length);
    const closest = this.ranker.closest(missing, event.purchases);
    const outcomes = await Promise.all(
      missing.map((product) => this.explainOnce(userId, product, closest.get(product.product_id) ?? [])),
    );
    return {
      written: outcomes.filter((o) => o === 'written').length,
      cached: event.products.length - missing.length,
      elsewhere: outcomes.filter((o) => o === 'elsewhere').length,
    };
  }

  private explainOnce(
    userId: string,
    product: EventProduct,
    purchases: string[],
  ): Promise<'written' | 'elsewhere'> {
    const key = this.cache.key(userId, product.product_id);
    let work = this.inFlight.get(key);
    if (!work) {
      work = this.write(userId, product, purchases).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, work);
    }
    return work;
  }

  private async write(
    userId: string,
    product: EventProduct,
    purchases: string[],
  ): Promise<'written' | 'elsewhere'> {
    // Another process is writing this sentence: wait for it, and take over if its claim lapses unwritten.
    while (!(await this.cache.claim(userId, product.product_id, CLAIM_MS))) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if ((await this.cache.getMany(userId, [product.product_id]))[0]) return 'elsewhere';
    }
    try {
      const written = await this.metrics.timeModelCall(
        'chat',
        this.writer.name,
        () => this.writer.write({ productDescription: product.description, purchases }),
        (result) => (result.failed ? 'failed' : result.source),
      );
      const value: CachedExplanation = {
        text: written.text,
        source: written.source,
        status: written.failed ? 'failed' : 'ready',
      };
      await this.cache.set(userId, product.product_id, value);
      if (written.failed)
        this.logger.warn(`user ${userId}, product ${product.product_id}: template sentence stored`);
      return 'written';
    } finally {
      await this.cache.release(userId, product.product_id);
    }
  }
}
