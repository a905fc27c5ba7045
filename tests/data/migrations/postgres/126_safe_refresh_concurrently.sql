-- case: REFRESH MATERIALIZED VIEW CONCURRENTLY; a new view refreshed plainly
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
REFRESH MATERIALIZED VIEW CONCURRENTLY sales_summary;
CREATE MATERIALIZED VIEW daily_totals AS SELECT 1 AS one WITH NO DATA;
REFRESH MATERIALIZED VIEW daily_totals;
