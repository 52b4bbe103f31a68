#!/usr/bin/env node
import { loadConfig, redactUrl } from '../config/config.js';
import { runMigrations } from './migrate.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL. */
async function main(): Promise<void> {
  const config = loadConfig();
  const { applied } = await runMigrations(config.databaseUrl);
  const target = redactUrl(config.databaseUrl);
  console.log(
    applied.length === 0
      ? `migrations: ${target} is up to date`
      : `migrations: applied ${applied.join(', ')} to ${target}`,
  );
}

main().catch((error: unknown) => {
  console.error(`migrations failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
