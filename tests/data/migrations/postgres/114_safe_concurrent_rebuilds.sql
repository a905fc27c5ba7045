-- case: REINDEX and DETACH PARTITION CONCURRENTLY, outside a transaction
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
REINDEX INDEX CONCURRENTLY orders_customer_idx;
ALTER TABLE measurements DETACH PARTITION measurements_2019 CONCURRENTLY;
