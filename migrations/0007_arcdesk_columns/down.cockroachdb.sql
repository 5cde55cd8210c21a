-- 0007_arcdesk_columns (down), CockroachDB variant: version 6 of the CockroachDB variants, as
-- down.sql does for PostgreSQL (read its header). The same dialect as up.cockroachdb.sql: the
-- routines naming changed columns are dropped first and created again as the 0003/0004/0005
-- variants have them; IF [NOT] EXISTS where CockroachDB allows it. RENAME COLUMN/CONSTRAINT
-- have no IF EXISTS form: a rollback interrupted after one of them stops there when re-run;
-- finish it by hand from the failing statement. Not executed on a CockroachDB server here.

-- ---------------------------------------------------------------------------------------------
-- Analytics views (recreated as 0005/0006 had them at the end)
-- ---------------------------------------------------------------------------------------------
DROP VIEW IF EXISTS mv_desk_performance;
DROP VIEW IF EXISTS mv_org_cost_summary;
DROP VIEW IF EXISTS desk_performance;
DROP VIEW IF EXISTS org_cost_summary;
DROP MATERIALIZED VIEW IF EXISTS desk_performance_mv;
DROP MATERIALIZED VIEW IF EXISTS org_cost_summary_mv;

-- ---------------------------------------------------------------------------------------------
-- Index names
-- ---------------------------------------------------------------------------------------------
DROP INDEX IF EXISTS idx_org_slug;
DROP INDEX IF EXISTS idx_org_created;
DROP INDEX IF EXISTS idx_org_name;
DROP INDEX IF EXISTS idx_org_settings_gin;
DROP INDEX IF EXISTS idx_user_org;
DROP INDEX IF EXISTS idx_user_email;
DROP INDEX IF EXISTS idx_desk_org;
DROP INDEX IF EXISTS idx_desk_llm_config_gin;
DROP INDEX IF EXISTS idx_desk_skills_gin;
DROP INDEX IF EXISTS idx_desks_active;
DROP INDEX IF EXISTS idx_workflow_org;
DROP INDEX IF EXISTS idx_workflow_active;
DROP INDEX IF EXISTS idx_task_org;
DROP INDEX IF EXISTS idx_task_status;
DROP INDEX IF EXISTS idx_task_priority;
DROP INDEX IF EXISTS idx_task_context_gin;
DROP INDEX IF EXISTS idx_tasks_active;
DROP INDEX IF EXISTS idx_tasks_title_fts;
DROP INDEX IF EXISTS idx_tasks_description_fts;
DROP INDEX IF EXISTS idx_session_desk;
DROP INDEX IF EXISTS idx_message_session;
DROP INDEX IF EXISTS idx_qa_task;
DROP INDEX IF EXISTS idx_delegation_created;
DROP INDEX IF EXISTS idx_kb_org;
DROP INDEX IF EXISTS idx_cost_org_month;
DROP INDEX IF EXISTS idx_apikey_org;
DROP INDEX IF EXISTS idx_apikey_hash;

ALTER INDEX IF EXISTS idx_desk_reports_to RENAME TO desks_org_parent_idx;
ALTER INDEX IF EXISTS idx_desk_hierarchy RENAME TO desks_org_path_idx;
ALTER INDEX IF EXISTS idx_desk_role RENAME TO desks_org_role_active_idx;
ALTER INDEX IF EXISTS idx_task_assigned RENAME TO tasks_org_assigned_status_idx;
ALTER INDEX IF EXISTS idx_tasks_org_status_priority RENAME TO tasks_org_status_priority_idx;
ALTER INDEX IF EXISTS idx_task_created RENAME TO tasks_org_created_at_idx;
ALTER INDEX IF EXISTS idx_task_parent RENAME TO tasks_org_parent_idx;
ALTER INDEX IF EXISTS idx_sessions_desk_date RENAME TO agent_sessions_org_desk_started_idx;
ALTER INDEX IF EXISTS idx_session_task RENAME TO agent_sessions_org_task_idx;
ALTER INDEX IF EXISTS idx_session_started RENAME TO agent_sessions_org_started_idx;
ALTER INDEX IF EXISTS idx_message_created RENAME TO messages_org_created_at_idx;
ALTER INDEX IF EXISTS idx_qa_status RENAME TO qa_reviews_org_status_idx;
ALTER INDEX IF EXISTS idx_qa_reviewer RENAME TO qa_reviews_org_reviewer_desk_idx;
ALTER INDEX IF EXISTS idx_delegation_task RENAME TO delegations_org_task_idx;
ALTER INDEX IF EXISTS idx_delegation_from RENAME TO delegations_org_from_desk_idx;
ALTER INDEX IF EXISTS idx_delegation_to RENAME TO delegations_org_to_desk_status_idx;
ALTER INDEX IF EXISTS idx_ds_kb RENAME TO data_sources_org_knowledge_base_idx;
ALTER INDEX IF EXISTS idx_ds_type RENAME TO data_sources_org_type_idx;
ALTER INDEX IF EXISTS idx_cost_org_month_provider RENAME TO cost_tracking_org_month_provider_idx;
ALTER INDEX IF EXISTS idx_cost_desk RENAME TO cost_tracking_org_desk_created_idx;
ALTER INDEX IF EXISTS idx_cost_task RENAME TO cost_tracking_org_task_idx;
ALTER INDEX IF EXISTS idx_cost_created RENAME TO cost_tracking_org_created_at_idx;
ALTER INDEX IF EXISTS idx_audit_org_created RENAME TO audit_logs_org_created_at_idx;
ALTER INDEX IF EXISTS idx_audit_user RENAME TO audit_logs_org_user_created_idx;
ALTER INDEX IF EXISTS idx_audit_desk RENAME TO audit_logs_org_desk_idx;
ALTER INDEX IF EXISTS idx_audit_action RENAME TO audit_logs_org_action_created_idx;
ALTER INDEX IF EXISTS idx_audit_resource RENAME TO audit_logs_org_resource_idx;

-- ---------------------------------------------------------------------------------------------
-- Grants and fill triggers
-- ---------------------------------------------------------------------------------------------
-- The column guards name columns dropped or renamed below: dropped here, recreated at the end
-- as the 0004 variant has them. So are the desks triggers (no DISABLE TRIGGER).
DROP TRIGGER IF EXISTS organizations_guard_tenant_update ON organizations;
DROP TRIGGER IF EXISTS api_keys_guard_tenant_update ON api_keys;
DROP FUNCTION IF EXISTS organizations_guard_tenant_update();
DROP FUNCTION IF EXISTS api_keys_guard_tenant_update();
DROP TRIGGER IF EXISTS desks_set_hierarchy ON desks;
DROP TRIGGER IF EXISTS desks_cascade_path ON desks;
DROP TRIGGER IF EXISTS desks_set_updated_at ON desks;
DROP FUNCTION IF EXISTS desks_set_hierarchy();
DROP FUNCTION IF EXISTS desks_cascade_path();

DROP TRIGGER IF EXISTS api_keys_set_is_active ON api_keys;
DROP TRIGGER IF EXISTS audit_logs_set_actor_type ON audit_logs;
DROP TRIGGER IF EXISTS data_sources_set_organization ON data_sources;
DROP TRIGGER IF EXISTS delegations_set_organization ON delegations;
DROP TRIGGER IF EXISTS qa_reviews_set_organization ON qa_reviews;
DROP TRIGGER IF EXISTS messages_set_organization ON messages;
DROP TRIGGER IF EXISTS agent_sessions_set_organization ON agent_sessions;
DROP FUNCTION IF EXISTS api_keys_set_is_active();
DROP FUNCTION IF EXISTS audit_logs_set_actor_type();
DROP FUNCTION IF EXISTS data_sources_set_organization();
DROP FUNCTION IF EXISTS delegations_set_organization();
DROP FUNCTION IF EXISTS qa_reviews_set_organization();
DROP FUNCTION IF EXISTS messages_set_organization();
DROP FUNCTION IF EXISTS agent_sessions_set_organization();

-- ---------------------------------------------------------------------------------------------
-- api_keys, audit_logs
-- ---------------------------------------------------------------------------------------------
ALTER TABLE api_keys DROP COLUMN IF EXISTS is_active, DROP COLUMN IF EXISTS usage_count;

ALTER TABLE audit_logs DROP COLUMN IF EXISTS actor_type;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_meta_data_check TO audit_logs_metadata_check;
ALTER TABLE audit_logs RENAME COLUMN meta_data TO metadata;

-- ---------------------------------------------------------------------------------------------
-- cost_tracking
-- ---------------------------------------------------------------------------------------------
DROP TRIGGER IF EXISTS cost_tracking_set_billing_month ON cost_tracking;
DROP FUNCTION IF EXISTS cost_tracking_set_billing_month();
SET enable_experimental_alter_column_type_general = true;
ALTER TABLE cost_tracking
    ALTER COLUMN input_tokens TYPE integer,
    ALTER COLUMN output_tokens TYPE integer;
ALTER TABLE cost_tracking
    ADD COLUMN total_tokens_0006 bigint GENERATED ALWAYS AS (input_tokens::bigint + output_tokens::bigint) STORED,
    ADD COLUMN cost_usd_0006 numeric(14,6),
    ADD COLUMN billing_month_0006 date,
    ADD COLUMN latency_ms_0006 integer,
    ADD COLUMN request_id_0006 text,
    ADD COLUMN metadata_0006 jsonb,
    ADD COLUMN created_at_0006 timestamptz;
UPDATE cost_tracking
   SET cost_usd_0006 = total_cost,
       billing_month_0006 = (billing_month || '-01')::date,
       latency_ms_0006 = latency_ms,
       request_id_0006 = request_id,
       metadata_0006 = meta_data,
       created_at_0006 = created_at;
-- Their constraints and indexes go with them; recreated below as 0002 has them.
ALTER TABLE cost_tracking
    DROP COLUMN IF EXISTS total_tokens,
    DROP COLUMN IF EXISTS total_cost,
    DROP COLUMN IF EXISTS billing_month,
    DROP COLUMN IF EXISTS latency_ms,
    DROP COLUMN IF EXISTS request_id,
    DROP COLUMN IF EXISTS meta_data,
    DROP COLUMN IF EXISTS created_at,
    DROP COLUMN IF EXISTS input_cost,
    DROP COLUMN IF EXISTS output_cost;
ALTER TABLE cost_tracking RENAME COLUMN total_tokens_0006 TO total_tokens;
ALTER TABLE cost_tracking RENAME COLUMN cost_usd_0006 TO cost_usd;
ALTER TABLE cost_tracking RENAME COLUMN billing_month_0006 TO billing_month;
ALTER TABLE cost_tracking RENAME COLUMN latency_ms_0006 TO latency_ms;
ALTER TABLE cost_tracking RENAME COLUMN request_id_0006 TO request_id;
ALTER TABLE cost_tracking RENAME COLUMN metadata_0006 TO metadata;
ALTER TABLE cost_tracking RENAME COLUMN created_at_0006 TO created_at;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_cost_check;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_latency_check;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_billing_month_check;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_metadata_check;
ALTER TABLE cost_tracking
    ALTER COLUMN cost_usd SET DEFAULT 0,
    ALTER COLUMN cost_usd SET NOT NULL,
    ALTER COLUMN billing_month SET NOT NULL,
    ALTER COLUMN metadata SET DEFAULT '{}'::jsonb,
    ALTER COLUMN metadata SET NOT NULL,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN created_at SET NOT NULL,
    ADD CONSTRAINT cost_tracking_cost_check CHECK (cost_usd >= 0),
    ADD CONSTRAINT cost_tracking_latency_check CHECK (latency_ms IS NULL OR latency_ms >= 0),
    ADD CONSTRAINT cost_tracking_billing_month_check CHECK (extract(day FROM billing_month) = 1),
    ADD CONSTRAINT cost_tracking_metadata_check CHECK (jsonb_typeof(metadata) = 'object');
COMMENT ON COLUMN cost_tracking.billing_month IS
    'First day of the month (UTC) of created_at; set by the cost_tracking_set_billing_month trigger.';
CREATE INDEX IF NOT EXISTS cost_tracking_org_month_provider_idx ON cost_tracking (organization_id, billing_month, provider)
    INCLUDE (cost_usd, total_tokens);
CREATE INDEX IF NOT EXISTS cost_tracking_org_provider_model_idx ON cost_tracking (organization_id, provider, model, billing_month);
CREATE INDEX IF NOT EXISTS cost_tracking_org_desk_created_idx ON cost_tracking (organization_id, desk_id, created_at);
CREATE INDEX IF NOT EXISTS cost_tracking_org_created_at_idx ON cost_tracking (organization_id, created_at);

CREATE OR REPLACE FUNCTION cost_tracking_set_billing_month() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    (NEW).billing_month := date_trunc('month', (NEW).created_at AT TIME ZONE 'UTC')::date;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION cost_tracking_set_billing_month() IS
    'BEFORE INSERT/UPDATE trigger on cost_tracking: billing_month = first day of the UTC month of created_at.';
DROP TRIGGER IF EXISTS cost_tracking_set_billing_month ON cost_tracking;
CREATE TRIGGER cost_tracking_set_billing_month
    BEFORE INSERT OR UPDATE ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION cost_tracking_set_billing_month();

-- ---------------------------------------------------------------------------------------------
-- data_sources, knowledge_bases, delegations
-- ---------------------------------------------------------------------------------------------
ALTER TABLE data_sources
    DROP COLUMN IF EXISTS uri,
    DROP COLUMN IF EXISTS sync_enabled,
    DROP COLUMN IF EXISTS sync_frequency,
    DROP COLUMN IF EXISTS credentials,
    DROP COLUMN IF EXISTS document_count,
    DROP COLUMN IF EXISTS total_size_bytes,
    DROP COLUMN IF EXISTS meta_data;

ALTER TABLE knowledge_bases
    DROP COLUMN IF EXISTS vector_store_config,
    DROP COLUMN IF EXISTS is_active,
    DROP COLUMN IF EXISTS meta_data;

ALTER TABLE delegations
    DROP COLUMN IF EXISTS instructions,
    DROP COLUMN IF EXISTS context,
    DROP COLUMN IF EXISTS response;

-- ---------------------------------------------------------------------------------------------
-- qa_reviews, messages, agent_sessions
-- ---------------------------------------------------------------------------------------------
ALTER TABLE qa_reviews
    ALTER COLUMN iteration SET DEFAULT 1,
    DROP COLUMN IF EXISTS stage_order,
    DROP COLUMN IF EXISTS review_type,
    DROP COLUMN IF EXISTS reviewer_type,
    DROP COLUMN IF EXISTS passed,
    DROP COLUMN IF EXISTS recommendations,
    DROP COLUMN IF EXISTS metrics,
    DROP COLUMN IF EXISTS started_at;
ALTER TABLE qa_reviews RENAME CONSTRAINT qa_reviews_org_task_stage_name_iteration_key
    TO qa_reviews_org_task_stage_iteration_key;
ALTER TABLE qa_reviews RENAME CONSTRAINT qa_reviews_findings_check TO qa_reviews_issues_check;
ALTER TABLE qa_reviews RENAME COLUMN completed_at TO reviewed_at;
ALTER TABLE qa_reviews RENAME COLUMN findings TO issues;
ALTER TABLE qa_reviews RENAME COLUMN stage_name TO stage;

ALTER TABLE messages
    ALTER COLUMN input_tokens DROP DEFAULT,
    ALTER COLUMN output_tokens DROP DEFAULT,
    DROP COLUMN IF EXISTS tool_results,
    DROP COLUMN IF EXISTS cost;
ALTER TABLE messages RENAME CONSTRAINT messages_meta_data_check TO messages_metadata_check;
ALTER TABLE messages RENAME COLUMN meta_data TO metadata;

ALTER TABLE agent_sessions
    DROP COLUMN IF EXISTS session_type,
    DROP COLUMN IF EXISTS conversation_id,
    DROP COLUMN IF EXISTS message_count,
    DROP COLUMN IF EXISTS input_tokens,
    DROP COLUMN IF EXISTS output_tokens,
    DROP COLUMN IF EXISTS total_cost,
    DROP COLUMN IF EXISTS duration_seconds,
    DROP COLUMN IF EXISTS result,
    DROP COLUMN IF EXISTS error;
ALTER TABLE agent_sessions RENAME CONSTRAINT agent_sessions_completed_check TO agent_sessions_ended_check;
ALTER TABLE agent_sessions RENAME COLUMN completed_at TO ended_at;

-- ---------------------------------------------------------------------------------------------
-- tasks, workflows
-- ---------------------------------------------------------------------------------------------
DROP INDEX IF EXISTS tasks_org_delegated_from_idx;
ALTER TABLE tasks
    DROP COLUMN IF EXISTS delegated_from_id,
    DROP COLUMN IF EXISTS estimated_hours,
    DROP COLUMN IF EXISTS actual_hours,
    DROP COLUMN IF EXISTS acceptance_criteria,
    DROP COLUMN IF EXISTS deliverables,
    DROP COLUMN IF EXISTS tags,
    DROP COLUMN IF EXISTS meta_data,
    DROP COLUMN IF EXISTS output_artifacts;
ALTER INDEX IF EXISTS tasks_org_due_date_idx RENAME TO tasks_org_due_at_idx;
ALTER TABLE tasks RENAME CONSTRAINT uq_org_task_number TO tasks_org_task_number_key;
ALTER TABLE tasks RENAME CONSTRAINT tasks_context_check TO tasks_input_data_check;
ALTER TABLE tasks RENAME COLUMN result TO output_data;
ALTER TABLE tasks RENAME COLUMN context TO input_data;
ALTER TABLE tasks RENAME COLUMN due_date TO due_at;

ALTER TABLE workflows
    DROP COLUMN IF EXISTS transitions,
    DROP COLUMN IF EXISTS qa_enabled,
    DROP COLUMN IF EXISTS qa_stages,
    DROP COLUMN IF EXISTS meta_data;

-- ---------------------------------------------------------------------------------------------
-- desks: names, trigger bodies and depth from 0 again
-- ---------------------------------------------------------------------------------------------
ALTER TABLE desks
    DROP CONSTRAINT IF EXISTS desks_hierarchy_check,
    DROP COLUMN IF EXISTS capabilities,
    DROP COLUMN IF EXISTS skills,
    DROP COLUMN IF EXISTS status,
    DROP COLUMN IF EXISTS instructions,
    DROP COLUMN IF EXISTS meta_data;
ALTER TABLE desks RENAME CONSTRAINT desks_reports_to_fkey TO desks_parent_fkey;
ALTER TABLE desks RENAME CONSTRAINT desks_llm_config_check TO desks_config_check;
ALTER TABLE desks RENAME CONSTRAINT uq_org_desk_id TO desks_org_desk_id_key;
ALTER TABLE desks RENAME COLUMN llm_config TO config;
ALTER TABLE desks RENAME COLUMN hierarchy_level TO depth;
ALTER TABLE desks RENAME COLUMN hierarchy_path TO path;
ALTER TABLE desks RENAME COLUMN reports_to_id TO parent_desk_id;

CREATE OR REPLACE FUNCTION desks_set_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    parent_path  text;
    parent_depth integer;
BEGIN
    IF (NEW).parent_desk_id IS NULL THEN
        (NEW).path := '/' || (NEW).id::text || '/';
        (NEW).depth := 0;
        RETURN NEW;
    END IF;

    SELECT d.path, d.depth
      INTO parent_path, parent_depth
      FROM public.desks AS d
     WHERE d.organization_id = (NEW).organization_id
       AND d.id = (NEW).parent_desk_id
       FOR SHARE;
    IF parent_path IS NULL THEN
        RAISE EXCEPTION 'parent desk % does not exist in organization % (or is not visible)',
                (NEW).parent_desk_id, (NEW).organization_id
            USING ERRCODE = '23503';
    END IF;

    IF strpos(parent_path, '/' || (NEW).id::text || '/') > 0 THEN
        RAISE EXCEPTION 'desk % cannot be placed under desk %: that desk is itself or one of its descendants',
                (NEW).id, (NEW).parent_desk_id
            USING ERRCODE = '23514',
                  HINT = 'A desk hierarchy is a tree: move the descendant elsewhere first.';
    END IF;

    (NEW).path := parent_path || (NEW).id::text || '/';
    (NEW).depth := parent_depth + 1;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION desks_set_hierarchy() IS
    'BEFORE INSERT/UPDATE trigger on desks: path and depth from the parent; rejects cycles.';

CREATE OR REPLACE FUNCTION desks_cascade_path() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE public.desks
       SET path = path
     WHERE organization_id = (NEW).organization_id
       AND parent_desk_id = (NEW).id;
    RETURN NULL;
END;
$$;
-- Paths of ids again (0002's form), while the desks triggers are dropped (the same result on a
-- re-run).
WITH RECURSIVE chain AS (
    SELECT d.organization_id, d.id, '/' || d.id::text || '/' AS id_path
      FROM desks AS d
     WHERE d.parent_desk_id IS NULL
    UNION ALL
    SELECT d.organization_id, d.id, c.id_path || d.id::text || '/'
      FROM desks AS d
      JOIN chain AS c ON c.organization_id = d.organization_id AND c.id = d.parent_desk_id
)
UPDATE desks
   SET path = chain.id_path
  FROM chain
 WHERE chain.organization_id = desks.organization_id AND chain.id = desks.id;
DROP TRIGGER IF EXISTS desks_set_hierarchy ON desks;
CREATE TRIGGER desks_set_hierarchy
    BEFORE INSERT OR UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_set_hierarchy();
DROP TRIGGER IF EXISTS desks_cascade_path ON desks;
CREATE TRIGGER desks_cascade_path
    AFTER UPDATE ON desks
    FOR EACH ROW WHEN ((OLD).path IS DISTINCT FROM (NEW).path)
    EXECUTE FUNCTION desks_cascade_path();
DROP TRIGGER IF EXISTS desks_set_updated_at ON desks;
CREATE TRIGGER desks_set_updated_at BEFORE UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
REVOKE EXECUTE ON FUNCTION desks_set_hierarchy(), desks_cascade_path(), cost_tracking_set_billing_month()
FROM PUBLIC;
COMMENT ON FUNCTION desks_cascade_path() IS
    'AFTER UPDATE trigger on desks: when a desk''s path changed, recompute its children (recursively through their own triggers).';

UPDATE desks SET depth = depth - 1
 WHERE NOT EXISTS (SELECT 1 FROM desks AS r WHERE r.parent_desk_id IS NULL AND r.depth = 0);
ALTER TABLE desks DROP CONSTRAINT IF EXISTS desks_path_check;
ALTER TABLE desks ADD CONSTRAINT desks_path_check CHECK (
        depth >= 0
        AND length(path) = 38 + 37 * depth
        AND left(path, 1) = '/'
        AND right(path, 37) = id::text || '/'
        AND (depth = 0) = (parent_desk_id IS NULL)
    );
COMMENT ON COLUMN desks.path IS
    'Materialized path of ids from the root: ''/<root id>/.../<own id>/''. Maintained by triggers; descendants of X: path LIKE X.path || ''_%''.';
COMMENT ON COLUMN desks.depth IS 'Number of ancestors (0 for a root desk). Maintained by triggers.';

-- ---------------------------------------------------------------------------------------------
-- users, organizations
-- ---------------------------------------------------------------------------------------------
DROP TRIGGER IF EXISTS users_guard_superuser ON users;
DROP FUNCTION IF EXISTS users_guard_superuser();
ALTER TABLE users
    DROP COLUMN IF EXISTS password_hash,
    DROP COLUMN IF EXISTS avatar_url,
    DROP COLUMN IF EXISTS is_superuser,
    DROP COLUMN IF EXISTS email_verified_at;
ALTER TABLE users RENAME COLUMN is_admin TO is_org_admin;

ALTER TABLE organizations
    ALTER COLUMN max_desks DROP DEFAULT,
    ALTER COLUMN max_llm_cost_per_month DROP DEFAULT,
    DROP COLUMN IF EXISTS subscription_status,
    DROP COLUMN IF EXISTS subscription_expires_at,
    DROP COLUMN IF EXISTS max_tasks_per_month,
    DROP COLUMN IF EXISTS meta_data;
ALTER TABLE organizations RENAME CONSTRAINT organizations_max_llm_cost_per_month_check
    TO organizations_monthly_budget_check;
ALTER TABLE organizations RENAME COLUMN max_llm_cost_per_month TO monthly_budget_usd;

-- ---------------------------------------------------------------------------------------------
-- The column guards of the 0004 variant, as it creates them
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION organizations_guard_tenant_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_has_role(current_user, 'arcdesk_tenant', 'MEMBER')
       AND ((NEW).id IS DISTINCT FROM (OLD).id
            OR (NEW).slug IS DISTINCT FROM (OLD).slug
            OR (NEW).subscription_tier IS DISTINCT FROM (OLD).subscription_tier
            OR (NEW).max_users IS DISTINCT FROM (OLD).max_users
            OR (NEW).max_desks IS DISTINCT FROM (OLD).max_desks
            OR (NEW).monthly_budget_usd IS DISTINCT FROM (OLD).monthly_budget_usd
            OR (NEW).is_active IS DISTINCT FROM (OLD).is_active
            OR (NEW).deleted_at IS DISTINCT FROM (OLD).deleted_at
            OR (NEW).created_at IS DISTINCT FROM (OLD).created_at
            OR (NEW).updated_at IS DISTINCT FROM (OLD).updated_at) THEN
        RAISE EXCEPTION 'permission denied: a tenant may update only name, settings and last_task_number of organizations'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS organizations_guard_tenant_update ON organizations;
CREATE TRIGGER organizations_guard_tenant_update BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION organizations_guard_tenant_update();

CREATE OR REPLACE FUNCTION api_keys_guard_tenant_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_has_role(current_user, 'arcdesk_tenant', 'MEMBER')
       AND ((NEW).id IS DISTINCT FROM (OLD).id
            OR (NEW).organization_id IS DISTINCT FROM (OLD).organization_id
            OR (NEW).name IS DISTINCT FROM (OLD).name
            OR (NEW).key_prefix IS DISTINCT FROM (OLD).key_prefix
            OR (NEW).key_hash IS DISTINCT FROM (OLD).key_hash
            OR (NEW).scopes IS DISTINCT FROM (OLD).scopes
            OR (NEW).user_id IS DISTINCT FROM (OLD).user_id
            OR (NEW).rate_limit_per_minute IS DISTINCT FROM (OLD).rate_limit_per_minute
            OR (NEW).expires_at IS DISTINCT FROM (OLD).expires_at
            OR (NEW).last_used_at IS DISTINCT FROM (OLD).last_used_at
            OR (NEW).created_at IS DISTINCT FROM (OLD).created_at
            OR (NEW).updated_at IS DISTINCT FROM (OLD).updated_at) THEN
        RAISE EXCEPTION 'permission denied: a tenant may update only revoked_at, revoked_by_id and revocation_reason of api_keys'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS api_keys_guard_tenant_update ON api_keys;
CREATE TRIGGER api_keys_guard_tenant_update BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_guard_tenant_update();

REVOKE EXECUTE ON FUNCTION organizations_guard_tenant_update(), api_keys_guard_tenant_update()
FROM PUBLIC;

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
