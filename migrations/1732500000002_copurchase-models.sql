-- Up Migration

-- The models learned from purchases (co-purchase, hybrid): one row per model, with what it was trained from.
CREATE TABLE recommender_models (
  model        text        PRIMARY KEY,
  kind         text        NOT NULL CHECK (kind IN ('copurchase', 'hybrid')),
  dimensions   integer     NOT NULL,                 -- of the product (and user) vectors
  params       jsonb       NOT NULL,                 -- hyperparameters, rank, component models
  trained_from text        NOT NULL,                 -- digest of the purchases (and description vectors) learned from
  customers    integer     NOT NULL,
  products     integer     NOT NULL,
  training_ms  integer     NOT NULL,
  trained_at   timestamptz NOT NULL DEFAULT now()
);

-- Product vectors of those models, one row per (model, product); like product_embeddings, every vector
-- records its model and a ranking scans one model's rows. The dimension depends on the model (no typmod).
-- item_vector: scored against user vectors (inner product). input_vector: what buying the product adds to a
-- user's vector (a user's co-purchase vector is the sum of the input vectors of what they bought).
CREATE TABLE product_factors (
  model        text   NOT NULL REFERENCES recommender_models (model) ON DELETE CASCADE,
  product_id   text   NOT NULL REFERENCES products (product_id) ON DELETE CASCADE,
  item_vector  vector NOT NULL,
  input_vector vector NOT NULL,
  PRIMARY KEY (model, product_id)
);
-- Inline (no TOAST) like product_embeddings: the hybrid's rows (1,281 + 256 dimensions) fit in a page.
ALTER TABLE product_factors ALTER COLUMN item_vector SET STORAGE PLAIN;
ALTER TABLE product_factors ALTER COLUMN input_vector SET STORAGE PLAIN;

-- A model's version (embedding_models, one row per vector space) is bumped whenever its vectors change, so
-- that the kept lists computed from older vectors are recomputed.
CREATE FUNCTION bump_factor_model_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO embedding_models AS m (model) SELECT DISTINCT model FROM old_rows
    ON CONFLICT (model) DO UPDATE SET version = m.version + 1, updated_at = now();
  ELSE
    INSERT INTO embedding_models AS m (model) SELECT DISTINCT model FROM new_rows
    ON CONFLICT (model) DO UPDATE SET version = m.version + 1, updated_at = now();
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER product_factors_inserted AFTER INSERT ON product_factors
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_factor_model_versions();
CREATE TRIGGER product_factors_updated AFTER UPDATE ON product_factors
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_factor_model_versions();
CREATE TRIGGER product_factors_deleted AFTER DELETE ON product_factors
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_factor_model_versions();

-- User vectors now come in each model's dimension.
ALTER TABLE user_recommendations ALTER COLUMN user_vector TYPE vector;

-- Down Migration

DELETE FROM user_recommendations r WHERE EXISTS (SELECT 1 FROM recommender_models m WHERE m.model = r.model);
ALTER TABLE user_recommendations ALTER COLUMN user_vector TYPE vector(1024);
DELETE FROM embedding_models e WHERE EXISTS (SELECT 1 FROM recommender_models m WHERE m.model = e.model);
DROP TABLE product_factors;
DROP FUNCTION bump_factor_model_versions();
DROP TABLE recommender_models;
