import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { IngestionInputError } from '../errors.js';
import { csvRecordBatches } from './csv-source.js';
import { downloadDataFile } from './download.js';

/** A data file read as records of text fields; the first record is the header. */
export interface RecordSource {
  readonly path: string;
  readonly format: 'csv' | 'csv.gz' | 'xlsx';
  /** Size of the file on disk, for progress. */
  readonly totalBytes: number;
  /** Bytes of the file on disk consumed so far. */
  bytesRead(): number;
  /** The records in file order, in batches (the header is the first record of the first batch). */
  batches(): AsyncIterable<string[][]>;
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
  const handle = await open(resolved, 'r');
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
    return { ...base, format: 'xlsx', batches: () => xlsxRecordBatches(resolved, counter) };
  }
  if (/\.xlsx?$/i.test(resolved)) {
    throw new IngestionInputError(`${resolved} has an Excel extension but is not an .xlsx workbook`);
  }
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  return {
    ...base,
    format: gzip ? 'csv.gz' : 'csv',
    batches: () => csvRecordBatches(resolved, gzip, counter),
  };
}
