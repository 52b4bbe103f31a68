import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import Papa from 'papaparse';
import type { RecordBatch, RecordProblem } from './record-batch.js';

/**
 * Streams the records of a CSV file (optionally gzip-compressed) in batches, parsed by papaparse:
 * RFC 4180 quoting, commas and quotes inside descriptions, any line ending. The parser pauses while the
 * consumer is behind, so memory stays flat whatever the file size. Counts the file bytes consumed.
 *
 * Each record carries the line of the file it starts on, counted here (empty lines and line breaks inside
 * quoted fields included), so that line numbers in the report are the file's. A record papaparse flags for
 * its quotes (a quote opened and not closed where the field should end, which swallows the following
 * lines into one field) is reported as a problem with the lines it took.
 */
export async function* csvRecordBatches(
  file: string,
  gzip: boolean,
  counter: { bytes: number },
): AsyncGenerator<RecordBatch> {
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  input.on('data', (chunk) => {
    counter.bytes += chunk.length;
  });
  const text = gzip ? input.pipe(createGunzip({ chunkSize: 1 << 18 })) : input;

  const ready: Papa.ParseResult<string[]>[] = [];
  let parser: Papa.Parser | undefined;
  let paused = false;
  let finished = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (error: Error) => {
    failure ??= error;
    signal();
  };
  // A read error (ENOENT after the check, EIO) or a gzip error (truncated, corrupt): the gunzip stream
  // does not forward the file stream's errors, so both are watched.
  input.on('error', fail);
  if (text !== input) text.on('error', fail);
  Papa.parse<string[]>(text, {
    chunk: (results, p) => {
      parser = p;
      ready.push(results);
      if (ready.length >= 4 && !paused) {
        paused = true;
        p.pause();
      }
      signal();
    },
    complete: () => {
      finished = true;
      signal();
    },
    error: fail,
  });

  let line = 1; // the line the next record starts on
  let breakChar: string | undefined;
  try {
    for (;;) {
      const results = ready.shift();
      if (results) {
        if (paused && ready.length < 2) {
          paused = false;
          parser?.resume();
        }
        breakChar ??= results.meta.linebreak === '\r' ? '\r' : '\n';
        const flagged = quoteProblems(results.errors);
        const batch: RecordBatch = { records: [], lines: [] };
        const data = results.data;
        for (let i = 0; i < data.length; i++) {
          const record = data[i]!;
          const start = line;
          let span = 1;
          for (const field of record) {
            if (field.length > 0 && field.includes(breakChar)) span += field.split(breakChar).length - 1;
          }
          line += span;
          if (record.length === 1 && record[0] === '') continue; // an empty line
          const problem = flagged.get(i);
          if (problem) {
            // A quote left open to the end of the file also holds the file's final line break.
            if (span > 1 && record.at(-1)!.endsWith(breakChar)) span--;
            const reason =
              span > 1
                ? `${problem}: lines ${start}-${start + span - 1} were read as one row`
                : `${problem} on this line`;
            (batch.problems ??= new Map<number, RecordProblem>()).set(batch.records.length, {
              reason,
              lines: span,
            });
          }
          batch.records.push(record);
          batch.lines.push(start);
        }
        if (batch.records.length > 0) yield batch;
        continue;
      }
      if (failure) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    if (!finished) parser?.abort();
    input.destroy();
  }
}

/** The records (by index in the chunk) papaparse could not split cleanly because of their quotes. */
function quoteProblems(errors: Papa.ParseError[]): Map<number, string> {
  const flagged = new Map<number, string>();
  for (const error of errors) {
    if (error.type !== 'Quotes' || typeof error.row !== 'number' || flagged.has(error.row)) continue;
    flagged.set(
      error.row,
      error.code === 'MissingQuotes'
        ? 'a quote is opened and never closed, so the rest of the file is one field'
        : 'a quoted field is not closed where it should end (a stray or missing quote)',
    );
  }
  return flagged;
}
