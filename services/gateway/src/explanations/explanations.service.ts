import { Inject, Injectable } from '@nestjs/common';
import {
  ExplanationCacheRepository,
  type AppConfig,
  type CachedExplanation,
  type ExplanationSource,
  type ExplanationStatus,
  type RedisClient,
  type ServiceMetrics,
} from '@retail/common';
import { APP_CONFIG, METRICS, REDIS } from '@retail/common/nest';

export interface ExplanationView {
  product_id: string;
  explanation_status: ExplanationStatus;
  explanation: string | null;
  explanation_source: ExplanationSource | null;
}

/** Reads the explanations the explanation service cached in Redis (one MGET per answer). */
@Injectable()
export class ExplanationsService {
  private readonly cache: ExplanationCacheRepository;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(REDIS) redis: RedisClient,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.cache = new ExplanationCacheRepository(redis, config);
  }

  /** Explanations for `productIds`, `pending` where none is cached yet (or Redis cannot be read). */
  async lookup(userId: string, productIds: string[]): Promise<ExplanationView[]> {
    let cached: (CachedExplanation | undefined)[];
    try {
      cached = await this.cache.getMany(userId, productIds);
    } catch {
      cached = productIds.map(() => undefined); // recommendations still answer while Redis is away
    }
    const hits = cached.filter(Boolean).length;
    this.metrics.cacheLookups.inc({ result: 'hit' }, hits);
    this.metrics.cacheLookups.inc({ result: 'miss' }, cached.length - hits);
    return productIds.map((product_id, i) => {
      const hit = cached[i];
      return hit
        ? {
            product_id,
            explanation_status: hit.status,
            explanation: hit.text,
            explanation_source: hit.source,
          }
        : { product_id, explanation_status: 'pending', explanation: null, explanation_source: null };
    });
  }
}
