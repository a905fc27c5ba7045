-- case: DROP INDEX CONCURRENTLY
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;
