-- case: CREATE INDEX CONCURRENTLY inside BEGIN/COMMIT
-- expect: migration.non_transactional_in_transaction@7

BEGIN;
SET lock_timeout = '2s';
SET statement_timeout = '15min';
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created_idx
    ON orders (created_at);
COMMIT;
