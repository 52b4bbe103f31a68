import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { DatabaseClient } from '@retail/common';
import { from as copyFrom } from 'pg-copy-streams';
import type { CatalogProduct } from './cleaning/product-catalog.js';
import type { CustomerRow } from './cleaning/purchase-aggregator.js';
import type { CleanLine } from './cleaning/row-cleaner.js';
import { copyText } from './copy-format.js';

export interface MergeCounts {
  /** Products inserted or changed. */
  products: number;
  /** Customers inserted or changed. */
  customers: number;
  /** Customers whose user-item rows changed, and the rows written for them. */
  customersWithNewItems: number;
  userItemRows: number;
  removed: { products: number; customers: number };
}

export interface TableCounts {
  customers: number;
  products: number;
  merchandiseProducts: number;
  orderLines: number;
  /** Lines posted through the API, kept beside the file's. */
  postedLines: number;
  userItems: number;
}

/** A product the shop described through the API: a new ingestion keeps its description and flag. */
export interface ShopDescription {
  description: string;
  isMerchandise: boolean;
}

export interface RunRecord {
  source: string;
  startedAt: Date;
  rowsRead: number;
  rowsKept: number;
  rowsDropped: Record<string, number>;
  rowsMalformed: number;
  customers: number;
  products: number;
}

/** Lock id shared by every ingestion run, so that two runs never interleave. */
const INGESTION_LOCK_ID = 0x0c0ffee;

/**
 * Every SQL statement of an ingestion run. All methods run on one client inside the run's transaction:
 * a failure anywhere leaves the previous data exactly as it was.
 */
export class IngestionRepository {
  constructor(private readonly client: DatabaseClient) {}

  async lock(): Promise<void> {
    await this.client.query('SELECT pg_advisory_xact_lock($1)', [INGESTION_LOCK_ID]);
  }

  /** The customers erased at their request: their lines in the file are dropped. */
  async erasedCustomers(): Promise<Set<number>> {
    const { rows } = await this.client.query<{ customer_id: number }>(
      'SELECT customer_id FROM erased_customers',
    );
    return new Set(rows.map((row) => row.customer_id));
  }

  /**
   * Deletes the posted invoices that the file's lines (order_lines, loaded by this run) also hold, with their
   * lines: such an invoice counts once, as the file has it. Returns how many invoices and lines went.
   */
  async removePostedInvoicesInFile(): Promise<{ invoices: number; lines: number }> {
    const { rows } = await this.client.query<{ invoices: number; lines: number }>(`
      WITH held AS (
        DELETE FROM posted_invoices p
         WHERE EXISTS (SELECT 1 FROM order_lines o WHERE o.invoice_no = p.invoice_no)
        RETURNING invoice_no)
      SELECT (SELECT count(*) FROM held)::int AS invoices,
             (SELECT count(*) FROM posted_lines l JOIN held USING (invoice_no))::int AS lines`);
    return rows[0]!;
  }

  /** The lines posted through the API, as cleaned lines, in the order they were recorded, a page at a time. */
  async *postedLines(pageSize = 10_000): AsyncGenerator<CleanLine[]> {
    for (let after = 0; ;) {
      const { rows } = await this.client.query<{
        line_id: number;
        invoice_no: string;
        product_id: string;
        description: string;
        quantity: number;
        invoice_date: string;
        unit_price: string;
        customer_id: number;
        country: string;
      }>(
        `SELECT line_id, invoice_no, product_id, description, quantity, invoice_date, unit_price, customer_id, country
           FROM posted_lines WHERE line_id > $1 ORDER BY line_id LIMIT $2`,
        [after, pageSize],
      );
      if (rows.length === 0) return;
      yield rows.map((row) => ({
        lineNo: row.line_id,
        invoiceNo: row.invoice_no,
        rawCode: row.product_id,
        productId: row.product_id,
        description: row.description,
        quantity: row.quantity,
        invoiceDate: row.invoice_date,
        unitPrice: row.unit_price,
        customerId: row.customer_id,
        country: row.country,
      }));
      after = rows[rows.length - 1]!.line_id;
    }
  }

  /** Products the shop described (`described_by = 'api'`), by product id. */
  async shopDescriptions(): Promise<Map<string, ShopDescription>> {
    const { rows } = await this.client.query<{
      product_id: string;
      description: string;
      is_merchandise: boolean;
    }>(`SELECT product_id, description, is_merchandise FROM products WHERE described_by = 'api'`);
    return new Map(
      rows.map((row) => [
        row.product_id,
        { description: row.description, isMerchandise: row.is_merchandise },
      ]),
    );
  }

  /** Empties order_lines (they are replaced by the file's lines) and returns a writer for the new ones. */
  async startOrderLines(): Promise<OrderLineWriter> {
    await this.client.query('TRUNCATE order_lines');
    const stream = this.client.query(
      copyFrom(
        `COPY order_lines (line_no, invoice_no, product_id, description, quantity, invoice_date, unit_price,
                           customer_id, country) FROM STDIN WITH (FREEZE)`,
      ),
    );
    return new OrderLineWriter(stream);
  }

  /** Loads the run's catalog and customers into temporary tables (COPY) for the merge. */
  async stage(products: CatalogProduct[], customers: CustomerRow[]): Promise<void> {
    await this.client.query(`
      CREATE TEMP TABLE incoming_products (
        product_id text PRIMARY KEY, description text NOT NULL, is_merchandise boolean NOT NULL,
        description_variants integer NOT NULL, unit_price numeric(12,3) NOT NULL) ON COMMIT DROP;
      CREATE TEMP TABLE incoming_customers (
        customer_id integer PRIMARY KEY, country text NOT NULL, products_bought integer NOT NULL,
        first_purchase_at timestamp NOT NULL, last_purchase_at timestamp NOT NULL, purchases_hash text NOT NULL,
        items_hash text NOT NULL) ON COMMIT DROP;`);
    await this.copy(
      'incoming_products (product_id, description, is_merchandise, description_variants, unit_price)',
      products.map((p) => [
        p.productId,
        p.description,
        p.isMerchandise ? 't' : 'f',
        p.descriptionVariants,
        p.unitPrice,
      ]),
    );
    await this.copy(
      `incoming_customers (customer_id, country, products_bought, first_purchase_at, last_purchase_at,
                           purchases_hash, items_hash)`,
      customers.map((c) => [
        c.customerId,
        c.country,
        c.productsBought,
        c.firstPurchaseAt,
        c.lastPurchaseAt,
        c.purchasesHash,
        c.itemsHash,
      ]),
    );
    await this.client.query('ANALYZE incoming_products, incoming_customers');
  }

  /**
   * Applies the staged run: inserts what is new, updates what changed, deletes what the data (the file and
   * the posted lines) no longer has. A customer's user-item rows are rewritten only when their digest
   * changed, so a re-run of the same file writes nothing and every vector computed from the previous data
   * stays valid. Products the shop described keep their description and merchandise flag and are never
   * deleted here; no product's retirement is touched.
   */
  async merge(customers: CustomerRow[]): Promise<MergeCounts> {
    const products = await this.client.query(`
      INSERT INTO products AS t (product_id, description, is_merchandise, description_variants, unit_price)
      SELECT i.product_id, i.description, i.is_merchandise, i.description_variants, i.unit_price
        FROM incoming_products i LEFT JOIN products p USING (product_id)
       WHERE p.product_id IS NULL
          OR (p.description, p.is_merchandise, p.description_variants, p.unit_price)
             IS DISTINCT FROM (i.description, i.is_merchandise, i.description_variants, i.unit_price)
      ON CONFLICT (product_id) DO UPDATE
        SET description = CASE WHEN t.described_by = 'api' THEN t.description ELSE excluded.description END,
            is_merchandise = CASE WHEN t.described_by = 'api' THEN t.is_merchandise ELSE excluded.is_merchandise END,
            description_variants = excluded.description_variants, unit_price = excluded.unit_price,
            updated_at = now()`);
    const { rows: changedItems } = await this.client.query<{ customer_id: number }>(`
      SELECT i.customer_id FROM incoming_customers i LEFT JOIN customers c USING (customer_id)
       WHERE c.customer_id IS NULL OR c.items_hash <> i.items_hash`);
    const upserted = await this.client.query(`
      INSERT INTO customers AS t (customer_id, country, products_bought, first_purchase_at, last_purchase_at,
                                  purchases_hash, items_hash)
      SELECT i.customer_id, i.country, i.products_bought, i.first_purchase_at, i.last_purchase_at, i.purchases_hash,
             i.items_hash
        FROM incoming_customers i LEFT JOIN customers c USING (customer_id)
       WHERE c.customer_id IS NULL
          OR (c.country, c.products_bought, c.first_purchase_at, c.last_purchase_at, c.purchases_hash, c.items_hash)
             IS DISTINCT FROM
             (i.country, i.products_bought, i.first_purchase_at, i.last_purchase_at, i.purchases_hash, i.items_hash)
      ON CONFLICT (customer_id) DO UPDATE
        SET country = excluded.country, products_bought = excluded.products_bought,
            first_purchase_at = excluded.first_purchase_at, last_purchase_at = excluded.last_purchase_at,
            purchases_hash = excluded.purchases_hash, items_hash = excluded.items_hash, updated_at = now()`);

    const changed = new Set(changedItems.map((row) => row.customer_id));
    let userItemRows = 0;
    if (changed.size > 0) {
      // Into an empty table (the first load), building the primary key after COPY is several times
      // cheaper than maintaining it row by row; nobody can read the empty table's rows meanwhile.
      const { rows: emptyCheck } = await this.client.query<{ empty: boolean }>(
        'SELECT NOT EXISTS (SELECT 1 FROM user_items) AS empty',
      );
      const bulk = emptyCheck[0]!.empty;
      if (bulk) await this.client.query('ALTER TABLE user_items DROP CONSTRAINT user_items_pkey');
      else
        await this.client.query('DELETE FROM user_items WHERE customer_id = ANY($1::int[])', [[...changed]]);
      const rows: (string | number)[][] = [];
      for (const customer of customers) {
        if (!changed.has(customer.customerId)) continue;
        for (const u of customer.items) {
          rows.push([
            u.customerId,
            u.productId,
            u.timesBought,
            u.totalQuantity,
            u.firstPurchasedAt,
            u.lastPurchasedAt,
          ]);
        }
      }
      await this.copy(
        'user_items (customer_id, product_id, times_bought, total_quantity, first_purchased_at, last_purchased_at)',
        rows,
      );
      userItemRows = rows.length;
      if (bulk) {
        await this.client.query(
          'ALTER TABLE user_items ADD CONSTRAINT user_items_pkey PRIMARY KEY (customer_id, product_id)',
        );
      }
    }

    const removedCustomers = await this.client.query<{ customer_id: number }>(`
      DELETE FROM customers t WHERE NOT EXISTS (SELECT 1 FROM incoming_customers i WHERE i.customer_id = t.customer_id)
      RETURNING customer_id`);
    const removedProducts = await this.client.query<{ product_id: string }>(`
      DELETE FROM products t
       WHERE t.described_by <> 'api'
         AND NOT EXISTS (SELECT 1 FROM incoming_products i WHERE i.product_id = t.product_id)
      RETURNING product_id`);
    if (removedCustomers.rows.length > 0 || removedProducts.rows.length > 0) {
      await this.client.query(
        'DELETE FROM user_items WHERE customer_id = ANY($1::int[]) OR product_id = ANY($2::text[])',
        [
          removedCustomers.rows.map((row) => row.customer_id),
          removedProducts.rows.map((row) => row.product_id),
        ],
      );
    }
    return {
      products: products.rowCount ?? 0,
      customers: upserted.rowCount ?? 0,
      customersWithNewItems: changed.size,
      userItemRows,
      removed: { products: removedProducts.rowCount ?? 0, customers: removedCustomers.rowCount ?? 0 },
    };
  }

  private async copy(target: string, rows: (string | number)[][]): Promise<void> {
    const stream = this.client.query(copyFrom(`COPY ${target} FROM STDIN`));
    const chunkRows = 20_000;
    for (let i = 0; i < rows.length; i += chunkRows) {
      const text = rows
        .slice(i, i + chunkRows)
        .map((row) =>
          row.map((value) => (typeof value === 'number' ? String(value) : copyText(value))).join('\t'),
        )
        .join('\n');
      stream.write(`${text}\n`);
    }
    stream.end();
    await finished(stream);
  }

  /** Fresh planner statistics for the tables a load rewrote (readers plan their joins with them). */
  async analyze(): Promise<void> {
    await this.client.query('ANALYZE customers, products, user_items');
  }

  async counts(): Promise<TableCounts> {
    const { rows } = await this.client.query<TableCounts>(`
      SELECT (SELECT count(*) FROM customers)                          AS "customers",
             (SELECT count(*) FROM products)                           AS "products",
             (SELECT count(*) FROM products WHERE is_merchandise)      AS "merchandiseProducts",
             (SELECT count(*) FROM order_lines)                        AS "orderLines",
             (SELECT count(*) FROM posted_lines)                       AS "postedLines",
             (SELECT count(*) FROM user_items)                         AS "userItems"`);
    return rows[0]!;
  }

  async recordRun(run: RunRecord): Promise<void> {
    await this.client.query(
      `INSERT INTO ingestion_runs (source, started_at, rows_read, rows_kept, rows_dropped, rows_malformed, customers,
                                   products)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        run.source,
        run.startedAt,
        run.rowsRead,
        run.rowsKept,
        JSON.stringify(run.rowsDropped),
        run.rowsMalformed,
        run.customers,
        run.products,
      ],
    );
  }
}

/**
 * Streams cleaned lines into `COPY order_lines` in large chunks; `flush` waits when Postgres is behind.
 * A run that fails must `abort` the writer: until the COPY ends, the connection accepts no other statement
 * (a ROLLBACK would wait behind it forever, keeping the table locked).
 */
export class OrderLineWriter {
  private static readonly MAX_IN_FLIGHT = 16 << 20;
  private parts: string[] = [];
  /** The error Postgres answered the COPY with (a constraint, a lost connection), if any. */
  private failure: Error | undefined;

  constructor(private readonly stream: Writable) {
    // Without a listener, an error of the COPY between two flushes would crash the process.
    stream.on('error', (error: Error) => {
      this.failure ??= error;
    });
  }

  write(line: CleanLine): void {
    this.parts.push(
      `${line.lineNo}\t${copyText(line.invoiceNo)}\t${copyText(line.productId)}\t${copyText(line.description)}\t` +
        `${line.quantity}\t${line.invoiceDate}\t${line.unitPrice}\t${line.customerId}\t${copyText(line.country)}\n`,
    );
  }

  /**
   * Sends what was written so far. Up to MAX_IN_FLIGHT bytes may wait in the socket buffer, so that
   * Postgres ingests one batch while the next is parsed; beyond that, waits for it to catch up.
   */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.stream.write(chunk);
    if (this.stream.writableLength > OrderLineWriter.MAX_IN_FLIGHT) {
      await once(this.stream, 'drain'); // rejects when the stream errors meanwhile
    }
  }

  async end(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
  }

  /**
   * Abandons the COPY: sends CopyFail (pg-copy-streams' destroy) and waits until Postgres has answered it,
   * after which the connection takes statements again (the ROLLBACK). Nothing of the COPY is kept.
   */
  async abort(reason: Error): Promise<void> {
    this.parts = [];
    if (this.stream.destroyed && this.stream.closed) return;
    const closed = finished(this.stream).catch(() => undefined);
    if (!this.stream.destroyed) this.stream.destroy(reason);
    await closed;
  }
}
