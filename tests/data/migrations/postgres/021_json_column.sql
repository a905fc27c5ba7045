-- case: json column
-- expect: migration.json_column@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN payload json;
