-- case: REFRESH MATERIALIZED VIEW without CONCURRENTLY
-- expect: migration.refresh_matview_not_concurrently@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
REFRESH MATERIALIZED VIEW sales_summary;
