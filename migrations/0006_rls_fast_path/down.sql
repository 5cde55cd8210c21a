-- 0006_rls_fast_path (down): the definitions of 0004 and 0005 as they were, exactly (pg_dump
-- after this down equals pg_dump at version 5; tests/migrate.rs checks every down that way).

DROP INDEX tasks_org_assigned_open_idx;

CREATE OR REPLACE VIEW desk_performance WITH (security_barrier = true) AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, parent_desk_id,
    depth, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks, completion_rate,
    avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls, total_tokens,
    total_llm_cost, last_task_at
FROM mv_desk_performance
WHERE organization_id = (SELECT current_org_id());

CREATE OR REPLACE VIEW org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM mv_org_cost_summary
WHERE organization_id = (SELECT current_org_id());

ALTER POLICY messages_user_scope ON messages
    USING ((SELECT current_app_user_id()) IS NULL
           OR EXISTS (SELECT 1 FROM agent_sessions AS s
                       WHERE s.organization_id = messages.organization_id
                         AND s.id = messages.session_id))
    WITH CHECK ((SELECT current_app_user_id()) IS NULL
                OR EXISTS (SELECT 1 FROM agent_sessions AS s
                            WHERE s.organization_id = messages.organization_id
                              AND s.id = messages.session_id));
DROP FUNCTION message_session_visible(uuid, uuid);

ALTER POLICY agent_sessions_user_scope ON agent_sessions
    USING (user_id IS NULL
           OR (SELECT current_app_user_id()) IS NULL
           OR user_id = (SELECT current_app_user_id()))
    WITH CHECK (user_id IS NULL
                OR (SELECT current_app_user_id()) IS NULL
                OR user_id = (SELECT current_app_user_id()));

ALTER POLICY organizations_tenant_isolation ON organizations
    USING (id = (SELECT current_org_id()))
    WITH CHECK (id = (SELECT current_org_id()));
ALTER POLICY users_tenant_isolation ON users
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY desks_tenant_isolation ON desks
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY workflows_tenant_isolation ON workflows
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY tasks_tenant_isolation ON tasks
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY agent_sessions_tenant_isolation ON agent_sessions
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY messages_tenant_isolation ON messages
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY qa_reviews_tenant_isolation ON qa_reviews
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY delegations_tenant_isolation ON delegations
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY knowledge_bases_tenant_isolation ON knowledge_bases
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY data_sources_tenant_isolation ON data_sources
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY cost_tracking_tenant_isolation ON cost_tracking
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY api_keys_tenant_isolation ON api_keys
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
ALTER POLICY audit_logs_tenant_isolation ON audit_logs
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));

CREATE OR REPLACE FUNCTION current_app_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$ SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$ SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid $$;
