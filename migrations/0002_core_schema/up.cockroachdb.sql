-- 0002_core_schema, CockroachDB variant (25.3+): the same 7 enum types, 14 tables, keys and
-- indexes as up.sql (read its header for why they look the way they do). What differs, and why:
--   * arcdb runs this file one statement at a time (CockroachDB commits DDL on its own), and an
--     interrupted run is re-run from its first statement: every CREATE has IF NOT EXISTS, and
--     the two platform-wide unique keys are declared inside CREATE TABLE instead of by
--     ALTER TABLE … ADD CONSTRAINT (which cannot be repeated);
--   * desks_org_path_idx has no text_pattern_ops: CockroachDB allows operator classes only on
--     inverted indexes, and its plain indexes already serve LIKE 'prefix%' (byte order);
--   * citext is the built-in CITEXT type (25.3); INCLUDE is CockroachDB's STORING.
-- Keep it in step with up.sql: tests/cockroachdb.rs compares the objects both files create.

-- ---------------------------------------------------------------------------------------------
-- Enum types
-- ---------------------------------------------------------------------------------------------
CREATE TYPE IF NOT EXISTS roletype AS ENUM (
    'executive', 'director', 'manager', 'product_manager', 'architect',
    'senior_engineer', 'engineer', 'junior_engineer', 'qa_engineer', 'devops_engineer',
    'data_engineer', 'security_engineer', 'designer', 'researcher', 'analyst',
    'technical_writer', 'support_agent'
);
CREATE TYPE IF NOT EXISTS taskstatus AS ENUM (
    'pending', 'in_progress', 'in_review', 'blocked', 'completed', 'failed', 'cancelled'
);
-- Declared in ascending order so that ORDER BY priority DESC puts 'critical' first.
CREATE TYPE IF NOT EXISTS taskpriority AS ENUM ('low', 'medium', 'high', 'critical');
CREATE TYPE IF NOT EXISTS qastagestatus AS ENUM (
    'pending', 'in_progress', 'passed', 'failed', 'needs_revision', 'skipped'
);
CREATE TYPE IF NOT EXISTS llmprovider AS ENUM (
    'anthropic', 'openai', 'google', 'azure_openai', 'aws_bedrock', 'mistral', 'cohere',
    'meta', 'ollama', 'custom'
);
CREATE TYPE IF NOT EXISTS subscriptiontier AS ENUM ('free', 'starter', 'professional', 'enterprise');
CREATE TYPE IF NOT EXISTS auditaction AS ENUM (
    'create', 'read', 'update', 'delete', 'login', 'logout', 'assign', 'delegate', 'review',
    'approve', 'reject', 'export', 'api_key_create', 'api_key_revoke', 'permission_change',
    'settings_change'
);

-- ---------------------------------------------------------------------------------------------
-- organizations: the tenant root (keyed by id; it has no organization_id of its own)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS organizations (
    id                  uuid             NOT NULL DEFAULT gen_random_uuid(),
    name                text             NOT NULL,
    slug                citext           NOT NULL,
    subscription_tier   subscriptiontier NOT NULL DEFAULT 'free',
    settings            jsonb            NOT NULL DEFAULT '{}'::jsonb,
    -- Soft limits: the application reads them to warn and throttle; the database does not
    -- enforce them (NULL = unlimited).
    max_users           integer,
    max_desks           integer,
    monthly_budget_usd  numeric(12,2),
    -- Per-organization task counter, bumped by the tasks trigger of 0003.
    last_task_number    bigint           NOT NULL DEFAULT 0,
    is_active           boolean          NOT NULL DEFAULT true,
    deleted_at          timestamptz,
    created_at          timestamptz      NOT NULL DEFAULT now(),
    updated_at          timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    -- Platform-wide (see the last section).
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    CONSTRAINT organizations_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT organizations_slug_check
        CHECK (slug::text ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug::text) <= 63),
    CONSTRAINT organizations_settings_check CHECK (jsonb_typeof(settings) = 'object'),
    CONSTRAINT organizations_max_users_check CHECK (max_users IS NULL OR max_users > 0),
    CONSTRAINT organizations_max_desks_check CHECK (max_desks IS NULL OR max_desks > 0),
    CONSTRAINT organizations_monthly_budget_check
        CHECK (monthly_budget_usd IS NULL OR monthly_budget_usd >= 0),
    CONSTRAINT organizations_last_task_number_check CHECK (last_task_number >= 0)
);
COMMENT ON TABLE organizations IS 'Tenants. Every other table references one through organization_id.';
COMMENT ON COLUMN organizations.last_task_number IS
    'Highest task_number handed out in this organization (maintained by the tasks_assign_task_number trigger; never decrease it).';
COMMENT ON COLUMN organizations.deleted_at IS 'Soft delete: set instead of deleting, which would cascade to all tenant data.';

-- ---------------------------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS users (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL,
    email           citext      NOT NULL,
    username        citext      NOT NULL,
    full_name       text,
    is_org_admin    boolean     NOT NULL DEFAULT false,
    is_active       boolean     NOT NULL DEFAULT true,
    preferences     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    last_login_at   timestamptz,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT users_org_email_key UNIQUE (organization_id, email),
    CONSTRAINT users_org_username_key UNIQUE (organization_id, username),
    CONSTRAINT users_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT users_email_check CHECK (email::text ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT users_username_check CHECK (username::text ~ '^[A-Za-z0-9._-]{2,64}$'),
    CONSTRAINT users_preferences_check CHECK (jsonb_typeof(preferences) = 'object')
);
COMMENT ON TABLE users IS 'People of an organization. Soft-deleted (deleted_at) so that their audit trail keeps its references.';

-- ---------------------------------------------------------------------------------------------
-- desks: AI agent desks, in a hierarchy (parent desk, materialized path, depth)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS desks (
    id                  uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id     uuid        NOT NULL,
    desk_id             citext      NOT NULL,
    title               text        NOT NULL,
    description         text,
    role                roletype    NOT NULL,
    parent_desk_id      uuid,
    path                text        NOT NULL,
    depth               integer     NOT NULL,
    llm_provider        llmprovider NOT NULL,
    llm_model           text        NOT NULL,
    system_prompt       text,
    temperature         numeric(3,2),
    max_tokens          integer,
    config              jsonb       NOT NULL DEFAULT '{}'::jsonb,
    monthly_budget_usd  numeric(12,2),
    is_active           boolean     NOT NULL DEFAULT true,
    created_by_id       uuid,
    deleted_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT desks_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT desks_org_desk_id_key UNIQUE (organization_id, desk_id),
    CONSTRAINT desks_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT desks_parent_fkey FOREIGN KEY (organization_id, parent_desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT desks_created_by_fkey FOREIGN KEY (organization_id, created_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT desks_desk_id_check CHECK (desk_id::text ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    CONSTRAINT desks_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    CONSTRAINT desks_not_own_parent_check CHECK (parent_desk_id <> id),
    -- path = '/' || <root id> || '/' || ... || <own id> || '/'  (37 characters per level),
    -- so its shape and depth can be checked here; the triggers of 0003 keep it right.
    CONSTRAINT desks_path_check CHECK (
        depth >= 0
        AND length(path) = 38 + 37 * depth
        AND left(path, 1) = '/'
        AND right(path, 37) = id::text || '/'
        AND (depth = 0) = (parent_desk_id IS NULL)
    ),
    CONSTRAINT desks_temperature_check CHECK (temperature IS NULL OR temperature BETWEEN 0 AND 2),
    CONSTRAINT desks_max_tokens_check CHECK (max_tokens IS NULL OR max_tokens > 0),
    CONSTRAINT desks_monthly_budget_check CHECK (monthly_budget_usd IS NULL OR monthly_budget_usd >= 0),
    CONSTRAINT desks_config_check CHECK (jsonb_typeof(config) = 'object')
);
COMMENT ON TABLE desks IS 'AI agent desks. desk_id is the human-readable handle (unique per organization); id is the key other tables reference.';
COMMENT ON COLUMN desks.path IS
    'Materialized path of ids from the root: ''/<root id>/.../<own id>/''. Maintained by triggers; descendants of X: path LIKE X.path || ''_%''.';
COMMENT ON COLUMN desks.depth IS 'Number of ancestors (0 for a root desk). Maintained by triggers.';
COMMENT ON COLUMN desks.monthly_budget_usd IS 'Soft limit read by the application; not enforced by the database.';

-- ---------------------------------------------------------------------------------------------
-- workflows
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS workflows (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL,
    name            text        NOT NULL,
    description     text,
    stages          jsonb       NOT NULL DEFAULT '[]'::jsonb,
    version         integer     NOT NULL DEFAULT 1,
    is_default      boolean     NOT NULL DEFAULT false,
    is_active       boolean     NOT NULL DEFAULT true,
    created_by_id   uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflows_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT workflows_org_name_key UNIQUE (organization_id, name),
    CONSTRAINT workflows_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT workflows_created_by_fkey FOREIGN KEY (organization_id, created_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT workflows_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT workflows_stages_check CHECK (jsonb_typeof(stages) = 'array'),
    CONSTRAINT workflows_version_check CHECK (version > 0)
);
COMMENT ON TABLE workflows IS 'Workflow definitions: stages is a JSON array of {name, role, requires_qa}.';

-- ---------------------------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS tasks (
    id              uuid         NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid         NOT NULL,
    task_number     bigint       NOT NULL,
    title           text         NOT NULL,
    description     text,
    status          taskstatus   NOT NULL DEFAULT 'pending',
    priority        taskpriority NOT NULL DEFAULT 'medium',
    workflow_id     uuid,
    current_stage   text,
    parent_task_id  uuid,
    created_by_id   uuid,
    assigned_to_id  uuid,
    input_data      jsonb        NOT NULL DEFAULT '{}'::jsonb,
    output_data     jsonb,
    error_message   text,
    retry_count     integer      NOT NULL DEFAULT 0,
    due_at          timestamptz,
    started_at      timestamptz,
    completed_at    timestamptz,
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT tasks_pkey PRIMARY KEY (organization_id, id),
    -- Backstop for the per-organization numbering trigger of 0003.
    CONSTRAINT tasks_org_task_number_key UNIQUE (organization_id, task_number),
    CONSTRAINT tasks_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT tasks_workflow_fkey FOREIGN KEY (organization_id, workflow_id)
        REFERENCES workflows (organization_id, id),
    CONSTRAINT tasks_parent_fkey FOREIGN KEY (organization_id, parent_task_id)
        REFERENCES tasks (organization_id, id),
    CONSTRAINT tasks_created_by_fkey FOREIGN KEY (organization_id, created_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT tasks_assigned_to_fkey FOREIGN KEY (organization_id, assigned_to_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT tasks_task_number_check CHECK (task_number > 0),
    CONSTRAINT tasks_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 500),
    CONSTRAINT tasks_not_own_parent_check CHECK (parent_task_id <> id),
    CONSTRAINT tasks_retry_count_check CHECK (retry_count >= 0),
    CONSTRAINT tasks_input_data_check CHECK (jsonb_typeof(input_data) = 'object'),
    CONSTRAINT tasks_completion_check
        CHECK (completed_at IS NULL OR started_at IS NULL OR completed_at >= started_at)
);
COMMENT ON TABLE tasks IS 'Work items assigned to desks (assigned_to_id references desks).';
COMMENT ON COLUMN tasks.task_number IS
    'Per-organization number (1, 2, 3, ...) assigned by the tasks_assign_task_number trigger. An explicit value is accepted only if it is already reserved (<= organizations.last_task_number).';

-- ---------------------------------------------------------------------------------------------
-- agent_sessions: a conversation of a desk, optionally on behalf of a user and about a task
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS agent_sessions (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id  uuid        NOT NULL,
    desk_id          uuid        NOT NULL,
    user_id          uuid,
    task_id          uuid,
    status           text        NOT NULL DEFAULT 'active',
    title            text,
    context          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_sessions_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT agent_sessions_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT agent_sessions_desk_fkey FOREIGN KEY (organization_id, desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT agent_sessions_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT agent_sessions_task_fkey FOREIGN KEY (organization_id, task_id)
        REFERENCES tasks (organization_id, id),
    CONSTRAINT agent_sessions_status_check
        CHECK (status IN ('active', 'idle', 'completed', 'failed', 'expired')),
    CONSTRAINT agent_sessions_context_check CHECK (jsonb_typeof(context) = 'object'),
    CONSTRAINT agent_sessions_ended_check CHECK (ended_at IS NULL OR ended_at >= started_at)
);
COMMENT ON TABLE agent_sessions IS 'Conversations of a desk. user_id NULL = a desk-only session (no human in it).';

-- ---------------------------------------------------------------------------------------------
-- messages: part of their session (cascade), ordered by sequence_number
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS messages (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL,
    session_id      uuid        NOT NULL,
    sequence_number integer     NOT NULL,
    role            text        NOT NULL,
    content         text        NOT NULL,
    model           text,
    input_tokens    integer,
    output_tokens   integer,
    tool_calls      jsonb,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_pkey PRIMARY KEY (organization_id, id),
    -- "messages of a session, in order" (also covers the session foreign key).
    CONSTRAINT messages_org_session_sequence_key UNIQUE (organization_id, session_id, sequence_number),
    CONSTRAINT messages_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT messages_session_fkey FOREIGN KEY (organization_id, session_id)
        REFERENCES agent_sessions (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT messages_role_check CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    CONSTRAINT messages_sequence_number_check CHECK (sequence_number > 0),
    CONSTRAINT messages_tokens_check
        CHECK (coalesce(input_tokens, 0) >= 0 AND coalesce(output_tokens, 0) >= 0),
    CONSTRAINT messages_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);

-- ---------------------------------------------------------------------------------------------
-- qa_reviews: part of their task (cascade)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS qa_reviews (
    id               uuid          NOT NULL DEFAULT gen_random_uuid(),
    organization_id  uuid          NOT NULL,
    task_id          uuid          NOT NULL,
    stage            text          NOT NULL DEFAULT 'review',
    iteration        integer       NOT NULL DEFAULT 1,
    status           qastagestatus NOT NULL DEFAULT 'pending',
    reviewer_desk_id uuid,
    reviewer_user_id uuid,
    score            numeric(5,2),
    feedback         text,
    issues           jsonb         NOT NULL DEFAULT '[]'::jsonb,
    reviewed_at      timestamptz,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT qa_reviews_pkey PRIMARY KEY (organization_id, id),
    -- One review per task, stage and iteration (also covers the task foreign key).
    CONSTRAINT qa_reviews_org_task_stage_iteration_key
        UNIQUE (organization_id, task_id, stage, iteration),
    CONSTRAINT qa_reviews_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT qa_reviews_task_fkey FOREIGN KEY (organization_id, task_id)
        REFERENCES tasks (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT qa_reviews_reviewer_desk_fkey FOREIGN KEY (organization_id, reviewer_desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT qa_reviews_reviewer_user_fkey FOREIGN KEY (organization_id, reviewer_user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT qa_reviews_iteration_check CHECK (iteration > 0),
    CONSTRAINT qa_reviews_score_check CHECK (score IS NULL OR score BETWEEN 0 AND 100),
    CONSTRAINT qa_reviews_issues_check CHECK (jsonb_typeof(issues) = 'array')
);

-- ---------------------------------------------------------------------------------------------
-- delegations: part of their task (cascade)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS delegations (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL,
    task_id         uuid        NOT NULL,
    from_desk_id    uuid,
    to_desk_id      uuid        NOT NULL,
    delegated_by_id uuid,
    status          text        NOT NULL DEFAULT 'pending',
    reason          text,
    delegated_at    timestamptz NOT NULL DEFAULT now(),
    responded_at    timestamptz,
    completed_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT delegations_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT delegations_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT delegations_task_fkey FOREIGN KEY (organization_id, task_id)
        REFERENCES tasks (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT delegations_from_desk_fkey FOREIGN KEY (organization_id, from_desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT delegations_to_desk_fkey FOREIGN KEY (organization_id, to_desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT delegations_delegated_by_fkey FOREIGN KEY (organization_id, delegated_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT delegations_status_check
        CHECK (status IN ('pending', 'accepted', 'rejected', 'completed', 'cancelled')),
    CONSTRAINT delegations_distinct_desks_check CHECK (from_desk_id <> to_desk_id)
);

-- ---------------------------------------------------------------------------------------------
-- knowledge_bases (RAG stores; desk_id NULL = shared by the whole organization)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS knowledge_bases (
    id                 uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id    uuid        NOT NULL,
    name               text        NOT NULL,
    description        text,
    desk_id            uuid,
    embedding_provider llmprovider,
    embedding_model    text,
    chunk_size         integer     NOT NULL DEFAULT 1000,
    chunk_overlap      integer     NOT NULL DEFAULT 200,
    status             text        NOT NULL DEFAULT 'active',
    document_count     integer     NOT NULL DEFAULT 0,
    total_chunks       bigint      NOT NULL DEFAULT 0,
    storage_bytes      bigint      NOT NULL DEFAULT 0,
    max_documents      integer,
    settings           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    last_indexed_at    timestamptz,
    created_by_id      uuid,
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_bases_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT knowledge_bases_org_name_key UNIQUE (organization_id, name),
    CONSTRAINT knowledge_bases_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT knowledge_bases_desk_fkey FOREIGN KEY (organization_id, desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT knowledge_bases_created_by_fkey FOREIGN KEY (organization_id, created_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT knowledge_bases_status_check
        CHECK (status IN ('active', 'indexing', 'error', 'archived')),
    CONSTRAINT knowledge_bases_chunking_check
        CHECK (chunk_size > 0 AND chunk_overlap >= 0 AND chunk_overlap < chunk_size),
    CONSTRAINT knowledge_bases_counts_check
        CHECK (document_count >= 0 AND total_chunks >= 0 AND storage_bytes >= 0),
    CONSTRAINT knowledge_bases_max_documents_check CHECK (max_documents IS NULL OR max_documents > 0),
    CONSTRAINT knowledge_bases_settings_check CHECK (jsonb_typeof(settings) = 'object')
);
COMMENT ON COLUMN knowledge_bases.max_documents IS 'Soft limit read by the application; not enforced by the database.';

-- ---------------------------------------------------------------------------------------------
-- data_sources: external integrations, optionally feeding a knowledge base
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS data_sources (
    id                    uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id       uuid        NOT NULL,
    knowledge_base_id     uuid,
    name                  text        NOT NULL,
    source_type           text        NOT NULL,
    connection_config     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    credentials_ref       text,
    sync_status           text        NOT NULL DEFAULT 'pending',
    sync_interval_minutes integer,
    last_synced_at        timestamptz,
    last_error            text,
    is_active             boolean     NOT NULL DEFAULT true,
    created_by_id         uuid,
    deleted_at            timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT data_sources_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT data_sources_org_name_key UNIQUE (organization_id, name),
    CONSTRAINT data_sources_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT data_sources_knowledge_base_fkey FOREIGN KEY (organization_id, knowledge_base_id)
        REFERENCES knowledge_bases (organization_id, id),
    CONSTRAINT data_sources_created_by_fkey FOREIGN KEY (organization_id, created_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT data_sources_source_type_check CHECK (source_type IN (
        'github', 'gitlab', 'confluence', 'notion', 'google_drive', 'slack', 'jira', 's3',
        'database', 'url', 'file_upload', 'api')),
    CONSTRAINT data_sources_sync_status_check
        CHECK (sync_status IN ('pending', 'syncing', 'synced', 'error', 'disabled')),
    CONSTRAINT data_sources_sync_interval_check
        CHECK (sync_interval_minutes IS NULL OR sync_interval_minutes > 0),
    CONSTRAINT data_sources_connection_config_check CHECK (jsonb_typeof(connection_config) = 'object')
);
COMMENT ON COLUMN data_sources.connection_config IS 'Non-secret settings only (URLs, repository names, filters).';
COMMENT ON COLUMN data_sources.credentials_ref IS 'Name of the credential in the external secret store; never the secret itself.';

-- ---------------------------------------------------------------------------------------------
-- cost_tracking: one row per billed LLM call (append-only for tenants)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS cost_tracking (
    id              uuid          NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid          NOT NULL,
    desk_id         uuid,
    task_id         uuid,
    session_id      uuid,
    provider        llmprovider   NOT NULL,
    model           text          NOT NULL,
    operation       text          NOT NULL DEFAULT 'completion',
    input_tokens    integer       NOT NULL DEFAULT 0,
    output_tokens   integer       NOT NULL DEFAULT 0,
    total_tokens    bigint        GENERATED ALWAYS AS (input_tokens::bigint + output_tokens::bigint) STORED,
    cost_usd        numeric(14,6) NOT NULL DEFAULT 0,
    billing_month   date          NOT NULL,
    latency_ms      integer,
    request_id      text,
    metadata        jsonb         NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT cost_tracking_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT cost_tracking_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT cost_tracking_desk_fkey FOREIGN KEY (organization_id, desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT cost_tracking_task_fkey FOREIGN KEY (organization_id, task_id)
        REFERENCES tasks (organization_id, id),
    CONSTRAINT cost_tracking_session_fkey FOREIGN KEY (organization_id, session_id)
        REFERENCES agent_sessions (organization_id, id),
    CONSTRAINT cost_tracking_operation_check
        CHECK (operation IN ('completion', 'embedding', 'tool', 'other')),
    CONSTRAINT cost_tracking_tokens_check CHECK (input_tokens >= 0 AND output_tokens >= 0),
    CONSTRAINT cost_tracking_cost_check CHECK (cost_usd >= 0),
    CONSTRAINT cost_tracking_latency_check CHECK (latency_ms IS NULL OR latency_ms >= 0),
    CONSTRAINT cost_tracking_billing_month_check CHECK (extract(day FROM billing_month) = 1),
    CONSTRAINT cost_tracking_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON COLUMN cost_tracking.billing_month IS
    'First day of the month (UTC) of created_at; set by the cost_tracking_set_billing_month trigger.';

-- ---------------------------------------------------------------------------------------------
-- api_keys: only a SHA-256 hash of the key and a short display prefix are stored
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS api_keys (
    id                    uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id       uuid        NOT NULL,
    name                  text        NOT NULL,
    key_prefix            text        NOT NULL,
    key_hash              text        NOT NULL,
    scopes                text[]      NOT NULL DEFAULT '{}'::text[],
    user_id               uuid,
    rate_limit_per_minute integer,
    expires_at            timestamptz,
    last_used_at          timestamptz,
    revoked_at            timestamptz,
    revoked_by_id         uuid,
    revocation_reason     text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_pkey PRIMARY KEY (organization_id, id),
    -- Platform-wide (see the last section).
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT api_keys_revoked_by_fkey FOREIGN KEY (organization_id, revoked_by_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT api_keys_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT api_keys_key_prefix_check CHECK (key_prefix ~ '^[A-Za-z0-9_]{4,16}$'),
    CONSTRAINT api_keys_key_hash_check CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT api_keys_rate_limit_check CHECK (rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0),
    CONSTRAINT api_keys_revocation_check
        CHECK (revoked_at IS NOT NULL OR (revoked_by_id IS NULL AND revocation_reason IS NULL))
);
COMMENT ON TABLE api_keys IS 'API keys. The key itself is shown once at creation and never stored.';
COMMENT ON COLUMN api_keys.key_hash IS 'Lowercase hex SHA-256 of the full key: encode(sha256(convert_to(key, ''UTF8'')), ''hex'').';
COMMENT ON COLUMN api_keys.key_prefix IS 'First characters of the key, for display ("arc_live_ab12..."); not enough to use it.';
COMMENT ON COLUMN api_keys.rate_limit_per_minute IS 'Soft limit read by the application; not enforced by the database.';

-- ---------------------------------------------------------------------------------------------
-- audit_logs: append-only trail (tenants may insert and read, never change)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS audit_logs (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid        NOT NULL,
    action          auditaction NOT NULL,
    user_id         uuid,
    desk_id         uuid,
    api_key_id      uuid,
    resource_type   text        NOT NULL,
    resource_id     uuid,
    description     text,
    changes         jsonb,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ip_address      inet,
    user_agent      text,
    request_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT audit_logs_organization_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT audit_logs_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id),
    CONSTRAINT audit_logs_desk_fkey FOREIGN KEY (organization_id, desk_id)
        REFERENCES desks (organization_id, id),
    CONSTRAINT audit_logs_api_key_fkey FOREIGN KEY (organization_id, api_key_id)
        REFERENCES api_keys (organization_id, id),
    CONSTRAINT audit_logs_resource_type_check CHECK (length(btrim(resource_type)) BETWEEN 1 AND 100),
    CONSTRAINT audit_logs_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON TABLE audit_logs IS 'Append-only audit trail. Actors (user, desk, API key) are referenced NO ACTION: they are soft-deleted or revoked, not removed.';

-- ---------------------------------------------------------------------------------------------
-- Indexes (besides the primary keys and the UNIQUE constraints above). The UNIQUE
-- (organization_id, id) of every table already covers its organization foreign key.
-- ---------------------------------------------------------------------------------------------

-- organizations: platform back office lists live organizations by tier (billing runs).
CREATE INDEX IF NOT EXISTS organizations_tier_idx ON organizations (subscription_tier) WHERE deleted_at IS NULL;

-- users: "active users of an organization", "recently active users".
CREATE INDEX IF NOT EXISTS users_org_active_idx ON users (organization_id, full_name) WHERE deleted_at IS NULL AND is_active;
CREATE INDEX IF NOT EXISTS users_org_last_login_idx ON users (organization_id, last_login_at DESC);

-- desks: children of a desk (also the parent FK), subtree by materialized path (LIKE prefix),
-- routing work to active desks by role, desks by model, creator FK.
CREATE INDEX IF NOT EXISTS desks_org_parent_idx ON desks (organization_id, parent_desk_id);
CREATE INDEX IF NOT EXISTS desks_org_path_idx ON desks (organization_id, path);
CREATE INDEX IF NOT EXISTS desks_org_role_active_idx ON desks (organization_id, role) WHERE is_active AND deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS desks_org_provider_model_idx ON desks (organization_id, llm_provider, llm_model);
CREATE INDEX IF NOT EXISTS desks_org_created_by_idx ON desks (organization_id, created_by_id);

-- workflows: at most one default workflow per organization; creator FK.
CREATE UNIQUE INDEX IF NOT EXISTS workflows_org_default_key ON workflows (organization_id) WHERE is_default;
CREATE INDEX IF NOT EXISTS workflows_org_created_by_idx ON workflows (organization_id, created_by_id);

-- tasks: status/priority queues, a desk's queue (also the assignee FK), open work by priority,
-- time ranges (created, due, completed), and the workflow / parent / creator FKs.
CREATE INDEX IF NOT EXISTS tasks_org_status_priority_idx ON tasks (organization_id, status, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS tasks_org_assigned_status_idx ON tasks (organization_id, assigned_to_id, status);
CREATE INDEX IF NOT EXISTS tasks_org_pending_queue_idx ON tasks (organization_id, priority DESC, created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_org_created_at_idx ON tasks (organization_id, created_at DESC);
CREATE INDEX IF NOT EXISTS tasks_org_due_at_idx ON tasks (organization_id, due_at)
    WHERE due_at IS NOT NULL AND status NOT IN ('completed', 'failed', 'cancelled');
CREATE INDEX IF NOT EXISTS tasks_org_completed_at_idx ON tasks (organization_id, completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_org_workflow_idx ON tasks (organization_id, workflow_id, current_stage);
CREATE INDEX IF NOT EXISTS tasks_org_parent_idx ON tasks (organization_id, parent_task_id);
CREATE INDEX IF NOT EXISTS tasks_org_created_by_idx ON tasks (organization_id, created_by_id);

-- agent_sessions: sessions by desk and by user, newest first (also their FKs; the user index
-- also serves the restrictive per-user policy of 0004), sessions of a task, live sessions,
-- time ranges.
CREATE INDEX IF NOT EXISTS agent_sessions_org_desk_started_idx ON agent_sessions (organization_id, desk_id, started_at DESC);
CREATE INDEX IF NOT EXISTS agent_sessions_org_user_started_idx ON agent_sessions (organization_id, user_id, started_at DESC);
CREATE INDEX IF NOT EXISTS agent_sessions_org_task_idx ON agent_sessions (organization_id, task_id);
CREATE INDEX IF NOT EXISTS agent_sessions_org_live_idx ON agent_sessions (organization_id, last_activity_at)
    WHERE status IN ('active', 'idle');
CREATE INDEX IF NOT EXISTS agent_sessions_org_started_idx ON agent_sessions (organization_id, started_at DESC);

-- messages: ordered by session through the UNIQUE key above; time ranges (retention, search).
CREATE INDEX IF NOT EXISTS messages_org_created_at_idx ON messages (organization_id, created_at);

-- qa_reviews: pending reviews queue, reviews done by a desk or a user (reviewer FKs).
CREATE INDEX IF NOT EXISTS qa_reviews_org_status_idx ON qa_reviews (organization_id, status, created_at);
CREATE INDEX IF NOT EXISTS qa_reviews_org_reviewer_desk_idx ON qa_reviews (organization_id, reviewer_desk_id);
CREATE INDEX IF NOT EXISTS qa_reviews_org_reviewer_user_idx ON qa_reviews (organization_id, reviewer_user_id);

-- delegations: history of a task, inbox of a desk by status, outbox of a desk, delegating user.
CREATE INDEX IF NOT EXISTS delegations_org_task_idx ON delegations (organization_id, task_id, delegated_at);
CREATE INDEX IF NOT EXISTS delegations_org_to_desk_status_idx ON delegations (organization_id, to_desk_id, status);
CREATE INDEX IF NOT EXISTS delegations_org_from_desk_idx ON delegations (organization_id, from_desk_id);
CREATE INDEX IF NOT EXISTS delegations_org_delegated_by_idx ON delegations (organization_id, delegated_by_id);

-- knowledge_bases: knowledge bases of a desk (FK), creator FK, by status (indexing jobs).
CREATE INDEX IF NOT EXISTS knowledge_bases_org_desk_idx ON knowledge_bases (organization_id, desk_id);
CREATE INDEX IF NOT EXISTS knowledge_bases_org_created_by_idx ON knowledge_bases (organization_id, created_by_id);
CREATE INDEX IF NOT EXISTS knowledge_bases_org_status_idx ON knowledge_bases (organization_id, status) WHERE deleted_at IS NULL;

-- data_sources: sources of a knowledge base (FK), creator FK, sync scheduler (due sources),
-- sources by type.
CREATE INDEX IF NOT EXISTS data_sources_org_knowledge_base_idx ON data_sources (organization_id, knowledge_base_id);
CREATE INDEX IF NOT EXISTS data_sources_org_created_by_idx ON data_sources (organization_id, created_by_id);
CREATE INDEX IF NOT EXISTS data_sources_org_sync_idx ON data_sources (organization_id, sync_status, last_synced_at)
    WHERE is_active AND deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS data_sources_org_type_idx ON data_sources (organization_id, source_type);

-- cost_tracking: cost by month and provider (the mv_org_cost_summary aggregate, budget checks),
-- by model, per desk over time (also the desk FK), per task and per session (FKs), time ranges.
CREATE INDEX IF NOT EXISTS cost_tracking_org_month_provider_idx ON cost_tracking (organization_id, billing_month, provider)
    INCLUDE (cost_usd, total_tokens);
CREATE INDEX IF NOT EXISTS cost_tracking_org_provider_model_idx ON cost_tracking (organization_id, provider, model, billing_month);
CREATE INDEX IF NOT EXISTS cost_tracking_org_desk_created_idx ON cost_tracking (organization_id, desk_id, created_at);
CREATE INDEX IF NOT EXISTS cost_tracking_org_task_idx ON cost_tracking (organization_id, task_id);
CREATE INDEX IF NOT EXISTS cost_tracking_org_session_idx ON cost_tracking (organization_id, session_id);
CREATE INDEX IF NOT EXISTS cost_tracking_org_created_at_idx ON cost_tracking (organization_id, created_at);

-- api_keys: active keys of an organization (by expiry), key names unique among active keys,
-- display lookup by prefix, owner and revoker FKs.
CREATE INDEX IF NOT EXISTS api_keys_org_active_idx ON api_keys (organization_id, expires_at) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_org_active_name_key ON api_keys (organization_id, name) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS api_keys_org_prefix_idx ON api_keys (organization_id, key_prefix);
CREATE INDEX IF NOT EXISTS api_keys_org_user_idx ON api_keys (organization_id, user_id);
CREATE INDEX IF NOT EXISTS api_keys_org_revoked_by_idx ON api_keys (organization_id, revoked_by_id);

-- audit_logs: audit by time, by action over time, by user over time (also the user FK), the
-- history of one resource, and the desk / API key actor FKs.
CREATE INDEX IF NOT EXISTS audit_logs_org_created_at_idx ON audit_logs (organization_id, created_at DESC);
CREATE INDEX IF NOT EXISTS audit_logs_org_action_created_idx ON audit_logs (organization_id, action, created_at DESC);
CREATE INDEX IF NOT EXISTS audit_logs_org_user_created_idx ON audit_logs (organization_id, user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS audit_logs_org_resource_idx ON audit_logs (organization_id, resource_type, resource_id, created_at DESC);
CREATE INDEX IF NOT EXISTS audit_logs_org_desk_idx ON audit_logs (organization_id, desk_id);
CREATE INDEX IF NOT EXISTS audit_logs_org_api_key_idx ON audit_logs (organization_id, api_key_id);

-- =============================================================================================
-- PLATFORM-WIDE UNIQUE KEYS
-- The only unique keys not scoped by organization_id (declared in their CREATE TABLE above).
-- Both are looked up before the tenant is known, so they must be unique across the platform; each is tagged in the catalog so that
-- `arcdb verify-rls` accepts it (a global unique key answers "does this value exist in another
-- organization?" through duplicate-key errors: only values that carry no tenant data belong here).
-- =============================================================================================
COMMENT ON CONSTRAINT organizations_slug_key ON organizations IS
    'arcdb:platform-unique: the slug names the organization in URLs and at login, before any tenant is selected';

COMMENT ON CONSTRAINT api_keys_key_hash_key ON api_keys IS
    'arcdb:platform-unique: an API key is authenticated by its hash before its organization is known; a SHA-256 of a random key reveals nothing';
