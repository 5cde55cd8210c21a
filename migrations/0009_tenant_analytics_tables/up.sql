-- 0009_tenant_analytics_tables: tenants read the analytics at the cost of the materialized view.
-- The four tenant-facing analytics relations (arcdb's org_cost_summary and desk_performance,
-- ArcDesk's names mv_org_cost_summary and mv_desk_performance) were security_barrier views
-- over org_cost_summary_mv / desk_performance_mv; bench/rls.sh measured a tenant's read of
-- desk_performance at 1.39-1.44x the owner's read of the materialized view, ~48 us per
-- statement that the barrier view costs even without RLS (its subquery cannot be flattened, so
-- it is planned and executed as a subquery scan). They become plain tables with the same names
-- and exactly the same columns, types and order, under the same row-level security as every
-- tenant table (0004, in 0006's form; ENABLE without FORCE, so that their owner, who runs
-- `arcdb refresh`, writes every organization's rows), SELECT-only for arcdesk_tenant as the
-- views were. The application's Analytics SELECTs run unchanged.
--
-- `arcdb refresh` keeps them up to date: after refreshing a materialized view it applies the
-- difference to every table whose comment says `arcdb:refreshed-from: <materialized view>`, in
-- the same transaction (DELETE of rows gone, INSERT ... ON CONFLICT DO UPDATE of new and
-- changed rows), so a tenant reads the new contents when the refresh commits and never waits:
-- the diff takes ROW EXCLUSIVE on the table, which no reader's lock conflicts with. Columns are
-- matched by name; a column named otherwise in the materialized view says so in its own
-- comment (`arcdb:refreshed-from: <column>`). The primary key, led by organization_id like
-- every tenant key, is the materialized view's unique key.
--
-- Lock and work: ACCESS EXCLUSIVE on the four views (dropped) until commit; the tables are
-- created and filled from the materialized views (one row per desk, one per organization,
-- billing month and provider). Nothing else is locked.

DROP VIEW org_cost_summary;
DROP VIEW desk_performance;
DROP VIEW mv_org_cost_summary;
DROP VIEW mv_desk_performance;

CREATE TABLE org_cost_summary (
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
CREATE INDEX org_cost_summary_org_provider_idx
    ON org_cost_summary (organization_id, provider, billing_month);

CREATE TABLE desk_performance (
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
CREATE INDEX desk_performance_org_total_tasks_idx
    ON desk_performance (organization_id, total_tasks DESC);

-- The deployed names, with the deployed columns (desk_id is desks.id, desk_identifier the handle).
CREATE TABLE mv_org_cost_summary (
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

CREATE TABLE mv_desk_performance (
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
CREATE INDEX mv_desk_performance_org_total_tasks_idx
    ON mv_desk_performance (organization_id, total_tasks DESC);

-- The current contents of the materialized views.
INSERT INTO org_cost_summary
SELECT organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
       input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
       first_call_at, last_call_at
  FROM org_cost_summary_mv;
INSERT INTO desk_performance
SELECT desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, reports_to_id,
       hierarchy_level, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks,
       completion_rate, avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls,
       total_tokens, total_llm_cost, last_task_at
  FROM desk_performance_mv;
INSERT INTO mv_org_cost_summary
SELECT organization_id, billing_month, provider, active_desks, tasks_processed, total_cost,
       avg_cost_per_call
  FROM org_cost_summary_mv;
INSERT INTO mv_desk_performance
SELECT organization_id, desk_id, desk_code, title, role, total_tasks, completed_tasks,
       avg_completion_hours, total_llm_cost
  FROM desk_performance_mv;

-- Tenant isolation as on every tenant table (0004's policy, in 0006's form). No FORCE: the
-- owner, who runs `arcdb refresh`, writes every organization's rows.
ALTER TABLE org_cost_summary    ENABLE ROW LEVEL SECURITY;
ALTER TABLE desk_performance    ENABLE ROW LEVEL SECURITY;
ALTER TABLE mv_org_cost_summary ENABLE ROW LEVEL SECURITY;
ALTER TABLE mv_desk_performance ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_cost_summary_tenant_isolation ON org_cost_summary
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
CREATE POLICY desk_performance_tenant_isolation ON desk_performance
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
CREATE POLICY mv_org_cost_summary_tenant_isolation ON mv_org_cost_summary
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
CREATE POLICY mv_desk_performance_tenant_isolation ON mv_desk_performance
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));

-- Read-only for tenants, as the views were: only arcdb refresh writes them.
GRANT SELECT ON org_cost_summary, desk_performance, mv_org_cost_summary, mv_desk_performance
    TO arcdesk_tenant;
