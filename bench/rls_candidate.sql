-- What-if for bench/rls.sh --what-if: the migration changes proposed to bring the tenant's
-- query mix within 1.10x of the owner's. bench/rls.sh runs this inside a transaction, measures
-- the mix in that transaction and rolls it back: nothing here is ever committed. The real
-- change belongs in the migrations (0002 for the index, 0004 for the helpers and the policy).

-- 1. Inlinable setting helpers. A SQL function with a SET clause (SET search_path) is never
--    inlined: every query pays a call through the SET machinery (GUC save/restore, a new
--    search path) and re-parses/plans the body, once per InitPlan: ~30-50 us per tenant query,
--    more than a point lookup's execution. Without SET, and with the only function it calls
--    schema-qualified, the body is inlined into `(SELECT current_org_id())` and costs a few us.
--    These are SECURITY INVOKER helpers: a pinned search_path protects nothing here.
CREATE OR REPLACE FUNCTION public.current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION public.current_app_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(pg_catalog.current_setting('app.current_user_id', true), '')::uuid $$;

-- 2. Policies and the tenant views compare with the setting itself, in the InitPlan form,
--    instead of calling the helper: even inlined, a helper is looked up, parsed and analyzed
--    again while planning every query (~12-15 us per call site). verify-rls accepts this form
--    (`(SELECT NULLIF(current_setting('<setting>', true), '')::uuid)`); current_org_id() stays
--    for application code. Same semantics: NULL when unset or empty, so nothing matches.
DO $$
DECLARE
    t text;
    org text := $e$(SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid)$e$;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'desks', 'workflows', 'tasks', 'agent_sessions', 'messages',
                             'qa_reviews', 'delegations', 'knowledge_bases', 'data_sources',
                             'cost_tracking', 'api_keys', 'audit_logs'] LOOP
        EXECUTE format('ALTER POLICY %I ON public.%I USING (organization_id = %s) WITH CHECK (organization_id = %s)',
                       t || '_tenant_isolation', t, org, org);
    END LOOP;
    EXECUTE format('ALTER POLICY organizations_tenant_isolation ON public.organizations USING (id = %s) WITH CHECK (id = %s)',
                   org, org);
END
$$;
CREATE OR REPLACE VIEW public.org_cost_summary WITH (security_barrier = true) AS
SELECT organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM public.mv_org_cost_summary
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
CREATE OR REPLACE VIEW public.desk_performance WITH (security_barrier = true) AS
SELECT desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, parent_desk_id,
    depth, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks, completion_rate,
    avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls, total_tokens,
    total_llm_cost, last_task_at
FROM public.mv_desk_performance
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);

-- 3. messages_user_scope without a sublink in the policy. Its EXISTS (SELECT … FROM
--    agent_sessions) is planned into every tenant query on messages, together with the two
--    policies of agent_sessions it drags in, even when app.current_user_id is unset and the
--    subplan never runs: ~0.2-0.3 ms of planning per query. In a function the subquery is
--    planned only when it is called, i.e. only when a user id is set (OR stops at the first
--    true arm); it is still SECURITY INVOKER, so agent_sessions' policies still apply to it.
--    The user-id test reads the setting directly (a NULL test needs no uuid cast), evaluated
--    per row only for the rows the isolation policy and the index already narrowed.
CREATE FUNCTION public.app_user_sees_session(p_org uuid, p_session uuid) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT EXISTS (SELECT 1 FROM public.agent_sessions AS s
                      WHERE s.organization_id = p_org AND s.id = p_session) $$;
REVOKE EXECUTE ON FUNCTION public.app_user_sees_session(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.app_user_sees_session(uuid, uuid) TO arcdesk_tenant;
ALTER POLICY messages_user_scope ON public.messages
    USING (NULLIF(pg_catalog.current_setting('app.current_user_id', true), '') IS NULL
           OR public.app_user_sees_session(organization_id, session_id))
    WITH CHECK (NULLIF(pg_catalog.current_setting('app.current_user_id', true), '') IS NULL
                OR public.app_user_sees_session(organization_id, session_id));

-- 4. Open tasks of a desk by priority. `status IN (…)` compares enums, and enum equality is not
--    LEAKPROOF, so under RLS it cannot become an index condition ahead of the policy: the
--    tenant's query reads every task of the desk through tasks_org_assigned_status_idx and
--    filters status afterwards, then sorts. A partial index whose predicate is that status
--    list is chosen by predicate proof (no operator is evaluated early), and its order serves
--    ORDER BY priority DESC, created_at with LIMIT: the tenant stops after 50 index entries.
CREATE INDEX tasks_org_assigned_open_idx ON public.tasks
    (organization_id, assigned_to_id, priority DESC, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');
