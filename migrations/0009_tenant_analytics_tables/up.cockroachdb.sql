-- 0009_tenant_analytics_tables, CockroachDB variant (25.3+): the same tables, columns, keys,
-- comments, policies and grant as up.sql, whose header says why (read it). What differs, and
-- why (the same dialect as the variants of 0004-0008):
--   * the policies compare with current_org_id(), as the 0004 variant's do (CockroachDB
--     policies cannot hold subqueries);
--   * re-runnable from the start (a CockroachDB migration is not atomic): IF [NOT] EXISTS
--     everywhere, the fill skips rows already copied (ON CONFLICT DO NOTHING);
--   * `arcdb refresh` on CockroachDB refreshes outside a transaction (it cannot REFRESH in
--     one) and applies the difference to these tables right after, in a transaction of its own.
-- Not executed on a CockroachDB server here.

DROP VIEW IF EXISTS org_cost_summary;
DROP VIEW IF EXISTS desk_performance;
DROP VIEW IF EXISTS mv_org_cost_summary;
DROP VIEW IF EXISTS mv_desk_performance;

CREATE TABLE IF NOT EXISTS org_cost_summary (
    organization_id   uuid        NOT NULL,
    billing_month     text        NOT NULL,
    provider          llmprovider NOT NULL,
    active_desks      bigint,
    tasks_processed   bigint,
    total_calls       bigint,
    input_tokens      bigint,
    output_tokens     bigint,
    total_tokens      bigint,
    total_cost        numeric,
    avg_cost_per_call numeric,
    first_call_at     timestamptz,
    last_call_at      timestamptz,
    CONSTRAINT org_cost_summary_pkey PRIMARY KEY (organization_id, billing_month, provider)
);
COMMENT ON TABLE org_cost_summary IS
    'org_cost_summary_mv for tenants: the rows of the organization in app.current_org_id (none when unset), kept up to date by arcdb refresh. arcdb:refreshed-from: org_cost_summary_mv';
-- "Cost trend of one provider in one organization".
CREATE INDEX IF NOT EXISTS org_cost_summary_org_provider_idx
    ON org_cost_summary (organization_id, provider, billing_month);

CREATE TABLE IF NOT EXISTS desk_performance (
    desk_id              uuid        NOT NULL,
    organization_id      uuid        NOT NULL,
    desk_code            citext,
    title                text,
    role                 roletype,
    llm_provider         llmprovider,
    llm_model            text,
    reports_to_id        uuid,
    hierarchy_level      integer,
    is_active            boolean,
    total_tasks          bigint,
    completed_tasks      bigint,
    failed_tasks         bigint,
    open_tasks           bigint,
    completion_rate      numeric,
    avg_completion_hours numeric,
    qa_passed            bigint,
    qa_failed            bigint,
    qa_pass_rate         numeric,
    total_llm_calls      bigint,
    total_tokens         bigint,
    total_llm_cost       numeric,
    last_task_at         timestamptz,
    CONSTRAINT desk_performance_pkey PRIMARY KEY (organization_id, desk_id)
);
COMMENT ON TABLE desk_performance IS
    'desk_performance_mv for tenants: the rows of the organization in app.current_org_id (none when unset), kept up to date by arcdb refresh. arcdb:refreshed-from: desk_performance_mv';
-- "Desks of one organization by workload" (ORDER BY total_tasks DESC).
CREATE INDEX IF NOT EXISTS desk_performance_org_total_tasks_idx
    ON desk_performance (organization_id, total_tasks DESC);

-- The deployed names, with the deployed columns (desk_id is desks.id, desk_identifier the handle).
CREATE TABLE IF NOT EXISTS mv_org_cost_summary (
    organization_id   uuid        NOT NULL,
    billing_month     text        NOT NULL,
    provider          llmprovider NOT NULL,
    active_desks      bigint,
    tasks_processed   bigint,
    total_cost        numeric,
    avg_cost_per_call numeric,
    CONSTRAINT mv_org_cost_summary_pkey PRIMARY KEY (organization_id, billing_month, provider)
);
COMMENT ON TABLE mv_org_cost_summary IS
    'ArcDesk''s name and columns for org_cost_summary_mv: the rows of the organization in app.current_org_id (none when unset), kept up to date by arcdb refresh. arcdb:refreshed-from: org_cost_summary_mv';

CREATE TABLE IF NOT EXISTS mv_desk_performance (
    organization_id      uuid     NOT NULL,
    desk_id              uuid     NOT NULL,
    desk_identifier      citext,
    title                text,
    role                 roletype,
    total_tasks          bigint,
    completed_tasks      bigint,
    avg_completion_hours numeric,
    total_llm_cost       numeric,
    CONSTRAINT mv_desk_performance_pkey PRIMARY KEY (organization_id, desk_id)
);
COMMENT ON TABLE mv_desk_performance IS
    'ArcDesk''s name and columns for desk_performance_mv: the rows of the organization in app.current_org_id (none when unset), kept up to date by arcdb refresh. arcdb:refreshed-from: desk_performance_mv';
COMMENT ON COLUMN mv_desk_performance.desk_identifier IS
    'The desk''s handle (desks.desk_id). arcdb:refreshed-from: desk_code';
-- "Desks of one organization by workload" (the Analytics query: ORDER BY total_tasks DESC).
CREATE INDEX IF NOT EXISTS mv_desk_performance_org_total_tasks_idx
    ON mv_desk_performance (organization_id, total_tasks DESC);

-- The current contents of the materialized views.
INSERT INTO org_cost_summary
SELECT organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
       input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
       first_call_at, last_call_at
  FROM org_cost_summary_mv
ON CONFLICT DO NOTHING;
INSERT INTO desk_performance
SELECT desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, reports_to_id,
       hierarchy_level, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks,
       completion_rate, avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls,
       total_tokens, total_llm_cost, last_task_at
  FROM desk_performance_mv
ON CONFLICT DO NOTHING;
INSERT INTO mv_org_cost_summary
SELECT organization_id, billing_month, provider, active_desks, tasks_processed, total_cost,
       avg_cost_per_call
  FROM org_cost_summary_mv
ON CONFLICT DO NOTHING;
INSERT INTO mv_desk_performance
SELECT organization_id, desk_id, desk_code, title, role, total_tasks, completed_tasks,
       avg_completion_hours, total_llm_cost
  FROM desk_performance_mv
ON CONFLICT DO NOTHING;

-- Tenant isolation as on every tenant table (the 0004 variant's policy form). No FORCE: the
-- owner, who runs `arcdb refresh`, writes every organization's rows.
ALTER TABLE org_cost_summary    ENABLE ROW LEVEL SECURITY;
ALTER TABLE desk_performance    ENABLE ROW LEVEL SECURITY;
ALTER TABLE mv_org_cost_summary ENABLE ROW LEVEL SECURITY;
ALTER TABLE mv_desk_performance ENABLE ROW LEVEL SECURITY;
CREATE POLICY IF NOT EXISTS org_cost_summary_tenant_isolation ON org_cost_summary
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS desk_performance_tenant_isolation ON desk_performance
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS mv_org_cost_summary_tenant_isolation ON mv_org_cost_summary
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS mv_desk_performance_tenant_isolation ON mv_desk_performance
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());

-- Read-only for tenants, as the views were: only arcdb refresh writes them.
GRANT SELECT ON org_cost_summary, desk_performance, mv_org_cost_summary, mv_desk_performance
    TO arcdesk_tenant;
