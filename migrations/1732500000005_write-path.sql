-- Up Migration

-- Purchases and products that come through the HTTP API, kept beside the ingested file's lines: a new
-- ingestion of the file keeps them (README, "The write API").

-- One row per invoice posted through the API: the unit a shop posts, and its idempotency key (the lines of
-- an invoice already recorded, posted or in the file, count as duplicates and change nothing).
CREATE TABLE posted_invoices (
  invoice_no  text        PRIMARY KEY,
  recorded_at timestamptz NOT NULL DEFAULT now()
);

-- The lines posted through the API, after the cleaning rules (the same columns as order_lines).
CREATE TABLE posted_lines (
  line_id      bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  invoice_no   text          NOT NULL REFERENCES posted_invoices (invoice_no) ON DELETE CASCADE,
  product_id   text          NOT NULL,
  description  text          NOT NULL,
  quantity     integer       NOT NULL CHECK (quantity > 0),
  invoice_date timestamp     NOT NULL,
  unit_price   numeric(12,3) NOT NULL,
  customer_id  integer       NOT NULL,
  country      text          NOT NULL,
  recorded_at  timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX posted_lines_customer ON posted_lines (customer_id);
CREATE INDEX posted_lines_recorded ON posted_lines (recorded_at);

-- An invoice posted that the file also holds counts once: the file's lines are looked up by invoice.
CREATE INDEX order_lines_invoice ON order_lines (invoice_no);

-- Customers erased at their request: their purchases are gone, and a new ingestion of the file must not bring
-- them back.
CREATE TABLE erased_customers (
  customer_id integer     PRIMARY KEY,
  erased_at   timestamptz NOT NULL DEFAULT now()
);

-- Products: the latest unit price the data has (shown on the page), who described the product last (`api`:
-- the shop, through PUT /api/products/{id}; a new ingestion keeps that description), and when the shop took
-- it out of the catalog (no longer recommended; purchase history keeps it).
ALTER TABLE products
  ADD COLUMN unit_price numeric(12,3),
  ADD COLUMN described_by text NOT NULL DEFAULT 'file' CHECK (described_by IN ('file', 'api')),
  ADD COLUMN retired_at timestamptz;
UPDATE products p SET unit_price = l.unit_price
  FROM (SELECT DISTINCT ON (product_id) product_id, unit_price FROM order_lines
         ORDER BY product_id, invoice_date DESC, line_no DESC) l
 WHERE l.product_id = p.product_id;

-- Retiring a product (or bringing it back) changes every model's rankings, as a description does.
CREATE OR REPLACE FUNCTION bump_embedding_model_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME IN ('product_embeddings', 'product_factors') THEN
    IF TG_OP = 'DELETE' THEN
      INSERT INTO model_versions AS m (model) SELECT DISTINCT model FROM old_rows
      ON CONFLICT (model) DO UPDATE SET version = nextval('change_clock'), updated_at = now();
    ELSE
      INSERT INTO model_versions AS m (model) SELECT DISTINCT model FROM new_rows
      ON CONFLICT (model) DO UPDATE SET version = nextval('change_clock'), updated_at = now();
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM old_rows) THEN
      UPDATE model_versions SET version = nextval('change_clock'), updated_at = now();
    END IF;
  ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n USING (product_id)
                 WHERE (o.description, o.is_merchandise, o.retired_at IS NULL)
                       IS DISTINCT FROM (n.description, n.is_merchandise, n.retired_at IS NULL)) THEN
    UPDATE model_versions SET version = nextval('change_clock'), updated_at = now();
  END IF;
  RETURN NULL;
END $$;

-- What the ranking never recommends: non-merchandise and retired products (a small set: a partial index).
CREATE INDEX products_unrankable ON products (product_id) WHERE NOT is_merchandise OR retired_at IS NOT NULL;
-- Products described exactly like something a customer bought are excluded too: found by description.
CREATE INDEX products_description ON products (description);

-- Down Migration

DROP INDEX products_description;
DROP INDEX products_unrankable;
ALTER TABLE products DROP COLUMN retired_at, DROP COLUMN described_by, DROP COLUMN unit_price;
DROP TABLE erased_customers;
DROP INDEX order_lines_invoice;
DROP TABLE posted_lines;
DROP TABLE posted_invoices;
