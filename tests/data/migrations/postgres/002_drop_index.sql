-- case: DROP INDEX without CONCURRENTLY
-- expect: migration.drop_index_not_concurrently@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
DROP INDEX orders_status_idx;
