import {
  byProductId,
  summariseCustomer,
  type CustomerSummary,
  type UserItemRow,
} from './customer-summary.js';
import type { CleanLine } from './row-cleaner.js';

export interface CustomerRow extends CustomerSummary {
  customerId: number;
  /** The country on most of the customer's lines (8 customers appear under two countries). */
  country: string;
  /** The customer's rows of the user-item matrix, by product id. */
  items: UserItemRow[];
}

interface PairState {
  customerId: number;
  productId: string;
  invoices: string[];
  totalQuantity: number;
  first: string;
  last: string;
}

interface CountryState {
  lines: number;
  lastSeen: string;
}

/**
 * Builds the user-item matrix and the customer table from the kept lines in one pass, while the lines
 * stream into Postgres (cheaper than re-reading 400k lines with GROUP BY afterwards).
 */
export class PurchaseAggregator {
  private readonly pairs = new Map<number, Map<string, PairState>>();
  private readonly countries = new Map<number, Map<string, CountryState>>();
  /** Lines of one invoice are consecutive and share a customer: the previous line's lookups are reused. */
  private lastCustomer = {
    id: -1,
    items: new Map<string, PairState>(),
    countries: new Map<string, CountryState>(),
  };

  add(line: CleanLine): void {
    let customer = this.lastCustomer;
    if (customer.id !== line.customerId) {
      let items = this.pairs.get(line.customerId);
      let countries = this.countries.get(line.customerId);
      if (!items || !countries) {
        items = new Map();
        countries = new Map();
        this.pairs.set(line.customerId, items);
        this.countries.set(line.customerId, countries);
      }
      customer = { id: line.customerId, items, countries };
      this.lastCustomer = customer;
    }
    const { items, countries } = customer;
    const pair = items.get(line.productId);
    if (pair) {
      const last = pair.invoices[pair.invoices.length - 1];
      if (last !== line.invoiceNo && !pair.invoices.includes(line.invoiceNo))
        pair.invoices.push(line.invoiceNo);
      pair.totalQuantity += line.quantity;
      if (line.invoiceDate < pair.first) pair.first = line.invoiceDate;
      if (line.invoiceDate > pair.last) pair.last = line.invoiceDate;
    } else {
      items.set(line.productId, {
        customerId: line.customerId,
        productId: line.productId,
        invoices: [line.invoiceNo],
        totalQuantity: line.quantity,
        first: line.invoiceDate,
        last: line.invoiceDate,
      });
    }

    const country = countries.get(line.country);
    if (country) {
      country.lines++;
      if (line.invoiceDate > country.lastSeen) country.lastSeen = line.invoiceDate;
    } else {
      countries.set(line.country, { lines: 1, lastSeen: line.invoiceDate });
    }
  }

  customers(isMerchandise: (productId: string) => boolean): CustomerRow[] {
    const rows: CustomerRow[] = [];
    for (const [customerId, pairs] of this.pairs) {
      const items: UserItemRow[] = [];
      for (const p of pairs.values()) {
        items.push({
          customerId,
          productId: p.productId,
          timesBought: p.invoices.length,
          totalQuantity: p.totalQuantity,
          firstPurchasedAt: p.first,
          lastPurchasedAt: p.last,
        });
      }
      items.sort(byProductId);
      rows.push({
        customerId,
        country: mostFrequentCountry(this.countries.get(customerId)!),
        ...summariseCustomer(items, isMerchandise),
        items,
      });
    }
    return rows;
  }
}

/** Most lines wins; ties go to the most recent, then to alphabetical order. */
function mostFrequentCountry(countries: Map<string, CountryState>): string {
  let best: [string, CountryState] | undefined;
  for (const entry of countries) {
    const [name, s] = entry;
    if (
      !best ||
      s.lines > best[1].lines ||
      (s.lines === best[1].lines &&
        (s.lastSeen > best[1].lastSeen || (s.lastSeen === best[1].lastSeen && name < best[0])))
    ) {
      best = entry;
    }
  }
  return best![0];
}
