// Runs once per `jest` run, outside the test sandbox (so it uses the built packages: `npm test` builds
// first): makes sure every parallel worker has its own test database, with the schema up to date, and drops
// the shared real-catalog template of the previous run (services/testing/src/real-catalog.ts).
import pg from 'pg';
import { runMigrations } from '../services/common/dist/db/migrate.js';
import { dropRealCatalogTemplate } from '../services/testing/dist/real-catalog.js';
import { MAX_TEST_WORKERS, testDatabaseUrl } from '../services/testing/dist/test-env.js';

export default async function globalSetup(globalConfig) {
  const workers = Math.min(Math.max(globalConfig.maxWorkers, 1), MAX_TEST_WORKERS);
  const urls = Array.from({ length: workers }, (_, i) => testDatabaseUrl(i + 1));
  const admin = new URL(urls[0]);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    for (const url of urls) {
      const name = decodeURIComponent(new URL(url).pathname.slice(1));
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    }
  } finally {
    await client.end();
  }
  for (const url of urls) await runMigrations(url);
  await dropRealCatalogTemplate();
}
