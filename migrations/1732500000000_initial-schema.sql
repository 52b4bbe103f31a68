-- Up Migration

CREATE EXTENSION IF NOT EXISTS vector;

-- One row per customer with purchase history (after the cleaning rules: README, "Data rules and the quirks found in the data").
CREATE TABLE customers (
  customer_id        integer     PRIMARY KEY,
  country            text        NOT NULL,               -- most frequent country on the customer's lines
  products_bought    integer     NOT NULL,               -- distinct merchandise products bought
  first_purchase_at  timestamp   NOT NULL,               -- shop-local time, as in the source file
  last_purchase_at   timestamp   NOT NULL,
  purchases_hash     text        NOT NULL,               -- md5 of the sorted merchandise product ids bought
  items_hash         text        NOT NULL,               -- md5 of the customer's user_items rows (changes detection)
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per product (normalised StockCode) with its canonical description.
CREATE TABLE products (
  product_id          text        PRIMARY KEY,           -- StockCode, trimmed and upper-cased
  description         text        NOT NULL,              -- canonical description (see README, "Data quirks")
  is_merchandise      boolean     NOT NULL,              -- false for postage, fees, manual adjustments, ...
  description_variants integer    NOT NULL DEFAULT 1,    -- how many spellings the source used
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The cleaned invoice lines of the last ingested file (the system of record for purchases).
CREATE TABLE order_lines (
  line_no      integer       PRIMARY KEY,                -- line number in the source file
  invoice_no   text          NOT NULL,
  product_id   text          NOT NULL,
  description  text          NOT NULL,                   -- as written on this line (whitespace normalised)
  quantity     integer       NOT NULL CHECK (quantity > 0),
  invoice_date timestamp     NOT NULL,
  unit_price   numeric(12,3) NOT NULL,
  customer_id  integer       NOT NULL,
  country      text          NOT NULL
);

-- The compact user-item matrix: one row per (customer, product) bought.
-- No foreign keys on purpose: only the ingestion writes this table, together with customers and products
-- in one transaction (it deletes the rows of removed customers and products itself), and row-by-row
-- foreign-key triggers would cost about 5 s on a full load of 267k rows.
CREATE TABLE user_items (
  customer_id        integer   NOT NULL,
  product_id         text      NOT NULL,
  times_bought       integer   NOT NULL,                 -- distinct invoices containing the product
  total_quantity     integer   NOT NULL,
  first_purchased_at timestamp NOT NULL,
  last_purchased_at  timestamp NOT NULL,
  CONSTRAINT user_items_pkey PRIMARY KEY (customer_id, product_id)
);

-- Product vectors, one per (model, product). Vectors of different models never mix.
CREATE TABLE product_embeddings (
  model       text         NOT NULL,
  product_id  text         NOT NULL REFERENCES products (product_id) ON DELETE CASCADE,
  text_hash   text         NOT NULL,                     -- sha256 of the text that was embedded
  embedding   vector(1024) NOT NULL,                     -- L2-normalised
  created_at  timestamptz  NOT NULL DEFAULT now(),
  PRIMARY KEY (model, product_id)
);

-- One row per ingestion run, for operators and for `npm start` ("ingest if the database is empty").
CREATE TABLE ingestion_runs (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source        text        NOT NULL,
  started_at    timestamptz NOT NULL,
  finished_at   timestamptz NOT NULL DEFAULT now(),
  rows_read     integer     NOT NULL,
  rows_kept     integer     NOT NULL,
  rows_dropped  jsonb       NOT NULL,
  rows_malformed integer    NOT NULL,
  customers     integer     NOT NULL,
  products      integer     NOT NULL
);

-- Down Migration

DROP TABLE ingestion_runs;
DROP TABLE product_embeddings;
DROP TABLE user_items;
DROP TABLE order_lines;
DROP TABLE products;
DROP TABLE customers;
