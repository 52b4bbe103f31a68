import { Redis } from 'ioredis';

export type RedisClient = Redis;

export interface RedisOptions {
  /** Connection name shown by CLIENT LIST, to tell the services apart. */
  name?: string;
  /**
   * BullMQ workers need `null` (block forever, retry forever); request paths want a bounded number
   * of retries so that a Redis outage turns into an error instead of a hang.
   */
  maxRetriesPerRequest?: number | null;
}

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: options.name ?? 'retail',
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 3 : options.maxRetriesPerRequest,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Connection errors are retried by ioredis; callers see failures on their commands.
  redis.on('error', () => undefined);
  return redis;
}
