-- 0007_arcdesk_columns (down): version 6 exactly (pg_dump after this down equals pg_dump at
-- version 6; tests/migrate.rs checks it). Every row is kept; the deployed-only columns are
-- dropped with their values. Refused (and rolled back) when a value does not fit version 6:
-- token counts above integer, a billing_month that is not 'YYYY-MM'.
-- cost_tracking.total_tokens becomes generated again: PostgreSQL can only add a generated
-- column, at the end, so the columns after it are rebuilt in their order of 0002.

-- ---------------------------------------------------------------------------------------------
-- Analytics views (recreated as 0005/0006 had them at the end)
-- ---------------------------------------------------------------------------------------------
DROP VIEW mv_desk_performance;
DROP VIEW mv_org_cost_summary;
DROP VIEW desk_performance;
DROP VIEW org_cost_summary;
DROP MATERIALIZED VIEW desk_performance_mv;
DROP MATERIALIZED VIEW org_cost_summary_mv;

-- ---------------------------------------------------------------------------------------------
-- Index names
-- ---------------------------------------------------------------------------------------------
DROP INDEX idx_org_slug;
DROP INDEX idx_org_created;
DROP INDEX idx_org_name;
DROP INDEX idx_org_settings_gin;
DROP INDEX idx_user_org;
DROP INDEX idx_user_email;
DROP INDEX idx_desk_org;
DROP INDEX idx_desk_llm_config_gin;
DROP INDEX idx_desk_skills_gin;
DROP INDEX idx_desks_active;
DROP INDEX idx_workflow_org;
DROP INDEX idx_workflow_active;
DROP INDEX idx_task_org;
DROP INDEX idx_task_status;
DROP INDEX idx_task_priority;
DROP INDEX idx_task_context_gin;
DROP INDEX idx_tasks_active;
DROP INDEX idx_tasks_title_fts;
DROP INDEX idx_tasks_description_fts;
DROP INDEX idx_session_desk;
DROP INDEX idx_message_session;
DROP INDEX idx_qa_task;
DROP INDEX idx_delegation_created;
DROP INDEX idx_kb_org;
DROP INDEX idx_cost_org_month;
DROP INDEX idx_apikey_org;
DROP INDEX idx_apikey_hash;

ALTER INDEX idx_desk_reports_to RENAME TO desks_org_parent_idx;
ALTER INDEX idx_desk_hierarchy RENAME TO desks_org_path_idx;
ALTER INDEX idx_desk_role RENAME TO desks_org_role_active_idx;
ALTER INDEX idx_task_assigned RENAME TO tasks_org_assigned_status_idx;
ALTER INDEX idx_tasks_org_status_priority RENAME TO tasks_org_status_priority_idx;
ALTER INDEX idx_task_created RENAME TO tasks_org_created_at_idx;
ALTER INDEX idx_task_parent RENAME TO tasks_org_parent_idx;
ALTER INDEX idx_sessions_desk_date RENAME TO agent_sessions_org_desk_started_idx;
ALTER INDEX idx_session_task RENAME TO agent_sessions_org_task_idx;
ALTER INDEX idx_session_started RENAME TO agent_sessions_org_started_idx;
ALTER INDEX idx_message_created RENAME TO messages_org_created_at_idx;
ALTER INDEX idx_qa_status RENAME TO qa_reviews_org_status_idx;
ALTER INDEX idx_qa_reviewer RENAME TO qa_reviews_org_reviewer_desk_idx;
ALTER INDEX idx_delegation_task RENAME TO delegations_org_task_idx;
ALTER INDEX idx_delegation_from RENAME TO delegations_org_from_desk_idx;
ALTER INDEX idx_delegation_to RENAME TO delegations_org_to_desk_status_idx;
ALTER INDEX idx_ds_kb RENAME TO data_sources_org_knowledge_base_idx;
ALTER INDEX idx_ds_type RENAME TO data_sources_org_type_idx;
ALTER INDEX idx_cost_org_month_provider RENAME TO cost_tracking_org_month_provider_idx;
ALTER INDEX idx_cost_desk RENAME TO cost_tracking_org_desk_created_idx;
ALTER INDEX idx_cost_task RENAME TO cost_tracking_org_task_idx;
ALTER INDEX idx_cost_created RENAME TO cost_tracking_org_created_at_idx;
ALTER INDEX idx_audit_org_created RENAME TO audit_logs_org_created_at_idx;
ALTER INDEX idx_audit_user RENAME TO audit_logs_org_user_created_idx;
ALTER INDEX idx_audit_desk RENAME TO audit_logs_org_desk_idx;
ALTER INDEX idx_audit_action RENAME TO audit_logs_org_action_created_idx;
ALTER INDEX idx_audit_resource RENAME TO audit_logs_org_resource_idx;

-- ---------------------------------------------------------------------------------------------
-- Grants and fill triggers
-- ---------------------------------------------------------------------------------------------
REVOKE UPDATE (meta_data) ON organizations FROM arcdesk_tenant;
REVOKE UPDATE (is_active, last_used_at, usage_count) ON api_keys FROM arcdesk_tenant;

DROP TRIGGER api_keys_set_is_active ON api_keys;
DROP TRIGGER audit_logs_set_actor_type ON audit_logs;
DROP TRIGGER data_sources_set_organization ON data_sources;
DROP TRIGGER delegations_set_organization ON delegations;
DROP TRIGGER qa_reviews_set_organization ON qa_reviews;
DROP TRIGGER messages_set_organization ON messages;
DROP TRIGGER agent_sessions_set_organization ON agent_sessions;
DROP FUNCTION api_keys_set_is_active();
DROP FUNCTION audit_logs_set_actor_type();
DROP FUNCTION data_sources_set_organization();
DROP FUNCTION delegations_set_organization();
DROP FUNCTION qa_reviews_set_organization();
DROP FUNCTION messages_set_organization();
DROP FUNCTION agent_sessions_set_organization();

-- ---------------------------------------------------------------------------------------------
-- api_keys, audit_logs
-- ---------------------------------------------------------------------------------------------
ALTER TABLE api_keys DROP COLUMN is_active, DROP COLUMN usage_count;

ALTER TABLE audit_logs DROP COLUMN actor_type;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_meta_data_check TO audit_logs_metadata_check;
ALTER TABLE audit_logs RENAME COLUMN meta_data TO metadata;

-- ---------------------------------------------------------------------------------------------
-- cost_tracking
-- ---------------------------------------------------------------------------------------------
DROP TRIGGER cost_tracking_set_billing_month ON cost_tracking;
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
    DROP COLUMN total_tokens,
    DROP COLUMN total_cost,
    DROP COLUMN billing_month,
    DROP COLUMN latency_ms,
    DROP COLUMN request_id,
    DROP COLUMN meta_data,
    DROP COLUMN created_at,
    DROP COLUMN input_cost,
    DROP COLUMN output_cost;
ALTER TABLE cost_tracking RENAME COLUMN total_tokens_0006 TO total_tokens;
ALTER TABLE cost_tracking RENAME COLUMN cost_usd_0006 TO cost_usd;
ALTER TABLE cost_tracking RENAME COLUMN billing_month_0006 TO billing_month;
ALTER TABLE cost_tracking RENAME COLUMN latency_ms_0006 TO latency_ms;
ALTER TABLE cost_tracking RENAME COLUMN request_id_0006 TO request_id;
ALTER TABLE cost_tracking RENAME COLUMN metadata_0006 TO metadata;
ALTER TABLE cost_tracking RENAME COLUMN created_at_0006 TO created_at;
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
CREATE INDEX cost_tracking_org_month_provider_idx ON cost_tracking (organization_id, billing_month, provider)
    INCLUDE (cost_usd, total_tokens);
CREATE INDEX cost_tracking_org_provider_model_idx ON cost_tracking (organization_id, provider, model, billing_month);
CREATE INDEX cost_tracking_org_desk_created_idx ON cost_tracking (organization_id, desk_id, created_at);
CREATE INDEX cost_tracking_org_created_at_idx ON cost_tracking (organization_id, created_at);

CREATE OR REPLACE FUNCTION cost_tracking_set_billing_month() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.billing_month := date_trunc('month', NEW.created_at AT TIME ZONE 'UTC')::date;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION cost_tracking_set_billing_month() IS
    'BEFORE INSERT/UPDATE trigger on cost_tracking: billing_month = first day of the UTC month of created_at.';
CREATE TRIGGER cost_tracking_set_billing_month
    BEFORE INSERT OR UPDATE OF created_at, billing_month ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION cost_tracking_set_billing_month();

-- ---------------------------------------------------------------------------------------------
-- data_sources, knowledge_bases, delegations
-- ---------------------------------------------------------------------------------------------
ALTER TABLE data_sources
    DROP COLUMN uri,
    DROP COLUMN sync_enabled,
    DROP COLUMN sync_frequency,
    DROP COLUMN credentials,
    DROP COLUMN document_count,
    DROP COLUMN total_size_bytes,
    DROP COLUMN meta_data;

ALTER TABLE knowledge_bases
    DROP COLUMN vector_store_config,
    DROP COLUMN is_active,
    DROP COLUMN meta_data;

ALTER TABLE delegations
    DROP COLUMN instructions,
    DROP COLUMN context,
    DROP COLUMN response;

-- ---------------------------------------------------------------------------------------------
-- qa_reviews, messages, agent_sessions
-- ---------------------------------------------------------------------------------------------
ALTER TABLE qa_reviews
    ALTER COLUMN iteration SET DEFAULT 1,
    DROP COLUMN stage_order,
    DROP COLUMN review_type,
    DROP COLUMN reviewer_type,
    DROP COLUMN passed,
    DROP COLUMN recommendations,
    DROP COLUMN metrics,
    DROP COLUMN started_at;
ALTER TABLE qa_reviews RENAME CONSTRAINT qa_reviews_org_task_stage_name_iteration_key
    TO qa_reviews_org_task_stage_iteration_key;
ALTER TABLE qa_reviews RENAME CONSTRAINT qa_reviews_findings_check TO qa_reviews_issues_check;
ALTER TABLE qa_reviews RENAME COLUMN completed_at TO reviewed_at;
ALTER TABLE qa_reviews RENAME COLUMN findings TO issues;
ALTER TABLE qa_reviews RENAME COLUMN stage_name TO stage;

ALTER TABLE messages
    ALTER COLUMN input_tokens DROP DEFAULT,
    ALTER COLUMN output_tokens DROP DEFAULT,
    DROP COLUMN tool_results,
    DROP COLUMN cost;
ALTER TABLE messages RENAME CONSTRAINT messages_meta_data_check TO messages_metadata_check;
ALTER TABLE messages RENAME COLUMN meta_data TO metadata;

ALTER TABLE agent_sessions
    DROP COLUMN session_type,
    DROP COLUMN conversation_id,
    DROP COLUMN message_count,
    DROP COLUMN input_tokens,
    DROP COLUMN output_tokens,
    DROP COLUMN total_cost,
    DROP COLUMN duration_seconds,
    DROP COLUMN result,
    DROP COLUMN error;
ALTER TABLE agent_sessions RENAME CONSTRAINT agent_sessions_completed_check TO agent_sessions_ended_check;
ALTER TABLE agent_sessions RENAME COLUMN completed_at TO ended_at;

-- ---------------------------------------------------------------------------------------------
-- tasks, workflows
-- ---------------------------------------------------------------------------------------------
DROP INDEX tasks_org_delegated_from_idx;
ALTER TABLE tasks
    DROP COLUMN delegated_from_id,
    DROP COLUMN estimated_hours,
    DROP COLUMN actual_hours,
    DROP COLUMN acceptance_criteria,
    DROP COLUMN deliverables,
    DROP COLUMN tags,
    DROP COLUMN meta_data,
    DROP COLUMN output_artifacts;
ALTER INDEX tasks_org_due_date_idx RENAME TO tasks_org_due_at_idx;
ALTER TABLE tasks RENAME CONSTRAINT uq_org_task_number TO tasks_org_task_number_key;
ALTER TABLE tasks RENAME CONSTRAINT tasks_context_check TO tasks_input_data_check;
ALTER TABLE tasks RENAME COLUMN result TO output_data;
ALTER TABLE tasks RENAME COLUMN context TO input_data;
ALTER TABLE tasks RENAME COLUMN due_date TO due_at;

ALTER TABLE workflows
    DROP COLUMN transitions,
    DROP COLUMN qa_enabled,
    DROP COLUMN qa_stages,
    DROP COLUMN meta_data;

-- ---------------------------------------------------------------------------------------------
-- desks: names, trigger bodies and depth from 0 again
-- ---------------------------------------------------------------------------------------------
ALTER TABLE desks
    DROP CONSTRAINT desks_hierarchy_check,
    DROP COLUMN capabilities,
    DROP COLUMN skills,
    DROP COLUMN status,
    DROP COLUMN instructions,
    DROP COLUMN meta_data;
ALTER TABLE desks RENAME CONSTRAINT desks_reports_to_fkey TO desks_parent_fkey;
ALTER TABLE desks RENAME CONSTRAINT desks_llm_config_check TO desks_config_check;
ALTER TABLE desks RENAME CONSTRAINT uq_org_desk_id TO desks_org_desk_id_key;
ALTER TABLE desks RENAME COLUMN llm_config TO config;
ALTER TABLE desks RENAME COLUMN hierarchy_level TO depth;
ALTER TABLE desks RENAME COLUMN hierarchy_path TO path;
ALTER TABLE desks RENAME COLUMN reports_to_id TO parent_desk_id;

CREATE OR REPLACE FUNCTION desks_set_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    parent_path  text;
    parent_depth integer;
BEGIN
    IF NEW.parent_desk_id IS NULL THEN
        NEW.path := '/' || NEW.id::text || '/';
        NEW.depth := 0;
        RETURN NEW;
    END IF;

    SELECT d.path, d.depth
      INTO parent_path, parent_depth
      FROM public.desks AS d
     WHERE d.organization_id = NEW.organization_id
       AND d.id = NEW.parent_desk_id
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'parent desk % does not exist in organization % (or is not visible)',
                NEW.parent_desk_id, NEW.organization_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    IF position('/' || NEW.id::text || '/' IN parent_path) > 0 THEN
        RAISE EXCEPTION 'desk % cannot be placed under desk %: that desk is itself or one of its descendants',
                NEW.id, NEW.parent_desk_id
            USING ERRCODE = 'check_violation',
                  HINT = 'A desk hierarchy is a tree: move the descendant elsewhere first.';
    END IF;

    NEW.path := parent_path || NEW.id::text || '/';
    NEW.depth := parent_depth + 1;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION desks_set_hierarchy() IS
    'BEFORE INSERT/UPDATE trigger on desks: path and depth from the parent; rejects cycles.';

CREATE OR REPLACE FUNCTION desks_cascade_path() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE public.desks
       SET path = path
     WHERE organization_id = NEW.organization_id
       AND parent_desk_id = NEW.id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION desks_cascade_path() IS
    'AFTER UPDATE trigger on desks: when a desk''s path changed, recompute its children (recursively through their own triggers).';

DROP TRIGGER desks_set_hierarchy ON desks;
CREATE TRIGGER desks_set_hierarchy
    BEFORE INSERT OR UPDATE OF parent_desk_id, path, depth ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_set_hierarchy();
DROP TRIGGER desks_cascade_path ON desks;
CREATE TRIGGER desks_cascade_path
    AFTER UPDATE OF parent_desk_id, path, depth ON desks
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION desks_cascade_path();

-- Paths of ids again (0002's form), depth from 0.
ALTER TABLE desks DISABLE TRIGGER desks_set_hierarchy;
ALTER TABLE desks DISABLE TRIGGER desks_cascade_path;
ALTER TABLE desks DISABLE TRIGGER desks_set_updated_at;
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
   SET depth = depth - 1,
       path = chain.id_path
  FROM chain
 WHERE chain.organization_id = desks.organization_id AND chain.id = desks.id;
ALTER TABLE desks ENABLE TRIGGER desks_set_hierarchy;
ALTER TABLE desks ENABLE TRIGGER desks_cascade_path;
ALTER TABLE desks ENABLE TRIGGER desks_set_updated_at;
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
DROP TRIGGER users_guard_superuser ON users;
DROP FUNCTION users_guard_superuser();
REVOKE UPDATE ON users FROM arcdesk_tenant;
GRANT UPDATE ON users TO arcdesk_tenant;
ALTER TABLE users
    DROP COLUMN password_hash,
    DROP COLUMN avatar_url,
    DROP COLUMN is_superuser,
    DROP COLUMN email_verified_at;
ALTER TABLE users RENAME COLUMN is_admin TO is_org_admin;

ALTER TABLE organizations
    ALTER COLUMN max_desks DROP DEFAULT,
    ALTER COLUMN max_llm_cost_per_month DROP DEFAULT,
    DROP COLUMN subscription_status,
    DROP COLUMN subscription_expires_at,
    DROP COLUMN max_tasks_per_month,
    DROP COLUMN meta_data;
ALTER TABLE organizations RENAME CONSTRAINT organizations_max_llm_cost_per_month_check
    TO organizations_monthly_budget_check;
ALTER TABLE organizations RENAME COLUMN max_llm_cost_per_month TO monthly_budget_usd;

-- ---------------------------------------------------------------------------------------------
-- The analytics views of 0005 with the tenant views of 0006
-- ---------------------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW mv_org_cost_summary AS
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
GROUP BY ct.organization_id, ct.billing_month, ct.provider
WITH DATA;
COMMENT ON MATERIALIZED VIEW mv_org_cost_summary IS
    'LLM cost per organization, billing month and provider. No RLS: not granted to tenants (they read org_cost_summary).';
CREATE UNIQUE INDEX mv_org_cost_summary_key
    ON mv_org_cost_summary (organization_id, billing_month, provider);
CREATE INDEX mv_org_cost_summary_org_provider_idx
    ON mv_org_cost_summary (organization_id, provider, billing_month);

CREATE MATERIALIZED VIEW mv_desk_performance AS
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
WHERE d.deleted_at IS NULL
WITH DATA;
COMMENT ON MATERIALIZED VIEW mv_desk_performance IS
    'Per-desk task, QA and LLM cost metrics. desk_id is desks.id (desk_code is the handle). No RLS: not granted to tenants (they read desk_performance).';
CREATE UNIQUE INDEX mv_desk_performance_key
    ON mv_desk_performance (organization_id, desk_id);
CREATE INDEX mv_desk_performance_org_total_tasks_idx
    ON mv_desk_performance (organization_id, total_tasks DESC);

CREATE VIEW org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM mv_org_cost_summary
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW org_cost_summary IS
    'mv_org_cost_summary rows of the organization in app.current_org_id (none when unset).';

CREATE VIEW desk_performance WITH (security_barrier = true) AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, parent_desk_id,
    depth, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks, completion_rate,
    avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls, total_tokens,
    total_llm_cost, last_task_at
FROM mv_desk_performance
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW desk_performance IS
    'mv_desk_performance rows of the organization in app.current_org_id (none when unset).';

GRANT SELECT ON org_cost_summary, desk_performance TO arcdesk_tenant;
