import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import type { Database } from '@retail/common';
import { connectTestDatabase, resetDatabase, runCli } from '@retail/testing';
import { IngestionInputError } from '../src/errors.js';
import { IngestionService } from '../src/ingestion.service.js';
import { defaultDataCacheDir, downloadDataFile, type DownloadOptions } from '../src/source/download.js';
import { onlineRetailWorkbook } from './fixtures/workbook.js';

/**
 * DATA_FILE as a URL (the UCI zip by default): every download comes from a local HTTP server started
 * here, so nothing reaches the internet.
 */

const INGEST = 'services/ingestion/dist/main.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
let scratch: string;
let cacheDir: string;
let db: Database;
let workbook: Buffer;

/** A zip archive of `entries` (deflated), written by hand: the project has no zip writer, only yauzl. */
function zipOf(entries: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const fileName = Buffer.from(name, 'utf8');
    const packed = deflateRawSync(data);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(33, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(33, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, packed);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A small Online Retail workbook (the UCI columns): 4 rows, 3 kept by the cleaning rules. */
async function smallWorkbook(): Promise<Buffer> {
  const at = new Date(Date.UTC(2010, 11, 1, 8, 26));
  const book = await onlineRetailWorkbook([
    [536365, '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', 6, at, 2.55, 17850, 'United Kingdom'],
    [536365, 71053, 'WHITE METAL LANTERN', 6, at, 3.39, 17850, 'United Kingdom'],
    ['C536379', 'D', 'Discount', -1, at, 27.5, 14527, 'United Kingdom'],
    [536370, 22728, 'ALARM CLOCK BAKELIKE PINK', 24, at, 3.75, 12583, 'France'],
  ]);
  return Buffer.from(await book.xlsx.writeBuffer());
}

function serve(route: string, handler: Handler): string {
  routes.set(route, handler);
  return `${baseUrl}${route}`;
}

function serveBytes(route: string, body: Buffer, type = 'application/zip'): string {
  return serve(route, (_req, res) => {
    res.writeHead(200, { 'content-type': type, 'content-length': body.length });
    res.end(body);
  });
}

/** Every file under `dir`, relative to it. */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

function quiet(extra: DownloadOptions = {}): DownloadOptions & { lines: string[] } {
  const lines: string[] = [];
  return { cacheDir, retries: 0, timeoutMs: 5_000, log: (line) => lines.push(line), lines, ...extra };
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'download-test-'));
  workbook = await smallWorkbook();
  server = createServer((req, res) => {
    const route = new URL(req.url ?? '/', 'http://localhost').pathname;
    hits.set(route, (hits.get(route) ?? 0) + 1);
    const handler = routes.get(route);
    if (handler) return handler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  db = await connectTestDatabase();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await db.end();
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  routes.clear();
  hits.clear();
  cacheDir = await mkdtemp(path.join(scratch, 'cache-'));
});

afterEach(() => {
  // Requests a test left hanging (the timeout cases).
  server.closeAllConnections();
});

describe('downloading DATA_FILE', () => {
  it('downloads a zip once, extracts the workbook inside, and reuses both on later runs', async () => {
    const url = serveBytes('/static/public/352/online+retail.zip', zipOf({ 'Online Retail.xlsx': workbook }));

    const first = quiet();
    const file = await downloadDataFile(url, first);
    expect(path.basename(file)).toBe('Online Retail.xlsx');
    expect(await readFile(file)).toEqual(workbook);
    expect(hits.get('/static/public/352/online+retail.zip')).toBe(1);
    // Only finished files: the .partial files were renamed.
    const cached = await filesIn(cacheDir);
    expect(cached).toHaveLength(2);
    expect(cached.some((name) => name.endsWith('online+retail.zip'))).toBe(true);
    expect(cached.some((name) => name.endsWith(path.join('extracted', 'Online Retail.xlsx')))).toBe(true);
    expect(first.lines.join('\n')).toMatch(/downloading .*online\+retail\.zip/);

    const second = quiet();
    expect(await downloadDataFile(url, second)).toBe(file);
    expect(hits.get('/static/public/352/online+retail.zip')).toBe(1);
    expect(second.lines.join('\n')).toMatch(/downloaded before/);
    expect(await filesIn(cacheDir)).toEqual(cached);
  });

  it('keeps apart the downloads of different URLs', async () => {
    const a = serveBytes('/a/data.csv', Buffer.from('InvoiceNo,StockCode\n1,A\n'), 'text/csv');
    const b = serveBytes('/b/data.csv', Buffer.from('InvoiceNo,StockCode\n2,B\n'), 'text/csv');
    const fileA = await downloadDataFile(a, quiet());
    const fileB = await downloadDataFile(b, quiet());
    expect(fileA).not.toBe(fileB);
    expect(await readFile(fileA, 'utf8')).toContain('1,A');
    expect(await readFile(fileB, 'utf8')).toContain('2,B');
  });

  it('gives a file that is not a zip (.csv) as it was downloaded, and a workbook (.xlsx) unextracted', async () => {
    const csv = serveBytes('/online_retail.csv', Buffer.from('InvoiceNo,StockCode\n1,A\n'), 'text/csv');
    expect(await readFile(await downloadDataFile(csv, quiet()), 'utf8')).toBe('InvoiceNo,StockCode\n1,A\n');
    const xlsx = serveBytes('/Online%20Retail.xlsx', workbook);
    const file = await downloadDataFile(xlsx, quiet());
    expect(path.basename(file)).toBe('Online_Retail.xlsx');
    expect(await readFile(file)).toEqual(workbook);
  });

  it('says which HTTP status the server answered, and keeps nothing', async () => {
    const url = serve('/missing.zip', (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such file');
    });
    const attempt = downloadDataFile(url, quiet({ retries: 2, retryDelayMs: 1 }));
    await expect(attempt).rejects.toThrow(IngestionInputError);
    await expect(downloadDataFile(url, quiet())).rejects.toThrow(
      new RegExp(`could not download ${url.replace(/[.+]/g, '\\$&')}: the server answered HTTP 404`),
    );
    // A 404 is not retried.
    expect(hits.get('/missing.zip')).toBe(2);
    expect(await filesIn(cacheDir)).toEqual([]);
  });

  it('tries again after a 5xx answer', async () => {
    let calls = 0;
    const body = zipOf({ 'Online Retail.xlsx': workbook });
    const url = serve('/flaky.zip', (_req, res) => {
      calls += 1;
      if (calls === 1) {
        res.writeHead(503, { 'retry-after': '0' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const options = quiet({ retries: 1, retryDelayMs: 1 });
    const file = await downloadDataFile(url, options);
    expect(await readFile(file)).toEqual(workbook);
    expect(calls).toBe(2);
    expect(options.lines.join('\n')).toMatch(/HTTP 503.*trying again/);
    await expect(
      downloadDataFile(
        serve('/down.zip', (_req, res) => res.writeHead(502).end()),
        quiet(),
      ),
    ).rejects.toThrow(/HTTP 502/);
  });

  it('gives up on a server that does not answer, or stops sending, and leaves no partial file', async () => {
    const silent = serve('/silent.zip', () => undefined);
    await expect(downloadDataFile(silent, quiet({ timeoutMs: 300 }))).rejects.toThrow(
      /could not download .*silent\.zip: no answer within 300 ms/,
    );

    const stalled = serve('/stalled.zip', (_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write(Buffer.alloc(1_000));
    });
    await expect(downloadDataFile(stalled, quiet({ timeoutMs: 300 }))).rejects.toThrow(
      /could not download .*stalled\.zip: no data for 300 ms \(after 1000 B\)/,
    );
    expect(await filesIn(cacheDir)).toEqual([]);
  });

  it('rejects a download cut short, and leaves no partial file', async () => {
    const url = serve('/cut.zip', (_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write(Buffer.alloc(1_000), () => res.socket?.destroy());
    });
    await expect(downloadDataFile(url, quiet())).rejects.toThrow(
      /could not download .*cut\.zip: the connection broke/,
    );
    expect(await filesIn(cacheDir)).toEqual([]);
  });

  it('rejects a .zip URL that gives no zip or a broken one, and downloads it again next time', async () => {
    const html = serveBytes('/page.zip', Buffer.from('<html>maintenance</html>'), 'text/html');
    await expect(downloadDataFile(html, quiet())).rejects.toThrow(/page\.zip did not give a zip archive/);
    expect(await filesIn(cacheDir)).toEqual([]);

    const good = zipOf({ 'Online Retail.xlsx': workbook });
    let broken = true;
    const url = serve('/broken.zip', (_req, res) => {
      const body = broken ? good.subarray(0, good.length - 30) : good;
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    await expect(downloadDataFile(url, quiet())).rejects.toThrow(
      /broken\.zip is not a valid zip archive .*the next run downloads it again/,
    );
    expect(await filesIn(cacheDir)).toEqual([]);
    broken = false;
    expect(await readFile(await downloadDataFile(url, quiet()))).toEqual(workbook);
    expect(hits.get('/broken.zip')).toBe(2);
  });

  it('rejects a zip without a data file, or with several', async () => {
    const none = serveBytes('/none.zip', zipOf({ 'readme.txt': Buffer.from('hello') }));
    await expect(downloadDataFile(none, quiet())).rejects.toThrow(
      /holds no \.xlsx, \.csv or \.csv\.gz file \(it holds: readme\.txt\)/,
    );
    const two = serveBytes('/two.zip', zipOf({ 'a.xlsx': workbook, 'b/c.csv': Buffer.from('x\n') }));
    await expect(downloadDataFile(two, quiet())).rejects.toThrow(/several data files \(a\.xlsx, b\/c\.csv\)/);
    expect(await filesIn(cacheDir)).toEqual([]);
  });

  it('rejects what is not an http(s) URL', async () => {
    await expect(downloadDataFile('ftp://example.org/x.zip', quiet())).rejects.toThrow(/only http\(s\) URLs/);
  });

  it('keeps its cache in DATA_CACHE_DIR, else under the user cache folder', () => {
    expect(defaultDataCacheDir({ DATA_CACHE_DIR: '/srv/cache' })).toBe(path.resolve('/srv/cache'));
    expect(defaultDataCacheDir({ XDG_CACHE_HOME: '/home/u/.xdg' })).toBe('/home/u/.xdg/retail-recommender');
    expect(path.basename(defaultDataCacheDir({}))).toBe('retail-recommender');
  });
});

describe('ingesting DATA_FILE=<url>', () => {
  beforeEach(async () => {
    await resetDatabase(db);
  });

  it('loads the workbook inside the downloaded zip; the next ingestion reuses the download', async () => {
    const url = serveBytes('/online+retail.zip', zipOf({ 'Online Retail.xlsx': workbook }));
    const previous = process.env.DATA_CACHE_DIR;
    process.env.DATA_CACHE_DIR = cacheDir;
    try {
      const first = await new IngestionService(db).ingest(url);
      expect(first.format).toBe('xlsx');
      expect(first.source).toBe(path.join(await firstDir(cacheDir), 'extracted', 'Online Retail.xlsx'));
      expect(first).toMatchObject({ rowsRead: 4, rowsKept: 3 });
      const { rows } = await db.query('SELECT customer_id FROM customers ORDER BY customer_id');
      expect(rows).toEqual([{ customer_id: 12583 }, { customer_id: 17850 }]);

      const second = await new IngestionService(db).ingest(url);
      expect(second).toMatchObject({ source: first.source, rowsRead: 4, rowsKept: 3 });
      expect(hits.get('/online+retail.zip')).toBe(1);
    } finally {
      if (previous === undefined) delete process.env.DATA_CACHE_DIR;
      else process.env.DATA_CACHE_DIR = previous;
    }
  });

  it('runs as the ingest container does (--if-empty): downloads once, then skips', async () => {
    const url = serveBytes('/online+retail.zip', zipOf({ 'Online Retail.xlsx': workbook }));
    const env = { DATA_FILE: url, DATA_CACHE_DIR: cacheDir };

    const first = await runCli(INGEST, ['--if-empty', '--no-embeddings'], env);
    expect(first.stderr).toMatch(/downloading .*online\+retail\.zip/);
    expect(first.stdout).toMatch(/Ingested .*Online Retail\.xlsx \(xlsx\)/);
    expect(first.code).toBe(0);
    expect(hits.get('/online+retail.zip')).toBe(1);

    const again = await runCli(INGEST, ['--if-empty', '--no-embeddings'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to do/);

    const forced = await runCli(INGEST, ['--no-embeddings'], env);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/downloaded before/);
    expect(hits.get('/online+retail.zip')).toBe(1);
  });

  it('stops with a clear message and exit code 2 when the download fails, changing nothing', async () => {
    const url = serve('/gone.zip', (_req, res) => res.writeHead(410).end());
    const result = await runCli(INGEST, ['--no-embeddings'], { DATA_FILE: url, DATA_CACHE_DIR: cacheDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ingest: could not download .*gone\.zip: the server answered HTTP 410/);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM customers');
    expect(rows[0].n).toBe(0);
  });
});

async function firstDir(dir: string): Promise<string> {
  const [entry] = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory());
  return path.join(dir, entry!.name);
}
