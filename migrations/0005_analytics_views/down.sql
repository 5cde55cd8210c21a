-- 0005_analytics_views (down): drop the two tenant-facing views (and with them their grants to
-- arcdesk_tenant), then the two materialized views and their indexes.
DROP VIEW desk_performance;
DROP VIEW org_cost_summary;
DROP MATERIALIZED VIEW mv_desk_performance;
DROP MATERIALIZED VIEW mv_org_cost_summary;
