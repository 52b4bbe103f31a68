/**
 * The environment every test runs in: its own database and Redis database, so that `npm test` never
 * touches the data of `npm start`. Override with TEST_DATABASE_URL / TEST_REDIS_URL, and TEST_QUEUE_PREFIX
 * when several test runs share one Redis server (BullMQ finds workers by connection name server-wide, so two
 * runs with one prefix on two Redis databases would see each other's workers).
 */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
export const TEST_QUEUE_PREFIX = process.env.TEST_QUEUE_PREFIX ?? 'retail-test';

/** Applies the test environment to process.env (child processes started by tests inherit it). */
export function applyTestEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  env.NODE_ENV = 'test';
  env.DATABASE_URL = TEST_DATABASE_URL;
  env.REDIS_URL = TEST_REDIS_URL;
  env.QUEUE_PREFIX = TEST_QUEUE_PREFIX;
  // The seed's description model unless a test asks for another (the co-purchase and hybrid models train
  // for a minute on the real data: services/gateway/test/exactness-models.test.ts covers them).
  env.RECOMMENDER_MODEL = 'description';
  delete env.RECOMMENDER_MIN_PURCHASES;
  // The cloud models are only ever reached through the fake server of a test that asks for it.
  delete env.EMBEDDING_API_KEY;
  delete env.EMBEDDING_PROVIDER;
  delete env.EMBEDDING_BASE_URL;
  delete env.LLM_API_KEY;
  delete env.LLM_PROVIDER;
  delete env.LLM_BASE_URL;
}
