import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import { from as copyFrom } from 'pg-copy-streams';
import { withDeadline, withTransaction, type Database } from '@retail/common';
import { connectTestDatabase, resetDatabase, startProcess, stop } from '@retail/testing';
import { IngestionInputError } from '../src/errors.js';
import { IngestionService } from '../src/ingestion.service.js';

/**
 * Damaged and hostile input: a run that cannot read its file ends promptly with one line, leaves the data
 * exactly as it was, and holds no lock afterwards; what the report says was skipped is what was skipped.
 */

const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);
const INGEST = 'services/ingestion/dist/main.js';
/** Not a speed limit: a run still going after this long is hung (today's failure mode), not slow. */
const HANG_MS = 60_000;
const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country';

let db: Database;
let scratch: string;

beforeAll(async () => {
  db = await connectTestDatabase();
  scratch = await mkdtemp(path.join(tmpdir(), 'ingestion-damaged-'));
});

afterAll(async () => {
  await db.end();
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  await resetDatabase(db);
  await new IngestionService(db).ingest(fixture('small.csv'));
});

/** Rejects with a clear message when `work` has not settled within HANG_MS (instead of Jest's timeout). */
const settlesWithin = <T>(work: Promise<T>, what: string): Promise<T> => withDeadline(work, HANG_MS, what);

/** Runs `npm run ingest` on a file; a run that hangs is killed and fails the test. */
async function ingestCli(file: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = startProcess(INGEST, ['--file', file, '--no-embeddings']);
  try {
    const { code } = await settlesWithin(child.exited, 'npm run ingest');
    const output = child.output();
    return { code, stderr: output, stdout: output };
  } catch (error) {
    await stop(child, 'SIGKILL');
    throw error;
  }
}

/** The lines a failed run printed besides its progress lines. */
function messageLines(output: string): string[] {
  return output.split('\n').filter((line) => line !== '' && !/^reading: /.test(line));
}

/** Everything a run could change, as one comparable value. */
async function snapshot(): Promise<Record<string, string>> {
  const { rows } = await db.query<Record<string, string>>(`
    SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY line_no), '')) FROM order_lines t) AS order_lines,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY product_id), '')) FROM products t) AS products,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY customer_id), '')) FROM customers t) AS customers,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY customer_id, product_id), '')) FROM user_items t)
             AS user_items,
           (SELECT count(*)::text FROM ingestion_runs) AS runs`);
  return rows[0]!;
}

/** Locks on order_lines held by any other session, and sessions left inside a transaction. */
async function leftovers(): Promise<{ locks: number; inTransaction: number }> {
  const { rows } = await db.query<{ locks: number; in_transaction: number }>(`
    SELECT (SELECT count(*) FROM pg_locks l
             WHERE l.relation = 'order_lines'::regclass AND l.pid <> pg_backend_pid()) AS locks,
           (SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state IN ('idle in transaction', 'idle in transaction (aborted)')) AS in_transaction`);
  return { locks: rows[0]!.locks, inTransaction: rows[0]!.in_transaction };
}

/** A concurrent reader's view: answers at once, or fails with a lock timeout when a lock is left. */
async function readOrderLines(): Promise<number> {
  return withTransaction(db, async (client) => {
    await client.query(`SET LOCAL lock_timeout = '2s'`);
    const { rows } = await client.query<{ n: number }>('SELECT count(*) AS n FROM order_lines');
    return rows[0]!.n;
  });
}

/** A CSV of `count` purchase lines (distinct invoices, a few customers and products). */
function purchasesCsv(count: number): string {
  const products = [
    ['85123A', 'WHITE HANGING HEART T-LIGHT HOLDER'],
    ['71053', 'WHITE METAL LANTERN'],
    ['22632', 'HAND WARMER RED POLKA DOT'],
    ['21754', '"HOME BUILDING BLOCK WORD, ""HOME"""'],
  ] as const;
  const lines = [HEADER];
  for (let i = 0; i < count; i++) {
    const [code, description] = products[i % products.length]!;
    const day = String(1 + (i % 28)).padStart(2, '0');
    lines.push(
      `${600000 + Math.floor(i / 3)},${code},${description},${1 + (i % 17)},2011-02-${day} 10:${String(i % 60).padStart(2, '0')}:00,` +
        `${(1 + (i % 9)) * 0.85},${12000 + (i % 97)},United Kingdom`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A gzip file of about 40,000 lines: cut short, or with 200 bytes flipped in the middle. */
async function damagedGzip(kind: 'truncated' | 'flipped'): Promise<string> {
  const whole = gzipSync(purchasesCsv(40_000));
  const damaged = Buffer.from(
    kind === 'truncated' ? whole.subarray(0, Math.floor(whole.length * 0.7)) : whole,
  );
  if (kind === 'flipped') {
    const middle = Math.floor(damaged.length / 2);
    for (let i = middle; i < middle + 200; i++) damaged[i] = damaged[i]! ^ 0xff;
  }
  const file = path.join(scratch, `${kind}.csv.gz`);
  await writeFile(file, damaged);
  return file;
}

describe('a damaged .csv.gz', () => {
  it.each(['truncated', 'flipped'] as const)(
    '%s: the run stops with an input error, the data is exactly as before, no lock is left',
    async (kind) => {
      const file = await damagedGzip(kind);
      const before = await snapshot();
      const run = new IngestionService(db).ingest(file);
      const error = await settlesWithin(
        run.then(
          () => undefined,
          (e: unknown) => e,
        ),
        'the ingestion of a damaged file',
      );
      expect(error).toBeInstanceOf(IngestionInputError);
      expect((error as Error).message).toMatch(
        new RegExp(`${file.replace(/[.\\/]/g, '\\$&')} cannot be read after line \\d+: the gzip data `),
      );
      expect(await snapshot()).toEqual(before);
      expect(await leftovers()).toEqual({ locks: 0, inTransaction: 0 });
      expect(await readOrderLines()).toBe(14);
    },
  );

  it('npm run ingest exits 2 with one line, and changes nothing', async () => {
    const file = await damagedGzip('truncated');
    const before = await snapshot();
    const result = await ingestCli(file);
    expect(result.code).toBe(2);
    expect(messageLines(result.stderr)).toEqual([
      expect.stringMatching(
        /^ingest: .*truncated\.csv\.gz cannot be read after line \d+: the gzip data ends too early/,
      ),
    ]);
    expect(await snapshot()).toEqual(before);
    expect(await leftovers()).toEqual({ locks: 0, inTransaction: 0 });
  });
});

describe('a transaction stuck in a COPY that is never ended (the helper itself)', () => {
  it('gives back the error and releases the locks instead of waiting behind the COPY', async () => {
    const failure = new Error('the source broke in the middle of the COPY');
    const run = withTransaction(
      db,
      async (client) => {
        await client.query('TRUNCATE order_lines'); // AccessExclusiveLock until the transaction ends
        const stream = client.query(copyFrom('COPY order_lines FROM STDIN'));
        stream.on('error', () => undefined); // it fails when the connection is closed under it
        stream.write(
          '99\tX1\tP1\tA ROW THAT MUST NOT STAY\t1\t2011-01-01 00:00:00\t1.0\t1\tUnited Kingdom\n',
        );
        throw failure; // the COPY is left open: a ROLLBACK would queue behind it forever
      },
      { rollbackTimeoutMs: 500 },
    );
    await expect(settlesWithin(run, 'withTransaction')).rejects.toBe(failure);
    expect(await readOrderLines()).toBe(14);
    expect(await leftovers()).toEqual({ locks: 0, inTransaction: 0 });
  });
});

describe('quotes and line numbers', () => {
  /** small.csv with line `line` replaced. */
  async function smallWith(line: number, text: string, name: string): Promise<string> {
    const lines = (await readFile(fixture('small.csv'), 'utf8')).split('\n');
    lines[line - 1] = text;
    const file = path.join(scratch, name);
    await writeFile(file, lines.join('\n'));
    return file;
  }

  it('an unclosed quote: the report names every line it swallowed, and the lines after it load', async () => {
    // Line 4's description opens a quote that is not closed: the next closing quote is on line 8.
    const file = await smallWith(
      4,
      '536365,84406B,"CREAM CUPID HEARTS COAT HANGER,8,2010-12-01 08:26:00,2.75,17850,United Kingdom',
      'unclosed-quote.csv',
    );
    const report = await new IngestionService(db).ingest(file);
    expect(report.rowsMalformed).toBe(1);
    expect(report.linesMalformed).toBe(5);
    expect(report.malformedExamples).toEqual([
      {
        line: 4,
        reason: expect.stringMatching(/quoted field is not closed .*: lines 4-8 were read as one row$/),
      },
    ]);
    // 17 data lines: 4 of them inside the malformed row, which counts once.
    expect(report.rowsRead).toBe(13);
    expect(report.rowsRead).toBe(
      report.rowsKept + report.rowsMalformed + Object.values(report.rowsDropped).reduce((a, b) => a + b, 0),
    );
    // Nothing of lines 4-8 was loaded, and every later line kept its own line number.
    const { rows } = await db.query<{ line_no: number; product_id: string; description: string }>(
      'SELECT line_no, product_id, description FROM order_lines ORDER BY line_no',
    );
    expect(rows.map((r) => r.line_no)).toEqual([2, 3, 9, 10, 11, 12, 13, 14, 18]);
    expect(rows.find((r) => r.line_no === 9)).toMatchObject({ product_id: '22633' });
    expect(rows.every((r) => !r.description.includes('\n'))).toBe(true);
  });

  it('a quote left open to the end of the file: the rest of the file is reported as one skipped row', async () => {
    const file = await smallWith(
      10,
      '536367,21754,"HOME BUILDING BLOCK WORD, HOME,3,2010-12-03 10:00:00,5.95,13047,United Kingdom',
      'quote-to-the-end.csv',
    );
    const report = await new IngestionService(db).ingest(file);
    expect(report.malformedExamples).toEqual([
      { line: 10, reason: expect.stringMatching(/never closed.*: lines 10-18 were read as one row$/) },
    ]);
    expect(report.linesMalformed).toBe(9);
  });

  it('line numbers are the file’s: empty lines and line breaks inside quoted fields count', async () => {
    const file = await smallWith(
      4,
      '\n536365,84406B,"CREAM CUPID HEARTS\nCOAT HANGER",8,2010-12-01 08:26:00,2.75,17850,United Kingdom',
      'line-breaks.csv',
    );
    const report = await new IngestionService(db).ingest(file);
    expect(report.rowsMalformed).toBe(0);
    const { rows } = await db.query<{ line_no: number; product_id: string }>(
      `SELECT line_no, product_id FROM order_lines WHERE product_id IN ('84406B', 'POST') ORDER BY line_no`,
    );
    // Line 4 is now empty, the row starts on line 5 and takes line 6; POST was on line 5 and is on 7.
    expect(rows).toEqual([
      { line_no: 5, product_id: '84406B' },
      { line_no: 7, product_id: 'POST' },
    ]);
  });
});

describe('a damaged .xlsx', () => {
  async function workbook(): Promise<Buffer> {
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Online Retail');
    sheet.addRow(HEADER.split(','));
    for (let i = 0; i < 3_000; i++) {
      sheet.addRow([
        536365 + i,
        '85123A',
        `WHITE HANGING HEART T-LIGHT HOLDER ${i}`,
        6,
        new Date(Date.UTC(2010, 11, 1, 8, 26)),
        2.55,
        17850 + (i % 50),
        'United Kingdom',
      ]);
    }
    return Buffer.from(await book.xlsx.writeBuffer());
  }

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, Math.floor(b.length * 0.6)), /the workbook ends too early/],
    [
      'with 200 bytes flipped',
      (b: Buffer) => {
        const copy = Buffer.from(b);
        const middle = Math.floor(copy.length / 2);
        for (let i = middle; i < middle + 200; i++) copy[i] = copy[i]! ^ 0xff;
        return copy;
      },
      /the workbook (cannot be parsed|is corrupt|ends too early)/,
    ],
  ])('%s: exit code 2 (bad input) with one line, nothing changed', async (_label, damage, message) => {
    const file = path.join(scratch, 'damaged.xlsx');
    await writeFile(file, damage(await workbook()));
    const before = await snapshot();
    const result = await ingestCli(file);
    expect(result.code).toBe(2);
    expect(messageLines(result.stderr)).toEqual([expect.stringMatching(message)]);
    expect(await snapshot()).toEqual(before);
  });
});

describe('garbage and hostile text never reaches the terminal raw', () => {
  /** Control characters (C0 but the newline, DEL, C1) and the replacement character of undecodable bytes. */
  const RAW = /[^\P{Cc}\n]|\uFFFD/u;

  it('a binary file: exit code 2, one line, no raw bytes or control characters', async () => {
    // Every byte value, ESC sequences (clear screen, red) and a bell among them.
    const bytes = Buffer.concat([
      Buffer.from('\x1b[2J\x1b[31m\x07PK', 'latin1'),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 167 + 13) % 256)),
    ]);
    const file = path.join(scratch, 'garbage.csv');
    await writeFile(file, bytes);
    const before = await snapshot();
    const result = await ingestCli(file);
    expect(result.code).toBe(2);
    const lines = messageLines(result.stderr);
    expect(lines).toEqual([expect.stringMatching(/garbage\.csv is neither CSV text nor an \.xlsx workbook/)]);
    expect(result.stderr).not.toMatch(RAW);
    expect(await snapshot()).toEqual(before);
  });

  it('invisible characters in a header and control characters in a field are shown escaped', async () => {
    const file = path.join(scratch, 'hostile.csv');
    await writeFile(
      file,
      [
        'InvoiceNo,StockCode,Description,Qty\u202e,InvoiceDate,UnitPrice,CustomerID,Country',
        '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom',
      ].join('\n'),
    );
    const header = await ingestCli(file);
    expect(header.code).toBe(2);
    expect(messageLines(header.stderr)).toEqual([
      expect.stringContaining('(found: InvoiceNo, StockCode, Description, Qty\\u{202e}, InvoiceDate'),
    ]);

    await writeFile(
      file,
      [
        HEADER,
        '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom',
        '536365,71053,WHITE METAL LANTERN,\x1b[31msix\x07,2010-12-01 08:26:00,3.39,17850,United Kingdom',
      ].join('\n'),
    );
    const row = await ingestCli(file);
    expect(row.code).toBe(0);
    expect(row.stdout).toContain('line 3: Quantity is not an integer: "\\x1b[31msix\\x07"');
    expect(row.stdout).not.toMatch(RAW);
  });
});
