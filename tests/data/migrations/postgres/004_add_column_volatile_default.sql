-- case: ADD COLUMN with a volatile default rewrites the table
-- expect: migration.add_column_volatile_default@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
