import { createRedis, type RedisClient } from '@retail/common';
import { TEST_REDIS_URL } from './test-env.js';

export function connectTestRedis(): RedisClient {
  return createRedis(TEST_REDIS_URL, { name: 'tests' });
}

/** Empties the tests' Redis database (queues and caches), never another one. */
export async function resetRedis(redis: RedisClient): Promise<void> {
  const { db } = redis.options;
  if (db !== 15 && process.env.TEST_REDIS_URL === undefined) {
    throw new Error(`refusing to flush Redis database ${db}: the tests use database 15`);
  }
  await redis.flushdb();
}
