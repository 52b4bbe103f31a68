import { connectDatabase, type Database } from '@retail/common';
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

export interface FixtureShop {
  /** Products with their descriptions (merchandise unless said otherwise). */
  products: { product_id: string; description: string; is_merchandise?: boolean }[];
  /** Who bought what, and how often (customers are created as needed). */
  purchases: { customer_id: number; product_id: string; times_bought?: number }[];
}

/** Writes a small shop straight into the tables (for tests of code that reads them, not of the ingestion). */
export async function insertShop(db: Database, shop: FixtureShop): Promise<void> {
  for (const p of shop.products) {
    await db.query(
      `INSERT INTO products (product_id, description, is_merchandise) VALUES ($1, $2, $3)
       ON CONFLICT (product_id) DO UPDATE SET description = excluded.description, is_merchandise = excluded.is_merchandise`,
      [p.product_id, p.description, p.is_merchandise ?? true],
    );
  }
  const customers = [...new Set(shop.purchases.map((p) => p.customer_id))];
  for (const id of customers) {
    const bought = shop.purchases.filter((p) => p.customer_id === id).length;
    await db.query(
      `INSERT INTO customers (customer_id, country, products_bought, first_purchase_at, last_purchase_at,
                              purchases_hash, items_hash)
       VALUES ($1::int, 'United Kingdom', $2, '2011-01-01 10:00', '2011-06-01 10:00', md5($1::text), md5($1::text))
       ON CONFLICT (customer_id) DO NOTHING`,
      [id, bought],
    );
  }
  for (const p of shop.purchases) {
    await db.query(
      `INSERT INTO user_items (customer_id, product_id, times_bought, total_quantity, first_purchased_at,
                               last_purchased_at)
       VALUES ($1, $2, $3, $3, '2011-01-01 10:00', '2011-06-01 10:00')`,
      [p.customer_id, p.product_id, p.times_bought ?? 1],
    );
  }
}
