-- 0007_arcdesk_columns, CockroachDB variant (25.3+): the same columns, renames, fill triggers,
-- index names and analytics names as up.sql, whose header states the contract (read it). What
-- differs, and why (docs v26.2; the same dialect as the variants of 0003-0005):
--   * routines that name renamed or retyped columns (the desks hierarchy pair, the billing
--     month trigger, the organizations column guard of the 0004 variant) are dropped first and
--     created again on the new names: CockroachDB binds a routine's names at creation;
--   * PL/pgSQL as in the 0003 variant: (NEW).col reads, no FOUND, no PERFORM (SELECT … INTO),
--     SQLSTATE codes, no SET search_path, FOR UPDATE for the numbering locks; triggers without
--     UPDATE OF lists, each dropped if it exists before it is created;
--   * no DISABLE TRIGGER: the desks levels are shifted while the desks triggers are dropped;
--   * no column privileges: the column guards of the 0004 variant are replaced to allow the
--     new tenant-writable columns (organizations.meta_data; api_keys.is_active, last_used_at,
--     usage_count) and to refuse the new platform ones;
--   * total_tokens: DROP STORED (CockroachDB's form of DROP EXPRESSION); the billing_month
--     retype needs enable_experimental_alter_column_type_general;
--   * analytics as in the 0005 variant: no WITH DATA, plain (not UNIQUE) key indexes, no
--     security_barrier, comments kept as SQL comments;
--   * re-runnable from the start where CockroachDB allows it (IF [NOT] EXISTS everywhere,
--     constraints dropped if they exist before they are added, the level shift guarded). The
--     RENAME COLUMN / RENAME CONSTRAINT statements and DROP STORED have no IF EXISTS form: a
--     run interrupted after one of them stops there when re-run; finish that run by hand from
--     the failing statement (`arcdb up` names it). Not executed on a CockroachDB server here.

-- ---------------------------------------------------------------------------------------------
-- Analytics views depend on columns changed below: dropped here, recreated at the end.
-- ---------------------------------------------------------------------------------------------
DROP VIEW IF EXISTS desk_performance;
DROP VIEW IF EXISTS org_cost_summary;
DROP MATERIALIZED VIEW IF EXISTS mv_desk_performance;
DROP MATERIALIZED VIEW IF EXISTS mv_org_cost_summary;
-- Routines that name columns renamed or retyped below (CockroachDB binds a routine's names when
-- it is created): dropped with their triggers here, created again on the new names below.
DROP TRIGGER IF EXISTS desks_set_hierarchy ON desks;
DROP TRIGGER IF EXISTS desks_cascade_path ON desks;
DROP TRIGGER IF EXISTS desks_set_updated_at ON desks;
DROP TRIGGER IF EXISTS cost_tracking_set_billing_month ON cost_tracking;
DROP TRIGGER IF EXISTS organizations_guard_tenant_update ON organizations;
DROP FUNCTION IF EXISTS desks_set_hierarchy();
DROP FUNCTION IF EXISTS desks_cascade_path();
DROP FUNCTION IF EXISTS cost_tracking_set_billing_month();
DROP FUNCTION IF EXISTS organizations_guard_tenant_update();

-- ---------------------------------------------------------------------------------------------
-- organizations
-- ---------------------------------------------------------------------------------------------
ALTER TABLE organizations RENAME COLUMN monthly_budget_usd TO max_llm_cost_per_month;
ALTER TABLE organizations RENAME CONSTRAINT organizations_monthly_budget_check
    TO organizations_max_llm_cost_per_month_check;
ALTER TABLE organizations DROP CONSTRAINT IF EXISTS organizations_max_tasks_per_month_check;
ALTER TABLE organizations
    ALTER COLUMN max_desks SET DEFAULT 10,
    ALTER COLUMN max_llm_cost_per_month SET DEFAULT 100.00,
    ADD COLUMN IF NOT EXISTS subscription_status text DEFAULT 'active',
    ADD COLUMN IF NOT EXISTS subscription_expires_at timestamptz,
    ADD COLUMN IF NOT EXISTS max_tasks_per_month integer DEFAULT 1000,
    ADD COLUMN IF NOT EXISTS meta_data jsonb DEFAULT '{}'::jsonb,
    ADD CONSTRAINT organizations_max_tasks_per_month_check
        CHECK (max_tasks_per_month IS NULL OR max_tasks_per_month > 0);

-- ---------------------------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------------------------
ALTER TABLE users RENAME COLUMN is_org_admin TO is_admin;
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS password_hash text,
    ADD COLUMN IF NOT EXISTS avatar_url text,
    ADD COLUMN IF NOT EXISTS is_superuser boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS email_verified_at timestamptz;

-- ---------------------------------------------------------------------------------------------
-- desks: hierarchy under the deployed names; hierarchy_level counts from 1 at a root (deployed),
-- hierarchy_path is the deployed chain of desk_id handles (read up.sql), with arcdb's org scoping,
-- cycle refusal and subtree re-pathing.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE desks RENAME COLUMN parent_desk_id TO reports_to_id;
ALTER TABLE desks RENAME COLUMN path TO hierarchy_path;
ALTER TABLE desks RENAME COLUMN depth TO hierarchy_level;
ALTER TABLE desks RENAME COLUMN config TO llm_config;
ALTER TABLE desks RENAME CONSTRAINT desks_config_check TO desks_llm_config_check;
ALTER TABLE desks RENAME CONSTRAINT desks_parent_fkey TO desks_reports_to_fkey;
ALTER TABLE desks RENAME CONSTRAINT desks_org_desk_id_key TO uq_org_desk_id;
ALTER TABLE desks DROP CONSTRAINT desks_path_check;
-- Levels from 1: a plain shift while the desks triggers are dropped; only while a root is still
-- at 0, so that a re-run does not shift twice.
UPDATE desks SET hierarchy_level = hierarchy_level + 1
 WHERE EXISTS (SELECT 1 FROM desks AS r WHERE r.reports_to_id IS NULL AND r.hierarchy_level = 0);
-- Paths of desk_id handles from the roots down (the same result on a re-run).
WITH RECURSIVE chain AS (
    SELECT d.organization_id, d.id, d.desk_id::text AS slug_path
      FROM desks AS d
     WHERE d.reports_to_id IS NULL
    UNION ALL
    SELECT d.organization_id, d.id, c.slug_path || '/' || d.desk_id::text
      FROM desks AS d
      JOIN chain AS c ON c.organization_id = d.organization_id AND c.id = d.reports_to_id
)
UPDATE desks
   SET hierarchy_path = chain.slug_path
  FROM chain
 WHERE chain.organization_id = desks.organization_id AND chain.id = desks.id;
ALTER TABLE desks DROP CONSTRAINT IF EXISTS desks_hierarchy_check;
ALTER TABLE desks
    ADD CONSTRAINT desks_hierarchy_check CHECK (
        hierarchy_level >= 1
        AND hierarchy_level = 1 + length(hierarchy_path) - length(replace(hierarchy_path, '/', ''))
        AND right('/' || hierarchy_path, length(desk_id::text) + 1) = '/' || desk_id::text
        AND (hierarchy_level = 1) = (reports_to_id IS NULL)
    ),
    ADD COLUMN IF NOT EXISTS capabilities text[] DEFAULT '{}'::text[],
    ADD COLUMN IF NOT EXISTS skills jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS status text DEFAULT 'available',
    ADD COLUMN IF NOT EXISTS instructions text,
    ADD COLUMN IF NOT EXISTS meta_data jsonb DEFAULT '{}'::jsonb;
COMMENT ON COLUMN desks.hierarchy_path IS
    'Chain of desk_id handles from the root, ''/''-joined (a root''s is its desk_id), as deployed. Maintained by triggers; descendants of X: hierarchy_path LIKE X.hierarchy_path || ''/%''.';
COMMENT ON COLUMN desks.hierarchy_level IS 'Level in the hierarchy (1 for a root desk). Maintained by triggers.';

CREATE OR REPLACE FUNCTION desks_set_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    parent_path  text;
    parent_level integer;
BEGIN
    IF (NEW).reports_to_id IS NULL THEN
        (NEW).hierarchy_path := (NEW).desk_id::text;
        (NEW).hierarchy_level := 1;
        RETURN NEW;
    END IF;

    SELECT d.hierarchy_path, d.hierarchy_level
      INTO parent_path, parent_level
      FROM public.desks AS d
     WHERE d.organization_id = (NEW).organization_id
       AND d.id = (NEW).reports_to_id
       FOR SHARE;
    IF parent_path IS NULL THEN
        RAISE EXCEPTION 'parent desk % does not exist in organization % (or is not visible)',
                (NEW).reports_to_id, (NEW).organization_id
            USING ERRCODE = '23503';
    END IF;

    IF strpos('/' || parent_path || '/', '/' || (NEW).desk_id::text || '/') > 0 THEN
        RAISE EXCEPTION 'desk % cannot be placed under desk %: that desk is itself or one of its descendants',
                (NEW).id, (NEW).reports_to_id
            USING ERRCODE = '23514',
                  HINT = 'A desk hierarchy is a tree: move the descendant elsewhere first.';
    END IF;

    (NEW).hierarchy_path := parent_path || '/' || (NEW).desk_id::text;
    (NEW).hierarchy_level := parent_level + 1;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION desks_cascade_path() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE public.desks
       SET hierarchy_path = hierarchy_path
     WHERE organization_id = (NEW).organization_id
       AND reports_to_id = (NEW).id;
    RETURN NULL;
END;
$$;
DROP TRIGGER IF EXISTS desks_set_hierarchy ON desks;
CREATE TRIGGER desks_set_hierarchy
    BEFORE INSERT OR UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_set_hierarchy();
DROP TRIGGER IF EXISTS desks_cascade_path ON desks;
CREATE TRIGGER desks_cascade_path
    AFTER UPDATE ON desks
    FOR EACH ROW WHEN ((OLD).hierarchy_path IS DISTINCT FROM (NEW).hierarchy_path)
    EXECUTE FUNCTION desks_cascade_path();
DROP TRIGGER IF EXISTS desks_set_updated_at ON desks;
CREATE TRIGGER desks_set_updated_at BEFORE UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
REVOKE EXECUTE ON FUNCTION desks_set_hierarchy(), desks_cascade_path() FROM PUBLIC;
COMMENT ON FUNCTION desks_set_hierarchy() IS
    'BEFORE INSERT/UPDATE trigger on desks: hierarchy_path (desk_id chain) and hierarchy_level from the parent (reports_to_id); rejects cycles.';
COMMENT ON FUNCTION desks_cascade_path() IS
    'AFTER UPDATE trigger on desks: when a desk''s hierarchy_path changed, recompute its children (recursively through their own triggers).';

-- ---------------------------------------------------------------------------------------------
-- workflows
-- ---------------------------------------------------------------------------------------------
ALTER TABLE workflows
    ADD COLUMN IF NOT EXISTS transitions jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS qa_enabled boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS qa_stages jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS meta_data jsonb DEFAULT '{}'::jsonb;

-- ---------------------------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------------------------
ALTER TABLE tasks RENAME COLUMN due_at TO due_date;
ALTER TABLE tasks RENAME COLUMN input_data TO context;
ALTER TABLE tasks RENAME COLUMN output_data TO result;
ALTER TABLE tasks RENAME CONSTRAINT tasks_input_data_check TO tasks_context_check;
ALTER TABLE tasks RENAME CONSTRAINT tasks_org_task_number_key TO uq_org_task_number;
ALTER INDEX IF EXISTS tasks_org_due_at_idx RENAME TO tasks_org_due_date_idx;
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_delegated_from_fkey;
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_hours_check;
ALTER TABLE tasks
    ADD COLUMN IF NOT EXISTS delegated_from_id uuid,
    ADD COLUMN IF NOT EXISTS estimated_hours numeric(8,2),
    ADD COLUMN IF NOT EXISTS actual_hours numeric(8,2),
    ADD COLUMN IF NOT EXISTS acceptance_criteria jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS deliverables jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS tags text[] DEFAULT '{}'::text[],
    ADD COLUMN IF NOT EXISTS meta_data jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS output_artifacts jsonb DEFAULT '[]'::jsonb,
    ADD CONSTRAINT tasks_delegated_from_fkey FOREIGN KEY (organization_id, delegated_from_id)
        REFERENCES desks (organization_id, id),
    ADD CONSTRAINT tasks_hours_check
        CHECK (coalesce(estimated_hours, 0) >= 0 AND coalesce(actual_hours, 0) >= 0);
CREATE INDEX IF NOT EXISTS tasks_org_delegated_from_idx ON tasks (organization_id, delegated_from_id);

-- ---------------------------------------------------------------------------------------------
-- agent_sessions (deployed without organization_id: filled from the desk)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE agent_sessions RENAME COLUMN ended_at TO completed_at;
ALTER TABLE agent_sessions RENAME CONSTRAINT agent_sessions_ended_check TO agent_sessions_completed_check;
ALTER TABLE agent_sessions DROP CONSTRAINT IF EXISTS agent_sessions_usage_check;
ALTER TABLE agent_sessions
    ADD COLUMN IF NOT EXISTS session_type text,
    ADD COLUMN IF NOT EXISTS conversation_id uuid,
    ADD COLUMN IF NOT EXISTS message_count integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS input_tokens bigint DEFAULT 0,
    ADD COLUMN IF NOT EXISTS output_tokens bigint DEFAULT 0,
    ADD COLUMN IF NOT EXISTS total_cost numeric(14,6) DEFAULT 0,
    ADD COLUMN IF NOT EXISTS duration_seconds integer,
    ADD COLUMN IF NOT EXISTS result jsonb,
    ADD COLUMN IF NOT EXISTS error text,
    ADD CONSTRAINT agent_sessions_usage_check CHECK (
        coalesce(message_count, 0) >= 0 AND coalesce(input_tokens, 0) >= 0
        AND coalesce(output_tokens, 0) >= 0 AND coalesce(total_cost, 0) >= 0
        AND coalesce(duration_seconds, 0) >= 0);

-- ---------------------------------------------------------------------------------------------
-- messages (deployed without organization_id: filled from the session)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE messages RENAME COLUMN metadata TO meta_data;
ALTER TABLE messages RENAME CONSTRAINT messages_metadata_check TO messages_meta_data_check;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_cost_check;
ALTER TABLE messages
    ALTER COLUMN input_tokens SET DEFAULT 0,
    ALTER COLUMN output_tokens SET DEFAULT 0,
    ADD COLUMN IF NOT EXISTS tool_results jsonb,
    ADD COLUMN IF NOT EXISTS cost numeric(14,6) DEFAULT 0,
    ADD CONSTRAINT messages_cost_check CHECK (coalesce(cost, 0) >= 0);
-- sequence_number stays NOT NULL: the trigger below numbers it when not given, and NOT NULL is
-- checked after BEFORE triggers (as are organization_id's NOT NULL and the RLS WITH CHECK).

-- ---------------------------------------------------------------------------------------------
-- qa_reviews (deployed without organization_id: filled from the task)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE qa_reviews RENAME COLUMN stage TO stage_name;
ALTER TABLE qa_reviews RENAME COLUMN issues TO findings;
ALTER TABLE qa_reviews RENAME COLUMN reviewed_at TO completed_at;
ALTER TABLE qa_reviews RENAME CONSTRAINT qa_reviews_issues_check TO qa_reviews_findings_check;
ALTER TABLE qa_reviews RENAME CONSTRAINT qa_reviews_org_task_stage_iteration_key
    TO qa_reviews_org_task_stage_name_iteration_key;
-- The application does not write iteration: numbered by the trigger below (no default, so that
-- the trigger can tell "not given" from 1).
ALTER TABLE qa_reviews
    ALTER COLUMN iteration DROP DEFAULT,
    ADD COLUMN IF NOT EXISTS stage_order integer DEFAULT 1,
    ADD COLUMN IF NOT EXISTS review_type text,
    ADD COLUMN IF NOT EXISTS reviewer_type text,
    ADD COLUMN IF NOT EXISTS passed boolean,
    ADD COLUMN IF NOT EXISTS recommendations jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS metrics jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS started_at timestamptz;

-- ---------------------------------------------------------------------------------------------
-- delegations (deployed without organization_id: filled from the task)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE delegations
    ADD COLUMN IF NOT EXISTS instructions text,
    ADD COLUMN IF NOT EXISTS context jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS response text;

-- ---------------------------------------------------------------------------------------------
-- knowledge_bases
-- ---------------------------------------------------------------------------------------------
ALTER TABLE knowledge_bases
    ADD COLUMN IF NOT EXISTS vector_store_config jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS meta_data jsonb DEFAULT '{}'::jsonb;

-- ---------------------------------------------------------------------------------------------
-- data_sources (deployed without organization_id: filled from the knowledge base, else from
-- app.current_org_id). credentials is the deployed column, where the application stores
-- secrets in clear; arcdb's credentials_ref (a name in a secret store) is the way to replace it.
-- uri is NOT NULL as deployed would break arcdb's own writers, which keep URLs in
-- connection_config: it is nullable.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE data_sources DROP CONSTRAINT IF EXISTS data_sources_counts_check;
ALTER TABLE data_sources
    ADD COLUMN IF NOT EXISTS uri text,
    ADD COLUMN IF NOT EXISTS sync_enabled boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS sync_frequency text,
    ADD COLUMN IF NOT EXISTS credentials jsonb,
    ADD COLUMN IF NOT EXISTS document_count integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS total_size_bytes bigint DEFAULT 0,
    ADD COLUMN IF NOT EXISTS meta_data jsonb DEFAULT '{}'::jsonb,
    ADD CONSTRAINT data_sources_counts_check
        CHECK (coalesce(document_count, 0) >= 0 AND coalesce(total_size_bytes, 0) >= 0);
COMMENT ON COLUMN data_sources.credentials IS
    'Deployed ArcDesk column: secrets in clear. Prefer credentials_ref (a name in the secret store).';

-- ---------------------------------------------------------------------------------------------
-- cost_tracking: total_tokens becomes a plain column (the application writes it; filled with
-- input + output when not given); billing_month becomes 'YYYY-MM' text, which the application
-- compares with 'YYYY-MM' strings (and which sorts like the months it names).
-- ---------------------------------------------------------------------------------------------
ALTER TABLE cost_tracking RENAME COLUMN cost_usd TO total_cost;
ALTER TABLE cost_tracking RENAME COLUMN metadata TO meta_data;
ALTER TABLE cost_tracking RENAME CONSTRAINT cost_tracking_metadata_check TO cost_tracking_meta_data_check;
ALTER TABLE cost_tracking ALTER COLUMN total_tokens DROP STORED;
-- CockroachDB changes a column type with a rewrite only under this setting (alter-column.md).
SET enable_experimental_alter_column_type_general = true;
ALTER TABLE cost_tracking DROP CONSTRAINT cost_tracking_billing_month_check;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_billing_month_check;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_total_tokens_check;
ALTER TABLE cost_tracking DROP CONSTRAINT IF EXISTS cost_tracking_part_costs_check;
ALTER TABLE cost_tracking
    ALTER COLUMN input_tokens TYPE bigint,
    ALTER COLUMN output_tokens TYPE bigint,
    ALTER COLUMN total_tokens SET NOT NULL,
    ALTER COLUMN billing_month TYPE text USING to_char(billing_month, 'YYYY-MM'),
    ADD COLUMN IF NOT EXISTS input_cost numeric(14,6) DEFAULT 0,
    ADD COLUMN IF NOT EXISTS output_cost numeric(14,6) DEFAULT 0,
    ADD CONSTRAINT cost_tracking_billing_month_check
        CHECK (billing_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    ADD CONSTRAINT cost_tracking_total_tokens_check CHECK (total_tokens >= 0),
    ADD CONSTRAINT cost_tracking_part_costs_check
        CHECK (coalesce(input_cost, 0) >= 0 AND coalesce(output_cost, 0) >= 0);
COMMENT ON COLUMN cost_tracking.billing_month IS
    'Month (UTC) of created_at as ''YYYY-MM''; set by the cost_tracking_set_billing_month trigger.';

CREATE OR REPLACE FUNCTION cost_tracking_set_billing_month() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    (NEW).billing_month := to_char((NEW).created_at AT TIME ZONE 'UTC', 'YYYY-MM');
    (NEW).total_tokens := coalesce((NEW).total_tokens, (NEW).input_tokens + (NEW).output_tokens);
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS cost_tracking_set_billing_month ON cost_tracking;
CREATE TRIGGER cost_tracking_set_billing_month
    BEFORE INSERT OR UPDATE ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION cost_tracking_set_billing_month();
COMMENT ON FUNCTION cost_tracking_set_billing_month() IS
    'BEFORE INSERT/UPDATE trigger on cost_tracking: billing_month = ''YYYY-MM'' of created_at (UTC); total_tokens = input + output when not given.';

-- ---------------------------------------------------------------------------------------------
-- audit_logs
-- ---------------------------------------------------------------------------------------------
ALTER TABLE audit_logs RENAME COLUMN metadata TO meta_data;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_metadata_check TO audit_logs_meta_data_check;
ALTER TABLE audit_logs DROP CONSTRAINT IF EXISTS audit_logs_actor_type_check;
ALTER TABLE audit_logs
    ADD COLUMN IF NOT EXISTS actor_type text,
    ADD CONSTRAINT audit_logs_actor_type_check CHECK (length(btrim(actor_type)) BETWEEN 1 AND 50);
UPDATE audit_logs
   SET actor_type = CASE WHEN user_id IS NOT NULL THEN 'user'
                         WHEN api_key_id IS NOT NULL THEN 'api_key'
                         WHEN desk_id IS NOT NULL THEN 'desk'
                         ELSE 'system' END;
ALTER TABLE audit_logs ALTER COLUMN actor_type SET NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- api_keys: is_active as deployed, and never active once revoked (a trigger below sets it false
-- when revoked_at is set, the check refuses reactivating a revoked key).
-- ---------------------------------------------------------------------------------------------
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_usage_count_check;
ALTER TABLE api_keys
    ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS usage_count bigint DEFAULT 0,
    ADD CONSTRAINT api_keys_usage_count_check CHECK (coalesce(usage_count, 0) >= 0);
-- (api_keys_set_updated_at stamps updated_at of the revoked keys: CockroachDB cannot disable a
-- trigger for one statement.)
UPDATE api_keys SET is_active = false WHERE revoked_at IS NOT NULL AND is_active IS NOT false;
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_revoked_inactive_check;
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_revoked_inactive_check CHECK (revoked_at IS NULL OR is_active IS NOT TRUE);

-- ---------------------------------------------------------------------------------------------
-- Columns the application does not write, filled before the row is checked.
-- organization_id given (arcdb's own writers): kept as it is; the composite foreign key and the
-- RLS WITH CHECK decide, exactly as before 0007. Not given (the application): the parent is
-- looked up with the caller's rights (RLS applies: a tenant finds only its own organization's
-- parents), by (organization_id, id) under app.current_org_id (the primary key), by id alone for
-- the owner without a setting. Not found: a foreign-key error naming the parent and the
-- organization, instead of a NOT NULL violation on a column the application never wrote.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION agent_sessions_set_organization() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF (NEW).organization_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    found_org := ARRAY(SELECT d.organization_id FROM public.desks AS d
                        WHERE d.id = (NEW).desk_id
                          AND (wanted IS NULL OR d.organization_id = wanted)
                        LIMIT 2);
    IF cardinality(found_org) <> 1 THEN
        RAISE EXCEPTION 'agent session refused: desk % %', (NEW).desk_id,
                CASE WHEN cardinality(found_org) = 0
                     THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                     ELSE 'exists in several organizations: give organization_id' END
            USING ERRCODE = '23503',
                  HINT = 'A session belongs to its desk''s organization; set app.current_org_id to it.';
    END IF;
    (NEW).organization_id := found_org[1];
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION messages_set_organization() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
    locked integer;
BEGIN
    IF (NEW).organization_id IS NULL THEN
        found_org := ARRAY(SELECT s.organization_id FROM public.agent_sessions AS s
                            WHERE s.id = (NEW).session_id
                              AND (wanted IS NULL OR s.organization_id = wanted)
                            LIMIT 2);
        IF cardinality(found_org) <> 1 THEN
            RAISE EXCEPTION 'message refused: session % %', (NEW).session_id,
                    CASE WHEN cardinality(found_org) = 0
                         THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                         ELSE 'exists in several organizations: give organization_id' END
                USING ERRCODE = '23503',
                      HINT = 'A message belongs to its session''s organization; set app.current_org_id to it.';
        END IF;
        (NEW).organization_id := found_org[1];
    END IF;
    IF (NEW).sequence_number IS NULL THEN
        -- Next number in the session. Locking the session row serializes the numbering of
        -- concurrent inserts into one session (FOR NO KEY UPDATE does not block foreign-key checks).
        SELECT 1 INTO locked FROM public.agent_sessions AS s
          WHERE s.organization_id = (NEW).organization_id AND s.id = (NEW).session_id
          FOR UPDATE;
        (NEW).sequence_number := 1 + coalesce(
            (SELECT max(m.sequence_number) FROM public.messages AS m
              WHERE m.organization_id = (NEW).organization_id AND m.session_id = (NEW).session_id), 0);
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION qa_reviews_set_organization() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
    locked integer;
BEGIN
    IF (NEW).organization_id IS NULL THEN
        found_org := ARRAY(SELECT t.organization_id FROM public.tasks AS t
                            WHERE t.id = (NEW).task_id
                              AND (wanted IS NULL OR t.organization_id = wanted)
                            LIMIT 2);
        IF cardinality(found_org) <> 1 THEN
            RAISE EXCEPTION 'QA review refused: task % %', (NEW).task_id,
                    CASE WHEN cardinality(found_org) = 0
                         THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                         ELSE 'exists in several organizations: give organization_id' END
                USING ERRCODE = '23503',
                      HINT = 'A QA review belongs to its task''s organization; set app.current_org_id to it.';
        END IF;
        (NEW).organization_id := found_org[1];
    END IF;
    IF (NEW).iteration IS NULL THEN
        -- Next iteration of this stage of the task; the task row lock serializes concurrent ones.
        SELECT 1 INTO locked FROM public.tasks AS t
          WHERE t.organization_id = (NEW).organization_id AND t.id = (NEW).task_id
          FOR UPDATE;
        (NEW).iteration := 1 + coalesce(
            (SELECT max(q.iteration) FROM public.qa_reviews AS q
              WHERE q.organization_id = (NEW).organization_id AND q.task_id = (NEW).task_id
                AND q.stage_name = (NEW).stage_name), 0);
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION delegations_set_organization() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF (NEW).organization_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    found_org := ARRAY(SELECT t.organization_id FROM public.tasks AS t
                        WHERE t.id = (NEW).task_id
                          AND (wanted IS NULL OR t.organization_id = wanted)
                        LIMIT 2);
    IF cardinality(found_org) <> 1 THEN
        RAISE EXCEPTION 'delegation refused: task % %', (NEW).task_id,
                CASE WHEN cardinality(found_org) = 0
                     THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                     ELSE 'exists in several organizations: give organization_id' END
            USING ERRCODE = '23503',
                  HINT = 'A delegation belongs to its task''s organization; set app.current_org_id to it.';
    END IF;
    (NEW).organization_id := found_org[1];
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION data_sources_set_organization() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF (NEW).organization_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF (NEW).knowledge_base_id IS NULL THEN
        IF wanted IS NULL THEN
            RAISE EXCEPTION 'data source refused: no knowledge_base_id, no organization_id and no app.current_org_id'
                USING ERRCODE = '23502',
                      HINT = 'Set app.current_org_id (SET LOCAL) or give organization_id.';
        END IF;
        (NEW).organization_id := wanted;
        RETURN NEW;
    END IF;
    found_org := ARRAY(SELECT k.organization_id FROM public.knowledge_bases AS k
                        WHERE k.id = (NEW).knowledge_base_id
                          AND (wanted IS NULL OR k.organization_id = wanted)
                        LIMIT 2);
    IF cardinality(found_org) <> 1 THEN
        RAISE EXCEPTION 'data source refused: knowledge base % %', (NEW).knowledge_base_id,
                CASE WHEN cardinality(found_org) = 0
                     THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                     ELSE 'exists in several organizations: give organization_id' END
            USING ERRCODE = '23503',
                  HINT = 'A data source belongs to its knowledge base''s organization; set app.current_org_id to it.';
    END IF;
    (NEW).organization_id := found_org[1];
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION api_keys_set_is_active() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF (NEW).revoked_at IS NOT NULL AND TG_OP = 'INSERT' THEN
        (NEW).is_active := false;
    ELSIF (NEW).revoked_at IS NOT NULL AND (OLD).revoked_at IS NULL THEN
        (NEW).is_active := false;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION audit_logs_set_actor_type() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    (NEW).actor_type := coalesce((NEW).actor_type,
        CASE WHEN (NEW).user_id IS NOT NULL THEN 'user'
             WHEN (NEW).api_key_id IS NOT NULL THEN 'api_key'
             WHEN (NEW).desk_id IS NOT NULL THEN 'desk'
             ELSE 'system' END);
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION agent_sessions_set_organization() IS
    'BEFORE INSERT trigger on agent_sessions: organization_id from the desk (ArcDesk inserts without it).';
COMMENT ON FUNCTION messages_set_organization() IS
    'BEFORE INSERT trigger on messages: organization_id from the session, sequence_number = next in the session when not given.';
COMMENT ON FUNCTION qa_reviews_set_organization() IS
    'BEFORE INSERT trigger on qa_reviews: organization_id from the task, iteration = next for the task and stage when not given.';
COMMENT ON FUNCTION delegations_set_organization() IS
    'BEFORE INSERT trigger on delegations: organization_id from the task (ArcDesk inserts without it).';
COMMENT ON FUNCTION data_sources_set_organization() IS
    'BEFORE INSERT trigger on data_sources: organization_id from the knowledge base, else app.current_org_id.';
COMMENT ON FUNCTION api_keys_set_is_active() IS
    'BEFORE INSERT/UPDATE trigger on api_keys: a key inserted revoked, or being revoked, is not active.';
COMMENT ON FUNCTION audit_logs_set_actor_type() IS
    'BEFORE INSERT trigger on audit_logs: actor_type from the actor columns when not given.';

DROP TRIGGER IF EXISTS agent_sessions_set_organization ON agent_sessions;
CREATE TRIGGER agent_sessions_set_organization BEFORE INSERT ON agent_sessions
    FOR EACH ROW EXECUTE FUNCTION agent_sessions_set_organization();
DROP TRIGGER IF EXISTS messages_set_organization ON messages;
CREATE TRIGGER messages_set_organization BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_set_organization();
DROP TRIGGER IF EXISTS qa_reviews_set_organization ON qa_reviews;
CREATE TRIGGER qa_reviews_set_organization BEFORE INSERT ON qa_reviews
    FOR EACH ROW EXECUTE FUNCTION qa_reviews_set_organization();
DROP TRIGGER IF EXISTS delegations_set_organization ON delegations;
CREATE TRIGGER delegations_set_organization BEFORE INSERT ON delegations
    FOR EACH ROW EXECUTE FUNCTION delegations_set_organization();
DROP TRIGGER IF EXISTS data_sources_set_organization ON data_sources;
CREATE TRIGGER data_sources_set_organization BEFORE INSERT ON data_sources
    FOR EACH ROW EXECUTE FUNCTION data_sources_set_organization();
DROP TRIGGER IF EXISTS api_keys_set_is_active ON api_keys;
CREATE TRIGGER api_keys_set_is_active BEFORE INSERT OR UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_set_is_active();
DROP TRIGGER IF EXISTS audit_logs_set_actor_type ON audit_logs;
CREATE TRIGGER audit_logs_set_actor_type BEFORE INSERT ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_set_actor_type();

REVOKE EXECUTE ON FUNCTION
    agent_sessions_set_organization(), messages_set_organization(), qa_reviews_set_organization(),
    delegations_set_organization(), data_sources_set_organization(), audit_logs_set_actor_type(),
    api_keys_set_is_active(), cost_tracking_set_billing_month()
FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- The column guards of the 0004 variant (CockroachDB has no column privileges), on the new
-- columns: a tenant may also update organizations.meta_data, and an API key's is_active,
-- last_used_at and usage_count; the platform's new organization columns are refused.
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION organizations_guard_tenant_update() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_has_role(current_user, 'arcdesk_tenant', 'MEMBER')
       AND ((NEW).id IS DISTINCT FROM (OLD).id
            OR (NEW).slug IS DISTINCT FROM (OLD).slug
            OR (NEW).subscription_tier IS DISTINCT FROM (OLD).subscription_tier
            OR (NEW).subscription_status IS DISTINCT FROM (OLD).subscription_status
            OR (NEW).subscription_expires_at IS DISTINCT FROM (OLD).subscription_expires_at
            OR (NEW).max_users IS DISTINCT FROM (OLD).max_users
            OR (NEW).max_desks IS DISTINCT FROM (OLD).max_desks
            OR (NEW).max_tasks_per_month IS DISTINCT FROM (OLD).max_tasks_per_month
            OR (NEW).max_llm_cost_per_month IS DISTINCT FROM (OLD).max_llm_cost_per_month
            OR (NEW).is_active IS DISTINCT FROM (OLD).is_active
            OR (NEW).deleted_at IS DISTINCT FROM (OLD).deleted_at
            OR (NEW).created_at IS DISTINCT FROM (OLD).created_at
            OR (NEW).updated_at IS DISTINCT FROM (OLD).updated_at) THEN
        RAISE EXCEPTION 'permission denied: a tenant may update only name, settings, meta_data and last_task_number of organizations'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS organizations_guard_tenant_update ON organizations;
CREATE TRIGGER organizations_guard_tenant_update BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION organizations_guard_tenant_update();

-- users.is_superuser is the platform's (read up.sql): a tenant may neither insert it true nor
-- change it (a guard, as CockroachDB has no column privileges).
CREATE OR REPLACE FUNCTION users_guard_superuser() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF pg_has_role(current_user, 'arcdesk_tenant', 'MEMBER')
       AND ((TG_OP = 'INSERT' AND (NEW).is_superuser)
            OR (TG_OP = 'UPDATE' AND (NEW).is_superuser IS DISTINCT FROM (OLD).is_superuser)) THEN
        RAISE EXCEPTION 'permission denied: a tenant may not create a superuser (users.is_superuser)'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS users_guard_superuser ON users;
CREATE TRIGGER users_guard_superuser BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_guard_superuser();
REVOKE EXECUTE ON FUNCTION users_guard_superuser() FROM PUBLIC;

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
            OR (NEW).created_at IS DISTINCT FROM (OLD).created_at
            OR (NEW).updated_at IS DISTINCT FROM (OLD).updated_at) THEN
        RAISE EXCEPTION 'permission denied: a tenant may update only revoked_at, revoked_by_id, revocation_reason, is_active, last_used_at and usage_count of api_keys'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$;
REVOKE EXECUTE ON FUNCTION organizations_guard_tenant_update(), api_keys_guard_tenant_update()
FROM PUBLIC;


-- ---------------------------------------------------------------------------------------------
-- The deployed index names. Renamed: arcdb indexes that are the organization-led form of the
-- deployed one. Created: the rest, led by organization_id except on organizations (the tenant
-- root) and the platform lookups by email and key hash (made before the tenant is known), and
-- the GIN indexes (a GIN index cannot lead with a uuid without btree_gin).
-- ---------------------------------------------------------------------------------------------
ALTER INDEX IF EXISTS desks_org_parent_idx RENAME TO idx_desk_reports_to;
ALTER INDEX IF EXISTS desks_org_path_idx RENAME TO idx_desk_hierarchy;
ALTER INDEX IF EXISTS desks_org_role_active_idx RENAME TO idx_desk_role;
ALTER INDEX IF EXISTS tasks_org_assigned_status_idx RENAME TO idx_task_assigned;
ALTER INDEX IF EXISTS tasks_org_status_priority_idx RENAME TO idx_tasks_org_status_priority;
ALTER INDEX IF EXISTS tasks_org_created_at_idx RENAME TO idx_task_created;
ALTER INDEX IF EXISTS tasks_org_parent_idx RENAME TO idx_task_parent;
ALTER INDEX IF EXISTS agent_sessions_org_desk_started_idx RENAME TO idx_sessions_desk_date;
ALTER INDEX IF EXISTS agent_sessions_org_task_idx RENAME TO idx_session_task;
ALTER INDEX IF EXISTS agent_sessions_org_started_idx RENAME TO idx_session_started;
ALTER INDEX IF EXISTS messages_org_created_at_idx RENAME TO idx_message_created;
ALTER INDEX IF EXISTS qa_reviews_org_status_idx RENAME TO idx_qa_status;
ALTER INDEX IF EXISTS qa_reviews_org_reviewer_desk_idx RENAME TO idx_qa_reviewer;
ALTER INDEX IF EXISTS delegations_org_task_idx RENAME TO idx_delegation_task;
ALTER INDEX IF EXISTS delegations_org_from_desk_idx RENAME TO idx_delegation_from;
ALTER INDEX IF EXISTS delegations_org_to_desk_status_idx RENAME TO idx_delegation_to;
ALTER INDEX IF EXISTS data_sources_org_knowledge_base_idx RENAME TO idx_ds_kb;
ALTER INDEX IF EXISTS data_sources_org_type_idx RENAME TO idx_ds_type;
ALTER INDEX IF EXISTS cost_tracking_org_month_provider_idx RENAME TO idx_cost_org_month_provider;
ALTER INDEX IF EXISTS cost_tracking_org_desk_created_idx RENAME TO idx_cost_desk;
ALTER INDEX IF EXISTS cost_tracking_org_task_idx RENAME TO idx_cost_task;
ALTER INDEX IF EXISTS cost_tracking_org_created_at_idx RENAME TO idx_cost_created;
ALTER INDEX IF EXISTS audit_logs_org_created_at_idx RENAME TO idx_audit_org_created;
ALTER INDEX IF EXISTS audit_logs_org_user_created_idx RENAME TO idx_audit_user;
ALTER INDEX IF EXISTS audit_logs_org_desk_idx RENAME TO idx_audit_desk;
ALTER INDEX IF EXISTS audit_logs_org_action_created_idx RENAME TO idx_audit_action;
ALTER INDEX IF EXISTS audit_logs_org_resource_idx RENAME TO idx_audit_resource;

CREATE INDEX IF NOT EXISTS idx_org_slug ON organizations (slug);
CREATE INDEX IF NOT EXISTS idx_org_created ON organizations (created_at);
CREATE INDEX IF NOT EXISTS idx_org_name ON organizations (name);
CREATE INDEX IF NOT EXISTS idx_org_settings_gin ON organizations USING gin (settings);
CREATE INDEX IF NOT EXISTS idx_user_org ON users (organization_id);
CREATE INDEX IF NOT EXISTS idx_user_email ON users (email);
CREATE INDEX IF NOT EXISTS idx_desk_org ON desks (organization_id);
CREATE INDEX IF NOT EXISTS idx_desk_llm_config_gin ON desks USING gin (llm_config);
CREATE INDEX IF NOT EXISTS idx_desk_skills_gin ON desks USING gin (skills);
CREATE INDEX IF NOT EXISTS idx_desks_active ON desks (organization_id, is_active) WHERE is_active = true;
CREATE INDEX IF NOT EXISTS idx_workflow_org ON workflows (organization_id);
CREATE INDEX IF NOT EXISTS idx_workflow_active ON workflows (organization_id, is_active);
CREATE INDEX IF NOT EXISTS idx_task_org ON tasks (organization_id);
CREATE INDEX IF NOT EXISTS idx_task_status ON tasks (organization_id, status);
CREATE INDEX IF NOT EXISTS idx_task_priority ON tasks (organization_id, priority);
CREATE INDEX IF NOT EXISTS idx_task_context_gin ON tasks USING gin (context);
CREATE INDEX IF NOT EXISTS idx_tasks_active ON tasks (organization_id, status)
    WHERE status NOT IN ('completed', 'cancelled');
CREATE INDEX IF NOT EXISTS idx_tasks_title_fts ON tasks USING gin (to_tsvector('english', title));
CREATE INDEX IF NOT EXISTS idx_tasks_description_fts ON tasks USING gin (to_tsvector('english', description));
CREATE INDEX IF NOT EXISTS idx_session_desk ON agent_sessions (organization_id, desk_id);
CREATE INDEX IF NOT EXISTS idx_message_session ON messages (organization_id, session_id);
CREATE INDEX IF NOT EXISTS idx_qa_task ON qa_reviews (organization_id, task_id);
CREATE INDEX IF NOT EXISTS idx_delegation_created ON delegations (organization_id, created_at);
CREATE INDEX IF NOT EXISTS idx_kb_org ON knowledge_bases (organization_id);
CREATE INDEX IF NOT EXISTS idx_cost_org_month ON cost_tracking (organization_id, billing_month);
CREATE INDEX IF NOT EXISTS idx_apikey_org ON api_keys (organization_id);
CREATE INDEX IF NOT EXISTS idx_apikey_hash ON api_keys (key_hash);

-- ---------------------------------------------------------------------------------------------
-- Analytics. The materialized views keep arcdb's definitions of 0005 (on the renamed columns)
-- under the names org_cost_summary_mv and desk_performance_mv: still closed to tenants, managed
-- by `arcdb refresh`. The application reads the deployed names mv_org_cost_summary and
-- mv_desk_performance: those are now tenant-facing views (filtered by
-- app.current_org_id, exactly the deployed columns), so its Analytics SELECTs run unchanged
-- and see only its own organization. What the application must change: its REFRESH
-- MATERIALIZED VIEW statements (`arcdb refresh`, run as the owner, replaces them).
-- org_cost_summary and desk_performance stay arcdb's fuller tenant views.
-- ---------------------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW IF NOT EXISTS org_cost_summary_mv AS
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
    sum(ct.total_cost)                      AS total_cost,
    round(sum(ct.total_cost) / count(*), 6) AS avg_cost_per_call,
    min(ct.created_at)                      AS first_call_at,
    max(ct.created_at)                      AS last_call_at
FROM cost_tracking AS ct
GROUP BY ct.organization_id, ct.billing_month, ct.provider;
-- COMMENT ON MATERIALIZED VIEW org_cost_summary_mv IS
--     'LLM cost per organization, billing month and provider. No RLS: not granted to tenants (they read org_cost_summary or mv_org_cost_summary).';
-- Key (needed by the non-blocking refresh); also "costs of one organization, newest month first".
CREATE UNIQUE INDEX org_cost_summary_mv_key
    ON org_cost_summary_mv (organization_id, billing_month, provider);
-- "Cost trend of one provider in one organization".
CREATE INDEX IF NOT EXISTS org_cost_summary_mv_org_provider_idx
    ON org_cost_summary_mv (organization_id, provider, billing_month);

CREATE MATERIALIZED VIEW IF NOT EXISTS desk_performance_mv AS
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
        sum(ct.total_cost)   AS total_llm_cost
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
    d.reports_to_id,
    d.hierarchy_level,
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
WHERE d.deleted_at IS NULL;
-- COMMENT ON MATERIALIZED VIEW desk_performance_mv IS
--     'Per-desk task, QA and LLM cost metrics. desk_id is desks.id (desk_code is the handle). No RLS: not granted to tenants (they read desk_performance or mv_desk_performance).';
-- Key (needed by the non-blocking refresh); led by organization_id like every tenant key.
CREATE UNIQUE INDEX desk_performance_mv_key
    ON desk_performance_mv (organization_id, desk_id);
-- "Desks of one organization by workload" (the Analytics query: ORDER BY total_tasks DESC).
CREATE INDEX IF NOT EXISTS desk_performance_mv_org_total_tasks_idx
    ON desk_performance_mv (organization_id, total_tasks DESC);

-- arcdb's tenant views (as in 0006, on the renamed columns).
CREATE OR REPLACE VIEW org_cost_summary AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM org_cost_summary_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
-- COMMENT ON VIEW org_cost_summary IS
--     'org_cost_summary_mv rows of the organization in app.current_org_id (none when unset).';

CREATE OR REPLACE VIEW desk_performance AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, reports_to_id,
    hierarchy_level, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks,
    completion_rate, avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls,
    total_tokens, total_llm_cost, last_task_at
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
-- COMMENT ON VIEW desk_performance IS
--     'desk_performance_mv rows of the organization in app.current_org_id (none when unset).';

-- The deployed names, with the deployed columns (desk_id is desks.id, desk_identifier the handle).
CREATE OR REPLACE VIEW mv_org_cost_summary AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_cost,
    avg_cost_per_call
FROM org_cost_summary_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
-- COMMENT ON VIEW mv_org_cost_summary IS
--     'ArcDesk''s name and columns for org_cost_summary_mv: rows of the organization in app.current_org_id (none when unset).';

CREATE OR REPLACE VIEW mv_desk_performance AS
SELECT
    organization_id, desk_id, desk_code AS desk_identifier, title, role, total_tasks,
    completed_tasks, avg_completion_hours, total_llm_cost
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
-- COMMENT ON VIEW mv_desk_performance IS
--     'ArcDesk''s name and columns for desk_performance_mv: rows of the organization in app.current_org_id (none when unset).';

GRANT SELECT ON org_cost_summary, desk_performance, mv_org_cost_summary, mv_desk_performance
    TO arcdesk_tenant;
