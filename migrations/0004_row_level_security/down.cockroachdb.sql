-- 0004_row_level_security (down), CockroachDB variant: revoke the tenant's grants, drop the
-- policies, the column guards and the helpers, disable RLS, give PUBLIC back CREATE on schema
-- public. With IF EXISTS throughout, so an interrupted rollback can be run again.
-- The role arcdesk_tenant is kept: roles are cluster-wide, other databases of the cluster may
-- use it, and CockroachDB cannot make DROP ROLE conditional (no DDL in routines); after this it
-- holds nothing in this database. Drop it by hand once no database uses it:
--     DROP ROLE arcdesk_tenant;

REVOKE ALL ON
    organizations, users, desks, workflows, tasks, agent_sessions, messages, qa_reviews,
    delegations, knowledge_bases, data_sources, cost_tracking, api_keys, audit_logs
FROM arcdesk_tenant;
REVOKE USAGE ON SCHEMA public FROM arcdesk_tenant;

DROP TRIGGER IF EXISTS api_keys_guard_tenant_update ON api_keys;
DROP TRIGGER IF EXISTS organizations_guard_tenant_update ON organizations;
DROP FUNCTION IF EXISTS api_keys_guard_tenant_update();
DROP FUNCTION IF EXISTS organizations_guard_tenant_update();

DROP POLICY IF EXISTS messages_user_scope ON messages;
DROP POLICY IF EXISTS agent_sessions_user_scope ON agent_sessions;
DROP POLICY IF EXISTS audit_logs_tenant_isolation ON audit_logs;
DROP POLICY IF EXISTS api_keys_tenant_isolation ON api_keys;
DROP POLICY IF EXISTS cost_tracking_tenant_isolation ON cost_tracking;
DROP POLICY IF EXISTS data_sources_tenant_isolation ON data_sources;
DROP POLICY IF EXISTS knowledge_bases_tenant_isolation ON knowledge_bases;
DROP POLICY IF EXISTS delegations_tenant_isolation ON delegations;
DROP POLICY IF EXISTS qa_reviews_tenant_isolation ON qa_reviews;
DROP POLICY IF EXISTS messages_tenant_isolation ON messages;
DROP POLICY IF EXISTS agent_sessions_tenant_isolation ON agent_sessions;
DROP POLICY IF EXISTS tasks_tenant_isolation ON tasks;
DROP POLICY IF EXISTS workflows_tenant_isolation ON workflows;
DROP POLICY IF EXISTS desks_tenant_isolation ON desks;
DROP POLICY IF EXISTS users_tenant_isolation ON users;
DROP POLICY IF EXISTS organizations_tenant_isolation ON organizations;

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

GRANT CREATE ON SCHEMA public TO public;

DROP FUNCTION IF EXISTS message_session_visible(uuid, uuid);
DROP FUNCTION IF EXISTS current_app_user_id();
DROP FUNCTION IF EXISTS current_org_id();
