-- case: VACUUM FULL
-- expect: migration.vacuum_full@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
VACUUM FULL orders;
