import { resolveColumns } from './cleaning/columns.js';
import { ProductCatalogBuilder, type CatalogProduct } from './cleaning/product-catalog.js';
import { cleanRecord } from './cleaning/row-cleaner.js';
import { IngestionInputError } from './errors.js';
import { openRecordSource } from './source/record-source.js';

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
 * malformed rows are skipped, as the ingestion does; bad input (no file, no header, missing columns) throws
 * IngestionInputError. For `npm run eval -- --file`.
 */
export async function readCleanPurchases(
  file: string,
): Promise<{ lines: CleanPurchase[]; products: CatalogProduct[] }> {
  const source = await openRecordSource(file);
  const catalog = new ProductCatalogBuilder();
  const lines: CleanPurchase[] = [];
  let header: string[] | undefined;
  let columns: ReturnType<typeof resolveColumns> | undefined;
  for await (const batch of source.batches()) {
    for (const [i, record] of batch.records.entries()) {
      if (!header) {
        header = record;
        columns = resolveColumns(header);
        continue;
      }
      if (batch.problems?.has(i)) continue; // malformed: skipped, as the ingestion does
      const outcome = cleanRecord(record, batch.lines[i]!, columns!, header.length);
      if (outcome.kind !== 'kept') continue;
      const { line } = outcome;
      catalog.add(line.rawCode, line.productId, line.description, line.invoiceDate);
      lines.push({ customerId: line.customerId, productId: line.productId, invoiceDate: line.invoiceDate });
    }
  }
  if (!header) throw new IngestionInputError(`the file has no header row: ${source.path}`);
  if (lines.length === 0)
    throw new IngestionInputError(`no row of the file passes the cleaning rules: ${source.path}`);
  return { lines, products: catalog.build() };
}

export { IngestionInputError };
