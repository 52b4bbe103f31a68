import { connectDatabase } from '@retail/common';
import { runMigrations } from '@retail/common/migrate';
import { runCli } from './cli.js';
import { closeTestStores, type TestStores } from './stores.js';
import { connectTestRedis, resetRedis } from './redis.js';
import { TEST_WORKER, testDatabaseUrl } from './test-env.js';

/**
 * The real Online Retail catalog, ingested once per `npm test` run and shared.
 *
 * Ingesting the real file takes a while, and several suites start from it. The first suite that asks
 * ingests it (`npm run ingest -- --no-embeddings`, as an operator would) into a template database; every
 * suite then gets a copy of its own (`CREATE DATABASE … TEMPLATE`, a file copy), so a suite's writes never
 * reach another. The global setup drops the template at the start of each run, so it always comes from the
 * code under test.
 */
export const REAL_CATALOG_TEMPLATE_URL = testDatabaseUrl('real_catalog');

const nameOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
const withDatabase = (url: string, name: string) => {
  const next = new URL(url);
  next.pathname = `/${name}`;
  return next.toString();
};

/** Drops the template (the global setup calls it, so each run ingests from the code under test). */
export async function dropRealCatalogTemplate(): Promise<void> {
  const admin = await connectDatabase(withDatabase(REAL_CATALOG_TEMPLATE_URL, 'postgres'), { max: 1 });
  try {
    const template = nameOf(REAL_CATALOG_TEMPLATE_URL);
    for (const name of [template, `${template}_building`]) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoted(name)} WITH (FORCE)`);
    }
  } finally {
    await admin.end();
  }
}

export interface RealCatalogStores extends TestStores {
  /** The suite's copy of the real catalog (also in process.env.DATABASE_URL while the suite runs). */
  databaseUrl: string;
  close(): Promise<void>;
}

/**
 * Gives the calling suite its own copy of the real catalog (customers, products, purchases; no vectors)
 * and points DATABASE_URL at it, so the processes the suite starts use it too; the worker's Redis
 * database is emptied. `close()` disconnects, drops the copy and restores DATABASE_URL.
 */
export async function openRealCatalogStores(): Promise<RealCatalogStores> {
  const template = nameOf(REAL_CATALOG_TEMPLATE_URL);
  const copyUrl = withDatabase(REAL_CATALOG_TEMPLATE_URL, `${nameOf(testDatabaseUrl(TEST_WORKER))}_real`);
  const copy = nameOf(copyUrl);
  const admin = await connectDatabase(withDatabase(REAL_CATALOG_TEMPLATE_URL, 'postgres'), { max: 1 });
  const client = await admin.connect();
  try {
    // One worker builds the template; the others wait for it here.
    await client.query(`SELECT pg_advisory_lock(hashtext('retail-test-real-catalog'))`);
    const exists = async (name: string) =>
      ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
    if (!(await exists(template))) {
      const building = `${template}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${quoted(building)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoted(building)}`);
      const buildingUrl = withDatabase(REAL_CATALOG_TEMPLATE_URL, building);
      await runMigrations(buildingUrl);
      const ingest = await runCli('services/ingestion/dist/main.js', ['--no-embeddings'], {
        DATABASE_URL: buildingUrl,
      });
      if (ingest.code !== 0) throw new Error(`ingesting the real catalog failed:\n${ingest.stderr}`);
      // Only a complete catalog gets the template's name.
      await client.query(`ALTER DATABASE ${quoted(building)} RENAME TO ${quoted(template)}`);
    }
    await client.query(`DROP DATABASE IF EXISTS ${quoted(copy)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoted(copy)} TEMPLATE ${quoted(template)}`);
  } finally {
    await client
      .query(`SELECT pg_advisory_unlock(hashtext('retail-test-real-catalog'))`)
      .catch(() => undefined);
    client.release();
  }

  const previousUrl = process.env.DATABASE_URL;
  process.env.DATABASE_URL = copyUrl;
  const db = await connectDatabase(copyUrl, { max: 4, applicationName: 'tests' });
  const redis = connectTestRedis();
  await resetRedis(redis);
  return {
    db,
    redis,
    databaseUrl: copyUrl,
    async close() {
      await closeTestStores({ db, redis });
      process.env.DATABASE_URL = previousUrl;
      await admin.query(`DROP DATABASE IF EXISTS ${quoted(copy)} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    },
  };
}
