-- 0008_arcdesk_enum_values: the enum values of ArcDesk's deployed schema (001_multi_tenant) that
-- arcdb's types lacked, so that every value the application writes is accepted (part of the
-- contract of 0007), and taskpriority in the deployed order. ALTER TYPE ... ADD VALUE takes no
-- table lock and rewrites nothing; a value added in a transaction cannot be used in that same
-- transaction, which is why this is a migration of its own. Placed where they sort sensibly:
--   roletype:    writer, editor, support_l1, support_l2, support_l3, custom (added)
--   llmprovider: local, azure, before custom (added)
--   auditaction: access, execute (added)
--   taskstatus:  assigned (after pending), approved and rejected (after in_review): the type is
--                rebuilt instead, so that 'assigned' is counted as open in this same migration
--                (tasks_org_assigned_open_idx, desk_performance_mv.open_tasks), as arcdb
--                counts pending, in_progress, in_review and blocked.
--   taskpriority holds every deployed value but in 0002's ascending order; the application
--                sorts with `ORDER BY priority` and expects 'critical' first, so it is rebuilt
--                in the deployed order ('critical', 'high', 'medium', 'low') and the priority
--                indexes ascending (`ORDER BY priority, created_at` is an index order).
-- qastagestatus and subscriptiontier already hold every deployed value.
-- Lock and work: ACCESS EXCLUSIVE on tasks and desk_performance_mv until commit; tasks is
-- rewritten once (both columns), its five status/priority indexes rebuilt, desk_performance_mv
-- refilled.
--
-- arcdb:safety-accept changing-column-type: runs once, with 0007 when arcdb takes ArcDesk's schema over (read 0007's header): the rewrite of tasks for taskstatus and taskpriority and the rebuild of their five indexes belong to the same maintenance window
-- arcdb:safety-accept require-concurrent-index-creation: runs once, with 0007 when arcdb takes ArcDesk's schema over (read 0007's header): the rewrite of tasks for taskstatus and taskpriority and the rebuild of their five indexes belong to the same maintenance window
ALTER TYPE roletype ADD VALUE 'writer' AFTER 'technical_writer';
ALTER TYPE roletype ADD VALUE 'editor' AFTER 'writer';
ALTER TYPE roletype ADD VALUE 'support_l1' AFTER 'support_agent';
ALTER TYPE roletype ADD VALUE 'support_l2' AFTER 'support_l1';
ALTER TYPE roletype ADD VALUE 'support_l3' AFTER 'support_l2';
ALTER TYPE roletype ADD VALUE 'custom' AFTER 'support_l3';

ALTER TYPE llmprovider ADD VALUE 'local' BEFORE 'custom';
ALTER TYPE llmprovider ADD VALUE 'azure' BEFORE 'custom';

ALTER TYPE auditaction ADD VALUE 'access';
ALTER TYPE auditaction ADD VALUE 'execute';

-- taskstatus and taskpriority are rebuilt rather than extended: a type created in this
-- transaction is usable in it, so 'assigned' can be counted as open right here (in the open
-- tasks index and desk_performance_mv), and taskpriority takes the deployed order. One rewrite
-- of tasks for both. What depends on tasks.status by value is dropped first and recreated.
DROP VIEW mv_desk_performance;
DROP VIEW desk_performance;
DROP MATERIALIZED VIEW desk_performance_mv;
DROP INDEX tasks_org_pending_queue_idx;
DROP INDEX tasks_org_due_date_idx;
DROP INDEX tasks_org_assigned_open_idx;
DROP INDEX idx_tasks_active;
DROP INDEX idx_tasks_org_status_priority;

ALTER TYPE taskstatus RENAME TO taskstatus_0008;
CREATE TYPE taskstatus AS ENUM (
    'pending', 'assigned', 'in_progress', 'in_review', 'approved', 'rejected', 'blocked',
    'completed', 'failed', 'cancelled'
);
ALTER TYPE taskpriority RENAME TO taskpriority_0008;
CREATE TYPE taskpriority AS ENUM ('critical', 'high', 'medium', 'low');
ALTER TABLE tasks
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN status TYPE taskstatus USING status::text::taskstatus,
    ALTER COLUMN status SET DEFAULT 'pending',
    ALTER COLUMN priority DROP DEFAULT,
    ALTER COLUMN priority TYPE taskpriority USING priority::text::taskpriority,
    ALTER COLUMN priority SET DEFAULT 'medium';
DROP TYPE taskstatus_0008;
DROP TYPE taskpriority_0008;

-- Open = pending, assigned, in_progress, in_review, blocked (not yet done, not yet decided).
CREATE INDEX idx_tasks_org_status_priority ON tasks (organization_id, status, priority, created_at);
CREATE INDEX tasks_org_pending_queue_idx ON tasks (organization_id, priority, created_at) WHERE status = 'pending';
CREATE INDEX tasks_org_due_date_idx ON tasks (organization_id, due_date)
    WHERE due_date IS NOT NULL AND status NOT IN ('completed', 'failed', 'cancelled');
CREATE INDEX tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority, created_at)
    WHERE status IN ('pending', 'assigned', 'in_progress', 'in_review', 'blocked');
COMMENT ON INDEX tasks_org_assigned_open_idx IS
    'A desk''s open tasks by priority; usable under RLS, where status IN (...) cannot be an index condition of tasks_org_assigned_status_idx.';
CREATE INDEX idx_tasks_active ON tasks (organization_id, status)
    WHERE status NOT IN ('completed', 'cancelled');

-- desk_performance_mv as 0007 has it, 'assigned' counted in open_tasks; its tenant views.
CREATE MATERIALIZED VIEW desk_performance_mv AS
WITH task_stats AS (
    SELECT
        t.organization_id,
        t.assigned_to_id                                            AS desk_id,
        count(*)                                                    AS total_tasks,
        count(*) FILTER (WHERE t.status = 'completed')              AS completed_tasks,
        count(*) FILTER (WHERE t.status = 'failed')                 AS failed_tasks,
        count(*) FILTER (WHERE t.status IN ('pending', 'assigned', 'in_progress', 'in_review', 'blocked'))
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
WHERE d.deleted_at IS NULL
WITH DATA;
COMMENT ON MATERIALIZED VIEW desk_performance_mv IS
    'Per-desk task, QA and LLM cost metrics. desk_id is desks.id (desk_code is the handle). No RLS: not granted to tenants (they read desk_performance or mv_desk_performance).';
-- Key (needed by the non-blocking refresh); led by organization_id like every tenant key.
CREATE UNIQUE INDEX desk_performance_mv_key
    ON desk_performance_mv (organization_id, desk_id);
-- "Desks of one organization by workload" (the Analytics query: ORDER BY total_tasks DESC).
CREATE INDEX desk_performance_mv_org_total_tasks_idx
    ON desk_performance_mv (organization_id, total_tasks DESC);


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


CREATE VIEW mv_desk_performance WITH (security_barrier = true) AS
SELECT
    organization_id, desk_id, desk_code AS desk_identifier, title, role, total_tasks,
    completed_tasks, avg_completion_hours, total_llm_cost
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW mv_desk_performance IS
    'ArcDesk''s name and columns for desk_performance_mv: rows of the organization in app.current_org_id (none when unset).';


GRANT SELECT ON desk_performance, mv_desk_performance TO arcdesk_tenant;
