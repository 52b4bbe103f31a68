-- Up Migration

-- What the recommendation service's in-memory copy of its inputs must match (one row per kind of input:
-- 'customers' for customers and user_items, 'products' for the catalog, 'models' for any model version in
-- embedding_models). Every change moves its row in the same transaction, to a value never used before (a
-- sequence, which a TRUNCATE ... RESTART IDENTITY leaves alone), so reading these three rows tells the service
-- whether anything it holds has changed since it read it.
CREATE SEQUENCE recommendation_inputs_versions;
CREATE TABLE recommendation_inputs (
  name    text   PRIMARY KEY,
  version bigint NOT NULL DEFAULT nextval('recommendation_inputs_versions')
);
INSERT INTO recommendation_inputs (name) VALUES ('customers'), ('products'), ('models');

-- Besides, each change is announced on the channel `recommendation_inputs`, so that the service reads it at
-- once (services/recommendation/src/ranking/ranking-store.ts). Notifications are sent at commit, and identical
-- ones of a transaction are sent once:
--   'customers'     customers or user_items changed (purchases),
--   'products'      the catalog changed,
--   'model:<name>'  a model's version moved (its vectors were written, or the catalog changed: see
--                   bump_embedding_model_versions and bump_factor_model_versions).
CREATE FUNCTION notify_recommendation_inputs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind text := CASE TG_TABLE_NAME WHEN 'embedding_models' THEN 'models' WHEN 'products' THEN 'products'
                                  ELSE 'customers' END;
BEGIN
  INSERT INTO recommendation_inputs AS i (name) VALUES (kind)
  ON CONFLICT (name) DO UPDATE SET version = nextval('recommendation_inputs_versions');
  IF kind = 'models' THEN
    PERFORM pg_notify('recommendation_inputs', 'model:' || NEW.model);
  ELSE
    PERFORM pg_notify('recommendation_inputs', kind);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER embedding_models_notify AFTER INSERT OR UPDATE ON embedding_models
  FOR EACH ROW EXECUTE FUNCTION notify_recommendation_inputs();
CREATE TRIGGER customers_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON customers
  FOR EACH STATEMENT EXECUTE FUNCTION notify_recommendation_inputs();
CREATE TRIGGER user_items_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_items
  FOR EACH STATEMENT EXECUTE FUNCTION notify_recommendation_inputs();
CREATE TRIGGER products_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION notify_recommendation_inputs();

-- A model's vectors emptied by TRUNCATE (the tests' reset) move no version in embedding_models: say so too.
CREATE FUNCTION notify_recommendation_vectors_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO recommendation_inputs AS i (name) VALUES ('models')
  ON CONFLICT (name) DO UPDATE SET version = nextval('recommendation_inputs_versions');
  PERFORM pg_notify('recommendation_inputs', 'model:' || model) FROM embedding_models;
  PERFORM pg_notify('recommendation_inputs', 'products');
  RETURN NULL;
END $$;
CREATE TRIGGER product_embeddings_truncated AFTER TRUNCATE ON product_embeddings
  FOR EACH STATEMENT EXECUTE FUNCTION notify_recommendation_vectors_truncated();
CREATE TRIGGER product_factors_truncated AFTER TRUNCATE ON product_factors
  FOR EACH STATEMENT EXECUTE FUNCTION notify_recommendation_vectors_truncated();

-- The kept lists no longer carry the user vector nor a copy of every description (the service has both in
-- memory): a row is the ranked product ids and scores, and what they were computed from.
ALTER TABLE user_recommendations DROP COLUMN user_vector, DROP COLUMN descriptions;

-- Down Migration

ALTER TABLE user_recommendations ADD COLUMN descriptions text[] NOT NULL DEFAULT '{}',
  ADD COLUMN user_vector vector;
ALTER TABLE user_recommendations ALTER COLUMN user_vector SET STORAGE PLAIN;
DROP TRIGGER product_factors_truncated ON product_factors;
DROP TRIGGER product_embeddings_truncated ON product_embeddings;
DROP FUNCTION notify_recommendation_vectors_truncated();
DROP TRIGGER products_notify ON products;
DROP TRIGGER user_items_notify ON user_items;
DROP TRIGGER customers_notify ON customers;
DROP TRIGGER embedding_models_notify ON embedding_models;
DROP FUNCTION notify_recommendation_inputs();
DROP TABLE recommendation_inputs;
DROP SEQUENCE recommendation_inputs_versions;
