-- case: DROP COLUMN
-- expect: migration.drop_column@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers DROP COLUMN legacy_code;
