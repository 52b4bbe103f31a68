import { printable } from '@retail/common';
import type { ColumnIndex } from './columns.js';
import {
  normaliseDescription,
  normaliseStockCode,
  parseCustomerId,
  parseInvoiceDate,
  parsePrice,
  parseQuantity,
} from './normalise.js';

/**
 * The cleaning rules (README, "Data rules and the quirks found in the data"), in the order they are checked; a
 * row is counted under the first it fails. The last one drops the purchases of customers erased at their
 * request, so that a line which would otherwise be kept never brings them back.
 */
export const DROP_RULES = [
  'missing_customer_id',
  'missing_stock_code',
  'cancellation',
  'non_positive_quantity',
  'erased_customer',
] as const;
export type DropRule = (typeof DROP_RULES)[number];

/** The customers erased at their request (a Set of customer numbers will do). */
export interface ErasedCustomers {
  has(customerId: number): boolean;
}

export interface CleanLine {
  lineNo: number;
  invoiceNo: string;
  rawCode: string;
  productId: string;
  description: string;
  quantity: number;
  invoiceDate: string;
  unitPrice: string;
  customerId: number;
  country: string;
}

export type RowOutcome =
  | { kind: 'kept'; line: CleanLine }
  | { kind: 'dropped'; rule: DropRule }
  | { kind: 'malformed'; reason: string };

/**
 * Reads one record of the file. A record whose fields cannot be read (wrong field count, a quantity
 * that is not an integer, a date that is not a date, ...) is malformed; a readable record that the
 * cleaning rules exclude is dropped with the rule's name. `erased`: customers whose lines are dropped.
 */
export function cleanRecord(
  fields: readonly string[],
  lineNo: number,
  columns: ColumnIndex,
  fieldCount: number,
  erased?: ErasedCustomers,
): RowOutcome {
  if (fields.length !== fieldCount) {
    return { kind: 'malformed', reason: `expected ${fieldCount} fields, found ${fields.length}` };
  }
  const f = (index: number) => fields[index] ?? '';

  const quantity = parseQuantity(f(columns.Quantity));
  if (quantity === null)
    return { kind: 'malformed', reason: `Quantity is not an integer: ${show(f(columns.Quantity))}` };
  const invoiceDate = parseInvoiceDate(f(columns.InvoiceDate));
  if (invoiceDate === null)
    return { kind: 'malformed', reason: `InvoiceDate is not a date: ${show(f(columns.InvoiceDate))}` };
  const unitPrice = parsePrice(f(columns.UnitPrice));
  if (unitPrice === null)
    return { kind: 'malformed', reason: `UnitPrice is not a number: ${show(f(columns.UnitPrice))}` };
  const customerId = parseCustomerId(f(columns.CustomerID));
  if (customerId === 'invalid') {
    return {
      kind: 'malformed',
      reason: `CustomerID is not a customer number: ${show(f(columns.CustomerID))}`,
    };
  }
  const invoiceNo = f(columns.InvoiceNo).trim();
  if (invoiceNo === '') return { kind: 'malformed', reason: 'InvoiceNo is empty' };

  const rawCode = f(columns.StockCode);
  const productId = normaliseStockCode(rawCode);
  if (customerId === null) return { kind: 'dropped', rule: 'missing_customer_id' };
  if (productId === '') return { kind: 'dropped', rule: 'missing_stock_code' };
  if (invoiceNo[0] === 'C' || invoiceNo[0] === 'c') return { kind: 'dropped', rule: 'cancellation' };
  if (quantity <= 0) return { kind: 'dropped', rule: 'non_positive_quantity' };
  if (erased?.has(customerId)) return { kind: 'dropped', rule: 'erased_customer' };

  return {
    kind: 'kept',
    line: {
      lineNo,
      invoiceNo,
      rawCode: rawCode.trim(),
      productId,
      description: normaliseDescription(f(columns.Description)),
      quantity,
      invoiceDate,
      unitPrice,
      customerId,
      country: normaliseDescription(f(columns.Country)) || 'Unspecified',
    },
  };
}

/** A field's value in a message: quoted, escaped, cut short. */
function show(value: string): string {
  return `"${printable(value, 40)}"`;
}
