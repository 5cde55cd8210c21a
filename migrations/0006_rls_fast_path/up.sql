-- 0006_rls_fast_path: the same tenant isolation as 0004/0005, at the cost of the owner's
-- queries. Measured by bench/rls.sh (1000 organizations, 1M tasks): the policies of 0004 made a
-- tenant's statement 1.3-3.2x slower than the owner's with an explicit organization filter, and
-- none of that was the rows: it was fixed per-statement planning work and one plan shape.
-- Analysis in bench/ANALYSIS.md; what each change buys is measured there too.
--
--   1. current_org_id() / current_app_user_id() lose their SET search_path: a SQL function with a
--      SET clause is never inlined, so every `(SELECT current_org_id())` went through the SET
--      machinery (GUC save/restore, a new search path) and re-planned its body, ~30 us per tenant
--      statement. Their one call is schema-qualified instead. They are SECURITY INVOKER: a pinned
--      search_path protected nothing there.
--   2. The isolation policies and the tenant views compare with the setting itself, in the
--      InitPlan form `(SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid)`:
--      even an inlined helper is looked up, parsed and analysed again at every planning. Same
--      semantics: NULL when unset or empty, so nothing matches. verify-rls accepts this form;
--      current_org_id() stays for application code.
--   3. messages_user_scope asks message_session_visible() instead of holding an EXISTS sublink:
--      the sublink (with the two policies of agent_sessions it drags in) was planned into every
--      tenant query on messages even when app.current_user_id is unset and it never runs,
--      ~0.2 ms per statement. In a function the subquery is planned only when called, i.e. only
--      when a user id is set. The function is SECURITY INVOKER, so agent_sessions' policies
--      still filter it (the CockroachDB variant of 0004 has the same function for another
--      reason: policies there cannot hold subqueries).
--   4. tasks_org_assigned_open_idx: enum equality is not LEAKPROOF, so under RLS `status IN (...)`
--      may not run before the policy and could not be an index condition; the tenant read every
--      task of a desk and sorted them (1.47x on the largest organization). A partial index whose
--      predicate is the open-status list is chosen by predicate proof (nothing leaky runs early)
--      and its order serves `ORDER BY priority DESC, created_at LIMIT n` for both sides.
--      CREATE INDEX (not CONCURRENTLY: migrations run in a transaction) blocks writes to tasks
--      while it builds: ~1 s per million tasks on the benchmark machine.

-- 1. Inlinable setting helpers (the comment of current_org_id(), which 0004's down reads, stays:
--    CREATE OR REPLACE keeps the function and its comment).
CREATE OR REPLACE FUNCTION current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION current_app_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(pg_catalog.current_setting('app.current_user_id', true), '')::uuid $$;

-- 2. Isolation policies on the setting itself (ALTER POLICY keeps name, roles and command).
ALTER POLICY organizations_tenant_isolation ON organizations
    USING (id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY users_tenant_isolation ON users
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY desks_tenant_isolation ON desks
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY workflows_tenant_isolation ON workflows
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY tasks_tenant_isolation ON tasks
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY agent_sessions_tenant_isolation ON agent_sessions
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY messages_tenant_isolation ON messages
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY qa_reviews_tenant_isolation ON qa_reviews
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY delegations_tenant_isolation ON delegations
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY knowledge_bases_tenant_isolation ON knowledge_bases
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY data_sources_tenant_isolation ON data_sources
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY cost_tracking_tenant_isolation ON cost_tracking
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY api_keys_tenant_isolation ON api_keys
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));
ALTER POLICY audit_logs_tenant_isolation ON audit_logs
    USING (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid))
    WITH CHECK (organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid));

-- The per-user scope of sessions, on the setting itself too.
ALTER POLICY agent_sessions_user_scope ON agent_sessions
    USING (user_id IS NULL
           OR (SELECT NULLIF(pg_catalog.current_setting('app.current_user_id', true), '')::uuid) IS NULL
           OR user_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_user_id', true), '')::uuid))
    WITH CHECK (user_id IS NULL
                OR (SELECT NULLIF(pg_catalog.current_setting('app.current_user_id', true), '')::uuid) IS NULL
                OR user_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_user_id', true), '')::uuid));

-- 3. The per-user scope of messages without a sublink. SET search_path keeps it from being
--    inlined (inlined, its EXISTS would be planned into every query again) and pins what it
--    names. The user-id test reads the setting directly: a NULL test needs no uuid cast, and it
--    runs only on the rows the isolation policy and the index already narrowed.
CREATE FUNCTION message_session_visible(p_organization_id uuid, p_session_id uuid)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM public.agent_sessions AS s
                    WHERE s.organization_id = p_organization_id AND s.id = p_session_id)
$$;
COMMENT ON FUNCTION message_session_visible(uuid, uuid) IS
    'messages_user_scope policy helper: is the message''s session visible to the current role (through agent_sessions'' policies)?';
REVOKE EXECUTE ON FUNCTION message_session_visible(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION message_session_visible(uuid, uuid) TO arcdesk_tenant;

ALTER POLICY messages_user_scope ON messages
    USING (NULLIF(pg_catalog.current_setting('app.current_user_id', true), '') IS NULL
           OR message_session_visible(organization_id, session_id))
    WITH CHECK (NULLIF(pg_catalog.current_setting('app.current_user_id', true), '') IS NULL
                OR message_session_visible(organization_id, session_id));

-- The tenant views of 0005, on the setting itself (same columns, grants and comments).
CREATE OR REPLACE VIEW org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM mv_org_cost_summary
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);

CREATE OR REPLACE VIEW desk_performance WITH (security_barrier = true) AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, parent_desk_id,
    depth, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks, completion_rate,
    avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls, total_tokens,
    total_llm_cost, last_task_at
FROM mv_desk_performance
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);

-- 4. Open tasks of a desk by priority.
CREATE INDEX tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority DESC, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');
COMMENT ON INDEX tasks_org_assigned_open_idx IS
    'A desk''s open tasks by priority; usable under RLS, where status IN (...) cannot be an index condition of tasks_org_assigned_status_idx.';
