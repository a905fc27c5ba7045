-- case: Before PostgreSQL 11 any default rewrites the table
-- server-version: 10.23
-- expect: migration.add_column_volatile_default@7

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web';
