-- 0004_row_level_security: tenant isolation for the role arcdesk_tenant.
--   * role arcdesk_tenant (NOLOGIN; application login roles are granted it), created only if
--     the cluster does not have it yet (roles are cluster-wide);
--   * current_org_id() / current_app_user_id(): the settings app.current_org_id and
--     app.current_user_id as uuid, NULL when unset or '' (so policies match no row, no error);
--   * RLS enabled on all 14 tables, without FORCE: the owner (who runs migrations, the seed and
--     the Quick Start SQL) bypasses it; the tenant role never does;
--   * one PERMISSIVE policy per table scoping every command by organization, plus RESTRICTIVE
--     per-user policies on agent_sessions and messages;
--   * the smallest grants that let the application work: append-only audit_logs and
--     cost_tracking, column-limited updates of organizations and api_keys, no TRUNCATE,
--     TRIGGER or REFERENCES (which RLS does not govern), no CREATE on any schema (on PostgreSQL
--     14 and older that means revoking the default CREATE of PUBLIC on schema public), nothing
--     on sequences; the views of 0005 are granted there.
-- The policies compare with (SELECT current_org_id()): a scalar subquery is planned as an
-- InitPlan evaluated once per query, not once per row, and leaves organization_id = $param
-- usable by the indexes that all start with organization_id.
-- The application must use SET LOCAL (or set_config(..., true)) inside its transaction:
-- a plain SET outlives the transaction and, behind a pooler, leaks to the next client.

-- ---------------------------------------------------------------------------------------------
-- Role
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    r record;
BEGIN
    SELECT rolsuper, rolbypassrls INTO r
      FROM pg_catalog.pg_roles WHERE rolname = 'arcdesk_tenant';
    IF NOT FOUND THEN
        CREATE ROLE arcdesk_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    ELSIF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role arcdesk_tenant already exists with SUPERUSER or BYPASSRLS: row-level security would not apply to it'
            USING HINT = 'ALTER ROLE arcdesk_tenant NOSUPERUSER NOBYPASSRLS, then migrate again.';
    END IF;

END
$$;

-- ---------------------------------------------------------------------------------------------
-- Setting helpers (plain SQL, STABLE, invoker rights)
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$ SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid $$;
COMMENT ON FUNCTION current_org_id() IS
    'The organization of the current tenant (setting app.current_org_id); NULL when unset or empty, so tenant policies match no row.';

CREATE FUNCTION current_app_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$ SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid $$;
COMMENT ON FUNCTION current_app_user_id() IS
    'The acting user (setting app.current_user_id); NULL when unset or empty (no per-user restriction).';

-- ---------------------------------------------------------------------------------------------
-- No CREATE for the tenant on schema public. PostgreSQL 14 and older grant CREATE on it to
-- PUBLIC (CVE-2018-1058), so every role, arcdesk_tenant included, could create tables and
-- functions next to the application's. When this migration may change that (it runs as the
-- schema's owner or a superuser), it revokes it, as PostgreSQL 15+ does by default, and notes
-- so in the comment of current_org_id(); the down migration reads that note and grants it back.
-- Otherwise it only warns.
-- ---------------------------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT pg_catalog.has_schema_privilege('public', 'public', 'CREATE') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace AS n
                WHERE n.nspname = 'public'
                  AND pg_catalog.pg_has_role(current_user, n.nspowner, 'USAGE'))
       OR (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        COMMENT ON FUNCTION current_org_id() IS
            'The organization of the current tenant (setting app.current_org_id); NULL when unset or empty, so tenant policies match no row. [arcdb:revoked-public-create: migration 0004 revoked CREATE ON SCHEMA public FROM PUBLIC; its down grants it back]';
        RAISE NOTICE 'revoked CREATE ON SCHEMA public FROM PUBLIC (the PostgreSQL 15+ default), so that arcdesk_tenant cannot create objects';
    ELSE
        RAISE WARNING 'PUBLIC may CREATE in schema public, so arcdesk_tenant may too'
            USING HINT = 'As the owner of schema public: REVOKE CREATE ON SCHEMA public FROM PUBLIC (the default since PostgreSQL 15).';
    END IF;
END
$$;

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
-- Tenant isolation: one permissive policy per table, reads and writes alike (USING for the
-- rows a command sees, WITH CHECK for the rows it writes, so a tenant can neither insert rows
-- for another organization nor move its rows there).
-- ---------------------------------------------------------------------------------------------
CREATE POLICY organizations_tenant_isolation ON organizations
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (id = (SELECT current_org_id()))
    WITH CHECK (id = (SELECT current_org_id()));
CREATE POLICY users_tenant_isolation ON users
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY desks_tenant_isolation ON desks
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY workflows_tenant_isolation ON workflows
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY tasks_tenant_isolation ON tasks
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY agent_sessions_tenant_isolation ON agent_sessions
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY messages_tenant_isolation ON messages
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY qa_reviews_tenant_isolation ON qa_reviews
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY delegations_tenant_isolation ON delegations
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY knowledge_bases_tenant_isolation ON knowledge_bases
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY data_sources_tenant_isolation ON data_sources
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY cost_tracking_tenant_isolation ON cost_tracking
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY api_keys_tenant_isolation ON api_keys
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));
CREATE POLICY audit_logs_tenant_isolation ON audit_logs
    AS PERMISSIVE FOR ALL TO arcdesk_tenant
    USING (organization_id = (SELECT current_org_id()))
    WITH CHECK (organization_id = (SELECT current_org_id()));

-- ---------------------------------------------------------------------------------------------
-- Per-user scope (RESTRICTIVE: AND-ed with the isolation policy, it can only narrow it).
-- When app.current_user_id is set, a user sees and writes only its own sessions and desk-only
-- sessions (user_id NULL), and only the messages of sessions it can see. Unset: no extra
-- restriction (service code acting for the whole organization).
-- ---------------------------------------------------------------------------------------------
CREATE POLICY agent_sessions_user_scope ON agent_sessions
    AS RESTRICTIVE FOR ALL TO arcdesk_tenant
    USING (user_id IS NULL
           OR (SELECT current_app_user_id()) IS NULL
           OR user_id = (SELECT current_app_user_id()))
    WITH CHECK (user_id IS NULL
                OR (SELECT current_app_user_id()) IS NULL
                OR user_id = (SELECT current_app_user_id()));
-- The subquery on agent_sessions is itself filtered by that table's policies (both of them).
CREATE POLICY messages_user_scope ON messages
    AS RESTRICTIVE FOR ALL TO arcdesk_tenant
    USING ((SELECT current_app_user_id()) IS NULL
           OR EXISTS (SELECT 1 FROM agent_sessions AS s
                       WHERE s.organization_id = messages.organization_id
                         AND s.id = messages.session_id))
    WITH CHECK ((SELECT current_app_user_id()) IS NULL
                OR EXISTS (SELECT 1 FROM agent_sessions AS s
                            WHERE s.organization_id = messages.organization_id
                              AND s.id = messages.session_id));

-- ---------------------------------------------------------------------------------------------
-- Grants
-- ---------------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO arcdesk_tenant;

GRANT SELECT, INSERT, UPDATE, DELETE ON
    users, desks, workflows, tasks, agent_sessions, messages, qa_reviews, delegations,
    knowledge_bases, data_sources
TO arcdesk_tenant;

-- organizations: a tenant reads its own row and may rename it or change its settings; it may
-- also bump last_task_number, which the tasks trigger does with the tenant's rights. Slug,
-- tier, limits and deletion belong to the platform.
GRANT SELECT ON organizations TO arcdesk_tenant;
GRANT UPDATE (name, settings, last_task_number) ON organizations TO arcdesk_tenant;

-- Append-only for tenants.
GRANT SELECT, INSERT ON audit_logs, cost_tracking TO arcdesk_tenant;

-- API keys: create and revoke, never rewrite a hash or un-revoke.
GRANT SELECT, INSERT ON api_keys TO arcdesk_tenant;
GRANT UPDATE (revoked_at, revoked_by_id, revocation_reason) ON api_keys TO arcdesk_tenant;

GRANT EXECUTE ON FUNCTION current_org_id(), current_app_user_id() TO arcdesk_tenant;
