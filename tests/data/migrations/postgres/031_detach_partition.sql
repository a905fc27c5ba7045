-- case: DETACH PARTITION without CONCURRENTLY
-- expect: migration.detach_partition_not_concurrently@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE measurements DETACH PARTITION measurements_2019;
