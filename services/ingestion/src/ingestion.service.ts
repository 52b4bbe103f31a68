import { withTransaction, type Database } from '@retail/common';
import { silentProgress, type ProgressReporter } from '@retail/common/progress';
import { openCleanRecords, type CleanRecords, type CleaningTally } from './clean-records.js';
import { ProductCatalogBuilder, type CatalogProduct } from './cleaning/product-catalog.js';
import { PurchaseAggregator } from './cleaning/purchase-aggregator.js';
import {
  IngestionRepository,
  type MergeCounts,
  type ShopDescription,
  type TableCounts,
} from './ingestion.repository.js';

export type { MalformedRow } from './clean-records.js';

/** What a run did: the file's cleaning tally, then what the cleaned rows made. */
export interface IngestionReport extends CleaningTally {
  source: string;
  format: string;
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
  /** The lines that came through the API, kept beside the file's. */
  posted: {
    /** Posted lines (and their invoices) fed into this run with the file's. */
    linesKept: number;
    invoicesKept: number;
    /** Posted invoices the file now holds: they count once, as the file has them; their posted lines went. */
    invoicesInFile: number;
    linesInFile: number;
  };
  written: MergeCounts;
  totals: TableCounts;
  elapsedMs: number;
  /** Milliseconds spent in each phase: reading + COPY of the lines, staging the derived tables, merging. */
  phasesMs: { load: number; derive: number; merge: number };
}

/**
 * One ingestion run: reads the file, applies the cleaning rules, and replaces the purchases in Postgres in a
 * single transaction (COPY for the lines, set-based SQL for everything derived). The lines posted through the
 * API are kept: those of invoices the file does not hold count with the file's; a posted invoice the file also
 * holds counts once, as the file has it. Products the shop described keep their description.
 */
export class IngestionService {
  constructor(
    private readonly db: Database,
    private readonly progress: ProgressReporter = silentProgress,
  ) {}

  async ingest(file: string): Promise<IngestionReport> {
    const startedAt = new Date();
    const records = await openCleanRecords(file);
    try {
      return await this.load(records, startedAt);
    } finally {
      await records.close();
    }
  }

  private async load(records: CleanRecords, startedAt: Date): Promise<IngestionReport> {
    const { path, format, totalBytes, tally } = records;
    const catalog = new ProductCatalogBuilder();
    const purchases = new PurchaseAggregator();

    return withTransaction(this.db, async (client) => {
      const repository = new IngestionRepository(client);
      await repository.lock();
      const erased = await repository.erasedCustomers();
      const writer = await repository.startOrderLines();

      this.progress.start('reading', totalBytes, 'bytes');
      try {
        for await (const lines of records.lines(erased.size > 0 ? erased : undefined)) {
          for (const line of lines) {
            catalog.add(line);
            purchases.add(line);
            writer.write(line);
          }
          await writer.flush();
          this.progress.update(records.bytesRead(), `${tally.rowsRead} rows`);
        }
        await writer.end();
      } catch (error) {
        // A read error (damaged file), bad input found at the end, or a COPY error: end the COPY first, so
        // that the ROLLBACK can run and the locks on order_lines go with it.
        await writer.abort(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
      const loadedAt = Date.now();
      this.progress.update(totalBytes, `${tally.rowsRead} rows`);
      this.progress.stop();

      this.progress.step('building products, customers and the user-item matrix');
      const inFile = await repository.removePostedInvoicesInFile();
      const postedInvoices = new Set<string>();
      let postedLines = 0;
      for await (const lines of repository.postedLines()) {
        for (const line of lines) {
          catalog.add(line);
          purchases.add(line);
          postedInvoices.add(line.invoiceNo);
        }
        postedLines += lines.length;
      }
      const products = withShopDescriptions(catalog.build(), await repository.shopDescriptions());
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
        rowsRead: tally.rowsRead,
        rowsKept: tally.rowsKept,
        rowsDropped: tally.rowsDropped,
        rowsMalformed: tally.rowsMalformed,
        customers: totals.customers,
        products: totals.products,
      });

      const nonMerchandise = products
        .filter((p) => !p.isMerchandise)
        .map(({ productId, description }) => ({ productId, description }));
      return {
        source: path,
        format,
        ...tally,
        rowsDropped: { ...tally.rowsDropped },
        malformedExamples: [...tally.malformedExamples],
        products: {
          rawStockCodes: catalog.rawCodeCount,
          normalised: products.length,
          merchandise: products.length - nonMerchandise.length,
          nonMerchandise,
          withSeveralDescriptions: products.filter((p) => p.descriptionVariants > 1).length,
        },
        posted: {
          linesKept: postedLines,
          invoicesKept: postedInvoices.size,
          invoicesInFile: inFile.invoices,
          linesInFile: inFile.lines,
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

/** The catalog with the shop's own descriptions and merchandise flags where the shop described a product. */
function withShopDescriptions(
  products: CatalogProduct[],
  shop: Map<string, ShopDescription>,
): CatalogProduct[] {
  if (shop.size === 0) return products;
  return products.map((p) => {
    const described = shop.get(p.productId);
    return described ? { ...p, ...described } : p;
  });
}
