import { Inject, Injectable } from '@nestjs/common';
import { withTransaction, type Database, type DatabaseClient } from '@retail/common';
import { DATABASE } from '@retail/common/nest';
import type { CleanLine, CustomerSummary, UserItemRow } from '@retail/ingestion/cleaning';

/** A product a posted line names: created when the catalog does not know it; its latest price kept. */
export interface PostedProduct {
  productId: string;
  description: string;
  isMerchandise: boolean;
  unitPrice: string;
  /** The date of the line the price comes from (a later line's price wins). */
  pricedAt: string;
}

/** What recording a batch did. */
export interface RecordedBatch {
  /** Invoices recorded now, with their customer, and the lines each held. */
  invoices: { invoiceNo: string; customerId: number; lines: number }[];
  /** Invoices already recorded (posted before, or in the ingested file): their lines change nothing. */
  duplicates: { invoiceNo: string; lines: number }[];
  /** Products the catalog did not know before this batch. */
  newProducts: string[];
}

/** What applying a customer's posted invoices did. */
export interface AppliedPurchases {
  invoices: number;
  /** When the oldest of them was recorded (the lag from the commit to the customer's list starts there). */
  oldestRecordedAt: Date | undefined;
}

/** Lock ids of the per-customer advisory locks (a class of its own, beside the ingestion's single lock). */
const CUSTOMER_LOCK_CLASS = 0x7e7a11;

/**
 * Every SQL statement of the write path: posted invoices and their lines (idempotent by invoice), the
 * catalog entries they name, their application to the customer's purchases (user_items, customers), and a
 * customer's erasure.
 */
@Injectable()
export class PurchasesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * Records the cleaned lines of a batch in one transaction: an invoice already posted, or held by the
   * ingested file, is a duplicate and changes nothing (two posts of one batch at the same moment: the second
   * waits for the first's invoice rows, then finds them). Products the catalog lacks are added, and every
   * product's price follows its latest line.
   */
  async record(lines: readonly CleanLine[], products: readonly PostedProduct[]): Promise<RecordedBatch> {
    const byInvoice = new Map<string, CleanLine[]>();
    for (const line of lines) {
      const invoice = byInvoice.get(line.invoiceNo);
      if (invoice) invoice.push(line);
      else byInvoice.set(line.invoiceNo, [line]);
    }
    // Invoice rows are inserted in one order in every transaction: two batches sharing invoices never deadlock.
    const invoiceNos = [...byInvoice.keys()].sort();
    return withTransaction(this.db, async (client) => {
      const { rows: fresh } = await client.query<{ invoice_no: string }>(
        `INSERT INTO posted_invoices (invoice_no, customer_id)
         SELECT i.invoice_no, i.customer_id FROM unnest($1::text[], $2::int[]) AS i (invoice_no, customer_id)
          WHERE NOT EXISTS (SELECT 1 FROM order_lines o WHERE o.invoice_no = i.invoice_no)
          ORDER BY i.invoice_no
         ON CONFLICT (invoice_no) DO NOTHING
         RETURNING invoice_no`,
        [invoiceNos, invoiceNos.map((no) => byInvoice.get(no)![0]!.customerId)],
      );
      const recorded = new Set(fresh.map((row) => row.invoice_no));
      const kept = lines.filter((line) => recorded.has(line.invoiceNo));
      const newProducts = await this.addProducts(client, products);
      if (kept.length > 0) {
        await client.query(
          `INSERT INTO posted_lines (invoice_no, product_id, description, quantity, invoice_date, unit_price,
                                     customer_id, country)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamp[], $6::numeric[],
                                $7::int[], $8::text[])`,
          [
            kept.map((l) => l.invoiceNo),
            kept.map((l) => l.productId),
            kept.map((l) => l.description),
            kept.map((l) => l.quantity),
            kept.map((l) => l.invoiceDate),
            kept.map((l) => l.unitPrice),
            kept.map((l) => l.customerId),
            kept.map((l) => l.country),
          ],
        );
      }
      return {
        invoices: invoiceNos
          .filter((no) => recorded.has(no))
          .map((no) => ({
            invoiceNo: no,
            customerId: byInvoice.get(no)![0]!.customerId,
            lines: byInvoice.get(no)!.length,
          })),
        duplicates: invoiceNos
          .filter((no) => !recorded.has(no))
          .map((no) => ({ invoiceNo: no, lines: byInvoice.get(no)!.length })),
        newProducts,
      };
    });
  }

  /** Adds the products the catalog lacks; every product's price becomes its latest line's. */
  private async addProducts(client: DatabaseClient, products: readonly PostedProduct[]): Promise<string[]> {
    if (products.length === 0) return [];
    const { rows } = await client.query<{ product_id: string; created: boolean }>(
      `INSERT INTO products AS t (product_id, description, is_merchandise, unit_price)
       SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::numeric[])
       ORDER BY 1
       ON CONFLICT (product_id) DO UPDATE SET unit_price = excluded.unit_price
       RETURNING product_id, (xmax = 0) AS created`,
      [
        products.map((p) => p.productId),
        products.map((p) => p.description),
        products.map((p) => p.isMerchandise),
        products.map((p) => p.unitPrice),
      ],
    );
    return rows.filter((row) => row.created).map((row) => row.product_id);
  }

  /**
   * Applies the customer's posted invoices not applied yet to their purchases, in one transaction under the
   * customer's lock: their user-item rows grow by the invoices' lines, the customer row is summarised again
   * by `summarise` (the ingestion's own function: the same digests an ingestion would compute), and the
   * invoices are marked applied. Applying twice applies nothing the second time.
   */
  async apply(
    customerId: number,
    summarise: (items: UserItemRow[], isMerchandise: (productId: string) => boolean) => CustomerSummary,
  ): Promise<AppliedPurchases> {
    return withTransaction(this.db, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [CUSTOMER_LOCK_CLASS, customerId]);
      const { rows: pending } = await client.query<{ invoice_no: string; recorded_at: Date }>(
        `UPDATE posted_invoices SET applied_at = now()
          WHERE customer_id = $1 AND applied_at IS NULL
          RETURNING invoice_no, recorded_at`,
        [customerId],
      );
      if (pending.length === 0) return { invoices: 0, oldestRecordedAt: undefined };
      const invoices = pending.map((row) => row.invoice_no);
      await client.query(
        `INSERT INTO user_items AS t (customer_id, product_id, times_bought, total_quantity, first_purchased_at,
                                      last_purchased_at)
         SELECT customer_id, product_id, count(DISTINCT invoice_no), sum(quantity), min(invoice_date), max(invoice_date)
           FROM posted_lines WHERE invoice_no = ANY ($1::text[])
          GROUP BY customer_id, product_id
          ORDER BY product_id
         ON CONFLICT (customer_id, product_id) DO UPDATE
           SET times_bought = t.times_bought + excluded.times_bought,
               total_quantity = t.total_quantity + excluded.total_quantity,
               first_purchased_at = least(t.first_purchased_at, excluded.first_purchased_at),
               last_purchased_at = greatest(t.last_purchased_at, excluded.last_purchased_at)`,
        [invoices],
      );
      const { rows: items } = await client.query<{
        product_id: string;
        times_bought: number;
        total_quantity: number;
        first_purchased_at: string;
        last_purchased_at: string;
        is_merchandise: boolean;
      }>(
        `SELECT ui.product_id, ui.times_bought, ui.total_quantity, ui.first_purchased_at, ui.last_purchased_at,
                coalesce(p.is_merchandise, false) AS is_merchandise
           FROM user_items ui LEFT JOIN products p USING (product_id)
          WHERE ui.customer_id = $1`,
        [customerId],
      );
      const merchandise = new Set(items.filter((i) => i.is_merchandise).map((i) => i.product_id));
      const summary = summarise(
        items.map((i) => ({
          customerId,
          productId: i.product_id,
          timesBought: i.times_bought,
          totalQuantity: i.total_quantity,
          firstPurchasedAt: i.first_purchased_at,
          lastPurchasedAt: i.last_purchased_at,
        })),
        (productId) => merchandise.has(productId),
      );
      // A new customer's country: the one on most of their lines (then the latest); a known customer keeps theirs.
      await client.query(
        `INSERT INTO customers AS t (customer_id, country, products_bought, first_purchase_at, last_purchase_at,
                                     purchases_hash, items_hash)
         VALUES ($1, (SELECT country FROM posted_lines WHERE invoice_no = ANY ($7::text[])
                       GROUP BY country ORDER BY count(*) DESC, max(invoice_date) DESC, country LIMIT 1),
                 $2, $3, $4, $5, $6)
         ON CONFLICT (customer_id) DO UPDATE
           SET products_bought = excluded.products_bought, first_purchase_at = excluded.first_purchase_at,
               last_purchase_at = excluded.last_purchase_at, purchases_hash = excluded.purchases_hash,
               items_hash = excluded.items_hash, updated_at = now()`,
        [
          customerId,
          summary.productsBought,
          summary.firstPurchaseAt,
          summary.lastPurchaseAt,
          summary.purchasesHash,
          summary.itemsHash,
          invoices,
        ],
      );
      const oldest = pending.reduce((a, b) => (a.recorded_at < b.recorded_at ? a : b)).recorded_at;
      return { invoices: pending.length, oldestRecordedAt: oldest };
    });
  }

  /**
   * Customers with posted invoices not applied `olderThanMs` after they were recorded (their job was lost), and
   * recorded that long before `before` (epoch ms; the oldest job still waiting) when it is given.
   */
  async pendingCustomers(olderThanMs: number, before?: number): Promise<number[]> {
    const { rows } = await this.db.query<{ customer_id: number }>({
      name: 'purchases.pending-customers',
      text: `SELECT DISTINCT customer_id FROM posted_invoices
              WHERE applied_at IS NULL
                AND recorded_at < least(now(), to_timestamp($2::float8 / 1000)) - make_interval(secs => $1::float8 / 1000)`,
      values: [olderThanMs, before ?? null],
    });
    return rows.map((row) => row.customer_id);
  }

  /**
   * Erases a customer at their request, in one transaction: their lines (the file's and the posted ones),
   * their user-item rows, the customer row (their kept lists go with it), and they are remembered as erased
   * so that a new ingestion of the file does not bring them back. `known` is false when nothing was ever known
   * of them (erased before counts as known: erasing is repeatable).
   */
  async erase(customerId: number): Promise<{ lines: number; known: boolean }> {
    return withTransaction(this.db, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [CUSTOMER_LOCK_CLASS, customerId]);
      const file = await client.query('DELETE FROM order_lines WHERE customer_id = $1', [customerId]);
      const posted = await client.query('DELETE FROM posted_lines WHERE customer_id = $1', [customerId]);
      await client.query('DELETE FROM posted_invoices WHERE customer_id = $1', [customerId]);
      await client.query('DELETE FROM user_items WHERE customer_id = $1', [customerId]);
      const customer = await client.query('DELETE FROM customers WHERE customer_id = $1', [customerId]);
      const lines = (file.rowCount ?? 0) + (posted.rowCount ?? 0);
      const erasedNow = (customer.rowCount ?? 0) > 0 || lines > 0;
      const { rowCount: erasedBefore } = await client.query(
        erasedNow
          ? 'INSERT INTO erased_customers (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING'
          : 'SELECT 1 FROM erased_customers WHERE customer_id = $1',
        [customerId],
      );
      return { lines, known: erasedNow || (erasedBefore ?? 0) > 0 };
    });
  }
}
