import { connectDatabase, type Database } from '../db/database.js';
import { TEST_DATABASE_URL } from './test-env.js';

export function connectTestDatabase(): Promise<Database> {
  return connectDatabase(TEST_DATABASE_URL, { max: 4, applicationName: 'tests' });
}

/** Empties every table of the schema (not the migrations record). */
export async function resetDatabase(db: Database): Promise<void> {
  const { rows } = await db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmigrations'`,
  );
  if (rows.length > 0) {
    await db.query(`TRUNCATE ${rows.map((row) => `"${row.tablename}"`).join(', ')} RESTART IDENTITY CASCADE`);
  }
}

/** Row counts of the data tables, to show that a failed run changed nothing. */
export async function tableCounts(db: Database): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, number>>(`
    SELECT (SELECT count(*) FROM customers)          AS customers,
           (SELECT count(*) FROM products)           AS products,
           (SELECT count(*) FROM order_lines)        AS order_lines,
           (SELECT count(*) FROM user_items)         AS user_items,
           (SELECT count(*) FROM product_embeddings) AS product_embeddings`);
  return rows[0]!;
}
