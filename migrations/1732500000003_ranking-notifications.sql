-- Up Migration

-- The recommendation service ranks in memory and keeps its copy of the inputs current by LISTENing to
-- `recommendation_inputs` (services/recommendation/src/ranking/ranking-store.ts). Notifications are sent at
-- commit, and identical ones of a transaction are sent once:
--   'customers'     customers or user_items changed (purchases),
--   'products'      the catalog changed,
--   'model:<name>'  a model's version moved (its vectors were written, or the catalog changed: see
--                   bump_embedding_model_versions and bump_factor_model_versions).
CREATE FUNCTION notify_recommendation_inputs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'embedding_models' THEN
    PERFORM pg_notify('recommendation_inputs', 'model:' || NEW.model);
    RETURN NULL;
  END IF;
  PERFORM pg_notify('recommendation_inputs', CASE TG_TABLE_NAME WHEN 'products' THEN 'products' ELSE 'customers' END);
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

-- A model's vectors emptied by TRUNCATE (the tests' reset) move no version: say so too.
CREATE FUNCTION notify_recommendation_vectors_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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
