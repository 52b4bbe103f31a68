import { IngestionInputError } from '../errors.js';

/** The columns the cleaning rules need, by their names in the UCI file. */
export const REQUIRED_COLUMNS = [
  'InvoiceNo',
  'StockCode',
  'Description',
  'Quantity',
  'InvoiceDate',
  'UnitPrice',
  'CustomerID',
  'Country',
] as const;

export type ColumnName = (typeof REQUIRED_COLUMNS)[number];
export type ColumnIndex = Record<ColumnName, number>;

/** Other spellings seen in copies of the data set (e.g. the "Online Retail II" release). */
const ALIASES: Record<string, ColumnName> = {
  invoiceno: 'InvoiceNo',
  invoice: 'InvoiceNo',
  stockcode: 'StockCode',
  description: 'Description',
  quantity: 'Quantity',
  invoicedate: 'InvoiceDate',
  unitprice: 'UnitPrice',
  price: 'UnitPrice',
  customerid: 'CustomerID',
  country: 'Country',
};

const key = (name: string) =>
  name
    .replace(/^\uFEFF/, '')
    .replace(/[\s_]+/g, '')
    .toLowerCase();

/** Maps each required column to its position in the header; the error names every missing column. */
export function resolveColumns(header: string[]): ColumnIndex {
  const found = new Map<ColumnName, number>();
  header.forEach((name, index) => {
    const column = ALIASES[key(name)];
    if (column && !found.has(column)) found.set(column, index);
  });
  const missing = REQUIRED_COLUMNS.filter((column) => !found.has(column));
  if (missing.length > 0) {
    throw new IngestionInputError(
      `the header lacks required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(found: ${header.map((h) => h.trim()).join(', ') || 'nothing'})`,
    );
  }
  return Object.fromEntries(found) as ColumnIndex;
}
