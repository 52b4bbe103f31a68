import { runner } from 'node-pg-migrate';
import { MIGRATIONS_DIR } from '../config/paths.js';

export interface MigrationResult {
  applied: string[];
}

/**
 * Applies every pending migration in migrations/ (in order, in one transaction) and records them in
 * the `pgmigrations` table. Running it again applies nothing.
 */
export async function runMigrations(
  databaseUrl: string,
  log: (message: string) => void = () => undefined,
): Promise<MigrationResult> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: 'pgmigrations',
    direction: 'up',
    singleTransaction: true,
    checkOrder: true,
    log,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
  return { applied: applied.map((migration) => migration.name) };
}
