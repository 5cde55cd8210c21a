-- 0004_row_level_security, CockroachDB variant (25.3+): the same tenant isolation as up.sql
-- (read its header), in what CockroachDB documents (docs v26.2 row-level-security.md,
-- create-policy.md, create-role.md; cockroach issue 72766). What differs, and why:
--   * the role: CREATE ROLE IF NOT EXISTS, then a DO block that only checks it (CockroachDB
--     routines cannot run DDL); members of admin are never subject to RLS there;
--   * policies call current_org_id() / current_app_user_id() directly: policy expressions
--     cannot contain a subquery, so messages_user_scope asks message_session_visible(), an
--     invoker-rights SQL function whose query is itself filtered by agent_sessions' policies;
--   * no column privileges: the tenant gets UPDATE on organizations and api_keys as a whole, and
--     a BEFORE UPDATE trigger rejects (42501) a tenant's change to any other column than the
--     ones up.sql grants (organizations: name, settings, last_task_number; api_keys:
--     revoked_at, revoked_by_id, revocation_reason);
--   * CREATE on schema public is revoked from PUBLIC unconditionally (CockroachDB grants it by
--     default; DDL cannot be made conditional in a DO block), and the down grants it back;
--   * idempotent throughout (an interrupted run is re-run from the start): CREATE OR REPLACE
--     FUNCTION, CREATE POLICY IF NOT EXISTS, DROP TRIGGER IF EXISTS before CREATE TRIGGER.
-- As in up.sql the application sets app.current_org_id with SET LOCAL / set_config(…, true).

-- ---------------------------------------------------------------------------------------------
-- Role
-- ---------------------------------------------------------------------------------------------
CREATE ROLE IF NOT EXISTS arcdesk_tenant WITH NOLOGIN;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                WHERE rolname = 'arcdesk_tenant' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'role arcdesk_tenant already exists with SUPERUSER or BYPASSRLS: row-level security would not apply to it'
            USING HINT = 'ALTER ROLE arcdesk_tenant WITH NOBYPASSRLS (and revoke admin from it), then migrate again.';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Setting helpers (plain SQL, STABLE, invoker rights)
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION current_org_id() RETURNS uuid
    LANGUAGE sql STABLE
AS $$ SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid $$;
COMMENT ON FUNCTION current_org_id() IS
    'The organization of the current tenant (setting app.current_org_id); NULL when unset or empty, so tenant policies match no row. [arcdb:revoked-public-create: migration 0004 revoked CREATE ON SCHEMA public FROM PUBLIC; its down grants it back]';

CREATE OR REPLACE FUNCTION current_app_user_id() RETURNS uuid
    LANGUAGE sql STABLE
AS $$ SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid $$;
COMMENT ON FUNCTION current_app_user_id() IS
    'The acting user (setting app.current_user_id); NULL when unset or empty (no per-user restriction).';

-- Whether the session of a message is visible to the caller (runs with the caller's rights, so
-- agent_sessions' own policies decide). Stands in for the EXISTS subquery of up.sql.
CREATE OR REPLACE FUNCTION message_session_visible(p_organization_id uuid, p_session_id uuid)
    RETURNS boolean
    LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM public.agent_sessions AS s
                    WHERE s.organization_id = p_organization_id AND s.id = p_session_id)
$$;
COMMENT ON FUNCTION message_session_visible(uuid, uuid) IS
    'messages_user_scope policy helper: is the message''s session visible to the current role (through agent_sessions'' policies)?';

-- ---------------------------------------------------------------------------------------------
-- No CREATE for the tenant on schema public.
-- ---------------------------------------------------------------------------------------------
REVOKE CREATE ON SCHEMA public FROM public;

-- ---------------------------------------------------------------------------------------------
-- Enable RLS (no FORCE: the owner bypasses it on purpose)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE organizations   ENABLE ROW LEVEL SECURITY;
ALTER TABLE users           ENABLE ROW LEVEL SECURITY;
ALTER TABLE desks           ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflows       ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks           ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_sessions  ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages        ENABLE ROW LEVEL SECURITY;
ALTER TABLE qa_reviews      ENABLE ROW LEVEL SECURITY;
ALTER TABLE delegations     ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_bases ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_sources    ENABLE ROW LEVEL SECURITY;
ALTER TABLE cost_tracking   ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys        ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs      ENABLE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------------------------
-- Tenant isolation: one permissive policy per table, reads and writes alike.
-- ---------------------------------------------------------------------------------------------
CREATE POLICY IF NOT EXISTS organizations_tenant_isolation ON organizations
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (id = current_org_id())
    WITH CHECK (id = current_org_id());
CREATE POLICY IF NOT EXISTS users_tenant_isolation ON users
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS desks_tenant_isolation ON desks
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS workflows_tenant_isolation ON workflows
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS tasks_tenant_isolation ON tasks
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS agent_sessions_tenant_isolation ON agent_sessions
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS messages_tenant_isolation ON messages
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS qa_reviews_tenant_isolation ON qa_reviews
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS delegations_tenant_isolation ON delegations
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS knowledge_bases_tenant_isolation ON knowledge_bases
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS data_sources_tenant_isolation ON data_sources
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS cost_tracking_tenant_isolation ON cost_tracking
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS api_keys_tenant_isolation ON api_keys
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());
CREATE POLICY IF NOT EXISTS audit_logs_tenant_isolation ON audit_logs
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = current_org_id())
    WITH CHECK (organization_id = current_org_id());

-- ---------------------------------------------------------------------------------------------
-- Per-user scope (RESTRICTIVE: AND-ed with the isolation policy, it can only narrow it).
-- ---------------------------------------------------------------------------------------------
CREATE POLICY IF NOT EXISTS agent_sessions_user_scope ON agent_sessions
    AS RESTRICTIVE FOR ALL TO arcdesk_tenant
    USING (user_id IS NULL
           OR current_app_user_id() IS NULL
           OR user_id = current_app_user_id())
    WITH CHECK (user_id IS NULL
                OR current_app_user_id() IS NULL
                OR user_id = current_app_user_id());
CREATE POLICY IF NOT EXISTS messages_user_scope ON messages
    AS RESTRICTIVE FOR ALL TO arcdesk_tenant
    USING (current_app_user_id() IS NULL
           OR message_session_visible(organization_id, session_id))
    WITH CHECK (current_app_user_id() IS NULL
                OR message_session_visible(organization_id, session_id));

-- ---------------------------------------------------------------------------------------------
-- Column guards standing in for up.sql's column privileges: a member of arcdesk_tenant may
-- change only the columns up.sql grants it. Named so that they fire before the
-- *_set_updated_at triggers (CockroachDB runs BEFORE triggers in name order).
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
-- Grants
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO arcdesk_tenant;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    users, desks, workflows, tasks, agent_sessions, messages, qa_reviews, delegations,
    knowledge_bases, data_sources
TO arcdesk_tenant;

-- organizations and api_keys: UPDATE on the table, narrowed by the guards above.
GRANT SELECT, UPDATE ON organizations TO arcdesk_tenant;

-- Append-only for tenants.
GRANT SELECT, INSERT ON audit_logs, cost_tracking TO arcdesk_tenant;

GRANT SELECT, INSERT, UPDATE ON api_keys TO arcdesk_tenant;

GRANT EXECUTE ON FUNCTION current_org_id(), current_app_user_id(), message_session_visible(uuid, uuid)
TO arcdesk_tenant;
