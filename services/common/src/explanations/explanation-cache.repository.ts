import type { AppConfig } from '../config/config.js';
import type { RedisClient } from '../redis/redis.js';
import { parseCachedExplanation, type CachedExplanation } from './explanation-cache.js';

/**
 * The queue prefix, and `explanations.ttlSeconds` (how long a written sentence stays, EXPLANATION_TTL_SECONDS)
 * and `retrySeconds` (how long a `failed` template sentence stands before the model is asked again,
 * EXPLANATION_RETRY_SECONDS).
 */
export type ExplanationCacheSettings = Pick<AppConfig, 'queuePrefix'> & {
  explanations: Pick<AppConfig['explanations'], 'ttlSeconds' | 'retrySeconds'>;
};

/**
 * Every Redis key of the explanation cache:
 * - `<prefix>:explanation:writer`: the namespace of the explanation service that writes (see explanation-cache.ts);
 * - `<prefix>:explanation:<namespace>:<user>:<product>`: one sentence (JSON), and `…:writing`, the short
 *   claim that stops two processes writing the same sentence;
 * - `<prefix>:explanation:<namespace>:<user>:<product>:wanted`: when a person first asked for a sentence
 *   not written yet (the gateway stops calling it pending after a while).
 */
export class ExplanationCacheRepository {
  constructor(
    private readonly redis: RedisClient,
    private readonly settings: ExplanationCacheSettings,
  ) {}

  private get writerKey(): string {
    return `${this.settings.queuePrefix}:explanation:writer`;
  }

  key(namespace: string, userId: string, productId: string): string {
    return `${this.settings.queuePrefix}:explanation:${namespace}:${userId}:${productId}`;
  }

  /** The writer announces its namespace (at start, and again now and then in case Redis was emptied). */
  async announceWriter(namespace: string): Promise<void> {
    await this.redis.set(this.writerKey, namespace);
  }

  /** The namespace of the running writer; undefined when no explanation service has run yet. */
  async activeWriter(): Promise<string | undefined> {
    return (await this.redis.get(this.writerKey)) ?? undefined;
  }

  /** One MGET for a whole list. */
  async getMany(
    namespace: string,
    userId: string,
    productIds: string[],
  ): Promise<(CachedExplanation | undefined)[]> {
    if (productIds.length === 0) return [];
    const raw = await this.redis.mget(productIds.map((id) => this.key(namespace, userId, id)));
    return raw.map((value) => parseCachedExplanation(value));
  }

  /** Stores a sentence; a `failed` one only for the retry period. */
  async set(namespace: string, userId: string, productId: string, value: CachedExplanation): Promise<void> {
    await this.redis.set(
      this.key(namespace, userId, productId),
      JSON.stringify(value),
      'EX',
      this.ttl(value),
    );
  }

  /** Stores a sentence only where none is (a stand-in must never replace a written sentence). */
  async setIfAbsent(
    namespace: string,
    userId: string,
    productId: string,
    value: CachedExplanation,
  ): Promise<boolean> {
    const result = await this.redis.set(
      this.key(namespace, userId, productId),
      JSON.stringify(value),
      'EX',
      this.ttl(value),
      'NX',
    );
    return result === 'OK';
  }

  private ttl(value: CachedExplanation): number {
    const { retrySeconds, ttlSeconds } = this.settings.explanations;
    return value.status === 'failed' ? retrySeconds : ttlSeconds;
  }

  /** Claims the right to write one sentence for `ttlMs` (across processes); false when someone else has it. */
  async claim(namespace: string, userId: string, productId: string, ttlMs: number): Promise<boolean> {
    const result = await this.redis.set(
      `${this.key(namespace, userId, productId)}:writing`,
      '1',
      'PX',
      ttlMs,
      'NX',
    );
    return result === 'OK';
  }

  async release(namespace: string, userId: string, productId: string): Promise<void> {
    await this.redis.del(`${this.key(namespace, userId, productId)}:writing`);
  }

  /**
   * Records that a person is waiting for these sentences, and returns, per product, when somebody first
   * asked (ms since the epoch). The record lasts `rememberMs`: a person asking again after that waits anew.
   */
  async markWanted(
    namespace: string,
    userId: string,
    productIds: string[],
    rememberMs: number,
  ): Promise<number[]> {
    if (productIds.length === 0) return [];
    const now = Date.now();
    const keys = productIds.map((id) => `${this.key(namespace, userId, id)}:wanted`);
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.set(key, String(now), 'PX', rememberMs, 'NX');
    pipeline.mget(keys);
    const results = await pipeline.exec();
    const first = results?.at(-1)?.[1];
    return Array.isArray(first) ? first.map((value) => Number(value ?? now) || now) : keys.map(() => now);
  }

  /**
   * Removes every sentence of a customer, in every namespace, with its markers (the customer was erased).
   * Walks the explanation keys with SCAN (never KEYS): a customer's keys are `…:<user>:<PRODUCT>[:suffix]`,
   * product ids being upper case, so another customer's keys never match. Returns how many were removed.
   */
  async forgetUser(userId: string): Promise<number> {
    const prefix = `${this.settings.queuePrefix}:explanation:`;
    const own = new RegExp(
      `^${escapeRegExp(prefix)}.+:${escapeRegExp(userId)}:[A-Z0-9_ -]+(:writing|:wanted)?$`,
    );
    let removed = 0;
    for await (const keys of this.redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<
      string[]
    >) {
      const mine = keys.filter((key) => own.test(key));
      if (mine.length > 0) removed += await this.redis.unlink(...mine);
    }
    return removed;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
