import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SHARED_DATA_FILE, type Database } from '@retail/common';
import { connectTestDatabase, resetDatabase, runCli, tableCounts } from '@retail/testing';
import { IngestionInputError } from '../src/errors.js';
import { IngestionService } from '../src/ingestion.service.js';
import { onlineRetailWorkbook } from './fixtures/workbook.js';

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);
const INGEST = 'services/ingestion/dist/main.js';

let db: Database;
let scratch: string;

beforeAll(async () => {
  db = await connectTestDatabase();
  scratch = await mkdtemp(path.join(tmpdir(), 'ingestion-test-'));
});

afterAll(async () => {
  await db.end();
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  await resetDatabase(db);
});

describe('ingesting a small file with the known quirks', () => {
  it('applies the cleaning rules and builds products, customers and the user-item matrix', async () => {
    const report = await new IngestionService(db).ingest(fixture('small.csv'));

    expect(report.rowsRead).toBe(17);
    expect(report.rowsKept).toBe(14);
    expect(report.rowsDropped).toEqual({
      missing_customer_id: 1,
      missing_stock_code: 0,
      cancellation: 1,
      non_positive_quantity: 1,
      erased_customer: 0,
    });
    expect(report.rowsMalformed).toBe(0);
    expect(report.products).toMatchObject({ rawStockCodes: 9, normalised: 8, merchandise: 6 });
    expect(report.products.nonMerchandise.map((p) => p.productId).sort()).toEqual(['23444', 'POST']);

    const { rows: products } = await db.query(
      'SELECT product_id, description, is_merchandise FROM products ORDER BY product_id',
    );
    expect(products).toEqual([
      { product_id: '21754', description: 'HOME BUILDING BLOCK WORD, "HOME"', is_merchandise: true },
      { product_id: '22632', description: 'HAND WARMER RED RETROSPOT', is_merchandise: true },
      { product_id: '22633', description: 'HAND WARMER UNION JACK', is_merchandise: true },
      { product_id: '23444', description: 'Next Day Carriage', is_merchandise: false },
      { product_id: '71053', description: 'WHITE MOROCCAN METAL LANTERN', is_merchandise: true },
      { product_id: '84406B', description: 'CREAM CUPID HEARTS COAT HANGER', is_merchandise: true },
      { product_id: '85123A', description: 'WHITE HANGING HEART T-LIGHT HOLDER', is_merchandise: true },
      { product_id: 'POST', description: 'POSTAGE', is_merchandise: false },
    ]);

    const { rows: customers } = await db.query(
      'SELECT customer_id, country, products_bought FROM customers ORDER BY customer_id',
    );
    expect(customers).toEqual([
      { customer_id: 12583, country: 'France', products_bought: 3 },
      { customer_id: 13047, country: 'United Kingdom', products_bought: 3 },
      { customer_id: 17850, country: 'United Kingdom', products_bought: 3 },
    ]);

    const { rows: items } = await db.query(
      `SELECT product_id, times_bought, total_quantity, first_purchased_at, last_purchased_at
         FROM user_items WHERE customer_id = 17850 ORDER BY product_id`,
    );
    expect(items).toEqual([
      {
        product_id: '71053',
        times_bought: 1,
        total_quantity: 6,
        first_purchased_at: '2010-12-01 08:26:00',
        last_purchased_at: '2010-12-01 08:26:00',
      },
      {
        product_id: '84406B',
        times_bought: 1,
        total_quantity: 8,
        first_purchased_at: '2010-12-01 08:26:00',
        last_purchased_at: '2010-12-01 08:26:00',
      },
      // 85123a and 85123A are one product: two invoices, 6 + 2 + 2 units.
      {
        product_id: '85123A',
        times_bought: 2,
        total_quantity: 10,
        first_purchased_at: '2010-12-01 08:26:00',
        last_purchased_at: '2010-12-02 09:00:00',
      },
      {
        product_id: 'POST',
        times_bought: 1,
        total_quantity: 1,
        first_purchased_at: '2010-12-01 08:26:00',
        last_purchased_at: '2010-12-01 08:26:00',
      },
    ]);
    expect(await tableCounts(db)).toMatchObject({
      customers: 3,
      products: 8,
      order_lines: 14,
      user_items: 11,
    });
  });

  it('rewrites only what changed when a different file is ingested', async () => {
    await new IngestionService(db).ingest(fixture('small.csv'));
    const { rows: before } = await db.query(`SELECT customer_id, updated_at FROM customers ORDER BY 1`);
    const report = await new IngestionService(db).ingest(fixture('malformed.csv'));

    // malformed.csv holds two readable lines of customer 17850 only.
    expect(report.written.removed).toEqual({ customers: 2, products: 6 });
    expect(report.written.customersWithNewItems).toBe(1);
    expect(await tableCounts(db)).toMatchObject({ customers: 1, products: 2, order_lines: 2, user_items: 2 });
    const { rows: after } = await db.query(`SELECT customer_id, updated_at FROM customers ORDER BY 1`);
    expect(after.map((r) => r.customer_id)).toEqual([17850]);
    expect(after[0].updated_at.getTime()).toBeGreaterThan(
      before.find((r) => r.customer_id === 17850).updated_at.getTime(),
    );
  });
});

describe('bad input: a clear message, a non-zero exit, nothing changed', () => {
  beforeEach(async () => {
    await new IngestionService(db).ingest(fixture('small.csv'));
  });

  it.each([
    ['a missing file', 'does-not-exist.csv', /file not found: .*does-not-exist\.csv/],
    ['an empty file', 'empty.csv', /the file is empty/],
    ['a file with only a header', 'header-only.csv', /has a header but no data rows/],
    [
      'a header without required columns',
      'missing-columns.csv',
      /the header lacks required columns Quantity, CustomerID \(found: InvoiceNo, StockCode, Description, Qty, InvoiceDate, UnitPrice, Country\)/,
    ],
  ])('%s', async (_label, file, message) => {
    const before = await tableCounts(db);
    const result = await runCli(INGEST, ['--file', fixture(file)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(await tableCounts(db)).toEqual(before);
  });

  it('rejects the same inputs with typed errors through the service', async () => {
    await expect(new IngestionService(db).ingest(fixture('empty.csv'))).rejects.toBeInstanceOf(
      IngestionInputError,
    );
  });

  it('a file with malformed rows: counted, reported with line numbers, skipped; the rest loaded', async () => {
    const result = await runCli(INGEST, ['--file', fixture('malformed.csv'), '--no-embeddings']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/rows read\s+5\n/);
    expect(result.stdout).toMatch(/rows kept\s+2\n/);
    expect(result.stdout).toMatch(/malformed, skipped 3\n/);
    expect(result.stdout).toContain('line 3: Quantity is not an integer: "six"');
    expect(result.stdout).toContain('line 4: InvoiceDate is not a date: "2010-13-45 08:26:00"');
    expect(result.stdout).toContain('line 5: expected 8 fields, found 7');
    const { rows } = await db.query('SELECT product_id FROM order_lines ORDER BY line_no');
    expect(rows.map((r) => r.product_id)).toEqual(['85123A', '22632']);
  });

  it('a failure in the middle of a run rolls everything back', async () => {
    const before = await tableCounts(db);
    const { rows: products } = await db.query('SELECT * FROM products ORDER BY product_id');
    // A CHECK violation while loading: the service must not leave half a run behind.
    await db.query('ALTER TABLE order_lines ADD CONSTRAINT test_reject_big CHECK (quantity < 10) NOT VALID');
    try {
      await expect(new IngestionService(db).ingest(fixture('small.csv'))).rejects.toThrow(/test_reject_big/);
    } finally {
      await db.query('ALTER TABLE order_lines DROP CONSTRAINT test_reject_big');
    }
    expect(await tableCounts(db)).toEqual(before);
    expect((await db.query('SELECT * FROM products ORDER BY product_id')).rows).toEqual(products);
  });
});

describe('.xlsx, the form UCI distributes', () => {
  it('loads a workbook with real dates and numbers', async () => {
    const day = (d: number, h: number, m: number) => new Date(Date.UTC(2010, 11, d, h, m));
    const workbook = await onlineRetailWorkbook([
      [
        536365,
        '85123A',
        'WHITE HANGING HEART T-LIGHT HOLDER',
        6,
        day(1, 8, 26),
        2.55,
        17850,
        'United Kingdom',
      ],
      [536365, 71053, 'WHITE METAL LANTERN', 6, day(1, 8, 26), 3.39, 17850, 'United Kingdom'],
      ['C536379', 'D', 'Discount', -1, day(1, 9, 41), 27.5, 14527, 'United Kingdom'],
      [536370, 22728, 'ALARM CLOCK BAKELIKE PINK', 24, day(1, 8, 45), 3.75, 12583, 'France'],
      [536371, 22728, 'ALARM CLOCK BAKELIKE PINK', 2, day(2, 10, 0), 3.75, null, 'France'],
    ]);
    const file = path.join(scratch, 'Online Retail.xlsx');
    await workbook.xlsx.writeFile(file);

    const report = await new IngestionService(db).ingest(file);
    expect(report.format).toBe('xlsx');
    expect(report).toMatchObject({ rowsRead: 5, rowsKept: 3, rowsMalformed: 0 });
    expect(report.rowsDropped).toMatchObject({ missing_customer_id: 1, cancellation: 1 });
    const { rows } = await db.query(
      'SELECT invoice_no, product_id, quantity, invoice_date, unit_price, customer_id FROM order_lines ORDER BY line_no',
    );
    expect(rows).toEqual([
      {
        invoice_no: '536365',
        product_id: '85123A',
        quantity: 6,
        invoice_date: '2010-12-01 08:26:00',
        unit_price: '2.550',
        customer_id: 17850,
      },
      {
        invoice_no: '536365',
        product_id: '71053',
        quantity: 6,
        invoice_date: '2010-12-01 08:26:00',
        unit_price: '3.390',
        customer_id: 17850,
      },
      {
        invoice_no: '536370',
        product_id: '22728',
        quantity: 24,
        invoice_date: '2010-12-01 08:45:00',
        unit_price: '3.750',
        customer_id: 12583,
      },
    ]);
  });
});

const REAL_FILE = process.env.DATA_FILE ?? SHARED_DATA_FILE;

describe('the real Online Retail file', () => {
  it('loads with the published figures, and a second run changes no count', async () => {
    if (!existsSync(REAL_FILE)) {
      throw new Error(`the real data set is needed at ${REAL_FILE} (set DATA_FILE to its path)`);
    }
    const first = await new IngestionService(db).ingest(REAL_FILE);
    expect(first.rowsRead).toBe(541_909);
    expect(first.rowsKept).toBe(397_924);
    expect(first.rowsDropped).toEqual({
      missing_customer_id: 135_080,
      missing_stock_code: 0,
      cancellation: 8_905,
      non_positive_quantity: 0,
      erased_customer: 0,
    });
    expect(first.rowsMalformed).toBe(0);
    expect(first.totals.customers).toBe(4_339);
    // Distinct products bought: 3,665 StockCodes; the same after code normalisation (this copy has no
    // lower-case variant on a kept row); 3,658 once the 7 service codes are set aside.
    expect(first.products).toMatchObject({ rawStockCodes: 3_665, normalised: 3_665, merchandise: 3_658 });
    expect(first.products.nonMerchandise.map((p) => p.productId).sort()).toEqual(
      ['23444', 'BANK CHARGES', 'C2', 'DOT', 'M', 'PADS', 'POST'].sort(),
    );
    const counts = await tableCounts(db);
    expect(counts).toMatchObject({ customers: 4_339, products: 3_665, order_lines: 397_924 });
    const { rows: bought } = await db.query<{ n: number }>(
      'SELECT count(DISTINCT product_id) AS n FROM user_items JOIN products USING (product_id) WHERE is_merchandise',
    );
    expect(bought[0]!.n).toBe(3_658);

    const { rows: hashes } = await db.query(
      "SELECT md5(string_agg(customer_id || items_hash, ',' ORDER BY customer_id)) AS h FROM customers",
    );
    const second = await new IngestionService(db).ingest(REAL_FILE);
    expect(second.totals).toEqual(first.totals);
    expect(await tableCounts(db)).toEqual(counts);
    expect(second.written).toEqual({
      products: 0,
      customers: 0,
      customersWithNewItems: 0,
      userItemRows: 0,
      removed: { products: 0, customers: 0 },
    });
    const { rows: hashesAfter } = await db.query(
      "SELECT md5(string_agg(customer_id || items_hash, ',' ORDER BY customer_id)) AS h FROM customers",
    );
    expect(hashesAfter).toEqual(hashes);

    // A copy of the real file with 200 bytes flipped in the middle fails as bad input and changes nothing.
    const damaged = Buffer.from(await readFile(REAL_FILE));
    const middle = Math.floor(damaged.length / 2);
    for (let i = middle; i < middle + 200; i++) damaged[i] = damaged[i]! ^ 0xff;
    const damagedFile = path.join(scratch, 'online_retail.damaged.csv.gz');
    await writeFile(damagedFile, damaged);
    await expect(new IngestionService(db).ingest(damagedFile)).rejects.toThrow(
      /online_retail\.damaged\.csv\.gz cannot be read after line \d+: the gzip data is corrupt/,
    );
    expect(await tableCounts(db)).toEqual(counts);
    const { rows: hashesAfterDamage } = await db.query(
      "SELECT md5(string_agg(customer_id || items_hash, ',' ORDER BY customer_id)) AS h FROM customers",
    );
    expect(hashesAfterDamage).toEqual(hashes);
  });
});
