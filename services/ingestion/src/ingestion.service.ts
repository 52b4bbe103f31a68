import { looksBinary, withTransaction, type Database } from '@retail/common';
import { silentProgress, type ProgressReporter } from '@retail/common/progress';
import { resolveColumns } from './cleaning/columns.js';
import { ProductCatalogBuilder } from './cleaning/product-catalog.js';
import { PurchaseAggregator } from './cleaning/purchase-aggregator.js';
import { DROP_RULES, cleanRecord, type DropRule } from './cleaning/row-cleaner.js';
import { IngestionInputError } from './errors.js';
import { IngestionRepository, type MergeCounts, type TableCounts } from './ingestion.repository.js';
import { openRecordSource, type RecordBatch, type RecordSource } from './source/record-source.js';

export interface MalformedRow {
  line: number;
  reason: string;
}

export interface IngestionReport {
  source: string;
  format: string;
  rowsRead: number;
  rowsKept: number;
  rowsDropped: Record<DropRule, number>;
  rowsMalformed: number;
  /** Lines of the file those malformed rows took (more than rowsMalformed when a quote joined lines). */
  linesMalformed: number;
  /** The first few malformed rows, with their line numbers in the file. */
  malformedExamples: MalformedRow[];
  products: {
    /** Distinct StockCodes on the kept rows, as written in the file. */
    rawStockCodes: number;
    /** Distinct products after code normalisation (one product, whatever its code's spelling). */
    normalised: number;
    merchandise: number;
    /** Service lines kept out of recommendations (postage, fees, ...), with their descriptions. */
    nonMerchandise: { productId: string; description: string }[];
    /** Products the file described in more than one way (one canonical description chosen). */
    withSeveralDescriptions: number;
  };
  written: MergeCounts;
  totals: TableCounts;
  elapsedMs: number;
  /** Milliseconds spent in each phase: reading + COPY of the lines, staging the derived tables, merging. */
  phasesMs: { load: number; derive: number; merge: number };
}

const MAX_MALFORMED_EXAMPLES = 10;

/**
 * One ingestion run: reads the file, applies the cleaning rules, and replaces the purchases in
 * Postgres in a single transaction (COPY for the lines, set-based SQL for everything derived).
 */
export class IngestionService {
  constructor(
    private readonly db: Database,
    private readonly progress: ProgressReporter = silentProgress,
  ) {}

  async ingest(file: string): Promise<IngestionReport> {
    const startedAt = new Date();
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
      return await this.load(source, header, batches, dropFirst(first.value), startedAt);
    } finally {
      await batches.return?.();
    }
  }

  private async load(
    source: RecordSource,
    header: string[],
    batches: AsyncIterator<RecordBatch>,
    firstBatch: RecordBatch,
    startedAt: Date,
  ): Promise<IngestionReport> {
    const columns = resolveColumns(header);
    const { path, format, totalBytes } = source;

    const catalog = new ProductCatalogBuilder();
    const purchases = new PurchaseAggregator();
    const dropped = Object.fromEntries(DROP_RULES.map((rule) => [rule, 0])) as Record<DropRule, number>;
    const malformedExamples: MalformedRow[] = [];
    let rowsRead = 0;
    let rowsKept = 0;
    let rowsMalformed = 0;
    let linesMalformed = 0;
    const malformed = (line: number, reason: string, lines: number) => {
      rowsMalformed++;
      linesMalformed += lines;
      if (malformedExamples.length < MAX_MALFORMED_EXAMPLES) malformedExamples.push({ line, reason });
    };

    return withTransaction(this.db, async (client) => {
      const repository = new IngestionRepository(client);
      await repository.lock();
      const writer = await repository.startOrderLines();

      this.progress.start('reading', totalBytes, 'bytes');
      try {
        for (let batch = firstBatch; ;) {
          const { records, lines, problems } = batch;
          for (let i = 0; i < records.length; i++) {
            const lineNo = lines[i]!;
            rowsRead++;
            const problem = problems?.get(i);
            if (problem) {
              malformed(lineNo, problem.reason, problem.lines);
              continue;
            }
            const outcome = cleanRecord(records[i]!, lineNo, columns, header.length);
            if (outcome.kind === 'kept') {
              rowsKept++;
              const { line } = outcome;
              catalog.add(line.rawCode, line.productId, line.description, line.invoiceDate);
              purchases.add(line);
              writer.write(line);
            } else if (outcome.kind === 'dropped') {
              dropped[outcome.rule]++;
            } else {
              malformed(lineNo, outcome.reason, 1);
            }
          }
          await writer.flush();
          this.progress.update(source.bytesRead(), `${rowsRead} rows`);
          const next = await batches.next();
          if (next.done) break;
          batch = next.value;
        }
        await writer.end();
      } catch (error) {
        // A read error (damaged file) or a COPY error: end the COPY first, so that the ROLLBACK can run
        // and the locks on order_lines go with it.
        await writer.abort(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
      const loadedAt = Date.now();
      this.progress.update(totalBytes, `${rowsRead} rows`);
      this.progress.stop();

      if (rowsRead === 0) throw new IngestionInputError(`the file has a header but no data rows: ${path}`);
      if (rowsKept === 0) {
        throw new IngestionInputError(
          `no row of ${path} survives the cleaning rules (${rowsRead} read, ${rowsMalformed} malformed); ` +
            'the current data is kept',
        );
      }

      this.progress.step('building products, customers and the user-item matrix');
      const products = catalog.build();
      const merchandise = new Set(products.filter((p) => p.isMerchandise).map((p) => p.productId));
      const customers = purchases.customers((productId) => merchandise.has(productId));
      await repository.stage(products, customers);
      const derivedAt = Date.now();
      const written = await repository.merge(customers);
      if (written.products + written.customers + written.userItemRows > 0) await repository.analyze();
      const mergedAt = Date.now();
      const totals = await repository.counts();
      await repository.recordRun({
        source: path,
        startedAt,
        rowsRead,
        rowsKept,
        rowsDropped: dropped,
        rowsMalformed,
        customers: totals.customers,
        products: totals.products,
      });

      const nonMerchandise = products
        .filter((p) => !p.isMerchandise)
        .map(({ productId, description }) => ({ productId, description }));
      return {
        source: path,
        format,
        rowsRead,
        rowsKept,
        rowsDropped: dropped,
        rowsMalformed,
        linesMalformed,
        malformedExamples,
        products: {
          rawStockCodes: catalog.rawCodeCount,
          normalised: products.length,
          merchandise: products.length - nonMerchandise.length,
          nonMerchandise,
          withSeveralDescriptions: products.filter((p) => p.descriptionVariants > 1).length,
        },
        written,
        totals,
        elapsedMs: Date.now() - startedAt.getTime(),
        phasesMs: {
          load: loadedAt - startedAt.getTime(),
          derive: derivedAt - loadedAt,
          merge: mergedAt - derivedAt,
        },
      };
    });
  }
}

/** The batch without its first record (the header). */
function dropFirst(batch: RecordBatch): RecordBatch {
  const problems = batch.problems
    ? new Map([...batch.problems].filter(([i]) => i > 0).map(([i, problem]) => [i - 1, problem]))
    : undefined;
  return { records: batch.records.slice(1), lines: batch.lines.slice(1), problems };
}
