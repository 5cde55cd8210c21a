-- 0005_analytics_views (down), CockroachDB variant: as down.sql, with IF EXISTS so that an
-- interrupted rollback can be run again.
DROP VIEW IF EXISTS desk_performance;
DROP VIEW IF EXISTS org_cost_summary;
DROP MATERIALIZED VIEW IF EXISTS mv_desk_performance;
DROP MATERIALIZED VIEW IF EXISTS mv_org_cost_summary;
