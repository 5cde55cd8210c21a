-- arcdb: embedded copy of ../shared/fixtures/arcdesk-001/schema.sql (the ArcDesk database as
-- deployed by Alembic revision 001_multi_tenant), compiled into arcdb as the schema `arcdb adopt`
-- recognizes. Keep it byte-identical below this header (tests/adopt.rs checks it).
-- arcdb: end of header
-- The ArcDesk database as it runs today: schema version 001_multi_tenant, deployed by the
-- application's Alembic migrations (seed 000: "Schema Version: 001_multi_tenant", PostgreSQL,
-- application connecting as doadmin). This is the database `arcdb adopt` must take over, and the
-- tables, columns, types and index names the ArcDesk application reads and writes.
-- Reconstructed from seed 000 and the application's public Alembic revision 001_multi_tenant;
-- details that neither states are marked "-- assumed:".
--
-- Apply on an empty database as a superuser:   psql -X -v ON_ERROR_STOP=1 -1 -f schema.sql
-- (seed 000 is ../../seeds/000_81be830df0e0063c.txt).
--
-- Where each detail comes from:
--   * Seed 000: the 14 tables; the 7 enum names and the values it quotes; the columns its Quick Start
--     inserts and returns; "50+" indexes; 9 triggers (updated_at, desk hierarchy path, billing month);
--     RLS on all 14 tables keyed on app.current_org_id, "cascading through foreign key
--     relationships"; the MVs mv_org_cost_summary and mv_desk_performance with the columns its
--     Analytics SQL selects; and doadmin as the role the application connects as.
--   * Where the seed is silent, the project it summarises, github anxzik/ArcDeskAI:
--     agentdesk/backend/migrations/versions/001_create_multi_tenant_schema.py (Alembic revision
--     001_multi_tenant) and agentdesk/backend/app/database/init_scripts.sql. These give the other
--     columns and types, the other enum values, the policy expression, the index and trigger names.
--     Next come seeds 001 and 004, then the most plausible choice.
--   Every detail not taken from seed 000 is marked "-- assumed:".
-- The seed's security weaknesses are kept on purpose. RLS is not FORCEd, the policies are TO PUBLIC
-- with USING only, the application connects as the table owner, the MVs have no RLS, FKs are not
-- scoped by organization, and there are global unique keys. This file is a baseline, not a fix.

-- ---------------------------------------------------------------------------------------------
-- Roles
-- ---------------------------------------------------------------------------------------------
-- assumed: doadmin stands in for DigitalOcean's managed admin user. The seed deploys as doadmin, and
-- its Python examples connect as it. Here it is not a superuser and owns every object below.
-- assumed: the seed has no tenant-facing role (its "Next Steps" still say "Create database roles").
-- app_user is added as the application role, with the grants such a role would plausibly have:
-- USAGE on public; SELECT/INSERT/UPDATE/DELETE on the 14 tables; USAGE/SELECT on the task_number
-- sequence (needed to INSERT a task); and SELECT on the 2 MVs.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'doadmin') THEN
    CREATE ROLE doadmin LOGIN CREATEDB CREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_user') THEN
    CREATE ROLE app_user LOGIN;
  END IF;
END $$;
-- assumed: on DigitalOcean, doadmin owns the database it creates and so can create objects in
-- public. Here it gets a grant instead.
GRANT USAGE, CREATE ON SCHEMA public TO doadmin;
GRANT USAGE ON SCHEMA public TO app_user;
SET ROLE doadmin;

-- ---------------------------------------------------------------------------------------------
-- 7 enum types. The seed quotes these values: roletype executive, engineer, qa_engineer,
-- senior_engineer; llmprovider anthropic, openai, google; subscriptiontier professional;
-- taskpriority high.
-- assumed: the complete value lists, taken from upstream 001_multi_tenant (a superset of the seed's).
-- ---------------------------------------------------------------------------------------------
CREATE TYPE roletype AS ENUM ('executive', 'senior_engineer', 'engineer', 'qa_engineer',
    'security_engineer', 'researcher', 'writer', 'editor', 'support_l1', 'support_l2', 'support_l3',
    'custom');
CREATE TYPE taskstatus AS ENUM ('pending', 'assigned', 'in_progress', 'blocked', 'in_review',
    'approved', 'rejected', 'completed', 'cancelled');
CREATE TYPE taskpriority AS ENUM ('critical', 'high', 'medium', 'low');
CREATE TYPE qastagestatus AS ENUM ('pending', 'in_progress', 'passed', 'failed', 'skipped');
CREATE TYPE llmprovider AS ENUM ('anthropic', 'openai', 'google', 'local', 'azure', 'custom');
CREATE TYPE subscriptiontier AS ENUM ('free', 'starter', 'professional', 'enterprise');
CREATE TYPE auditaction AS ENUM ('create', 'update', 'delete', 'access', 'execute', 'delegate',
    'approve', 'reject');

-- ---------------------------------------------------------------------------------------------
-- 14 tables
-- assumed (all tables): id has a server-side default gen_random_uuid(). The Quick Start inserts
-- without an id and reads it back with RETURNING id; the upstream migration had no server default.
-- assumed (all tables): the columns the seed does not name follow upstream 001_multi_tenant,
-- including which tables carry organization_id. Five tables have none: agent_sessions, messages,
-- qa_reviews, delegations and data_sources. For these the seed's "cascading policies through
-- foreign key relationships" apply (see the RLS section).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE organizations (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                    VARCHAR(255) NOT NULL,
    slug                    VARCHAR(100) NOT NULL UNIQUE,      -- assumed: unique across all tenants (upstream)
    subscription_tier       subscriptiontier NOT NULL DEFAULT 'free',
    subscription_status     VARCHAR(50) DEFAULT 'active',
    subscription_expires_at TIMESTAMPTZ,
    max_desks               INTEGER DEFAULT 10,
    max_tasks_per_month     INTEGER DEFAULT 1000,
    max_llm_cost_per_month  NUMERIC(10,2) DEFAULT 100.00,
    settings                JSONB DEFAULT '{}',
    meta_data               JSONB DEFAULT '{}',
    created_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    deleted_at              TIMESTAMPTZ
);

CREATE TABLE users (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id   UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email             VARCHAR(255) NOT NULL UNIQUE,            -- assumed: unique across all tenants (upstream)
    username          VARCHAR(100) NOT NULL,
    full_name         VARCHAR(255),
    password_hash     VARCHAR(255),
    avatar_url        VARCHAR(500),
    is_active         BOOLEAN DEFAULT true,
    is_admin          BOOLEAN DEFAULT false,
    is_superuser      BOOLEAN DEFAULT false,
    last_login_at     TIMESTAMPTZ,
    email_verified_at TIMESTAMPTZ,
    preferences       JSONB DEFAULT '{}',
    created_at        TIMESTAMPTZ DEFAULT NOW(),
    updated_at        TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE desks (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    desk_id         VARCHAR(100) NOT NULL,                     -- the seed's text slug, e.g. 'senior-eng-001'
    title           VARCHAR(255) NOT NULL,
    role            roletype NOT NULL,
    -- assumed: the hierarchy columns reports_to_id, hierarchy_level and hierarchy_path (upstream
    -- names). The seed only says "AI agent desks with hierarchy".
    reports_to_id   UUID REFERENCES desks(id) ON DELETE SET NULL,
    hierarchy_level INTEGER DEFAULT 1,
    hierarchy_path  VARCHAR(500),
    llm_provider    llmprovider NOT NULL,
    llm_model       VARCHAR(100) NOT NULL,
    llm_config      JSONB DEFAULT '{}',
    capabilities    VARCHAR[] DEFAULT '{}',
    skills          JSONB DEFAULT '{}',
    is_active       BOOLEAN DEFAULT true,
    status          VARCHAR(50) DEFAULT 'available',
    system_prompt   TEXT,
    instructions    TEXT,
    meta_data       JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW(),
    deleted_at      TIMESTAMPTZ,
    CONSTRAINT uq_org_desk_id UNIQUE (organization_id, desk_id)
);

CREATE TABLE workflows (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    stages          JSONB NOT NULL,
    transitions     JSONB DEFAULT '{}',
    qa_enabled      BOOLEAN DEFAULT false,
    qa_stages       JSONB DEFAULT '[]',
    is_active       BOOLEAN DEFAULT true,
    is_default      BOOLEAN DEFAULT false,
    meta_data       JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE tasks (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id     UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    -- assumed: task_number is a SERIAL, global across tenants. The Quick Start reads it back from
    -- RETURNING, and none of the seed's 9 triggers numbers tasks. (Upstream: a plain INTEGER that
    -- nothing fills in.)
    task_number         SERIAL,
    title               VARCHAR(500) NOT NULL,
    description         TEXT,
    created_by_id       UUID REFERENCES users(id) ON DELETE SET NULL,
    assigned_to_id      UUID REFERENCES desks(id) ON DELETE SET NULL,   -- the Quick Start passes a desk uuid
    delegated_from_id   UUID REFERENCES desks(id) ON DELETE SET NULL,
    parent_task_id      UUID REFERENCES tasks(id) ON DELETE CASCADE,
    status              taskstatus NOT NULL DEFAULT 'pending',
    priority            taskpriority NOT NULL DEFAULT 'medium',
    workflow_id         UUID REFERENCES workflows(id) ON DELETE SET NULL,
    current_stage       VARCHAR(100),
    due_date            TIMESTAMPTZ,
    estimated_hours     NUMERIC(8,2),
    actual_hours        NUMERIC(8,2),
    acceptance_criteria JSONB DEFAULT '[]',
    deliverables        JSONB DEFAULT '[]',
    tags                VARCHAR[] DEFAULT '{}',
    context             JSONB DEFAULT '{}',
    meta_data           JSONB DEFAULT '{}',
    result              JSONB,
    output_artifacts    JSONB DEFAULT '[]',
    created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at          TIMESTAMPTZ DEFAULT NOW(),
    started_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    CONSTRAINT uq_org_task_number UNIQUE (organization_id, task_number)
);

CREATE TABLE agent_sessions (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    desk_id          UUID NOT NULL REFERENCES desks(id) ON DELETE CASCADE,   -- tenant reached via desks
    task_id          UUID REFERENCES tasks(id) ON DELETE CASCADE,
    session_type     VARCHAR(50),
    status           VARCHAR(50) DEFAULT 'active',
    conversation_id  UUID,
    message_count    INTEGER DEFAULT 0,
    input_tokens     BIGINT DEFAULT 0,
    output_tokens    BIGINT DEFAULT 0,
    total_cost       NUMERIC(10,6) DEFAULT 0.0,
    started_at       TIMESTAMPTZ DEFAULT NOW(),
    completed_at     TIMESTAMPTZ,
    duration_seconds INTEGER,
    result           JSONB,
    error            TEXT
);

CREATE TABLE messages (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id    UUID NOT NULL REFERENCES agent_sessions(id) ON DELETE CASCADE,  -- tenant via session -> desk
    role          VARCHAR(50) NOT NULL,
    content       TEXT NOT NULL,
    meta_data     JSONB DEFAULT '{}',
    tool_calls    JSONB,
    tool_results  JSONB,
    input_tokens  INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    cost          NUMERIC(10,6) DEFAULT 0.0,
    created_at    TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE qa_reviews (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id          UUID NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,     -- tenant via tasks
    stage_name       VARCHAR(100) NOT NULL,
    stage_order      INTEGER DEFAULT 1,
    review_type      VARCHAR(50),
    reviewer_desk_id UUID REFERENCES desks(id) ON DELETE SET NULL,
    reviewer_type    VARCHAR(50),
    status           qastagestatus NOT NULL DEFAULT 'pending',
    score            NUMERIC(5,2),
    passed           BOOLEAN,
    findings         JSONB DEFAULT '[]',
    feedback         TEXT,
    recommendations  JSONB DEFAULT '[]',
    metrics          JSONB DEFAULT '{}',
    created_at       TIMESTAMPTZ DEFAULT NOW(),
    started_at       TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ
);

CREATE TABLE delegations (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id      UUID NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,         -- tenant via tasks
    from_desk_id UUID NOT NULL REFERENCES desks(id) ON DELETE CASCADE,
    to_desk_id   UUID NOT NULL REFERENCES desks(id) ON DELETE CASCADE,
    reason       TEXT,
    instructions TEXT,
    context      JSONB DEFAULT '{}',
    status       VARCHAR(50) DEFAULT 'pending',
    response     TEXT,
    completed_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE knowledge_bases (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id     UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                VARCHAR(255) NOT NULL,
    description         TEXT,
    embedding_model     VARCHAR(100),
    vector_store_config JSONB DEFAULT '{}',                   -- assumed: no pgvector column (seed names none)
    is_active           BOOLEAN DEFAULT true,
    meta_data           JSONB DEFAULT '{}',
    created_at          TIMESTAMPTZ DEFAULT NOW(),
    updated_at          TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE data_sources (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    knowledge_base_id UUID NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,  -- tenant via knowledge_bases
    name              VARCHAR(255) NOT NULL,
    source_type       VARCHAR(50) NOT NULL,
    uri               VARCHAR(1000) NOT NULL,
    sync_enabled      BOOLEAN DEFAULT true,
    sync_frequency    VARCHAR(50),
    last_synced_at    TIMESTAMPTZ,
    credentials       JSONB,                                   -- stored in clear (upstream)
    document_count    INTEGER DEFAULT 0,
    total_size_bytes  BIGINT DEFAULT 0,
    meta_data         JSONB DEFAULT '{}',
    created_at        TIMESTAMPTZ DEFAULT NOW(),
    updated_at        TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE cost_tracking (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    desk_id         UUID REFERENCES desks(id) ON DELETE SET NULL,
    task_id         UUID REFERENCES tasks(id) ON DELETE SET NULL,
    session_id      UUID REFERENCES agent_sessions(id) ON DELETE SET NULL,
    provider        llmprovider NOT NULL,
    model           VARCHAR(100) NOT NULL,
    input_tokens    BIGINT DEFAULT 0,
    output_tokens   BIGINT DEFAULT 0,
    total_tokens    BIGINT DEFAULT 0,
    input_cost      NUMERIC(10,6) DEFAULT 0.0,
    output_cost     NUMERIC(10,6) DEFAULT 0.0,
    total_cost      NUMERIC(10,6) DEFAULT 0.0,
    meta_data       JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- assumed: billing_month is VARCHAR(7) 'YYYY-MM' (upstream), filled in by trigger_set_billing_month.
    billing_month   VARCHAR(7) NOT NULL
);

CREATE TABLE audit_logs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id) ON DELETE SET NULL,
    desk_id         UUID REFERENCES desks(id) ON DELETE SET NULL,
    actor_type      VARCHAR(50) NOT NULL,
    action          auditaction NOT NULL,
    resource_type   VARCHAR(100) NOT NULL,
    resource_id     UUID,
    description     TEXT,
    changes         JSONB,
    meta_data       JSONB DEFAULT '{}',
    ip_address      VARCHAR(45),
    user_agent      VARCHAR(500),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE api_keys (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    key_hash        VARCHAR(255) NOT NULL UNIQUE,             -- assumed: unique across all tenants (upstream)
    key_prefix      VARCHAR(20) NOT NULL,
    scopes          VARCHAR[] DEFAULT '{}',
    is_active       BOOLEAN DEFAULT true,
    expires_at      TIMESTAMPTZ,
    last_used_at    TIMESTAMPTZ,
    usage_count     BIGINT DEFAULT 0,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

-- ---------------------------------------------------------------------------------------------
-- Indexes: the seed says 50+ (FKs, frequently queried columns, time-based queries, org scoping).
-- assumed: the 43 indexes of upstream 001_multi_tenant, plus the 11 from upstream init_scripts.sql
-- that build. Skipped: idx_org_metadata_gin, idx_task_metadata_gin and idx_message_metadata_gin
-- name a column "metadata" that does not exist (it is meta_data), and idx_tasks_overdue uses NOW()
-- in its predicate. That makes 54 explicit indexes, plus the PKs, unique keys and MV indexes.
-- ---------------------------------------------------------------------------------------------
CREATE INDEX idx_org_slug ON organizations (slug);
CREATE INDEX idx_org_created ON organizations (created_at);
CREATE INDEX idx_org_name ON organizations (name);
CREATE INDEX idx_user_org ON users (organization_id);
CREATE INDEX idx_user_email ON users (email);
CREATE INDEX idx_desk_org ON desks (organization_id);
CREATE INDEX idx_desk_reports_to ON desks (reports_to_id);
CREATE INDEX idx_desk_hierarchy ON desks (hierarchy_path);
CREATE INDEX idx_desk_role ON desks (role);
CREATE INDEX idx_workflow_org ON workflows (organization_id);
CREATE INDEX idx_workflow_active ON workflows (is_active);
CREATE INDEX idx_task_org ON tasks (organization_id);
CREATE INDEX idx_task_assigned ON tasks (assigned_to_id);
CREATE INDEX idx_task_status ON tasks (status);
CREATE INDEX idx_task_priority ON tasks (priority);
CREATE INDEX idx_task_created ON tasks (created_at);
CREATE INDEX idx_task_parent ON tasks (parent_task_id);
CREATE INDEX idx_session_desk ON agent_sessions (desk_id);
CREATE INDEX idx_session_task ON agent_sessions (task_id);
CREATE INDEX idx_session_started ON agent_sessions (started_at);
CREATE INDEX idx_message_session ON messages (session_id);
CREATE INDEX idx_message_created ON messages (created_at);
CREATE INDEX idx_qa_task ON qa_reviews (task_id);
CREATE INDEX idx_qa_status ON qa_reviews (status);
CREATE INDEX idx_qa_reviewer ON qa_reviews (reviewer_desk_id);
CREATE INDEX idx_delegation_task ON delegations (task_id);
CREATE INDEX idx_delegation_from ON delegations (from_desk_id);
CREATE INDEX idx_delegation_to ON delegations (to_desk_id);
CREATE INDEX idx_delegation_created ON delegations (created_at);
CREATE INDEX idx_kb_org ON knowledge_bases (organization_id);
CREATE INDEX idx_ds_kb ON data_sources (knowledge_base_id);
CREATE INDEX idx_ds_type ON data_sources (source_type);
CREATE INDEX idx_cost_org_month ON cost_tracking (organization_id, billing_month);
CREATE INDEX idx_cost_desk ON cost_tracking (desk_id);
CREATE INDEX idx_cost_task ON cost_tracking (task_id);
CREATE INDEX idx_cost_created ON cost_tracking (created_at);
CREATE INDEX idx_audit_org_created ON audit_logs (organization_id, created_at);
CREATE INDEX idx_audit_user ON audit_logs (user_id);
CREATE INDEX idx_audit_desk ON audit_logs (desk_id);
CREATE INDEX idx_audit_action ON audit_logs (action);
CREATE INDEX idx_audit_resource ON audit_logs (resource_type, resource_id);
CREATE INDEX idx_apikey_org ON api_keys (organization_id);
CREATE INDEX idx_apikey_hash ON api_keys (key_hash);
CREATE INDEX idx_org_settings_gin ON organizations USING GIN (settings);
CREATE INDEX idx_desk_llm_config_gin ON desks USING GIN (llm_config);
CREATE INDEX idx_desk_skills_gin ON desks USING GIN (skills);
CREATE INDEX idx_task_context_gin ON tasks USING GIN (context);
CREATE INDEX idx_desks_active ON desks (organization_id, is_active) WHERE is_active = true;
CREATE INDEX idx_tasks_active ON tasks (organization_id, status) WHERE status NOT IN ('completed', 'cancelled');
CREATE INDEX idx_tasks_org_status_priority ON tasks (organization_id, status, priority);
CREATE INDEX idx_sessions_desk_date ON agent_sessions (desk_id, started_at DESC);
CREATE INDEX idx_cost_org_month_provider ON cost_tracking (organization_id, billing_month, provider);
CREATE INDEX idx_tasks_title_fts ON tasks USING GIN (to_tsvector('english', title));
CREATE INDEX idx_tasks_description_fts ON tasks USING GIN (to_tsvector('english', description));

-- ---------------------------------------------------------------------------------------------
-- 9 triggers. The seed names three kinds: updated_at, desk hierarchy path, and billing month.
-- assumed: updated_at is maintained on the 7 tables that upstream's init_scripts.sql covers, so
-- 7 + 1 + 1 = 9. Upstream's track_session_cost and calculate_session_duration, which would make
-- 10, are left out because the seed does not list them. The billing-month trigger stands in for
-- "Cost tracking automatically tagged by month".
-- assumed: the functions are SECURITY INVOKER with no SET search_path, as upstream writes them.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION update_updated_at_column() RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- assumed: as upstream. The path is a '/'-joined chain of desk_id slugs and the top level is 1.
-- The parent is looked up under the caller's RLS; descendants are not re-pathed.
CREATE FUNCTION update_desk_hierarchy_path() RETURNS TRIGGER AS $$
DECLARE
    parent_path  TEXT;
    parent_level INTEGER;
BEGIN
    IF NEW.reports_to_id IS NULL THEN
        NEW.hierarchy_path = NEW.desk_id;
        NEW.hierarchy_level = 1;
    ELSE
        SELECT hierarchy_path, hierarchy_level INTO parent_path, parent_level
        FROM desks WHERE id = NEW.reports_to_id;
        NEW.hierarchy_path = parent_path || '/' || NEW.desk_id;
        NEW.hierarchy_level = parent_level + 1;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- assumed: billing_month = TO_CHAR(created_at, 'YYYY-MM'), the format upstream uses.
CREATE FUNCTION set_billing_month() RETURNS TRIGGER AS $$
BEGIN
    NEW.billing_month = TO_CHAR(COALESCE(NEW.created_at, NOW()), 'YYYY-MM');
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trigger_organizations_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_desks_updated_at BEFORE UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_tasks_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_workflows_updated_at BEFORE UPDATE ON workflows
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_knowledge_bases_updated_at BEFORE UPDATE ON knowledge_bases
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_data_sources_updated_at BEFORE UPDATE ON data_sources
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER trigger_desk_hierarchy BEFORE INSERT OR UPDATE OF reports_to_id ON desks
    FOR EACH ROW EXECUTE FUNCTION update_desk_hierarchy_path();
CREATE TRIGGER trigger_set_billing_month BEFORE INSERT OR UPDATE OF created_at ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION set_billing_month();

-- ---------------------------------------------------------------------------------------------
-- Row-level security. Per the seed, all 14 tables have RLS, access is controlled through the
-- app.current_org_id session variable, and policies cascade through foreign keys.
-- assumed: ENABLE only, never FORCE, so the owner (doadmin, the seed's connection role) bypasses
-- every policy.
-- assumed: one policy per table, FOR ALL, TO PUBLIC, USING only (so USING is also the insert and
-- update check). The expression is upstream's
-- `current_setting('app.current_org_id', true)::UUID`: unset gives NULL and no rows, '' gives
-- an error.
-- assumed: the policy names for the 9 tables that carry organization_id are upstream's. Upstream
-- has no policy on agent_sessions, messages, qa_reviews, delegations or data_sources (deny-all);
-- the seed says all 14 have policies, so those 5 get the seed's cascading form through their FK
-- parent.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE organizations   ENABLE ROW LEVEL SECURITY;
ALTER TABLE users           ENABLE ROW LEVEL SECURITY;
ALTER TABLE desks           ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks           ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_sessions  ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages        ENABLE ROW LEVEL SECURITY;
ALTER TABLE qa_reviews      ENABLE ROW LEVEL SECURITY;
ALTER TABLE delegations     ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflows       ENABLE ROW LEVEL SECURITY;
ALTER TABLE knowledge_bases ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_sources    ENABLE ROW LEVEL SECURITY;
ALTER TABLE cost_tracking   ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs      ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys        ENABLE ROW LEVEL SECURITY;

CREATE POLICY org_isolation_policy ON organizations
    USING (id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY user_org_isolation ON users
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY desk_org_isolation ON desks
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY task_org_isolation ON tasks
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY workflow_org_isolation ON workflows
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY kb_org_isolation ON knowledge_bases
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY cost_org_isolation ON cost_tracking
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY audit_org_isolation ON audit_logs
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
CREATE POLICY apikey_org_isolation ON api_keys
    USING (organization_id = current_setting('app.current_org_id', true)::UUID);
-- cascading policies (assumed: the form and names; the seed only says "cascading")
CREATE POLICY session_org_isolation ON agent_sessions
    USING (desk_id IN (SELECT d.id FROM desks d
                       WHERE d.organization_id = current_setting('app.current_org_id', true)::UUID));
CREATE POLICY message_org_isolation ON messages
    USING (session_id IN (SELECT s.id FROM agent_sessions s JOIN desks d ON d.id = s.desk_id
                          WHERE d.organization_id = current_setting('app.current_org_id', true)::UUID));
CREATE POLICY qa_org_isolation ON qa_reviews
    USING (task_id IN (SELECT t.id FROM tasks t
                       WHERE t.organization_id = current_setting('app.current_org_id', true)::UUID));
CREATE POLICY delegation_org_isolation ON delegations
    USING (task_id IN (SELECT t.id FROM tasks t
                       WHERE t.organization_id = current_setting('app.current_org_id', true)::UUID));
CREATE POLICY ds_org_isolation ON data_sources
    USING (knowledge_base_id IN (SELECT k.id FROM knowledge_bases k
                                 WHERE k.organization_id = current_setting('app.current_org_id', true)::UUID));

-- ---------------------------------------------------------------------------------------------
-- 2 materialized views. The columns are exactly those the seed's Analytics SQL selects, plus the
-- keys it filters on or that a unique index needs. They are owned by doadmin, so a REFRESH reads
-- every tenant's rows.
-- assumed: the definitions. Upstream's MVs have other columns (transaction_count,
-- avg_cost_per_request, ...), so the seed's columns are derived here.
-- assumed: like upstream, tasks and costs are joined to a desk by desk id alone, with no
-- organization check.
-- ---------------------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW mv_org_cost_summary AS
SELECT
    organization_id,
    billing_month,
    provider,
    COUNT(DISTINCT desk_id) AS active_desks,
    COUNT(DISTINCT task_id) AS tasks_processed,
    SUM(total_cost)         AS total_cost,
    AVG(total_cost)         AS avg_cost_per_call
FROM cost_tracking
GROUP BY organization_id, billing_month, provider;
CREATE UNIQUE INDEX idx_mv_cost_summary_unique ON mv_org_cost_summary (organization_id, billing_month, provider);

CREATE MATERIALIZED VIEW mv_desk_performance AS
SELECT
    d.organization_id,
    d.id      AS desk_id,
    d.desk_id AS desk_identifier,
    d.title,
    d.role,
    COUNT(DISTINCT t.id) AS total_tasks,
    COUNT(DISTINCT t.id) FILTER (WHERE t.status = 'completed') AS completed_tasks,
    AVG(EXTRACT(EPOCH FROM (t.completed_at - t.started_at)) / 3600.0)
        FILTER (WHERE t.status = 'completed') AS avg_completion_hours,
    COALESCE((SELECT SUM(ct.total_cost) FROM cost_tracking ct WHERE ct.desk_id = d.id), 0) AS total_llm_cost
FROM desks d
LEFT JOIN tasks t ON t.assigned_to_id = d.id
WHERE d.deleted_at IS NULL
GROUP BY d.organization_id, d.id, d.desk_id, d.title, d.role;
CREATE UNIQUE INDEX idx_mv_desk_perf_unique ON mv_desk_performance (desk_id);

-- ---------------------------------------------------------------------------------------------
-- Grants to the added application role (see Roles above)
-- ---------------------------------------------------------------------------------------------
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, users, desks, tasks, workflows, agent_sessions,
    messages, qa_reviews, delegations, knowledge_bases, data_sources, cost_tracking, audit_logs,
    api_keys TO app_user;
GRANT USAGE, SELECT ON SEQUENCE tasks_task_number_seq TO app_user;
GRANT SELECT ON mv_org_cost_summary, mv_desk_performance TO app_user;

RESET ROLE;

-- Alembic's own bookkeeping, as Alembic creates it: the revision the database is at.
SET ROLE doadmin;
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('001_multi_tenant');
RESET ROLE;
