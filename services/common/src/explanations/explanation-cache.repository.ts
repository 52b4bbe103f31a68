import type { AppConfig } from '../config/config.js';
import type { RedisClient } from '../redis/redis.js';
import { explanationCacheKey, parseCachedExplanation, type CachedExplanation } from './explanation-cache.js';

/** Every Redis key of the explanation cache: the sentences, and the short locks that stop duplicate work. */
export class ExplanationCacheRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly config: Pick<AppConfig, 'queuePrefix' | 'llm' | 'embedding'>,
  ) {}

  key(userId: string, productId: string): string {
    return explanationCacheKey(this.config, userId, productId);
  }

  /** One MGET for a whole list. */
  async getMany(userId: string, productIds: string[]): Promise<(CachedExplanation | undefined)[]> {
    if (productIds.length === 0) return [];
    const raw = await this.redis.mget(productIds.map((id) => this.key(userId, id)));
    return raw.map((value) => parseCachedExplanation(value));
  }

  async set(userId: string, productId: string, value: CachedExplanation): Promise<void> {
    await this.redis.set(
      this.key(userId, productId),
      JSON.stringify(value),
      'EX',
      this.config.llm.cacheTtlSeconds,
    );
  }

  /** Claims the right to write one sentence for `ttlMs` (across processes); false when someone else has it. */
  async claim(userId: string, productId: string, ttlMs: number): Promise<boolean> {
    const result = await this.redis.set(`${this.key(userId, productId)}:writing`, '1', 'PX', ttlMs, 'NX');
    return result === 'OK';
  }

  async release(userId: string, productId: string): Promise<void> {
    await this.redis.del(`${this.key(userId, productId)}:writing`);
  }
}
