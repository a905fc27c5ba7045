-- case: ADD GENERATED ... AS IDENTITY to an existing column
-- expect: migration.alter_identity@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
