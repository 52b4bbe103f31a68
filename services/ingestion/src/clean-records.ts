import { looksBinary } from '@retail/common';
import { resolveColumns, type ColumnIndex } from './cleaning/columns.js';
import {
  DROP_RULES,
  cleanRecord,
  type CleanLine,
  type DropRule,
  type ErasedCustomers,
} from './cleaning/row-cleaner.js';
import { IngestionInputError } from './errors.js';
import type { RecordBatch } from './source/record-batch.js';
import { openRecordSource, type RecordSource } from './source/record-source.js';

export interface MalformedRow {
  line: number;
  reason: string;
}

/** What the cleaning made of the rows read so far. */
export interface CleaningTally {
  rowsRead: number;
  rowsKept: number;
  rowsDropped: Record<DropRule, number>;
  rowsMalformed: number;
  /** Lines of the file those malformed rows took (more than rowsMalformed when a quote joined lines). */
  linesMalformed: number;
  /** The first few malformed rows, with their line numbers in the file. */
  malformedExamples: MalformedRow[];
}

/**
 * A data file opened for cleaning: its header is read and checked, the rest is read on demand by `lines()`.
 * The one reader of the data file: the ingestion and the offline evaluation both read through it, so they
 * accept and refuse the same files with the same messages.
 */
export interface CleanRecords extends Pick<RecordSource, 'path' | 'format' | 'totalBytes' | 'bytesRead'> {
  readonly header: readonly string[];
  /** The counts so far (final once `lines()` has ended). */
  readonly tally: Readonly<CleaningTally>;
  /**
   * The kept lines in file order, a batch at a time (may be read once). Throws IngestionInputError when the
   * file cannot be read to its end, holds no data row, or no row of it survives the cleaning rules.
   * `erased`: customers whose lines are dropped (rule `erased_customer`).
   */
  lines(erased?: ErasedCustomers): AsyncGenerator<CleanLine[]>;
  /** Releases the file (needed only when `lines()` was not read to its end). */
  close(): Promise<void>;
}

const MAX_MALFORMED_EXAMPLES = 10;

/**
 * Opens a data file (.csv, .csv.gz, .xlsx, or a URL) and checks its header: a file that is not text, a
 * header the parser cannot read, or a header without the required columns is refused with an
 * IngestionInputError before any row is cleaned.
 */
export async function openCleanRecords(file: string): Promise<CleanRecords> {
  const source = await openRecordSource(file);
  const batches = source.batches()[Symbol.asyncIterator]();
  try {
    const first = await batches.next();
    const header = first.done ? undefined : first.value.records[0];
    if (first.done || !header) throw new IngestionInputError(`the file has no header row: ${source.path}`);
    if (looksBinary(header.join(','))) {
      throw new IngestionInputError(
        `${source.path} is neither CSV text nor an .xlsx workbook (its first line holds binary data)`,
      );
    }
    const headerProblem = first.value.problems?.get(0);
    if (headerProblem) {
      throw new IngestionInputError(
        `the header row of ${source.path} cannot be read: ${headerProblem.reason}`,
      );
    }
    const columns = resolveColumns(header);
    return new FileRecords(source, header, columns, batches, withoutHeader(first.value));
  } catch (error) {
    await batches.return?.();
    throw error;
  }
}

class FileRecords implements CleanRecords {
  readonly tally: CleaningTally = {
    rowsRead: 0,
    rowsKept: 0,
    rowsDropped: Object.fromEntries(DROP_RULES.map((rule) => [rule, 0])) as Record<DropRule, number>,
    rowsMalformed: 0,
    linesMalformed: 0,
    malformedExamples: [],
  };
  private started = false;

  constructor(
    private readonly source: RecordSource,
    readonly header: readonly string[],
    private readonly columns: ColumnIndex,
    private readonly batches: AsyncIterator<RecordBatch>,
    private readonly firstBatch: RecordBatch,
  ) {}

  get path(): string {
    return this.source.path;
  }
  get format(): RecordSource['format'] {
    return this.source.format;
  }
  get totalBytes(): number {
    return this.source.totalBytes;
  }
  bytesRead(): number {
    return this.source.bytesRead();
  }

  async *lines(erased?: ErasedCustomers): AsyncGenerator<CleanLine[]> {
    if (this.started) throw new Error(`the lines of ${this.path} are read once`);
    this.started = true;
    const { tally, columns } = this;
    const fieldCount = this.header.length;
    const malformed = (line: number, reason: string, lines: number) => {
      tally.rowsMalformed++;
      tally.linesMalformed += lines;
      if (tally.malformedExamples.length < MAX_MALFORMED_EXAMPLES)
        tally.malformedExamples.push({ line, reason });
    };
    try {
      for (let batch = this.firstBatch; ;) {
        const { records, lines, problems } = batch;
        const kept: CleanLine[] = [];
        for (let i = 0; i < records.length; i++) {
          const lineNo = lines[i]!;
          tally.rowsRead++;
          const problem = problems?.get(i);
          if (problem) {
            malformed(lineNo, problem.reason, problem.lines);
            continue;
          }
          const outcome = cleanRecord(records[i]!, lineNo, columns, fieldCount, erased);
          if (outcome.kind === 'kept') kept.push(outcome.line);
          else if (outcome.kind === 'dropped') tally.rowsDropped[outcome.rule]++;
          else malformed(lineNo, outcome.reason, 1);
        }
        tally.rowsKept += kept.length;
        yield kept;
        const next = await this.batches.next();
        if (next.done) break;
        batch = next.value;
      }
    } finally {
      await this.close();
    }
    if (tally.rowsRead === 0)
      throw new IngestionInputError(`the file has a header but no data rows: ${this.path}`);
    if (tally.rowsKept === 0) {
      throw new IngestionInputError(
        `no row of ${this.path} survives the cleaning rules (${tally.rowsRead} read, ${tally.rowsMalformed} malformed)`,
      );
    }
  }

  async close(): Promise<void> {
    await this.batches.return?.();
  }
}

/** The batch without its first record (the header). */
function withoutHeader(batch: RecordBatch): RecordBatch {
  const problems = batch.problems
    ? new Map([...batch.problems].filter(([i]) => i > 0).map(([i, problem]) => [i - 1, problem]))
    : undefined;
  return { records: batch.records.slice(1), lines: batch.lines.slice(1), problems };
}
