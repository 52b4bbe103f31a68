/**
 * `@retail/ingestion/cleaning`: the data rules of the shop, for every writer of purchases and products. The
 * ingestion cleans the data file with them; the write API cleans posted lines and summarises customers with
 * the same functions, so that a line means the same whichever way it came in.
 */
import type { PurchaseLine } from '@retail/contracts';
import { REQUIRED_COLUMNS, type ColumnIndex, type ColumnName } from './columns.js';
import { cleanRecord, type ErasedCustomers, type RowOutcome } from './row-cleaner.js';

export { summariseCustomer, type CustomerSummary, type UserItemRow } from './customer-summary.js';
export { isMerchandise } from './merchandise.js';
export { normaliseDescription, normaliseStockCode } from './normalise.js';
export {
  DROP_RULES,
  type CleanLine,
  type DropRule,
  type ErasedCustomers,
  type RowOutcome,
} from './row-cleaner.js';
export { REQUIRED_COLUMNS, type ColumnName } from './columns.js';

/** A purchase line as the write API takes it (its contract): the data file's columns in snake_case. */
export type PostedLine = PurchaseLine;

/** The posted field of each column of the data file. */
const POSTED_FIELD: Record<ColumnName, keyof PostedLine> = {
  InvoiceNo: 'invoice_no',
  StockCode: 'stock_code',
  Description: 'description',
  Quantity: 'quantity',
  InvoiceDate: 'invoice_date',
  UnitPrice: 'unit_price',
  CustomerID: 'customer_id',
  Country: 'country',
};

/** A posted line's fields are in REQUIRED_COLUMNS order. */
const POSTED_COLUMNS = Object.fromEntries(REQUIRED_COLUMNS.map((column, i) => [column, i])) as ColumnIndex;

/**
 * Cleans one posted line by the rules and the parsing of a file row: its fields, written as text (numbers as
 * JavaScript writes them, null as an empty cell), go to the same `cleanRecord` in the file's column order.
 * Returns the same outcome: kept (the normalised line; `lineNo` is `index`), dropped with its rule, or
 * malformed with its reason. `erased`: customers whose lines are dropped (rule `erased_customer`).
 */
export function cleanPostedLine(line: PostedLine, index: number, erased?: ErasedCustomers): RowOutcome {
  const fields = REQUIRED_COLUMNS.map((column) => {
    const value = line[POSTED_FIELD[column]];
    return value === null ? '' : String(value);
  });
  return cleanRecord(fields, index, POSTED_COLUMNS, fields.length, erased);
}
