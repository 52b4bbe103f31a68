import { Redis } from 'ioredis';
import { OutageLog, type OutageLogger } from '../util/outage-log.js';

export type RedisClient = Redis;

export interface RedisOptions {
  /** Connection name shown by CLIENT LIST, to tell the services apart. */
  name?: string;
  /**
   * BullMQ workers need `null` (block forever, retry forever); request paths want a bounded number
   * of retries so that a Redis outage turns into an error instead of a hang.
   */
  maxRetriesPerRequest?: number | null;
  /** Where to say, once each, that Redis went away and that it is back. */
  logger?: OutageLogger;
}

/**
 * A command that has no answer after this long fails (request paths: an outage is an error, not a hang); a
 * command normally answers in well under a millisecond, so a second means Redis is away.
 */
const COMMAND_TIMEOUT_MS = 1_000;

/** A Redis client for request paths and caches (BullMQ opens its own connections for queues). */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: options.name ?? 'retail',
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 3 : options.maxRetriesPerRequest,
    commandTimeout: COMMAND_TIMEOUT_MS,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Connection errors are retried by ioredis; callers see failures on their commands, the log one line
  // when Redis goes away and one when it is back.
  const outage = options.logger ? new OutageLog('Redis', options.logger) : undefined;
  redis.on('error', (error: Error) => outage?.failed(error));
  redis.on('ready', () => outage?.ok());
  return redis;
}
