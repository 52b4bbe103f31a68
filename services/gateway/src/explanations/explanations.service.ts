import { Inject, Injectable } from '@nestjs/common';
import {
  explanationCacheKey,
  parseCachedExplanation,
  type AppConfig,
  type ExplanationSource,
  type ExplanationStatus,
  type RedisClient,
} from '@retail/common';
import { APP_CONFIG, REDIS } from '@retail/common/nest';

export interface ExplanationView {
  product_id: string;
  explanation_status: ExplanationStatus;
  explanation: string | null;
  explanation_source: ExplanationSource | null;
}

/** Reads the explanations the explanation service cached in Redis (one MGET per answer). */
@Injectable()
export class ExplanationsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  /** Explanations for `productIds`, `pending` where none is cached yet (or Redis cannot be read). */
  async lookup(userId: string, productIds: string[]): Promise<ExplanationView[]> {
    if (productIds.length === 0) return [];
    let cached: (string | null)[];
    try {
      cached = await this.redis.mget(productIds.map((id) => explanationCacheKey(this.config, userId, id)));
    } catch {
      cached = productIds.map(() => null); // recommendations still answer while Redis is away
    }
    return productIds.map((product_id, i) => {
      const hit = parseCachedExplanation(cached[i] ?? null);
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
