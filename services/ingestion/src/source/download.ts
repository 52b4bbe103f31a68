import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import yauzl from 'yauzl';
import { IngestionInputError } from '../errors.js';

/**
 * DATA_FILE may be an http(s) URL (its default when this machine has no copy of the data set is the UCI
 * zip). Such a file is downloaded once into a cache directory and read from there on every later run:
 *
 *   <DATA_CACHE_DIR>/<hash of the URL>/<file name of the URL>         the download, as served
 *   <DATA_CACHE_DIR>/<hash of the URL>/extracted/<name of the entry>  the data file inside a zip
 *
 * Both are written to a `.partial` file first and renamed when complete, so an interrupted run leaves
 * nothing that a later run could mistake for a finished download.
 */
export interface DownloadOptions {
  /** Where downloads are kept between runs (default: defaultDataCacheDir()). */
  cacheDir?: string;
  /** Gives up on an attempt when no byte arrives for this long, connecting included. */
  timeoutMs?: number;
  /** Further attempts after a network error, a timeout or a 408/429/5xx answer. */
  retries?: number;
  /** Wait before the first retry (doubled for each later one). */
  retryDelayMs?: number;
  /** Progress lines (default: standard error). */
  log?: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRIES = 2;
const DEFAULT_RETRY_DELAY_MS = 2_000;
/** Entries of a zip that the ingestion can read (openRecordSource tells the format by content). */
const DATA_ENTRY = /\.(xlsx|csv|csv\.gz)$/i;

/**
 * The cache directory: DATA_CACHE_DIR when set, else `$XDG_CACHE_HOME` or `~/.cache`, else the system's
 * temporary directory (for users without a home), each followed by `retail-recommender`.
 */
export function defaultDataCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.DATA_CACHE_DIR?.trim();
  if (configured) return path.resolve(configured);
  const xdg = env.XDG_CACHE_HOME?.trim();
  const home = homedir();
  const base = xdg ? xdg : home && home !== path.parse(home).root ? path.join(home, '.cache') : tmpdir();
  return path.join(base, 'retail-recommender');
}

/**
 * Returns a local path to the data behind `url`: downloaded on the first call, reused afterwards. A zip
 * archive (the form UCI distributes) gives the .xlsx (or .csv / .csv.gz) inside it, extracted once too.
 * Throws an IngestionInputError saying what went wrong (HTTP status, timeout, not a zip, ...).
 */
export async function downloadDataFile(url: string, options: DownloadOptions = {}): Promise<string> {
  const source = parseUrl(url);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const dir = path.join(
    options.cacheDir ?? defaultDataCacheDir(),
    createHash('sha256').update(source.href).digest('hex').slice(0, 16),
  );
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new IngestionInputError(
      `cannot create the download cache ${dir} (${reason(error)}): set DATA_CACHE_DIR to a writable directory`,
    );
  }
  const target = path.join(dir, fileNameOf(source));

  if (await isFile(target)) {
    log(`using ${target}, downloaded before from ${source.href}`);
  } else {
    log(`downloading ${source.href} (once: kept in ${dir})`);
    await download(source, target, {
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_RETRIES,
      retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      log,
    });
  }
  return dataFileIn(target, source, log);
}

// ------------------------------------------------------------------------------------------ download

/** A failed attempt; `retryable` when trying again may help (network, timeout, 408/429/5xx). */
class DownloadFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

interface Attempts {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  log: (line: string) => void;
}

async function download(source: URL, target: string, attempts: Attempts): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await downloadOnce(source, target, attempts);
      return;
    } catch (error) {
      const failure =
        error instanceof DownloadFailure
          ? error
          : new DownloadFailure(`cannot write ${target}: ${reason(error)}`, false);
      if (!failure.retryable || attempt >= attempts.retries) {
        throw new IngestionInputError(
          `could not download ${source.href}: ${failure.message} ` +
            '(or set DATA_FILE to a local copy of the file: .csv, .csv.gz or .xlsx)',
        );
      }
      const delay = attempts.retryDelayMs * 2 ** attempt;
      attempts.log(`download failed (${failure.message}); trying again in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function downloadOnce(source: URL, target: string, { timeoutMs, log }: Attempts): Promise<void> {
  const partial = partialName(target);
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  // An inactivity timeout: re-armed by every chunk, so a slow but steady download is never cut.
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
  };
  const startedAt = Date.now();
  let received = 0;
  arm();
  try {
    let response: Response;
    try {
      response = await fetch(source, { signal: controller.signal, redirect: 'follow' });
    } catch (error) {
      throw new DownloadFailure(timedOut ? `no answer within ${timeoutMs} ms` : reason(error), true);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const status = response.status;
      throw new DownloadFailure(
        `the server answered HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`,
        status >= 500 || status === 408 || status === 429,
      );
    }
    if (!response.body) throw new DownloadFailure('the server sent no content', false);
    // Content-Length counts encoded bytes; fetch hands over decoded ones.
    const declared = response.headers.get('content-encoding')
      ? undefined
      : Number(response.headers.get('content-length') ?? Number.NaN);

    const counter = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
        received += chunk.length;
        arm();
        done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        counter,
        createWriteStream(partial, { flags: 'wx' }),
      );
    } catch (error) {
      throw new DownloadFailure(
        timedOut
          ? `no data for ${timeoutMs} ms (after ${formatBytes(received)})`
          : `the connection broke after ${formatBytes(received)}: ${reason(error)}`,
        true,
      );
    }
    if (declared !== undefined && Number.isFinite(declared) && received !== declared) {
      throw new DownloadFailure(`incomplete: ${received} of ${declared} bytes`, true);
    }
    if (received === 0) throw new DownloadFailure('the server sent an empty file', false);
    await rename(partial, target);
    log(
      `downloaded ${formatBytes(received)} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s to ${target}`,
    );
  } finally {
    clearTimeout(timer);
    await rm(partial, { force: true });
  }
}

// ------------------------------------------------------------------------------------------ zip

/** The file to ingest: the download itself, or the data file extracted from it when it is a zip. */
async function dataFileIn(download: string, source: URL, log: (line: string) => void): Promise<string> {
  const isZip = await startsWithZipMagic(download);
  const namedZip = /\.zip$/i.test(source.pathname);
  if (!isZip) {
    if (!namedZip) return download;
    await rm(download, { force: true });
    throw new IngestionInputError(
      `${source.href} did not give a zip archive (the download was discarded; check the URL)`,
    );
  }

  let zip: yauzl.ZipFile;
  const entries: yauzl.Entry[] = [];
  try {
    zip = await yauzl.openPromise(download, { autoClose: false });
    try {
      for await (const entry of zip.eachEntry()) entries.push(entry);
    } catch (error) {
      zip.close();
      throw error;
    }
  } catch (error) {
    await rm(download, { force: true });
    throw new IngestionInputError(
      `the download from ${source.href} is not a valid zip archive (${reason(error)}); it was discarded, ` +
        'the next run downloads it again',
    );
  }

  try {
    const names = entries.map((entry) => entry.fileName);
    // An .xlsx workbook is itself a zip: read it as it is.
    if (names.includes('[Content_Types].xml') && names.some((name) => name.startsWith('xl/')))
      return download;

    const candidates = entries.filter((entry) => {
      const base = path.posix.basename(entry.fileName);
      return (
        !entry.fileName.endsWith('/') &&
        !entry.fileName.startsWith('__MACOSX/') &&
        !base.startsWith('.') &&
        DATA_ENTRY.test(base)
      );
    });
    if (candidates.length !== 1) {
      await rm(download, { force: true });
      const listing = names.slice(0, 10).join(', ') + (names.length > 10 ? ', ...' : '');
      throw new IngestionInputError(
        candidates.length === 0
          ? `the zip from ${source.href} holds no .xlsx, .csv or .csv.gz file (it holds: ${listing || 'nothing'})`
          : `the zip from ${source.href} holds several data files (${candidates.map((e) => e.fileName).join(', ')}): ` +
              'set DATA_FILE to the one to load',
      );
    }
    const entry = candidates[0]!;
    if (entry.isEncrypted()) {
      throw new IngestionInputError(`${entry.fileName} in the zip from ${source.href} is encrypted`);
    }
    const destination = path.join(path.dirname(download), 'extracted', path.posix.basename(entry.fileName));
    const existing = await stat(destination).catch(() => undefined);
    if (existing?.isFile() && existing.size === entry.uncompressedSize) return destination;

    await mkdir(path.dirname(destination), { recursive: true });
    const partial = partialName(destination);
    try {
      const input = await zip.openReadStreamPromise(entry);
      await pipeline(input, createWriteStream(partial, { flags: 'wx' }));
      await rename(partial, destination);
    } catch (error) {
      await rm(download, { force: true });
      throw new IngestionInputError(
        `could not extract ${entry.fileName} from the zip from ${source.href} (${reason(error)}); ` +
          'the download was discarded, the next run downloads it again',
      );
    } finally {
      await rm(partial, { force: true });
    }
    log(`extracted ${entry.fileName} (${formatBytes(entry.uncompressedSize)}) to ${destination}`);
    return destination;
  } finally {
    zip.close();
  }
}

// ------------------------------------------------------------------------------------------ helpers

function parseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new IngestionInputError(`not a valid URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new IngestionInputError(`only http(s) URLs can be downloaded, not ${url}`);
  }
  return parsed;
}

/** A file name for the download: the last segment of the URL's path, made safe for any file system. */
function fileNameOf(url: URL): string {
  let last = url.pathname.split('/').pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // keep the encoded form
  }
  const safe = last.replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^\.+/, '');
  return safe || 'download';
}

function partialName(file: string): string {
  return `${file}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function startsWithZipMagic(file: string): Promise<boolean> {
  const magic = Buffer.alloc(4);
  const handle = await open(file, 'r');
  try {
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic.readUInt32LE(0) === 0x04034b50;
  } finally {
    await handle.close();
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch wraps the network error ("fetch failed"): its cause says what happened.
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}
