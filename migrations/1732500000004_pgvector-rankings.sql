-- Up Migration

-- Rankings are pgvector queries; each customer's list is kept in user_recommendations with the versions it
-- was computed from. Versions are readings of ONE clock (the sequence change_clock), stamped by every change a
-- list depends on, in the transaction that makes it:
--   model_versions.version  a model's vectors (insert, update, delete, TRUNCATE) or the catalog changed;
--   customers.version       the customer's purchases (purchases_hash) changed, or the customer is new.
-- A kept list is current when both of its versions equal these; otherwise the services know exactly which
-- lists to recompute: a model's, or a customer's. A sequence never goes back (TRUNCATE ... RESTART IDENTITY
-- leaves it alone), so a version is never reused.
CREATE SEQUENCE change_clock;

-- One row per model (vector space): description models, co-purchase, hybrid.
ALTER TABLE embedding_models RENAME TO model_versions;
ALTER TABLE model_versions ALTER COLUMN version SET DEFAULT nextval('change_clock');
UPDATE model_versions SET version = nextval('change_clock');

ALTER TABLE customers ADD COLUMN version bigint NOT NULL DEFAULT nextval('change_clock');

CREATE FUNCTION stamp_customer_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := nextval('change_clock');
  RETURN NEW;
END $$;
CREATE TRIGGER customers_purchases_changed BEFORE UPDATE ON customers FOR EACH ROW
  WHEN (OLD.purchases_hash IS DISTINCT FROM NEW.purchases_hash) EXECUTE FUNCTION stamp_customer_version();

-- Stamps the models of the changed rows (product_embeddings, product_factors).
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
    -- products: a product removed changes every model's rankings.
    IF EXISTS (SELECT 1 FROM old_rows) THEN
      UPDATE model_versions SET version = nextval('change_clock'), updated_at = now();
    END IF;
  ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n USING (product_id)
                 WHERE (o.description, o.is_merchandise) IS DISTINCT FROM (n.description, n.is_merchandise)) THEN
    -- products: a description (the same-description exclusion) or the merchandise flag changed.
    UPDATE model_versions SET version = nextval('change_clock'), updated_at = now();
  END IF;
  RETURN NULL;
END $$;

-- product_factors shares the function (it had its own, identical but for the bump).
DROP TRIGGER product_factors_inserted ON product_factors;
DROP TRIGGER product_factors_updated ON product_factors;
DROP TRIGGER product_factors_deleted ON product_factors;
DROP FUNCTION bump_factor_model_versions();
CREATE TRIGGER product_factors_inserted AFTER INSERT ON product_factors
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_embedding_model_versions();
CREATE TRIGGER product_factors_updated AFTER UPDATE ON product_factors
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_embedding_model_versions();
CREATE TRIGGER product_factors_deleted AFTER DELETE ON product_factors
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_embedding_model_versions();

-- TRUNCATE has no transition table: it stamps every model.
CREATE FUNCTION stamp_every_model_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE model_versions SET version = nextval('change_clock'), updated_at = now();
  RETURN NULL;
END $$;
-- (created below, once the in-process engine's triggers of the same names are gone)

-- The in-process engine's change notifications and its three-row version table are gone.
DROP TRIGGER product_factors_truncated ON product_factors;
DROP TRIGGER product_embeddings_truncated ON product_embeddings;
DROP FUNCTION notify_recommendation_vectors_truncated();
DROP TRIGGER products_notify ON products;
DROP TRIGGER user_items_notify ON user_items;
DROP TRIGGER customers_notify ON customers;
DROP TRIGGER embedding_models_notify ON model_versions;
DROP FUNCTION notify_recommendation_inputs();
DROP TABLE recommendation_inputs;
DROP SEQUENCE recommendation_inputs_versions;
CREATE TRIGGER product_embeddings_truncated AFTER TRUNCATE ON product_embeddings
  FOR EACH STATEMENT EXECUTE FUNCTION stamp_every_model_version();
CREATE TRIGGER product_factors_truncated AFTER TRUNCATE ON product_factors
  FOR EACH STATEMENT EXECUTE FUNCTION stamp_every_model_version();
CREATE TRIGGER products_truncated AFTER TRUNCATE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION stamp_every_model_version();

-- Each customer's ranked list in a model (the best 100, best first), what is served: the versions it was
-- computed from, and how many of the customer's purchases had a vector in the model (below
-- RECOMMENDER_MIN_PURCHASES the description model stands in). Descriptions are read from products when served.
DROP TABLE user_recommendations;
CREATE TABLE user_recommendations (
  customer_id            integer            NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
  model                  text               NOT NULL,
  product_ids            text[]             NOT NULL,
  scores                 double precision[] NOT NULL,
  purchased_with_vectors integer            NOT NULL,
  customer_version       bigint             NOT NULL,
  model_version          bigint             NOT NULL,
  computed_at            timestamptz        NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, model)
);

-- Down Migration

DROP TABLE user_recommendations;
CREATE TABLE user_recommendations (
  customer_id            integer            NOT NULL,
  model                  text               NOT NULL,
  purchased_with_vectors integer            NOT NULL,
  product_ids            text[]             NOT NULL,
  scores                 double precision[] NOT NULL,
  purchases_hash         text               NOT NULL,
  vectors_version        bigint             NOT NULL,
  computed_at            timestamptz        NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, model)
);
DROP TRIGGER product_embeddings_truncated ON product_embeddings;
DROP TRIGGER product_factors_truncated ON product_factors;
DROP TRIGGER products_truncated ON products;
DROP FUNCTION stamp_every_model_version();
DROP TRIGGER customers_purchases_changed ON customers;
DROP FUNCTION stamp_customer_version();
ALTER TABLE customers DROP COLUMN version;
ALTER TABLE model_versions ALTER COLUMN version SET DEFAULT 1;
ALTER TABLE model_versions RENAME TO embedding_models;
DROP SEQUENCE change_clock;
-- (the notifications of the in-process engine are not restored: migrate down past 1732500000003 as well)
