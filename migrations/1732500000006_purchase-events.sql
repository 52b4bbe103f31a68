-- Up Migration

-- A posted invoice is applied to the customer's purchases (user_items, customers) by a job after its commit.
-- `applied_at` is NULL until then: what a lost job (Redis away when the lines were accepted) leaves behind, and
-- what the recommendation service finds again (a partial index keeps that lookup to the few pending rows).
ALTER TABLE posted_invoices ADD COLUMN applied_at timestamptz;
CREATE INDEX posted_invoices_pending ON posted_invoices (recorded_at) WHERE applied_at IS NULL;
-- The customer of an invoice (an invoice is one customer's purchase: the API refuses one that names several).
ALTER TABLE posted_invoices ADD COLUMN customer_id integer NOT NULL;

-- A customer's purchases are rebuilt from their lines (the file's and the posted ones): found by customer.
CREATE INDEX order_lines_customer ON order_lines (customer_id);

-- Between two trainings the hybrid follows the description vectors written since (a new product, a new
-- description): found by when they were written.
CREATE INDEX product_embeddings_written ON product_embeddings (model, created_at);

-- Down Migration

DROP INDEX product_embeddings_written;
DROP INDEX order_lines_customer;
ALTER TABLE posted_invoices DROP COLUMN customer_id;
DROP INDEX posted_invoices_pending;
ALTER TABLE posted_invoices DROP COLUMN applied_at;
