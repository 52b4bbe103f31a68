import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withTransaction, type Database } from '@retail/common';
import { cleanPostedLine, summariseCustomer, type PostedLine } from '@retail/ingestion/cleaning';
import { connectTestDatabase, resetDatabase } from '@retail/testing';
import { IngestionService, type IngestionReport } from '../src/ingestion.service.js';
import { formatReport } from '../src/report.js';

/**
 * A new ingestion of the file keeps what came through the write API: the posted lines count with the file's,
 * a posted invoice the file also holds counts once, the shop's descriptions stay, prices are the latest the
 * data has, and erased customers stay erased.
 */

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

let db: Database;
let scratch: string;

beforeAll(async () => {
  db = await connectTestDatabase();
  scratch = await mkdtemp(path.join(tmpdir(), 'ingestion-posted-'));
});

afterAll(async () => {
  await db.end();
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  await resetDatabase(db);
});

const ingest = (file: string): Promise<IngestionReport> => new IngestionService(db).ingest(file);

/** A posted line, United Kingdom unless said otherwise. */
function posted(
  invoiceNo: string,
  stockCode: string,
  description: string,
  quantity: number,
  invoiceDate: string,
  unitPrice: number,
  customerId: number | null,
  country = 'United Kingdom',
): PostedLine {
  return {
    invoice_no: invoiceNo,
    stock_code: stockCode,
    description,
    quantity,
    invoice_date: invoiceDate,
    unit_price: unitPrice,
    customer_id: customerId,
    country,
  };
}

/**
 * Records posted lines as the write API does: each through the cleaning rules, the kept ones under their
 * invoice (one posted_invoices row per invoice). Returns how many were kept.
 */
async function record(lines: PostedLine[]): Promise<number> {
  return withTransaction(db, async (client) => {
    let kept = 0;
    for (const [index, line] of lines.entries()) {
      const outcome = cleanPostedLine(line, index);
      if (outcome.kind !== 'kept') continue;
      const l = outcome.line;
      await client.query(
        'INSERT INTO posted_invoices (invoice_no, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [l.invoiceNo, l.customerId],
      );
      await client.query(
        `INSERT INTO posted_lines (invoice_no, product_id, description, quantity, invoice_date, unit_price,
                                   customer_id, country)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          l.invoiceNo,
          l.productId,
          l.description,
          l.quantity,
          l.invoiceDate,
          l.unitPrice,
          l.customerId,
          l.country,
        ],
      );
      kept++;
    }
    return kept;
  });
}

/** The posted lines as rows of the data file (the same fields, in the file's column order). */
function asCsvRows(lines: PostedLine[]): string[] {
  return lines.map((l) =>
    [
      l.invoice_no,
      l.stock_code,
      l.description,
      l.quantity,
      l.invoice_date,
      l.unit_price,
      l.customer_id ?? '',
      l.country,
    ].join(','),
  );
}

/** The derived tables, without the columns that say when a row was written. */
async function derived(): Promise<Record<string, unknown[]>> {
  const query = async (sql: string) => (await db.query(sql)).rows;
  return {
    products: await query(
      `SELECT product_id, description, is_merchandise, description_variants, unit_price, described_by, retired_at
         FROM products ORDER BY product_id`,
    ),
    customers: await query(
      `SELECT customer_id, country, products_bought, first_purchase_at, last_purchase_at, purchases_hash, items_hash
         FROM customers ORDER BY customer_id`,
    ),
    userItems: await query('SELECT * FROM user_items ORDER BY customer_id, product_id'),
  };
}

/** Everything, with the columns that say when a row was written: a run that rewrites nothing keeps them. */
async function everything(): Promise<Record<string, string>> {
  const { rows } = await db.query<Record<string, string>>(`
    SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY product_id), '')) FROM products t) AS products,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY customer_id), '')) FROM customers t) AS customers,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY customer_id, product_id), '')) FROM user_items t)
             AS user_items,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY invoice_no), '')) FROM posted_invoices t) AS invoices,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY line_id), '')) FROM posted_lines t) AS lines,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY model), '')) FROM model_versions t) AS models`);
  return rows[0]!;
}

// Two invoices posted through the API: one of a customer of the file with a product of the file and a new
// product, one of a customer the file has never seen; and a line without a customer (never recorded).
const NEW_INVOICES = [
  posted('W1001', '22632', 'HAND WARMER RED RETROSPOT', 3, '2011-01-10 09:30:00', 2.1, 17850),
  posted('W1001', 'new1', ' SHOP  NEW LANTERN', 1, '2011-01-10 09:30:00', 7.95, 17850),
  posted(
    'W1002',
    '85123A',
    'WHITE HANGING HEART T-LIGHT HOLDER',
    2,
    '2011-01-11T10:00:00Z',
    2.95,
    99001,
    'Norway',
  ),
  posted('W1003', '22633', 'HAND WARMER UNION JACK', 1, '2011-01-12 10:00:00', 1.85, null),
];

describe('posted invoices the file does not hold', () => {
  it('count with the file’s lines, exactly as if the file held them; customers and products of the API stay', async () => {
    await ingest(fixture('small.csv'));
    expect(await record(NEW_INVOICES)).toBe(3);

    const report = await ingest(fixture('small.csv'));
    expect(report.posted).toEqual({ linesKept: 3, invoicesKept: 2, invoicesInFile: 0, linesInFile: 0 });
    expect(report.rowsKept).toBe(14); // the file's
    expect(report.totals).toMatchObject({ customers: 4, products: 9, orderLines: 14, postedLines: 3 });
    expect(formatReport(report)).toContain(
      "posted via the API 3 lines (2 invoices) kept with the file's; 0 posted invoices now in the file",
    );

    const { rows: customer } = await db.query(
      'SELECT country, products_bought, first_purchase_at, last_purchase_at FROM customers WHERE customer_id = 99001',
    );
    expect(customer).toEqual([
      {
        country: 'Norway',
        products_bought: 1,
        first_purchase_at: '2011-01-11 10:00:00',
        last_purchase_at: '2011-01-11 10:00:00',
      },
    ]);
    const { rows: items } = await db.query(
      `SELECT product_id, times_bought, total_quantity FROM user_items WHERE customer_id = 17850 ORDER BY product_id`,
    );
    expect(items).toEqual([
      { product_id: '22632', times_bought: 1, total_quantity: 3 },
      { product_id: '71053', times_bought: 1, total_quantity: 6 },
      { product_id: '84406B', times_bought: 1, total_quantity: 8 },
      { product_id: '85123A', times_bought: 2, total_quantity: 10 },
      { product_id: 'NEW1', times_bought: 1, total_quantity: 1 },
      { product_id: 'POST', times_bought: 1, total_quantity: 1 },
    ]);
    const { rows: product } = await db.query(
      `SELECT description, is_merchandise, unit_price FROM products WHERE product_id = 'NEW1'`,
    );
    expect(product).toEqual([{ description: 'SHOP NEW LANTERN', is_merchandise: true, unit_price: '7.950' }]);

    // The same lines written into the file give the same products, customers and user-item matrix.
    const withPosted = await derived();
    const small = await readFile(fixture('small.csv'), 'utf8');
    const combined = path.join(scratch, 'small-and-posted.csv');
    await writeFile(combined, `${small.trimEnd()}\n${asCsvRows(NEW_INVOICES).join('\n')}\n`);
    await resetDatabase(db);
    await ingest(combined);
    expect(await derived()).toEqual(withPosted);
  });

  it('a customer who bought only through the API is kept when the file changes', async () => {
    await ingest(fixture('small.csv'));
    await record(NEW_INVOICES);
    const report = await ingest(fixture('malformed.csv')); // customer 17850 only
    expect(report.written.removed.customers).toBe(2); // 13047 and 12583, who bought only in the file
    const { rows } = await db.query('SELECT customer_id FROM customers ORDER BY 1');
    expect(rows.map((r) => r.customer_id)).toEqual([17850, 99001]);
    const { rows: products } = await db.query('SELECT product_id FROM products ORDER BY 1');
    // malformed.csv's two products, and those bought through the API.
    expect(products.map((r) => r.product_id)).toEqual(['22632', '85123A', 'NEW1']);
  });
});

describe('a posted invoice that the file also holds', () => {
  it('counts once: the file’s lines win and the posted invoice goes, with its lines', async () => {
    await ingest(fixture('small.csv'));
    const fileOnly = await derived();
    // Invoice 536365 is in the file (4 lines of customer 17850); posted again with other quantities.
    await record([
      posted(
        '536365',
        '85123A',
        'WHITE HANGING HEART T-LIGHT HOLDER',
        60,
        '2010-12-01 08:26:00',
        2.55,
        17850,
      ),
      posted('536365', '22632', 'HAND WARMER RED RETROSPOT', 1, '2010-12-01 08:26:00', 1.85, 17850),
      ...NEW_INVOICES.slice(2, 3),
    ]);

    const report = await ingest(fixture('small.csv'));
    expect(report.posted).toEqual({ linesKept: 1, invoicesKept: 1, invoicesInFile: 1, linesInFile: 2 });
    const { rows: invoices } = await db.query('SELECT invoice_no FROM posted_invoices ORDER BY 1');
    expect(invoices).toEqual([{ invoice_no: 'W1002' }]);
    const { rows: lines } = await db.query('SELECT invoice_no FROM posted_lines');
    expect(lines).toEqual([{ invoice_no: 'W1002' }]);

    // Customer 17850's purchases are the file's alone.
    const now = await derived();
    const of17850 = (d: Record<string, unknown[]>) =>
      d.userItems!.filter((row) => (row as { customer_id: number }).customer_id === 17850);
    expect(of17850(now)).toEqual(of17850(fileOnly));
    expect(now.customers!.find((c) => (c as { customer_id: number }).customer_id === 17850)).toEqual(
      fileOnly.customers!.find((c) => (c as { customer_id: number }).customer_id === 17850),
    );
  });
});

describe('products the shop described', () => {
  it('keep their description and merchandise flag, are never deleted, and keep their retirement', async () => {
    await ingest(fixture('small.csv'));
    const { rows: before } = await db.query(
      `SELECT products_bought FROM customers WHERE customer_id = 12583`,
    );
    expect(before).toEqual([{ products_bought: 3 }]); // 22632, 22633, 71053; 23444 is carriage
    await db.query(`
      UPDATE products SET described_by = 'api', description = 'MOROCCAN LANTERN, SHOP TEXT',
                          retired_at = '2011-06-01 12:00:00+00'
       WHERE product_id = '71053';
      UPDATE products SET described_by = 'api', description = 'CARRIAGE CLOCK', is_merchandise = true
       WHERE product_id = '23444';
      INSERT INTO products (product_id, description, is_merchandise, described_by, unit_price)
      VALUES ('SHOP1', 'A PRODUCT NOBODY BOUGHT YET', true, 'api', 4.5);`);
    const shopRows = async () =>
      (
        await db.query(
          `SELECT product_id, description, is_merchandise, described_by, retired_at, unit_price FROM products
            WHERE described_by = 'api' ORDER BY product_id`,
        )
      ).rows;
    const described = await shopRows();

    const report = await ingest(fixture('small.csv'));
    expect(await shopRows()).toEqual(described);
    // The shop's flag counts in the customers' purchases: 23444 is merchandise now.
    const { rows: after } = await db.query(`SELECT products_bought FROM customers WHERE customer_id = 12583`);
    expect(after).toEqual([{ products_bought: 4 }]);
    expect(report.products.nonMerchandise.map((p) => p.productId)).toEqual(['POST']);

    // A file without them deletes the file's products it no longer has, never the shop's.
    await ingest(fixture('malformed.csv'));
    const { rows: products } = await db.query('SELECT product_id, described_by FROM products ORDER BY 1');
    expect(products).toEqual([
      { product_id: '22632', described_by: 'file' },
      { product_id: '23444', described_by: 'api' },
      { product_id: '71053', described_by: 'api' },
      { product_id: '85123A', described_by: 'file' },
      { product_id: 'SHOP1', described_by: 'api' },
    ]);
    expect((await shopRows()).map((p) => p.retired_at)).toEqual(described.map((p) => p.retired_at));
  });
});

describe('the latest price', () => {
  it('is the price of the latest invoice date, ties to the later line, across the file and the posted lines', async () => {
    await ingest(fixture('prices.csv'));
    const prices = async () =>
      Object.fromEntries(
        (
          await db.query<{ product_id: string; unit_price: string }>(
            'SELECT product_id, unit_price FROM products',
          )
        ).rows.map((r) => [r.product_id, r.unit_price]),
      );
    // 22632: the latest date wins over the file's order; 85123A: two lines of one invoice, the later wins.
    expect(await prices()).toEqual({ '22632': '2.500', '85123A': '2.950', '71053': '3.390' });
    // The same rule as the schema's: the latest invoice date, then the later line of the file.
    const { rows: bySql } = await db.query(`
      SELECT count(*)::int AS n FROM products p
        JOIN (SELECT DISTINCT ON (product_id) product_id, unit_price FROM order_lines
               ORDER BY product_id, invoice_date DESC, line_no DESC) l USING (product_id)
       WHERE p.unit_price = l.unit_price`);
    expect(bySql).toEqual([{ n: 3 }]);

    await record([
      // The file's latest date for 71053, posted after the file: the later line.
      posted('W2001', '71053', 'WHITE METAL LANTERN', 1, '2011-02-01 10:00:00', 3.75, 17850),
      // Older than the file's latest 22632 line: not the latest price.
      posted('W2001', '22632', 'HAND WARMER RED RETROSPOT', 1, '2011-02-01 10:00:00', 9.99, 17850),
      // The latest of all for 85123A.
      posted('W2002', '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', 1, '2011-12-01 10:00:00', 3.1, 13047),
    ]);
    const report = await ingest(fixture('prices.csv'));
    expect(report.written.products).toBe(2);
    expect(await prices()).toEqual({ '22632': '2.500', '85123A': '3.100', '71053': '3.750' });
  });
});

describe('erased customers', () => {
  it('their lines in the file are dropped, counted under erased_customer, and reported', async () => {
    await db.query('INSERT INTO erased_customers (customer_id) VALUES (13047), (424242)');
    const report = await ingest(fixture('small.csv'));
    expect(report.rowsDropped).toEqual({
      missing_customer_id: 1,
      missing_stock_code: 0,
      cancellation: 1,
      non_positive_quantity: 1,
      erased_customer: 3,
    });
    expect(report.rowsKept).toBe(11);
    const { rows } = await db.query(`
      SELECT (SELECT count(*) FROM customers WHERE customer_id = 13047)::int AS customers,
             (SELECT count(*) FROM order_lines WHERE customer_id = 13047)::int AS lines,
             (SELECT count(*) FROM user_items WHERE customer_id = 13047)::int AS items,
             (SELECT count(*) FROM products WHERE product_id = '21754')::int AS bought_only_by_them`);
    expect(rows).toEqual([{ customers: 0, lines: 0, items: 0, bought_only_by_them: 0 }]);
    expect(formatReport(report)).toMatch(/erased customer\s+3\n/);
    const { rows: run } = await db.query('SELECT rows_dropped FROM ingestion_runs');
    expect(run).toEqual([{ rows_dropped: expect.objectContaining({ erased_customer: 3 }) }]);
  });

  it('a customer erased after an ingestion leaves with the next one', async () => {
    await ingest(fixture('small.csv'));
    await db.query('INSERT INTO erased_customers (customer_id) VALUES (12583)');
    const report = await ingest(fixture('small.csv'));
    expect(report.written.removed.customers).toBe(1);
    const { rows } = await db.query('SELECT customer_id FROM customers ORDER BY 1');
    expect(rows.map((r) => r.customer_id)).toEqual([13047, 17850]);
  });
});

describe('a second ingestion of the same file with posted data', () => {
  it('changes nothing', async () => {
    await db.query('INSERT INTO erased_customers (customer_id) VALUES (12583)');
    await ingest(fixture('small.csv'));
    await record(NEW_INVOICES);
    await record([
      posted('536366', '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', 5, '2010-12-02 09:00:00', 2.55, 17850),
    ]);
    await db.query(
      `UPDATE products SET described_by = 'api', description = 'SHOP TEXT' WHERE product_id = '71053'`,
    );
    const first = await ingest(fixture('small.csv'));
    expect(first.posted).toMatchObject({ linesKept: 3, invoicesInFile: 1 });
    const state = await everything();

    const second = await ingest(fixture('small.csv'));
    expect(second.written).toEqual({
      products: 0,
      customers: 0,
      customersWithNewItems: 0,
      userItemRows: 0,
      removed: { products: 0, customers: 0 },
    });
    expect(second.posted).toEqual({ linesKept: 3, invoicesKept: 2, invoicesInFile: 0, linesInFile: 0 });
    expect(second.totals).toEqual(first.totals);
    expect(await everything()).toEqual(state);
  });
});

describe('the write path’s summary of a customer', () => {
  it('is byte-identical to the ingestion’s, so the next ingestion rewrites nothing of that customer', async () => {
    await ingest(fixture('small.csv'));
    const lines = [
      posted('W3001', '22633', 'HAND WARMER UNION JACK', 4, '2011-01-20 11:00:00', 1.85, 13047),
      posted('W3001', '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', 1, '2011-01-20 11:00:00', 2.55, 13047),
      posted('W3002', 'POST', 'POSTAGE', 1, '2011-01-21 11:00:00', 18, 55555, 'EIRE'),
      posted('W3002', '22632', 'HAND WARMER RED RETROSPOT', 2, '2011-01-21 11:00:00', 1.85, 55555, 'EIRE'),
    ];
    await record(lines);

    // What a write path does after recording them: the customer's user-item rows from all their lines, then
    // their summary from those rows as the database gives them back.
    for (const customerId of [13047, 55555]) {
      await db.query('DELETE FROM user_items WHERE customer_id = $1', [customerId]);
      await db.query(
        `INSERT INTO user_items (customer_id, product_id, times_bought, total_quantity, first_purchased_at,
                                 last_purchased_at)
         SELECT customer_id, product_id, count(DISTINCT invoice_no), sum(quantity), min(invoice_date), max(invoice_date)
           FROM (SELECT customer_id, product_id, invoice_no, quantity, invoice_date FROM order_lines
                 UNION ALL
                 SELECT customer_id, product_id, invoice_no, quantity, invoice_date FROM posted_lines) l
          WHERE customer_id = $1 GROUP BY customer_id, product_id`,
        [customerId],
      );
      const { rows } = await db.query<{
        product_id: string;
        times_bought: number;
        total_quantity: number;
        first_purchased_at: string;
        last_purchased_at: string;
      }>('SELECT * FROM user_items WHERE customer_id = $1 ORDER BY times_bought DESC, product_id DESC', [
        customerId,
      ]);
      const { rows: flags } = await db.query<{ product_id: string }>(
        'SELECT product_id FROM products WHERE is_merchandise',
      );
      const merchandise = new Set(flags.map((f) => f.product_id));
      const summary = summariseCustomer(
        rows.map((r) => ({
          productId: r.product_id,
          timesBought: r.times_bought,
          totalQuantity: r.total_quantity,
          firstPurchasedAt: r.first_purchased_at,
          lastPurchasedAt: r.last_purchased_at,
        })),
        (productId) => merchandise.has(productId),
      );
      await db.query(
        `INSERT INTO customers (customer_id, country, products_bought, first_purchase_at, last_purchase_at,
                                purchases_hash, items_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (customer_id) DO UPDATE
           SET products_bought = excluded.products_bought, first_purchase_at = excluded.first_purchase_at,
               last_purchase_at = excluded.last_purchase_at, purchases_hash = excluded.purchases_hash,
               items_hash = excluded.items_hash`,
        [
          customerId,
          customerId === 55555 ? 'EIRE' : 'United Kingdom',
          summary.productsBought,
          summary.firstPurchaseAt,
          summary.lastPurchaseAt,
          summary.purchasesHash,
          summary.itemsHash,
        ],
      );
    }
    const customers = async () => {
      const { customers, user_items } = await everything();
      return { customers, user_items };
    };
    const before = await customers();

    const report = await ingest(fixture('small.csv'));
    expect(report.posted).toMatchObject({ linesKept: 4, invoicesKept: 2 });
    expect(report.written).toMatchObject({ customers: 0, customersWithNewItems: 0, userItemRows: 0 });
    expect(await customers()).toEqual(before);
  });
});
