-- 0005_analytics_views, CockroachDB variant (25.3+): the same two materialized views and their
-- tenant-facing views as up.sql (read its header). What differs, and why (docs v26.2
-- create-view.md, views.md, refresh.md):
--   * no WITH DATA (CockroachDB always fills a materialized view when it creates it);
--   * the key indexes are plain, not UNIQUE: they exist for REFRESH … CONCURRENTLY, which
--     CockroachDB accepts and ignores (arcdb refreshes plainly there, outside a transaction),
--     and a unique index on a materialized view is not documented;
--   * the tenant views have no security_barrier (the only documented view option is
--     security_invoker). Like PostgreSQL, CockroachDB reads a view's tables with the view
--     owner's rights, so the tenant still needs no grant on the materialized views; without
--     the barrier, the tenant's own WHERE clauses may be evaluated before the organization
--     filter (a tenant can create no function, but an erroring built-in expression could
--     reveal that some row exists: see docs/cockroachdb.md);
--   * no COMMENT ON (MATERIALIZED) VIEW: CockroachDB comments tables, columns, indexes,
--     constraints, types, schemas and functions only (the comments are kept below as SQL
--     comments);
--   * idempotent (an interrupted run is re-run from the start): IF NOT EXISTS, OR REPLACE.

-- ---------------------------------------------------------------------------------------------
-- mv_org_cost_summary
-- ---------------------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW IF NOT EXISTS mv_org_cost_summary AS
SELECT
    ct.organization_id,
    ct.billing_month,
    ct.provider,
    count(DISTINCT ct.desk_id)              AS active_desks,
    count(DISTINCT ct.task_id)              AS tasks_processed,
    count(*)                                AS total_calls,
    sum(ct.input_tokens)::bigint            AS input_tokens,
    sum(ct.output_tokens)::bigint           AS output_tokens,
    sum(ct.total_tokens)::bigint            AS total_tokens,
    sum(ct.cost_usd)                        AS total_cost,
    round(sum(ct.cost_usd) / count(*), 6)   AS avg_cost_per_call,
    min(ct.created_at)                      AS first_call_at,
    max(ct.created_at)                      AS last_call_at
FROM cost_tracking AS ct
GROUP BY ct.organization_id, ct.billing_month, ct.provider;
-- COMMENT ON MATERIALIZED VIEW mv_org_cost_summary IS
--     'LLM cost per organization, billing month and provider. No RLS: not granted to tenants (they read org_cost_summary).';

-- Key (needed by the non-blocking refresh); also "costs of one organization, newest month first".
CREATE INDEX IF NOT EXISTS mv_org_cost_summary_key
    ON mv_org_cost_summary (organization_id, billing_month, provider);
-- "Cost trend of one provider in one organization".
CREATE INDEX IF NOT EXISTS mv_org_cost_summary_org_provider_idx
    ON mv_org_cost_summary (organization_id, provider, billing_month);

-- ---------------------------------------------------------------------------------------------
-- mv_desk_performance (desks not soft-deleted; one row per desk, with zeros when idle)
-- ---------------------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW IF NOT EXISTS mv_desk_performance AS
WITH task_stats AS (
    SELECT
        t.organization_id,
        t.assigned_to_id                                            AS desk_id,
        count(*)                                                    AS total_tasks,
        count(*) FILTER (WHERE t.status = 'completed')              AS completed_tasks,
        count(*) FILTER (WHERE t.status = 'failed')                 AS failed_tasks,
        count(*) FILTER (WHERE t.status IN ('pending', 'in_progress', 'in_review', 'blocked'))
                                                                    AS open_tasks,
        avg(extract(epoch FROM t.completed_at - coalesce(t.started_at, t.created_at)) / 3600.0)
            FILTER (WHERE t.status = 'completed' AND t.completed_at IS NOT NULL)
                                                                    AS avg_completion_hours,
        max(t.created_at)                                           AS last_task_at
    FROM tasks AS t
    WHERE t.assigned_to_id IS NOT NULL
    GROUP BY t.organization_id, t.assigned_to_id
),
cost_stats AS (
    SELECT
        ct.organization_id,
        ct.desk_id,
        count(*)             AS total_llm_calls,
        sum(ct.total_tokens) AS total_tokens,
        sum(ct.cost_usd)     AS total_llm_cost
    FROM cost_tracking AS ct
    WHERE ct.desk_id IS NOT NULL
    GROUP BY ct.organization_id, ct.desk_id
),
qa_stats AS (
    SELECT
        t.organization_id,
        t.assigned_to_id                                                AS desk_id,
        count(*) FILTER (WHERE q.status = 'passed')                     AS qa_passed,
        count(*) FILTER (WHERE q.status IN ('failed', 'needs_revision')) AS qa_failed
    FROM qa_reviews AS q
    JOIN tasks AS t ON t.organization_id = q.organization_id AND t.id = q.task_id
    WHERE t.assigned_to_id IS NOT NULL
    GROUP BY t.organization_id, t.assigned_to_id
)
SELECT
    d.id                                                          AS desk_id,
    d.organization_id,
    d.desk_id                                                     AS desk_code,
    d.title,
    d.role,
    d.llm_provider,
    d.llm_model,
    d.parent_desk_id,
    d.depth,
    d.is_active,
    coalesce(ts.total_tasks, 0)                                   AS total_tasks,
    coalesce(ts.completed_tasks, 0)                               AS completed_tasks,
    coalesce(ts.failed_tasks, 0)                                  AS failed_tasks,
    coalesce(ts.open_tasks, 0)                                    AS open_tasks,
    round(ts.completed_tasks::numeric / nullif(ts.total_tasks, 0), 4) AS completion_rate,
    round(ts.avg_completion_hours::numeric, 2)                    AS avg_completion_hours,
    coalesce(qs.qa_passed, 0)                                     AS qa_passed,
    coalesce(qs.qa_failed, 0)                                     AS qa_failed,
    round(qs.qa_passed::numeric / nullif(qs.qa_passed + qs.qa_failed, 0), 4) AS qa_pass_rate,
    coalesce(cs.total_llm_calls, 0)                               AS total_llm_calls,
    coalesce(cs.total_tokens, 0)::bigint                          AS total_tokens,
    coalesce(cs.total_llm_cost, 0)                                AS total_llm_cost,
    ts.last_task_at
FROM desks AS d
LEFT JOIN task_stats AS ts ON ts.organization_id = d.organization_id AND ts.desk_id = d.id
LEFT JOIN cost_stats AS cs ON cs.organization_id = d.organization_id AND cs.desk_id = d.id
LEFT JOIN qa_stats   AS qs ON qs.organization_id = d.organization_id AND qs.desk_id = d.id
WHERE d.deleted_at IS NULL;
-- COMMENT ON MATERIALIZED VIEW mv_desk_performance IS
--     'Per-desk task, QA and LLM cost metrics. desk_id is desks.id (desk_code is the handle). No RLS: not granted to tenants (they read desk_performance).';

-- Key (needed by the non-blocking refresh); led by organization_id like every tenant key.
CREATE INDEX IF NOT EXISTS mv_desk_performance_key
    ON mv_desk_performance (organization_id, desk_id);
-- "Desks of one organization by workload" (the Analytics query: ORDER BY total_tasks DESC).
CREATE INDEX IF NOT EXISTS mv_desk_performance_org_total_tasks_idx
    ON mv_desk_performance (organization_id, total_tasks DESC);

-- ---------------------------------------------------------------------------------------------
-- Tenant-facing views (security_barrier, filtered by the current organization)
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE VIEW org_cost_summary AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM mv_org_cost_summary
WHERE organization_id = current_org_id();
-- COMMENT ON VIEW org_cost_summary IS
--     'mv_org_cost_summary rows of the organization in app.current_org_id (none when unset).';

CREATE OR REPLACE VIEW desk_performance AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, parent_desk_id,
    depth, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks, completion_rate,
    avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls, total_tokens,
    total_llm_cost, last_task_at
FROM mv_desk_performance
WHERE organization_id = current_org_id();
-- COMMENT ON VIEW desk_performance IS
--     'mv_desk_performance rows of the organization in app.current_org_id (none when unset).';

GRANT SELECT ON org_cost_summary, desk_performance TO arcdesk_tenant;
