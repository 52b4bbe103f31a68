import { openCleanRecords } from './clean-records.js';
import { ProductCatalogBuilder, type CatalogProduct } from './cleaning/product-catalog.js';
import { IngestionInputError } from './errors.js';

/** A kept line, reduced to what an offline evaluation reads. */
export interface CleanPurchase {
  customerId: number;
  productId: string;
  /** Shop-local time as the file has it, `YYYY-MM-DD HH:MM:SS`. */
  invoiceDate: string;
}

/**
 * Reads an Online Retail file (.csv, .csv.gz, .xlsx) with the ingestion's own reader and cleaning rules,
 * without a database: the kept lines and the catalog (canonical descriptions, merchandise flags). Dropped and
 * malformed rows are skipped, as the ingestion does; a file the ingestion refuses (no file, not text, a header
 * that cannot be read or lacks columns, no row surviving the rules, a damaged file) throws the same
 * IngestionInputError. For `npm run eval -- --file`.
 */
export async function readCleanPurchases(
  file: string,
): Promise<{ lines: CleanPurchase[]; products: CatalogProduct[] }> {
  const records = await openCleanRecords(file);
  const catalog = new ProductCatalogBuilder();
  const lines: CleanPurchase[] = [];
  try {
    for await (const batch of records.lines()) {
      for (const line of batch) {
        catalog.add(line);
        lines.push({ customerId: line.customerId, productId: line.productId, invoiceDate: line.invoiceDate });
      }
    }
  } finally {
    await records.close();
  }
  return { lines, products: catalog.build() };
}

export { IngestionInputError };
