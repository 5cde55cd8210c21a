-- 0008_arcdesk_enum_values (down), CockroachDB variant: CockroachDB drops an enum value in place
-- (ALTER TYPE ... DROP VALUE, alter-type.md), refusing while a row still holds it, so nothing
-- is rebuilt (the PostgreSQL down rebuilds the four types). Each statement fails on a re-run
-- once its value is gone: after an interruption, drop the values still present by hand.
-- taskpriority back in 0002's ascending order: the up's swap again (it is its own inverse), and
-- the priority indexes descending again. Not re-runnable (read the up's note).
DROP INDEX IF EXISTS idx_tasks_org_status_priority;
DROP INDEX IF EXISTS tasks_org_pending_queue_idx;
DROP INDEX IF EXISTS tasks_org_assigned_open_idx;
ALTER TYPE taskpriority RENAME VALUE 'low' TO 'low_0008';
ALTER TYPE taskpriority RENAME VALUE 'medium' TO 'medium_0008';
ALTER TYPE taskpriority RENAME VALUE 'high' TO 'high_0008';
ALTER TYPE taskpriority RENAME VALUE 'critical' TO 'critical_0008';
ALTER TYPE taskpriority RENAME VALUE 'low_0008' TO 'critical';
ALTER TYPE taskpriority RENAME VALUE 'medium_0008' TO 'high';
ALTER TYPE taskpriority RENAME VALUE 'high_0008' TO 'medium';
ALTER TYPE taskpriority RENAME VALUE 'critical_0008' TO 'low';
UPDATE tasks SET priority = CASE priority
    WHEN 'critical' THEN 'low'::taskpriority
    WHEN 'high' THEN 'medium'::taskpriority
    WHEN 'medium' THEN 'high'::taskpriority
    ELSE 'critical'::taskpriority
END;
ALTER TABLE tasks ALTER COLUMN priority SET DEFAULT 'medium';
CREATE INDEX IF NOT EXISTS idx_tasks_org_status_priority ON tasks (organization_id, status, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS tasks_org_pending_queue_idx ON tasks (organization_id, priority DESC, created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority DESC, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');

-- desk_performance_mv as 0007 has it (without 'assigned', so that the value can be dropped).
DROP VIEW IF EXISTS mv_desk_performance;
DROP VIEW IF EXISTS desk_performance;
DROP MATERIALIZED VIEW IF EXISTS desk_performance_mv;
CREATE MATERIALIZED VIEW IF NOT EXISTS desk_performance_mv AS
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
        sum(ct.total_cost)   AS total_llm_cost
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
    d.reports_to_id,
    d.hierarchy_level,
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
-- COMMENT ON MATERIALIZED VIEW desk_performance_mv IS
--     'Per-desk task, QA and LLM cost metrics. desk_id is desks.id (desk_code is the handle). No RLS: not granted to tenants (they read desk_performance or mv_desk_performance).';
-- Key (needed by the non-blocking refresh); led by organization_id like every tenant key.
CREATE UNIQUE INDEX desk_performance_mv_key
    ON desk_performance_mv (organization_id, desk_id);
-- "Desks of one organization by workload" (the Analytics query: ORDER BY total_tasks DESC).
CREATE INDEX IF NOT EXISTS desk_performance_mv_org_total_tasks_idx
    ON desk_performance_mv (organization_id, total_tasks DESC);


CREATE OR REPLACE VIEW desk_performance AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, reports_to_id,
    hierarchy_level, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks,
    completion_rate, avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls,
    total_tokens, total_llm_cost, last_task_at
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
-- COMMENT ON VIEW desk_performance IS
--     'desk_performance_mv rows of the organization in app.current_org_id (none when unset).';

CREATE OR REPLACE VIEW mv_desk_performance AS
SELECT
    organization_id, desk_id, desk_code AS desk_identifier, title, role, total_tasks,
    completed_tasks, avg_completion_hours, total_llm_cost
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
-- COMMENT ON VIEW mv_desk_performance IS
--     'ArcDesk''s name and columns for desk_performance_mv: rows of the organization in app.current_org_id (none when unset).';

GRANT SELECT ON desk_performance, mv_desk_performance TO arcdesk_tenant;

ALTER TYPE auditaction DROP VALUE 'execute';
ALTER TYPE auditaction DROP VALUE 'access';

ALTER TYPE llmprovider DROP VALUE 'azure';
ALTER TYPE llmprovider DROP VALUE 'local';

ALTER TYPE taskstatus DROP VALUE 'rejected';
ALTER TYPE taskstatus DROP VALUE 'approved';
ALTER TYPE taskstatus DROP VALUE 'assigned';

ALTER TYPE roletype DROP VALUE 'custom';
ALTER TYPE roletype DROP VALUE 'support_l3';
ALTER TYPE roletype DROP VALUE 'support_l2';
ALTER TYPE roletype DROP VALUE 'support_l1';
ALTER TYPE roletype DROP VALUE 'editor';
ALTER TYPE roletype DROP VALUE 'writer';
