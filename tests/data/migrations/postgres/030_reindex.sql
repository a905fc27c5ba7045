-- case: REINDEX without CONCURRENTLY
-- expect: migration.reindex_not_concurrently@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
REINDEX TABLE orders;
