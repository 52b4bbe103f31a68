import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Database } from '@retail/common';
import { readCleanPurchases } from '@retail/ingestion/clean-purchases';
import { connectTestDatabase, resetDatabase, runCli, tableCounts } from '@retail/testing';
import { IngestionService } from '../src/ingestion.service.js';

/**
 * `npm run eval -- --file` reads the data file through the ingestion's reader: it refuses what
 * `npm run ingest` refuses, with the same exit code and the same message.
 */

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);
const INGEST = 'services/ingestion/dist/main.js';
const EVAL = 'services/recommendation/dist/eval/eval.cli.js';
const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';
const ROW =
  '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom';

let db: Database;
let scratch: string;

beforeAll(async () => {
  db = await connectTestDatabase();
  scratch = await mkdtemp(path.join(tmpdir(), 'ingestion-one-reader-'));
  await resetDatabase(db);
  await new IngestionService(db).ingest(fixture('small.csv'));
});

afterAll(async () => {
  await db.end();
  await rm(scratch, { recursive: true, force: true });
});

async function scratchFile(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(scratch, name);
  await writeFile(file, content);
  return file;
}

/** The one line a failed command printed, without its command's own words around it. */
function failure(stderr: string, pattern: RegExp): string {
  const lines = stderr.split('\n').filter((line) => line !== '' && !/^reading: /.test(line));
  expect(lines).toHaveLength(1);
  const match = pattern.exec(lines[0]!);
  expect(match).not.toBeNull();
  return match![1]!;
}

describe('the eval and the ingestion refuse the same files, the same way', () => {
  it.each([
    [
      'a binary file',
      async () =>
        scratchFile(
          'garbage.csv',
          Buffer.concat([
            Buffer.from('\x1b[2J\x07', 'latin1'),
            Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 167 + 13) % 256)),
          ]),
        ),
      /garbage\.csv is neither CSV text nor an \.xlsx workbook/,
    ],
    [
      'a header with a quote never closed',
      async () => scratchFile('open-quote.csv', `${HEADER.replace('Description', '"Description')}\n${ROW}\n`),
      /the header row of .*open-quote\.csv cannot be read: a quote is opened and never closed/,
    ],
    [
      'a header with a stray quote',
      async () =>
        scratchFile('stray-quote.csv', `${HEADER},"Note"x\n${ROW},\n${ROW.replace('536365', '536366')},\n`),
      /the header row of .*stray-quote\.csv cannot be read: a quoted field is not closed where it should end/,
    ],
    [
      'a header without required columns',
      () => Promise.resolve(fixture('missing-columns.csv')),
      /the header lacks required columns Quantity, CustomerID/,
    ],
    [
      'a header and no data',
      () => Promise.resolve(fixture('header-only.csv')),
      /has a header but no data rows/,
    ],
    [
      'no row surviving the cleaning rules',
      async () => scratchFile('all-dropped.csv', `${HEADER}\n${ROW.replace('17850', '')}\n`),
      /no row of .*all-dropped\.csv survives the cleaning rules \(1 read, 0 malformed\)/,
    ],
  ])('%s: exit code 2 and one message', async (_label, make, message) => {
    const file = await make();
    const before = await tableCounts(db);

    const ingest = await runCli(INGEST, ['--file', file, '--no-embeddings']);
    const evaluation = await runCli(EVAL, ['--file', file]);

    expect([ingest.code, evaluation.code]).toEqual([2, 2]);
    const ingestMessage = failure(ingest.stderr, /^ingest: (.*); nothing was changed$/);
    const evalMessage = failure(evaluation.stderr, /^eval failed: (.*)$/);
    expect(ingestMessage).toMatch(message);
    expect(evalMessage).toBe(ingestMessage);
    expect(await tableCounts(db)).toEqual(before);
  });
});

describe('readCleanPurchases', () => {
  it('keeps the lines the ingestion keeps, with the ingestion’s catalog', async () => {
    const { lines, products } = await readCleanPurchases(fixture('small.csv'));
    const { rows: kept } = await db.query<{ customer_id: number; product_id: string; invoice_date: string }>(
      'SELECT customer_id, product_id, invoice_date FROM order_lines ORDER BY line_no',
    );
    expect(lines).toEqual(
      kept.map((r) => ({ customerId: r.customer_id, productId: r.product_id, invoiceDate: r.invoice_date })),
    );
    const { rows: catalog } = await db.query<{
      product_id: string;
      description: string;
      is_merchandise: boolean;
    }>('SELECT product_id, description, is_merchandise FROM products');
    expect(
      products
        .map((p) => ({
          product_id: p.productId,
          description: p.description,
          is_merchandise: p.isMerchandise,
        }))
        .sort((a, b) => a.product_id.localeCompare(b.product_id)),
    ).toEqual(catalog.sort((a, b) => a.product_id.localeCompare(b.product_id)));
  });
});
