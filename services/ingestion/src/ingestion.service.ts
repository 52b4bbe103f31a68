import { withTransaction, silentProgress, type Database, type ProgressReporter } from '@retail/common';
import { resolveColumns } from './cleaning/columns.js';
import { ProductCatalogBuilder } from './cleaning/product-catalog.js';
import { PurchaseAggregator } from './cleaning/purchase-aggregator.js';
import { DROP_RULES, cleanRecord, type DropRule } from './cleaning/row-cleaner.js';
import { IngestionInputError } from './errors.js';
import { IngestionRepository, type MergeCounts, type TableCounts } from './ingestion.repository.js';
import { openRecordSource, type RecordSource } from './source/record-source.js';

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
      const [header, ...records] = first.done ? [] : first.value;
      if (!header) throw new IngestionInputError(`the file has no header row: ${source.path}`);
      return await this.load(source, header, batches, records, startedAt);
    } finally {
      await batches.return?.();
    }
  }

  private async load(
    source: RecordSource,
    header: string[],
    batches: AsyncIterator<string[][]>,
    firstBatch: string[][],
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

    return withTransaction(this.db, async (client) => {
      const repository = new IngestionRepository(client);
      await repository.lock();
      const writer = await repository.startOrderLines();

      this.progress.start('reading', totalBytes, 'bytes');
      let lineNo = 1; // the header is line 1
      for (let batch = firstBatch; ;) {
        for (const record of batch) {
          lineNo++;
          rowsRead++;
          const outcome = cleanRecord(record, lineNo, columns, header.length);
          if (outcome.kind === 'kept') {
            rowsKept++;
            const { line } = outcome;
            catalog.add(line.rawCode, line.productId, line.description, line.invoiceDate);
            purchases.add(line);
            writer.write(line);
          } else if (outcome.kind === 'dropped') {
            dropped[outcome.rule]++;
          } else {
            rowsMalformed++;
            if (malformedExamples.length < MAX_MALFORMED_EXAMPLES) {
              malformedExamples.push({ line: lineNo, reason: outcome.reason });
            }
          }
        }
        await writer.flush();
        this.progress.update(source.bytesRead(), `${rowsRead} rows`);
        const next = await batches.next();
        if (next.done) break;
        batch = next.value;
      }
      await writer.end();
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
