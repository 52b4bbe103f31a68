import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import Papa from 'papaparse';

/**
 * Streams the records of a CSV file (optionally gzip-compressed) in batches, parsed by papaparse:
 * RFC 4180 quoting, commas and quotes inside descriptions, any line ending. The parser pauses while the
 * consumer is behind, so memory stays flat whatever the file size. Counts the file bytes consumed.
 */
export async function* csvRecordBatches(
  file: string,
  gzip: boolean,
  counter: { bytes: number },
): AsyncGenerator<string[][]> {
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  input.on('data', (chunk) => {
    counter.bytes += chunk.length;
  });
  const text = gzip ? input.pipe(createGunzip({ chunkSize: 1 << 18 })) : input;

  const ready: string[][][] = [];
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
  text.on('error', (error: Error) => {
    failure = error;
    signal();
  });
  Papa.parse<string[]>(text, {
    skipEmptyLines: true,
    chunk: (results, p) => {
      parser = p;
      ready.push(results.data);
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
    error: (error: Error) => {
      failure = error;
      signal();
    },
  });

  try {
    for (;;) {
      const batch = ready.shift();
      if (batch) {
        if (paused && ready.length < 2) {
          paused = false;
          parser?.resume();
        }
        yield batch;
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
