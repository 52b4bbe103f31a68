import { createReadStream } from 'node:fs';
import ExcelJS from 'exceljs';
import type { RecordBatch } from './record-batch.js';

/** Text of one cell, written the way the CSV form of the data set writes it. */
function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString().slice(0, 19).replace('T', ' ');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((part) => part.text).join('');
    if ('result' in value) return cellText(value.result);
    if ('text' in value) return typeof value.text === 'string' ? value.text : '';
    return ''; // error cells, and shapes a data file does not use
  }
  return '';
}

/** The rows of an .xlsx workbook in batches of `size`, like csvRecordBatches (lines are row numbers). */
export async function* xlsxRecordBatches(
  file: string,
  counter: { bytes: number },
  size = 2_000,
): AsyncGenerator<RecordBatch> {
  let batch: RecordBatch = { records: [], lines: [] };
  for await (const [rowNumber, record] of xlsxRecords(file, counter)) {
    batch.records.push(record);
    batch.lines.push(rowNumber);
    if (batch.records.length >= size) {
      yield batch;
      batch = { records: [], lines: [] };
    }
  }
  if (batch.records.length > 0) yield batch;
}

/**
 * Streams the rows of the first worksheet of an .xlsx workbook (the form UCI distributes). Excel dates
 * become `YYYY-MM-DD HH:MM:SS`; numbers become their shortest text.
 */
async function* xlsxRecords(
  file: string,
  counter: { bytes: number },
): AsyncGenerator<[rowNumber: number, fields: string[]]> {
  const input = createReadStream(file);
  input.on('data', (chunk) => {
    counter.bytes += chunk.length;
  });
  const workbook = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  });
  try {
    for await (const worksheet of workbook) {
      let width = 0;
      for await (const row of worksheet) {
        // row.values is 1-based: index 0 is always empty.
        const values = (row.values as ExcelJS.CellValue[]).slice(1);
        if (row.number === 1) width = values.length;
        const fields: string[] = [];
        for (let i = 0; i < Math.max(width, values.length); i++) fields.push(cellText(values[i]));
        if (fields.every((field) => field === '')) continue;
        yield [row.number, fields];
      }
      break; // the first worksheet holds the data
    }
  } finally {
    input.destroy();
  }
}
