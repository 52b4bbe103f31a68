import { printable } from '@retail/common';
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
        `(found: ${describeHeader(header)})`,
    );
  }
  return Object.fromEntries(found) as ColumnIndex;
}

/** The header's column names as a message can show them: escaped, each cut short, at most 12. */
function describeHeader(header: string[]): string {
  const names = header.map((name) => printable(name.trim(), 40)).filter((name) => name !== '');
  if (names.length === 0) return 'nothing';
  const more = names.length > 12 ? `, ... ${names.length - 12} more` : '';
  return names.slice(0, 12).join(', ') + more;
}
