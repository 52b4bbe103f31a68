import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { oneLine } from '@retail/common';
import { IngestionInputError } from '../errors.js';
import { csvRecordBatches } from './csv-source.js';
import { downloadDataFile } from './download.js';
import type { RecordBatch } from './record-batch.js';

/** A data file read as records of text fields; the first record is the header. */
export interface RecordSource {
  readonly path: string;
  readonly format: 'csv' | 'csv.gz' | 'xlsx';
  /** Size of the file on disk, for progress. */
  readonly totalBytes: number;
  /** Bytes of the file on disk consumed so far. */
  bytesRead(): number;
  /**
   * The records in file order, in batches (the header is the first record of the first batch). A file
   * that cannot be read to its end (damaged or truncated gzip or workbook, I/O error) makes the iterator
   * throw an IngestionInputError saying where it stopped.
   */
  batches(): AsyncIterable<RecordBatch>;
}

/** Opens a .csv, .csv.gz or .xlsx file, telling by content (gzip and zip magic numbers) over extension. */
export async function openRecordSource(file: string): Promise<RecordSource> {
  if (/^https?:\/\//i.test(file)) {
    // A URL (DATA_FILE's default without a local copy is the UCI zip): downloaded once into the cache
    // (DATA_CACHE_DIR), the data file extracted when it is a zip, then read like any local file.
    return openRecordSource(await downloadDataFile(file));
  }
  const resolved = path.resolve(file);
  let size: number;
  try {
    const info = await stat(resolved);
    if (!info.isFile()) throw new IngestionInputError(`not a file: ${resolved}`);
    size = info.size;
  } catch (error) {
    if (error instanceof IngestionInputError) throw error;
    throw new IngestionInputError(`file not found: ${resolved}`);
  }
  if (size === 0) throw new IngestionInputError(`the file is empty: ${resolved}`);

  const magic = Buffer.alloc(4);
  const handle = await open(resolved, 'r').catch((error: unknown) => {
    throw new IngestionInputError(`cannot open ${resolved}: ${describeReadError(error)}`);
  });
  try {
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const counter = { bytes: 0 };
  const base = { path: resolved, totalBytes: size, bytesRead: () => counter.bytes };
  if (magic[0] === 0x50 && magic[1] === 0x4b) {
    // exceljs is large: loaded only when a workbook is read.
    const { xlsxRecordBatches } = await import('./xlsx-source.js');
    return {
      ...base,
      format: 'xlsx',
      batches: () => readErrorsAsInputErrors(xlsxRecordBatches(resolved, counter), resolved, 'the workbook'),
    };
  }
  if (/\.xlsx?$/i.test(resolved)) {
    throw new IngestionInputError(`${resolved} has an Excel extension but is not an .xlsx workbook`);
  }
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  return {
    ...base,
    format: gzip ? 'csv.gz' : 'csv',
    batches: () =>
      readErrorsAsInputErrors(
        csvRecordBatches(resolved, gzip, counter),
        resolved,
        gzip ? 'the gzip data' : 'the file',
      ),
  };
}

/**
 * Passes the batches through; an error while reading (a damaged or truncated file, an I/O error) becomes
 * an IngestionInputError of one line naming the file and the last line read.
 */
async function* readErrorsAsInputErrors(
  batches: AsyncGenerator<RecordBatch>,
  file: string,
  what: string,
): AsyncGenerator<RecordBatch> {
  let lastLine = 0;
  try {
    for (;;) {
      let next: IteratorResult<RecordBatch>;
      try {
        next = await batches.next();
      } catch (error) {
        if (error instanceof IngestionInputError) throw error;
        const where = lastLine > 0 ? ` after line ${lastLine}` : '';
        throw new IngestionInputError(
          `${file} cannot be read${where}: ${what} ${describeReadError(error)}; the file is damaged or incomplete`,
        );
      }
      if (next.done) return;
      lastLine = next.value.lines.at(-1) ?? lastLine;
      yield next.value;
    }
  } finally {
    await batches.return(undefined);
  }
}

/** What went wrong, in words, for the errors zlib, the zip reader, the XML parser and the file system raise. */
function describeReadError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'Z_BUF_ERROR') return 'ends too early (unexpected end of file)';
  if (code === 'Z_DATA_ERROR') return `is corrupt (${oneLine(message, 80)})`;
  if (message === 'FILE_ENDED') return 'ends too early (the zip archive is truncated)';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return `cannot be read (${code})`;
  return `cannot be parsed (${oneLine(message, 120)})`;
}
