-- 0009_tenant_analytics_tables (down): version 8 exactly. The tenant tables go (with their
-- policies, indexes and grants); the security_barrier views over the materialized views come
-- back as 0007 (org_cost_summary, mv_org_cost_summary) and 0008 (desk_performance,
-- mv_desk_performance) created them, with their comments and grants. The tables' rows are
-- copies of the materialized views, which stay: nothing is lost.
DROP TABLE mv_desk_performance;
DROP TABLE mv_org_cost_summary;
DROP TABLE desk_performance;
DROP TABLE org_cost_summary;

CREATE VIEW org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM org_cost_summary_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW org_cost_summary IS
    'org_cost_summary_mv rows of the organization in app.current_org_id (none when unset).';

CREATE VIEW desk_performance WITH (security_barrier = true) AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, reports_to_id,
    hierarchy_level, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks,
    completion_rate, avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls,
    total_tokens, total_llm_cost, last_task_at
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW desk_performance IS
    'desk_performance_mv rows of the organization in app.current_org_id (none when unset).';

CREATE VIEW mv_org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_cost,
    avg_cost_per_call
FROM org_cost_summary_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW mv_org_cost_summary IS
    'ArcDesk''s name and columns for org_cost_summary_mv: rows of the organization in app.current_org_id (none when unset).';

CREATE VIEW mv_desk_performance WITH (security_barrier = true) AS
SELECT
    organization_id, desk_id, desk_code AS desk_identifier, title, role, total_tasks,
    completed_tasks, avg_completion_hours, total_llm_cost
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW mv_desk_performance IS
    'ArcDesk''s name and columns for desk_performance_mv: rows of the organization in app.current_org_id (none when unset).';

GRANT SELECT ON org_cost_summary, desk_performance, mv_org_cost_summary, mv_desk_performance
    TO arcdesk_tenant;
