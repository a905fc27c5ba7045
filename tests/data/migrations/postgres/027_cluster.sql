-- case: CLUSTER
-- expect: migration.cluster@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
CLUSTER orders USING orders_pkey;
