-- case: RENAME COLUMN
-- expect: migration.rename_column@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers RENAME COLUMN name TO full_name;
