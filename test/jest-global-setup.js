// Runs once per `jest` run, outside the test sandbox (so it uses the built package: `npm test` builds first):
// brings the test database's schema up to date.
import { runMigrations } from '../services/common/dist/db/migrate.js';
import { TEST_DATABASE_URL } from '../services/testing/dist/test-env.js';

export default async function globalSetup() {
  await runMigrations(TEST_DATABASE_URL);
}
