-- 0008_arcdesk_enum_values (down): PostgreSQL cannot drop an enum value, so each of the four
-- types is rebuilt with the values of 0002 and its columns converted, and taskpriority in 0002's
-- ascending order with its indexes descending again (a rewrite of desks, tasks,
-- knowledge_bases, cost_tracking and audit_logs). Refused, and rolled back, while a row still
-- holds one of the removed values (the conversion fails on it).
-- What depends on these columns is dropped first and recreated as 0007 has it: the analytics
-- views, and the partial indexes whose predicates name taskstatus values (an index is rebuilt
-- from its definition, which would name the old type).

DROP VIEW mv_desk_performance;
DROP VIEW mv_org_cost_summary;
DROP VIEW desk_performance;
DROP VIEW org_cost_summary;
DROP MATERIALIZED VIEW desk_performance_mv;
DROP MATERIALIZED VIEW org_cost_summary_mv;
DROP INDEX tasks_org_pending_queue_idx;
DROP INDEX tasks_org_due_date_idx;
DROP INDEX tasks_org_assigned_open_idx;
DROP INDEX idx_tasks_active;
DROP INDEX idx_tasks_org_status_priority;

ALTER TYPE taskpriority RENAME TO taskpriority_0008;
CREATE TYPE taskpriority AS ENUM ('low', 'medium', 'high', 'critical');
ALTER TABLE tasks
    ALTER COLUMN priority DROP DEFAULT,
    ALTER COLUMN priority TYPE taskpriority USING priority::text::taskpriority,
    ALTER COLUMN priority SET DEFAULT 'medium';
DROP TYPE taskpriority_0008;

ALTER TYPE roletype RENAME TO roletype_0008;
CREATE TYPE roletype AS ENUM (
    'executive', 'director', 'manager', 'product_manager', 'architect',
    'senior_engineer', 'engineer', 'junior_engineer', 'qa_engineer', 'devops_engineer',
    'data_engineer', 'security_engineer', 'designer', 'researcher', 'analyst',
    'technical_writer', 'support_agent'
);
ALTER TABLE desks ALTER COLUMN role TYPE roletype USING role::text::roletype;
DROP TYPE roletype_0008;

ALTER TYPE taskstatus RENAME TO taskstatus_0008;
CREATE TYPE taskstatus AS ENUM (
    'pending', 'in_progress', 'in_review', 'blocked', 'completed', 'failed', 'cancelled'
);
ALTER TABLE tasks
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN status TYPE taskstatus USING status::text::taskstatus,
    ALTER COLUMN status SET DEFAULT 'pending';
DROP TYPE taskstatus_0008;

ALTER TYPE llmprovider RENAME TO llmprovider_0008;
CREATE TYPE llmprovider AS ENUM (
    'anthropic', 'openai', 'google', 'azure_openai', 'aws_bedrock', 'mistral', 'cohere',
    'meta', 'ollama', 'custom'
);
ALTER TABLE desks ALTER COLUMN llm_provider TYPE llmprovider USING llm_provider::text::llmprovider;
ALTER TABLE knowledge_bases
    ALTER COLUMN embedding_provider TYPE llmprovider USING embedding_provider::text::llmprovider;
ALTER TABLE cost_tracking ALTER COLUMN provider TYPE llmprovider USING provider::text::llmprovider;
DROP TYPE llmprovider_0008;

ALTER TYPE auditaction RENAME TO auditaction_0008;
CREATE TYPE auditaction AS ENUM (
    'create', 'read', 'update', 'delete', 'login', 'logout', 'assign', 'delegate', 'review',
    'approve', 'reject', 'export', 'api_key_create', 'api_key_revoke', 'permission_change',
    'settings_change'
);
ALTER TABLE audit_logs ALTER COLUMN action TYPE auditaction USING action::text::auditaction;
DROP TYPE auditaction_0008;

CREATE INDEX idx_tasks_org_status_priority ON tasks (organization_id, status, priority DESC, created_at);
CREATE INDEX tasks_org_pending_queue_idx ON tasks (organization_id, priority DESC, created_at) WHERE status = 'pending';
CREATE INDEX tasks_org_due_date_idx ON tasks (organization_id, due_date)
    WHERE due_date IS NOT NULL AND status NOT IN ('completed', 'failed', 'cancelled');
CREATE INDEX tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority DESC, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');
COMMENT ON INDEX tasks_org_assigned_open_idx IS
    'A desk''s open tasks by priority; usable under RLS, where status IN (...) cannot be an index condition of tasks_org_assigned_status_idx.';
CREATE INDEX idx_tasks_active ON tasks (organization_id, status)
    WHERE status NOT IN ('completed', 'cancelled');

-- The analytics views as 0007 creates them.
CREATE MATERIALIZED VIEW org_cost_summary_mv AS
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
    sum(ct.total_cost)                      AS total_cost,
    round(sum(ct.total_cost) / count(*), 6) AS avg_cost_per_call,
    min(ct.created_at)                      AS first_call_at,
    max(ct.created_at)                      AS last_call_at
FROM cost_tracking AS ct
GROUP BY ct.organization_id, ct.billing_month, ct.provider
WITH DATA;
COMMENT ON MATERIALIZED VIEW org_cost_summary_mv IS
    'LLM cost per organization, billing month and provider. No RLS: not granted to tenants (they read org_cost_summary or mv_org_cost_summary).';
-- Key (needed by the non-blocking refresh); also "costs of one organization, newest month first".
CREATE UNIQUE INDEX org_cost_summary_mv_key
    ON org_cost_summary_mv (organization_id, billing_month, provider);
-- "Cost trend of one provider in one organization".
CREATE INDEX org_cost_summary_mv_org_provider_idx
    ON org_cost_summary_mv (organization_id, provider, billing_month);

CREATE MATERIALIZED VIEW desk_performance_mv AS
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

-- arcdb's tenant views (as in 0006, on the renamed columns).
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

-- The deployed names, with the deployed columns (desk_id is desks.id, desk_identifier the handle).
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
