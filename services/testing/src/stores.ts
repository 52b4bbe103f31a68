import type { Database, RedisClient } from '@retail/common';
import { connectTestDatabase, resetDatabase } from './database.js';
import { connectTestRedis, resetRedis } from './redis.js';

/** The tests' database and Redis database. */
export interface TestStores {
  db: Database;
  redis: RedisClient;
}

/**
 * Connects to the tests' database and Redis database; with `empty` (the default) both are emptied first,
 * which is where most integration suites start.
 */
export async function openTestStores({ empty = true }: { empty?: boolean } = {}): Promise<TestStores> {
  const db = await connectTestDatabase();
  const redis = connectTestRedis();
  if (empty) {
    await resetDatabase(db);
    await resetRedis(redis);
  }
  return { db, redis };
}

/** Closes what openTestStores opened (either may be missing when a suite failed to start). */
export async function closeTestStores({ db, redis }: Partial<TestStores>): Promise<void> {
  redis?.disconnect();
  await db?.end();
}
