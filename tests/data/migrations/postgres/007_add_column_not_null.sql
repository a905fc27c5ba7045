-- case: ADD COLUMN NOT NULL without a default
-- expect: migration.add_column_not_null_no_default@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers ADD COLUMN country text NOT NULL;
