-- 0004_row_level_security (down): revoke the tenant's grants, drop the policies, disable RLS,
-- give PUBLIC back CREATE on schema public if the up took it (PostgreSQL 14 and older), drop
-- the two setting helpers, and drop the role arcdesk_tenant unless another database of the
-- cluster still uses it.

-- Grants (REVOKE ALL on a table also revokes its column privileges).
REVOKE ALL ON
    organizations, users, desks, workflows, tasks, agent_sessions, messages, qa_reviews,
    delegations, knowledge_bases, data_sources, cost_tracking, api_keys, audit_logs
FROM arcdesk_tenant;
REVOKE USAGE ON SCHEMA public FROM arcdesk_tenant;

-- Policies.
DROP POLICY messages_user_scope ON messages;
DROP POLICY agent_sessions_user_scope ON agent_sessions;
DROP POLICY audit_logs_tenant_isolation ON audit_logs;
DROP POLICY api_keys_tenant_isolation ON api_keys;
DROP POLICY cost_tracking_tenant_isolation ON cost_tracking;
DROP POLICY data_sources_tenant_isolation ON data_sources;
DROP POLICY knowledge_bases_tenant_isolation ON knowledge_bases;
DROP POLICY delegations_tenant_isolation ON delegations;
DROP POLICY qa_reviews_tenant_isolation ON qa_reviews;
DROP POLICY messages_tenant_isolation ON messages;
DROP POLICY agent_sessions_tenant_isolation ON agent_sessions;
DROP POLICY tasks_tenant_isolation ON tasks;
DROP POLICY workflows_tenant_isolation ON workflows;
DROP POLICY desks_tenant_isolation ON desks;
DROP POLICY users_tenant_isolation ON users;
DROP POLICY organizations_tenant_isolation ON organizations;

ALTER TABLE audit_logs      DISABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys        DISABLE ROW LEVEL SECURITY;
ALTER TABLE cost_tracking   DISABLE ROW LEVEL SECURITY;
ALTER TABLE data_sources    DISABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_bases DISABLE ROW LEVEL SECURITY;
ALTER TABLE delegations     DISABLE ROW LEVEL SECURITY;
ALTER TABLE qa_reviews      DISABLE ROW LEVEL SECURITY;
ALTER TABLE messages        DISABLE ROW LEVEL SECURITY;
ALTER TABLE agent_sessions  DISABLE ROW LEVEL SECURITY;
ALTER TABLE tasks           DISABLE ROW LEVEL SECURITY;
ALTER TABLE workflows       DISABLE ROW LEVEL SECURITY;
ALTER TABLE desks           DISABLE ROW LEVEL SECURITY;
ALTER TABLE users           DISABLE ROW LEVEL SECURITY;
ALTER TABLE organizations   DISABLE ROW LEVEL SECURITY;

-- Give PUBLIC back CREATE on schema public if the up migration took it (PostgreSQL 14 and older;
-- see the note it left in the comment of current_org_id()).
DO $$
BEGIN
    IF pg_catalog.obj_description('public.current_org_id()'::pg_catalog.regprocedure, 'pg_proc')
           LIKE '%[arcdb:revoked-public-create:%' THEN
        GRANT CREATE ON SCHEMA public TO PUBLIC;
    END IF;
END
$$;

DROP FUNCTION current_app_user_id();
DROP FUNCTION current_org_id();

-- The role. Roles are cluster-wide, but grants, policies and owned objects live per database:
-- several databases of one cluster (staging, tests, other tenants of a shared server) may each
-- have run this migration against the same arcdesk_tenant. DROP ROLE fails while any database
-- still references the role, and DROP OWNED BY only cleans the current database (plus grants
-- on shared objects such as CONNECT on databases, which is why it must not run while other
-- databases still use the role). So: look in pg_shdepend for references from other databases
-- (or grants on another database); if there are none, DROP OWNED BY here (whatever else was
-- granted to the role in this database, or created by it; skipped when nothing is left) and
-- DROP ROLE; otherwise keep the role and say so. Role memberships (login roles granted
-- arcdesk_tenant) are not dependencies: dropping the role removes them.
DO $$
DECLARE
    role_oid oid;
    this_db  oid;
    users_elsewhere text;
BEGIN
    SELECT oid INTO role_oid FROM pg_catalog.pg_roles WHERE rolname = 'arcdesk_tenant';
    IF role_oid IS NULL THEN
        RETURN;
    END IF;
    SELECT oid INTO this_db FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database();

    SELECT pg_catalog.string_agg(DISTINCT coalesce(d.datname, 'shared object ' || s.classid::regclass::text), ', ')
      INTO users_elsewhere
      FROM pg_catalog.pg_shdepend AS s
      LEFT JOIN pg_catalog.pg_database AS d
             ON d.oid = CASE WHEN s.dbid = 0 AND s.classid = 'pg_catalog.pg_database'::regclass
                             THEN s.objid ELSE s.dbid END
     WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
       AND s.refobjid = role_oid
       AND s.deptype <> 'p'
       AND NOT (s.dbid = this_db)
       AND NOT (s.dbid = 0 AND s.classid = 'pg_catalog.pg_database'::regclass
                AND s.objid = this_db AND s.deptype = 'a');

    IF users_elsewhere IS NOT NULL THEN
        RAISE NOTICE 'role arcdesk_tenant kept: still referenced by %', users_elsewhere;
        RETURN;
    END IF;

    -- DROP OWNED BY needs the privileges of the role, which a non-superuser migrator with
    -- CREATEROLE does not have on PostgreSQL 16+ (it only gets ADMIN OPTION on roles it
    -- creates); so run it only when something of the role is left in this database.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend AS s
                WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
                  AND s.refobjid = role_oid
                  AND s.deptype <> 'p'
                  AND (s.dbid = this_db
                       OR (s.dbid = 0 AND s.classid = 'pg_catalog.pg_database'::regclass
                           AND s.objid = this_db))) THEN
        DROP OWNED BY arcdesk_tenant;
    END IF;
    DROP ROLE arcdesk_tenant;
END
$$;
