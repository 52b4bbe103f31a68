import { createHash } from 'node:crypto';

/** One cell of the compact user-item matrix. */
export interface UserItemRow {
  customerId: number;
  productId: string;
  /** Distinct invoices on which the customer bought the product (exact duplicate lines count once). */
  timesBought: number;
  totalQuantity: number;
  /** `YYYY-MM-DD HH:MM:SS`, shop-local time (how the database's timestamps read as text). */
  firstPurchasedAt: string;
  lastPurchasedAt: string;
}

/** What the customers table holds of a customer's purchases, computed from their user-item rows. */
export interface CustomerSummary {
  /** Distinct merchandise products bought. */
  productsBought: number;
  firstPurchaseAt: string;
  lastPurchaseAt: string;
  /** md5 of the sorted merchandise product ids: changes exactly when the purchase set changes. */
  purchasesHash: string;
  /** md5 of the customer's user-item rows: an ingestion rewrites a customer's rows only when it changes. */
  itemsHash: string;
}

/** Code-unit order of product ids (the same in every process, whatever the database's collation). */
export const byProductId = (a: { productId: string }, b: { productId: string }): number =>
  a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;

/**
 * Summarises one customer's rows of the user-item matrix (in any order; the customer id is not read) with
 * `isMerchandise` telling which products count as purchases a recommendation learns from. The ingestion and
 * the write path both call it, so that the same rows always give byte-identical digests.
 */
export function summariseCustomer(
  items: readonly Omit<UserItemRow, 'customerId'>[],
  isMerchandise: (productId: string) => boolean,
): CustomerSummary {
  if (items.length === 0) throw new RangeError('a customer without user-item rows has no summary');
  let sorted = true;
  for (let i = 1; i < items.length && sorted; i++) sorted = byProductId(items[i - 1]!, items[i]!) < 0;
  const rows = sorted ? items : [...items].sort(byProductId);

  const itemsHash = createHash('md5');
  const merchandise: string[] = [];
  let first = rows[0]!.firstPurchasedAt;
  let last = rows[0]!.lastPurchasedAt;
  for (const item of rows) {
    itemsHash.update(
      `${item.productId}\t${item.timesBought}\t${item.totalQuantity}\t${item.firstPurchasedAt}\t${item.lastPurchasedAt}\n`,
    );
    if (item.firstPurchasedAt < first) first = item.firstPurchasedAt;
    if (item.lastPurchasedAt > last) last = item.lastPurchasedAt;
    if (isMerchandise(item.productId)) merchandise.push(item.productId);
  }
  return {
    productsBought: merchandise.length,
    firstPurchaseAt: first,
    lastPurchaseAt: last,
    // Sorted like the rows: the merchandise ids are in code-unit order already.
    purchasesHash: createHash('md5').update(merchandise.join(',')).digest('hex'),
    itemsHash: itemsHash.digest('hex'),
  };
}
