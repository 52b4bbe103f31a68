/**
 * The environment every test runs in: its own database and Redis database, so that `npm test` never
 * touches the data of `npm start`. Jest runs suites in parallel workers, and each worker gets stores of its
 * own: worker N uses the database `retail_test_N`, the Redis database 15 − (N − 1) and the queue prefix
 * `retail-test-N` (BullMQ finds workers by connection name server-wide, so two workers with one prefix on
 * two Redis databases would see each other's workers). TEST_DATABASE_URL, TEST_REDIS_URL and
 * TEST_QUEUE_PREFIX move the bases (the worker's number is added as above).
 */

/** How many parallel workers the stores are laid out for (Redis has 16 databases: 15 down to 8). */
export const MAX_TEST_WORKERS = 8;

/** This Jest worker's number, from 1 (1 outside Jest). */
export function testWorkerId(env: NodeJS.ProcessEnv = process.env): number {
  const id = Number(env.JEST_WORKER_ID ?? '1');
  if (!Number.isInteger(id) || id < 1 || id > MAX_TEST_WORKERS) {
    throw new Error(
      `JEST_WORKER_ID ${env.JEST_WORKER_ID}: the tests' stores are laid out for 1-${MAX_TEST_WORKERS}`,
    );
  }
  return id;
}

const BASE_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_test';
const BASE_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const BASE_QUEUE_PREFIX = process.env.TEST_QUEUE_PREFIX ?? 'retail-test';

/** The database of worker `worker` (or another of the tests' databases): the base's name with `_<worker>`. */
export function testDatabaseUrl(worker: number | string): string {
  const url = new URL(BASE_DATABASE_URL);
  url.pathname = `${url.pathname}_${worker}`;
  return url.toString();
}

/** The Redis database of worker `worker`: counted down from the base's. */
export function testRedisUrl(worker: number): string {
  const url = new URL(BASE_REDIS_URL);
  const base = Number(url.pathname.slice(1) || '0');
  const db = base - (worker - 1);
  if (db < 0)
    throw new Error(`TEST_REDIS_URL ${BASE_REDIS_URL} leaves no Redis database for worker ${worker}`);
  url.pathname = `/${db}`;
  return url.toString();
}

export const TEST_WORKER = testWorkerId();
export const TEST_DATABASE_URL = testDatabaseUrl(TEST_WORKER);
export const TEST_REDIS_URL = testRedisUrl(TEST_WORKER);
export const TEST_REDIS_DB = Number(new URL(TEST_REDIS_URL).pathname.slice(1));
export const TEST_QUEUE_PREFIX = `${BASE_QUEUE_PREFIX}-${TEST_WORKER}`;

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
