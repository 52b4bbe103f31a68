import { createRedis, type RedisClient } from '@retail/common';
import { TEST_REDIS_DB, TEST_REDIS_URL } from './test-env.js';

export function connectTestRedis(): RedisClient {
  return createRedis(TEST_REDIS_URL, { name: 'tests' });
}

/** Empties this worker's Redis database (queues and caches), never another one. */
export async function resetRedis(redis: RedisClient): Promise<void> {
  const { db } = redis.options;
  if (db !== TEST_REDIS_DB) {
    throw new Error(
      `refusing to flush Redis database ${db}: this test worker uses database ${TEST_REDIS_DB}`,
    );
  }
  await redis.flushdb();
}
