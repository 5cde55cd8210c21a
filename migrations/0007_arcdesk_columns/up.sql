-- 0007_arcdesk_columns: ArcDesk's own tables, columns and index names (the deployed schema
-- 001_multi_tenant, ../shared/fixtures/arcdesk-001/schema.sql), on arcdb's hardened schema.
--
-- arcdb:safety-accept require-concurrent-index-creation: runs once, when arcdb takes ArcDesk's schema over; it locks and partly rewrites the tables (21.6 s at 100 organizations / 200k tasks, measured): apply it in a maintenance window (an existing ArcDesk database is taken over by `arcdb adopt`, which builds all of it on empty tables before copying the rows)
-- arcdb:safety-accept constraint-missing-not-valid: runs once, when arcdb takes ArcDesk's schema over; it locks and partly rewrites the tables (21.6 s at 100 organizations / 200k tasks, measured): apply it in a maintenance window (an existing ArcDesk database is taken over by `arcdb adopt`, which builds all of it on empty tables before copying the rows)
-- arcdb:safety-accept changing-column-type: runs once, when arcdb takes ArcDesk's schema over; it locks and partly rewrites the tables (21.6 s at 100 organizations / 200k tasks, measured): apply it in a maintenance window (an existing ArcDesk database is taken over by `arcdb adopt`, which builds all of it on empty tables before copying the rows)
-- arcdb:safety-accept setting-not-nullable-field: runs once, when arcdb takes ArcDesk's schema over; it locks and partly rewrites the tables (21.6 s at 100 organizations / 200k tasks, measured): apply it in a maintenance window (an existing ArcDesk database is taken over by `arcdb adopt`, which builds all of it on empty tables before copying the rows)
-- arcdb:safety-accept renaming-column-or-table: the new names are the ones the ArcDesk application already reads and writes (this is what makes it run on arcdb's schema)
--
-- CONTRACT (what `arcdb adopt` and the ArcDesk application rely on; keep it exactly):
--   After the latest migration, every column of every table of the deployed schema exists in the
--   same table under THE SAME NAME, with a type the deployed column's values convert to with a
--   cast (old_value::new_type): varchar(n) -> text, varchar[] -> text[], integer -> bigint,
--   numeric(p,s) -> a wider numeric; the hardened types stay where valid application values fit
--   them (citext for slug/email/username/desk_id, inet for audit_logs.ip_address; adopt checks the
--   rows that do not fit, and the CHECK constraints of 0002). Nullability and defaults are such
--   that the application's INSERTs, written with exactly the deployed columns, succeed:
--     * every arcdb-only NOT NULL column has a default or is filled by a BEFORE INSERT trigger;
--     * organization_id of agent_sessions, messages, qa_reviews, delegations and data_sources
--       (the five deployed tables without it) is filled from the parent row (desk, session, task,
--       task, knowledge base), or for a data source without a knowledge base from
--       app.current_org_id; a parent not found there is refused with an error naming it and the
--       organization, and a given organization_id that is not the parent's by the composite
--       foreign key;
--     * messages.sequence_number (next in the session) and qa_reviews.iteration (next for the
--       task and stage) are numbered when not given; audit_logs.actor_type is derived from the
--       actor columns when not given; cost_tracking.total_tokens = input + output when not given;
--     * tasks.task_number stays per organization (trigger of 0003; the application inserts
--       without it and reads it from RETURNING); billing_month is 'YYYY-MM' text, set by trigger.
--   Columns of the same meaning are RENAMED to the deployed name rather than kept twice:
--     desks: parent_desk_id -> reports_to_id, path -> hierarchy_path, depth -> hierarchy_level
--            (now 1 for a root desk, as deployed), config -> llm_config;
--     tasks: due_at -> due_date, input_data -> context, output_data -> result;
--     users: is_org_admin -> is_admin;   organizations: monthly_budget_usd -> max_llm_cost_per_month;
--     agent_sessions: ended_at -> completed_at;
--     qa_reviews: stage -> stage_name, issues -> findings, reviewed_at -> completed_at;
--     messages, cost_tracking, audit_logs: metadata -> meta_data;   cost_tracking: cost_usd -> total_cost.
--   Every deployed index name exists: arcdb's equivalent index renamed to it, or a new index,
--   led by organization_id where the table has one (so it serves the RLS-filtered queries).
--   The deployed materialized view names are tenant-facing views: see the analytics section.
-- Kept: (organization_id, id) keys and composite foreign keys, organization-scoped uniques,
-- per-organization task numbers, arcdesk_tenant and its fail-closed policies (all of them test
-- organization_id, which every table keeps), materialized views closed to tenants.
-- Not carried over from the deployed schema on purpose: tasks_task_number_seq (numbers are per
-- organization), platform-wide unique email. Deployed enum values arcdb lacked are added by
-- 0008 (a value added in a transaction cannot be used in that transaction), which also puts
-- taskpriority in the deployed order.
-- Lock: ACCESS EXCLUSIVE on every application table until the migration commits. Work that
-- grows with the data: cost_tracking is rewritten (token counts to bigint, billing_month to
-- text), every row of desks (hierarchy_level from 1, hierarchy_path of desk_id handles) and of
-- audit_logs (actor_type) is updated, 28 table indexes are built and the analytics views refilled; the rest (renames, new columns
-- with constant defaults) is catalog-only.

-- ---------------------------------------------------------------------------------------------
-- Analytics views depend on columns changed below: dropped here, recreated at the end.
-- ---------------------------------------------------------------------------------------------
DROP VIEW desk_performance;
DROP VIEW org_cost_summary;
DROP MATERIALIZED VIEW mv_desk_performance;
DROP MATERIALIZED VIEW mv_org_cost_summary;

-- ---------------------------------------------------------------------------------------------
-- organizations
-- ---------------------------------------------------------------------------------------------
ALTER TABLE organizations RENAME COLUMN monthly_budget_usd TO max_llm_cost_per_month;
ALTER TABLE organizations RENAME CONSTRAINT organizations_monthly_budget_check
    TO organizations_max_llm_cost_per_month_check;
ALTER TABLE organizations
    ALTER COLUMN max_desks SET DEFAULT 10,
    ALTER COLUMN max_llm_cost_per_month SET DEFAULT 100.00,
    ADD COLUMN subscription_status text DEFAULT 'active',
    ADD COLUMN subscription_expires_at timestamptz,
    ADD COLUMN max_tasks_per_month integer DEFAULT 1000,
    ADD COLUMN meta_data jsonb DEFAULT '{}'::jsonb,
    ADD CONSTRAINT organizations_max_tasks_per_month_check
        CHECK (max_tasks_per_month IS NULL OR max_tasks_per_month > 0);

-- ---------------------------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------------------------
ALTER TABLE users RENAME COLUMN is_org_admin TO is_admin;
ALTER TABLE users
    ADD COLUMN password_hash text,
    ADD COLUMN avatar_url text,
    ADD COLUMN is_superuser boolean DEFAULT false,
    ADD COLUMN email_verified_at timestamptz;

-- ---------------------------------------------------------------------------------------------
-- desks: hierarchy under the deployed names; hierarchy_level counts from 1 at a root (deployed),
-- hierarchy_path is the deployed form, the '/'-joined chain of desk_id handles from the root
-- ('ceo-001/cto-001/eng-001'; a root's is its desk_id), which the application reads. arcdb's
-- hardening is kept on it: the parent is looked up in the desk's own organization, a cycle is
-- refused (desk_id is unique per organization and holds no '/', so the chain names each
-- ancestor once), and a move or a desk_id rename re-paths the subtree.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE desks RENAME COLUMN parent_desk_id TO reports_to_id;
ALTER TABLE desks RENAME COLUMN path TO hierarchy_path;
ALTER TABLE desks RENAME COLUMN depth TO hierarchy_level;
ALTER TABLE desks RENAME COLUMN config TO llm_config;
ALTER TABLE desks RENAME CONSTRAINT desks_config_check TO desks_llm_config_check;
ALTER TABLE desks RENAME CONSTRAINT desks_parent_fkey TO desks_reports_to_fkey;
ALTER TABLE desks RENAME CONSTRAINT desks_org_desk_id_key TO uq_org_desk_id;
ALTER TABLE desks DROP CONSTRAINT desks_path_check;
-- Levels from 1 and paths of desk_id handles, computed from the roots down with the triggers
-- off (they would recompute from parents not yet done, and updated_at is not an application
-- change).
ALTER TABLE desks DISABLE TRIGGER desks_set_hierarchy;
ALTER TABLE desks DISABLE TRIGGER desks_cascade_path;
ALTER TABLE desks DISABLE TRIGGER desks_set_updated_at;
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
   SET hierarchy_level = hierarchy_level + 1,
       hierarchy_path = chain.slug_path
  FROM chain
 WHERE chain.organization_id = desks.organization_id AND chain.id = desks.id;
ALTER TABLE desks ENABLE TRIGGER desks_set_hierarchy;
ALTER TABLE desks ENABLE TRIGGER desks_cascade_path;
ALTER TABLE desks ENABLE TRIGGER desks_set_updated_at;
ALTER TABLE desks
    ADD CONSTRAINT desks_hierarchy_check CHECK (
        hierarchy_level >= 1
        AND hierarchy_level = 1 + length(hierarchy_path) - length(replace(hierarchy_path, '/', ''))
        AND right('/' || hierarchy_path, length(desk_id::text) + 1) = '/' || desk_id::text
        AND (hierarchy_level = 1) = (reports_to_id IS NULL)
    ),
    ADD COLUMN capabilities text[] DEFAULT '{}'::text[],
    ADD COLUMN skills jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN status text DEFAULT 'available',
    ADD COLUMN instructions text,
    ADD COLUMN meta_data jsonb DEFAULT '{}'::jsonb;
COMMENT ON COLUMN desks.hierarchy_path IS
    'Chain of desk_id handles from the root, ''/''-joined (a root''s is its desk_id), as deployed. Maintained by triggers; descendants of X: hierarchy_path LIKE X.hierarchy_path || ''/%''.';
COMMENT ON COLUMN desks.hierarchy_level IS 'Level in the hierarchy (1 for a root desk). Maintained by triggers.';

CREATE OR REPLACE FUNCTION desks_set_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    parent_path  text;
    parent_level integer;
BEGIN
    IF NEW.reports_to_id IS NULL THEN
        NEW.hierarchy_path := NEW.desk_id::text;
        NEW.hierarchy_level := 1;
        RETURN NEW;
    END IF;

    SELECT d.hierarchy_path, d.hierarchy_level
      INTO parent_path, parent_level
      FROM public.desks AS d
     WHERE d.organization_id = NEW.organization_id
       AND d.id = NEW.reports_to_id
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'parent desk % does not exist in organization % (or is not visible)',
                NEW.reports_to_id, NEW.organization_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    IF position('/' || NEW.desk_id::text || '/' IN '/' || parent_path || '/') > 0 THEN
        RAISE EXCEPTION 'desk % cannot be placed under desk %: that desk is itself or one of its descendants',
                NEW.id, NEW.reports_to_id
            USING ERRCODE = 'check_violation',
                  HINT = 'A desk hierarchy is a tree: move the descendant elsewhere first.';
    END IF;

    NEW.hierarchy_path := parent_path || '/' || NEW.desk_id::text;
    NEW.hierarchy_level := parent_level + 1;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION desks_cascade_path() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE public.desks
       SET hierarchy_path = hierarchy_path
     WHERE organization_id = NEW.organization_id
       AND reports_to_id = NEW.id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION desks_set_hierarchy() IS
    'BEFORE INSERT/UPDATE trigger on desks: hierarchy_path (desk_id chain) and hierarchy_level from the parent (reports_to_id); rejects cycles.';
-- A desk_id rename changes the desk's own path too (and so its subtree's).
DROP TRIGGER desks_set_hierarchy ON desks;
CREATE TRIGGER desks_set_hierarchy
    BEFORE INSERT OR UPDATE OF reports_to_id, hierarchy_path, hierarchy_level, desk_id ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_set_hierarchy();
DROP TRIGGER desks_cascade_path ON desks;
CREATE TRIGGER desks_cascade_path
    AFTER UPDATE OF reports_to_id, hierarchy_path, hierarchy_level, desk_id ON desks
    FOR EACH ROW WHEN (OLD.hierarchy_path IS DISTINCT FROM NEW.hierarchy_path)
    EXECUTE FUNCTION desks_cascade_path();
COMMENT ON FUNCTION desks_cascade_path() IS
    'AFTER UPDATE trigger on desks: when a desk''s hierarchy_path changed, recompute its children (recursively through their own triggers).';

-- ---------------------------------------------------------------------------------------------
-- workflows
-- ---------------------------------------------------------------------------------------------
ALTER TABLE workflows
    ADD COLUMN transitions jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN qa_enabled boolean DEFAULT false,
    ADD COLUMN qa_stages jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN meta_data jsonb DEFAULT '{}'::jsonb;

-- ---------------------------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------------------------
ALTER TABLE tasks RENAME COLUMN due_at TO due_date;
ALTER TABLE tasks RENAME COLUMN input_data TO context;
ALTER TABLE tasks RENAME COLUMN output_data TO result;
ALTER TABLE tasks RENAME CONSTRAINT tasks_input_data_check TO tasks_context_check;
ALTER TABLE tasks RENAME CONSTRAINT tasks_org_task_number_key TO uq_org_task_number;
ALTER INDEX tasks_org_due_at_idx RENAME TO tasks_org_due_date_idx;
ALTER TABLE tasks
    ADD COLUMN delegated_from_id uuid,
    ADD COLUMN estimated_hours numeric(8,2),
    ADD COLUMN actual_hours numeric(8,2),
    ADD COLUMN acceptance_criteria jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN deliverables jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN tags text[] DEFAULT '{}'::text[],
    ADD COLUMN meta_data jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN output_artifacts jsonb DEFAULT '[]'::jsonb,
    ADD CONSTRAINT tasks_delegated_from_fkey FOREIGN KEY (organization_id, delegated_from_id)
        REFERENCES desks (organization_id, id),
    ADD CONSTRAINT tasks_hours_check
        CHECK (coalesce(estimated_hours, 0) >= 0 AND coalesce(actual_hours, 0) >= 0);
CREATE INDEX tasks_org_delegated_from_idx ON tasks (organization_id, delegated_from_id);

-- ---------------------------------------------------------------------------------------------
-- agent_sessions (deployed without organization_id: filled from the desk)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE agent_sessions RENAME COLUMN ended_at TO completed_at;
ALTER TABLE agent_sessions RENAME CONSTRAINT agent_sessions_ended_check TO agent_sessions_completed_check;
ALTER TABLE agent_sessions
    ADD COLUMN session_type text,
    ADD COLUMN conversation_id uuid,
    ADD COLUMN message_count integer DEFAULT 0,
    ADD COLUMN input_tokens bigint DEFAULT 0,
    ADD COLUMN output_tokens bigint DEFAULT 0,
    ADD COLUMN total_cost numeric(14,6) DEFAULT 0,
    ADD COLUMN duration_seconds integer,
    ADD COLUMN result jsonb,
    ADD COLUMN error text,
    ADD CONSTRAINT agent_sessions_usage_check CHECK (
        coalesce(message_count, 0) >= 0 AND coalesce(input_tokens, 0) >= 0
        AND coalesce(output_tokens, 0) >= 0 AND coalesce(total_cost, 0) >= 0
        AND coalesce(duration_seconds, 0) >= 0);

-- ---------------------------------------------------------------------------------------------
-- messages (deployed without organization_id: filled from the session)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE messages RENAME COLUMN metadata TO meta_data;
ALTER TABLE messages RENAME CONSTRAINT messages_metadata_check TO messages_meta_data_check;
ALTER TABLE messages
    ALTER COLUMN input_tokens SET DEFAULT 0,
    ALTER COLUMN output_tokens SET DEFAULT 0,
    ADD COLUMN tool_results jsonb,
    ADD COLUMN cost numeric(14,6) DEFAULT 0,
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
    ADD COLUMN stage_order integer DEFAULT 1,
    ADD COLUMN review_type text,
    ADD COLUMN reviewer_type text,
    ADD COLUMN passed boolean,
    ADD COLUMN recommendations jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN metrics jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN started_at timestamptz;

-- ---------------------------------------------------------------------------------------------
-- delegations (deployed without organization_id: filled from the task)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE delegations
    ADD COLUMN instructions text,
    ADD COLUMN context jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN response text;

-- ---------------------------------------------------------------------------------------------
-- knowledge_bases
-- ---------------------------------------------------------------------------------------------
ALTER TABLE knowledge_bases
    ADD COLUMN vector_store_config jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN is_active boolean DEFAULT true,
    ADD COLUMN meta_data jsonb DEFAULT '{}'::jsonb;

-- ---------------------------------------------------------------------------------------------
-- data_sources (deployed without organization_id: filled from the knowledge base, else from
-- app.current_org_id). credentials is the deployed column, where the application stores
-- secrets in clear; arcdb's credentials_ref (a name in a secret store) is the way to replace it.
-- uri is NOT NULL as deployed would break arcdb's own writers, which keep URLs in
-- connection_config: it is nullable.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE data_sources
    ADD COLUMN uri text,
    ADD COLUMN sync_enabled boolean DEFAULT true,
    ADD COLUMN sync_frequency text,
    ADD COLUMN credentials jsonb,
    ADD COLUMN document_count integer DEFAULT 0,
    ADD COLUMN total_size_bytes bigint DEFAULT 0,
    ADD COLUMN meta_data jsonb DEFAULT '{}'::jsonb,
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
ALTER TABLE cost_tracking ALTER COLUMN total_tokens DROP EXPRESSION;
ALTER TABLE cost_tracking DROP CONSTRAINT cost_tracking_billing_month_check;
-- Its UPDATE OF list names billing_month, whose type changes: recreated below, unchanged.
DROP TRIGGER cost_tracking_set_billing_month ON cost_tracking;
ALTER TABLE cost_tracking
    ALTER COLUMN input_tokens TYPE bigint,
    ALTER COLUMN output_tokens TYPE bigint,
    ALTER COLUMN total_tokens SET NOT NULL,
    ALTER COLUMN billing_month TYPE text USING to_char(billing_month, 'YYYY-MM'),
    ADD COLUMN input_cost numeric(14,6) DEFAULT 0,
    ADD COLUMN output_cost numeric(14,6) DEFAULT 0,
    ADD CONSTRAINT cost_tracking_billing_month_check
        CHECK (billing_month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    ADD CONSTRAINT cost_tracking_total_tokens_check CHECK (total_tokens >= 0),
    ADD CONSTRAINT cost_tracking_part_costs_check
        CHECK (coalesce(input_cost, 0) >= 0 AND coalesce(output_cost, 0) >= 0);
COMMENT ON COLUMN cost_tracking.billing_month IS
    'Month (UTC) of created_at as ''YYYY-MM''; set by the cost_tracking_set_billing_month trigger.';

CREATE OR REPLACE FUNCTION cost_tracking_set_billing_month() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.billing_month := to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM');
    NEW.total_tokens := coalesce(NEW.total_tokens, NEW.input_tokens + NEW.output_tokens);
    RETURN NEW;
END;
$$;
CREATE TRIGGER cost_tracking_set_billing_month
    BEFORE INSERT OR UPDATE OF created_at, billing_month ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION cost_tracking_set_billing_month();
COMMENT ON FUNCTION cost_tracking_set_billing_month() IS
    'BEFORE INSERT/UPDATE trigger on cost_tracking: billing_month = ''YYYY-MM'' of created_at (UTC); total_tokens = input + output when not given.';

-- ---------------------------------------------------------------------------------------------
-- audit_logs
-- ---------------------------------------------------------------------------------------------
ALTER TABLE audit_logs RENAME COLUMN metadata TO meta_data;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_metadata_check TO audit_logs_meta_data_check;
ALTER TABLE audit_logs
    ADD COLUMN actor_type text,
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
ALTER TABLE api_keys
    ADD COLUMN is_active boolean DEFAULT true,
    ADD COLUMN usage_count bigint DEFAULT 0,
    ADD CONSTRAINT api_keys_usage_count_check CHECK (coalesce(usage_count, 0) >= 0);
ALTER TABLE api_keys DISABLE TRIGGER api_keys_set_updated_at;
UPDATE api_keys SET is_active = false WHERE revoked_at IS NOT NULL;
ALTER TABLE api_keys ENABLE TRIGGER api_keys_set_updated_at;
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
CREATE FUNCTION agent_sessions_set_organization() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF NEW.organization_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    found_org := ARRAY(SELECT d.organization_id FROM public.desks AS d
                        WHERE d.id = NEW.desk_id
                          AND (wanted IS NULL OR d.organization_id = wanted)
                        LIMIT 2);
    IF cardinality(found_org) <> 1 THEN
        RAISE EXCEPTION 'agent session refused: desk % %', NEW.desk_id,
                CASE WHEN cardinality(found_org) = 0
                     THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                     ELSE 'exists in several organizations: give organization_id' END
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'A session belongs to its desk''s organization; set app.current_org_id to it.';
    END IF;
    NEW.organization_id := found_org[1];
    RETURN NEW;
END;
$$;

CREATE FUNCTION messages_set_organization() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF NEW.organization_id IS NULL THEN
        found_org := ARRAY(SELECT s.organization_id FROM public.agent_sessions AS s
                            WHERE s.id = NEW.session_id
                              AND (wanted IS NULL OR s.organization_id = wanted)
                            LIMIT 2);
        IF cardinality(found_org) <> 1 THEN
            RAISE EXCEPTION 'message refused: session % %', NEW.session_id,
                    CASE WHEN cardinality(found_org) = 0
                         THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                         ELSE 'exists in several organizations: give organization_id' END
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'A message belongs to its session''s organization; set app.current_org_id to it.';
        END IF;
        NEW.organization_id := found_org[1];
    END IF;
    IF NEW.sequence_number IS NULL THEN
        -- Next number in the session. Locking the session row serializes the numbering of
        -- concurrent inserts into one session (FOR NO KEY UPDATE does not block foreign-key checks).
        PERFORM 1 FROM public.agent_sessions AS s
          WHERE s.organization_id = NEW.organization_id AND s.id = NEW.session_id
          FOR NO KEY UPDATE;
        NEW.sequence_number := 1 + coalesce(
            (SELECT max(m.sequence_number) FROM public.messages AS m
              WHERE m.organization_id = NEW.organization_id AND m.session_id = NEW.session_id), 0);
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION qa_reviews_set_organization() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF NEW.organization_id IS NULL THEN
        found_org := ARRAY(SELECT t.organization_id FROM public.tasks AS t
                            WHERE t.id = NEW.task_id
                              AND (wanted IS NULL OR t.organization_id = wanted)
                            LIMIT 2);
        IF cardinality(found_org) <> 1 THEN
            RAISE EXCEPTION 'QA review refused: task % %', NEW.task_id,
                    CASE WHEN cardinality(found_org) = 0
                         THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                         ELSE 'exists in several organizations: give organization_id' END
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'A QA review belongs to its task''s organization; set app.current_org_id to it.';
        END IF;
        NEW.organization_id := found_org[1];
    END IF;
    IF NEW.iteration IS NULL THEN
        -- Next iteration of this stage of the task; the task row lock serializes concurrent ones.
        PERFORM 1 FROM public.tasks AS t
          WHERE t.organization_id = NEW.organization_id AND t.id = NEW.task_id
          FOR NO KEY UPDATE;
        NEW.iteration := 1 + coalesce(
            (SELECT max(q.iteration) FROM public.qa_reviews AS q
              WHERE q.organization_id = NEW.organization_id AND q.task_id = NEW.task_id
                AND q.stage_name = NEW.stage_name), 0);
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION delegations_set_organization() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF NEW.organization_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    found_org := ARRAY(SELECT t.organization_id FROM public.tasks AS t
                        WHERE t.id = NEW.task_id
                          AND (wanted IS NULL OR t.organization_id = wanted)
                        LIMIT 2);
    IF cardinality(found_org) <> 1 THEN
        RAISE EXCEPTION 'delegation refused: task % %', NEW.task_id,
                CASE WHEN cardinality(found_org) = 0
                     THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                     ELSE 'exists in several organizations: give organization_id' END
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'A delegation belongs to its task''s organization; set app.current_org_id to it.';
    END IF;
    NEW.organization_id := found_org[1];
    RETURN NEW;
END;
$$;

CREATE FUNCTION data_sources_set_organization() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    wanted uuid := public.current_org_id();
    found_org uuid[];
BEGIN
    IF NEW.organization_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.knowledge_base_id IS NULL THEN
        IF wanted IS NULL THEN
            RAISE EXCEPTION 'data source refused: no knowledge_base_id, no organization_id and no app.current_org_id'
                USING ERRCODE = 'not_null_violation',
                      HINT = 'Set app.current_org_id (SET LOCAL) or give organization_id.';
        END IF;
        NEW.organization_id := wanted;
        RETURN NEW;
    END IF;
    found_org := ARRAY(SELECT k.organization_id FROM public.knowledge_bases AS k
                        WHERE k.id = NEW.knowledge_base_id
                          AND (wanted IS NULL OR k.organization_id = wanted)
                        LIMIT 2);
    IF cardinality(found_org) <> 1 THEN
        RAISE EXCEPTION 'data source refused: knowledge base % %', NEW.knowledge_base_id,
                CASE WHEN cardinality(found_org) = 0
                     THEN 'does not exist in organization ' || coalesce(wanted::text, '(none set)') || ' (or is not visible)'
                     ELSE 'exists in several organizations: give organization_id' END
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'A data source belongs to its knowledge base''s organization; set app.current_org_id to it.';
    END IF;
    NEW.organization_id := found_org[1];
    RETURN NEW;
END;
$$;

CREATE FUNCTION api_keys_set_is_active() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF NEW.revoked_at IS NOT NULL AND TG_OP = 'INSERT' THEN
        NEW.is_active := false;
    ELSIF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
        NEW.is_active := false;
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION audit_logs_set_actor_type() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.actor_type := coalesce(NEW.actor_type,
        CASE WHEN NEW.user_id IS NOT NULL THEN 'user'
             WHEN NEW.api_key_id IS NOT NULL THEN 'api_key'
             WHEN NEW.desk_id IS NOT NULL THEN 'desk'
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

CREATE TRIGGER agent_sessions_set_organization BEFORE INSERT ON agent_sessions
    FOR EACH ROW EXECUTE FUNCTION agent_sessions_set_organization();
CREATE TRIGGER messages_set_organization BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_set_organization();
CREATE TRIGGER qa_reviews_set_organization BEFORE INSERT ON qa_reviews
    FOR EACH ROW EXECUTE FUNCTION qa_reviews_set_organization();
CREATE TRIGGER delegations_set_organization BEFORE INSERT ON delegations
    FOR EACH ROW EXECUTE FUNCTION delegations_set_organization();
CREATE TRIGGER data_sources_set_organization BEFORE INSERT ON data_sources
    FOR EACH ROW EXECUTE FUNCTION data_sources_set_organization();
CREATE TRIGGER api_keys_set_is_active BEFORE INSERT OR UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_set_is_active();
CREATE TRIGGER audit_logs_set_actor_type BEFORE INSERT ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_set_actor_type();

REVOKE EXECUTE ON FUNCTION
    agent_sessions_set_organization(), messages_set_organization(), qa_reviews_set_organization(),
    delegations_set_organization(), data_sources_set_organization(), audit_logs_set_actor_type(),
    api_keys_set_is_active()
FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Grants the application needs on the new columns (arcdesk_tenant's table-level grants cover
-- the rest): its own organization's meta_data; an API key's use counters and deactivation
-- (reactivating a revoked key is refused by api_keys_revoked_inactive_check).
-- ---------------------------------------------------------------------------------------------
GRANT UPDATE (meta_data) ON organizations TO arcdesk_tenant;
GRANT UPDATE (is_active, last_used_at, usage_count) ON api_keys TO arcdesk_tenant;

-- users.is_superuser is the platform's, not a tenant's: the application writes users rows of its
-- organization (sign-up, profile, login time, its own admins: is_admin stays a tenant column,
-- scoped to the organization by RLS), and inserts is_superuser false. So a tenant updates every
-- users column but is_superuser (column grants, like organizations), and an INSERT with
-- is_superuser true is refused unless the session may update that column (the owner may).
-- A column added to users later needs its own GRANT UPDATE here.
REVOKE UPDATE ON users FROM arcdesk_tenant;
GRANT UPDATE (
    id, organization_id, email, username, full_name, is_admin, is_active, preferences,
    last_login_at, deleted_at, created_at, updated_at, password_hash, avatar_url, email_verified_at
) ON users TO arcdesk_tenant;
CREATE FUNCTION users_guard_superuser() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF NEW.is_superuser AND NOT has_column_privilege('public.users', 'is_superuser', 'UPDATE') THEN
        RAISE EXCEPTION 'permission denied: a tenant may not create a superuser (users.is_superuser)'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Insert the user with is_superuser false; the platform (the owner) grants it.';
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION users_guard_superuser() IS
    'BEFORE INSERT trigger on users: is_superuser true only from a session that may update users.is_superuser (not arcdesk_tenant).';
CREATE TRIGGER users_guard_superuser BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_guard_superuser();
REVOKE EXECUTE ON FUNCTION users_guard_superuser() FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- The deployed index names. Renamed: arcdb indexes that are the organization-led form of the
-- deployed one. Created: the rest, led by organization_id except on organizations (the tenant
-- root) and the platform lookups by email and key hash (made before the tenant is known), and
-- the GIN indexes (a GIN index cannot lead with a uuid without btree_gin).
-- ---------------------------------------------------------------------------------------------
ALTER INDEX desks_org_parent_idx RENAME TO idx_desk_reports_to;
ALTER INDEX desks_org_path_idx RENAME TO idx_desk_hierarchy;
ALTER INDEX desks_org_role_active_idx RENAME TO idx_desk_role;
ALTER INDEX tasks_org_assigned_status_idx RENAME TO idx_task_assigned;
ALTER INDEX tasks_org_status_priority_idx RENAME TO idx_tasks_org_status_priority;
ALTER INDEX tasks_org_created_at_idx RENAME TO idx_task_created;
ALTER INDEX tasks_org_parent_idx RENAME TO idx_task_parent;
ALTER INDEX agent_sessions_org_desk_started_idx RENAME TO idx_sessions_desk_date;
ALTER INDEX agent_sessions_org_task_idx RENAME TO idx_session_task;
ALTER INDEX agent_sessions_org_started_idx RENAME TO idx_session_started;
ALTER INDEX messages_org_created_at_idx RENAME TO idx_message_created;
ALTER INDEX qa_reviews_org_status_idx RENAME TO idx_qa_status;
ALTER INDEX qa_reviews_org_reviewer_desk_idx RENAME TO idx_qa_reviewer;
ALTER INDEX delegations_org_task_idx RENAME TO idx_delegation_task;
ALTER INDEX delegations_org_from_desk_idx RENAME TO idx_delegation_from;
ALTER INDEX delegations_org_to_desk_status_idx RENAME TO idx_delegation_to;
ALTER INDEX data_sources_org_knowledge_base_idx RENAME TO idx_ds_kb;
ALTER INDEX data_sources_org_type_idx RENAME TO idx_ds_type;
ALTER INDEX cost_tracking_org_month_provider_idx RENAME TO idx_cost_org_month_provider;
ALTER INDEX cost_tracking_org_desk_created_idx RENAME TO idx_cost_desk;
ALTER INDEX cost_tracking_org_task_idx RENAME TO idx_cost_task;
ALTER INDEX cost_tracking_org_created_at_idx RENAME TO idx_cost_created;
ALTER INDEX audit_logs_org_created_at_idx RENAME TO idx_audit_org_created;
ALTER INDEX audit_logs_org_user_created_idx RENAME TO idx_audit_user;
ALTER INDEX audit_logs_org_desk_idx RENAME TO idx_audit_desk;
ALTER INDEX audit_logs_org_action_created_idx RENAME TO idx_audit_action;
ALTER INDEX audit_logs_org_resource_idx RENAME TO idx_audit_resource;

CREATE INDEX idx_org_slug ON organizations (slug);
CREATE INDEX idx_org_created ON organizations (created_at);
CREATE INDEX idx_org_name ON organizations (name);
CREATE INDEX idx_org_settings_gin ON organizations USING gin (settings);
CREATE INDEX idx_user_org ON users (organization_id);
CREATE INDEX idx_user_email ON users (email);
CREATE INDEX idx_desk_org ON desks (organization_id);
CREATE INDEX idx_desk_llm_config_gin ON desks USING gin (llm_config);
CREATE INDEX idx_desk_skills_gin ON desks USING gin (skills);
CREATE INDEX idx_desks_active ON desks (organization_id, is_active) WHERE is_active = true;
CREATE INDEX idx_workflow_org ON workflows (organization_id);
CREATE INDEX idx_workflow_active ON workflows (organization_id, is_active);
CREATE INDEX idx_task_org ON tasks (organization_id);
CREATE INDEX idx_task_status ON tasks (organization_id, status);
CREATE INDEX idx_task_priority ON tasks (organization_id, priority);
CREATE INDEX idx_task_context_gin ON tasks USING gin (context);
CREATE INDEX idx_tasks_active ON tasks (organization_id, status)
    WHERE status NOT IN ('completed', 'cancelled');
CREATE INDEX idx_tasks_title_fts ON tasks USING gin (to_tsvector('english', title));
CREATE INDEX idx_tasks_description_fts ON tasks USING gin (to_tsvector('english', description));
CREATE INDEX idx_session_desk ON agent_sessions (organization_id, desk_id);
CREATE INDEX idx_message_session ON messages (organization_id, session_id);
CREATE INDEX idx_qa_task ON qa_reviews (organization_id, task_id);
CREATE INDEX idx_delegation_created ON delegations (organization_id, created_at);
CREATE INDEX idx_kb_org ON knowledge_bases (organization_id);
CREATE INDEX idx_cost_org_month ON cost_tracking (organization_id, billing_month);
CREATE INDEX idx_apikey_org ON api_keys (organization_id);
CREATE INDEX idx_apikey_hash ON api_keys (key_hash);

-- ---------------------------------------------------------------------------------------------
-- Analytics. The materialized views keep arcdb's definitions of 0005 (on the renamed columns)
-- under the names org_cost_summary_mv and desk_performance_mv: still closed to tenants, managed
-- by `arcdb refresh`. The application reads the deployed names mv_org_cost_summary and
-- mv_desk_performance: those are now tenant-facing views (security_barrier, filtered by
-- app.current_org_id, exactly the deployed columns), so its Analytics SELECTs run unchanged
-- and see only its own organization. What the application must change: its REFRESH
-- MATERIALIZED VIEW statements (`arcdb refresh`, run as the owner, replaces them).
-- org_cost_summary and desk_performance stay arcdb's fuller tenant views.
-- ---------------------------------------------------------------------------------------------
CREATE MATERIALIZED VIEW org_cost_summary_mv AS
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
GROUP BY ct.organization_id, ct.billing_month, ct.provider
WITH DATA;
COMMENT ON MATERIALIZED VIEW org_cost_summary_mv IS
    'LLM cost per organization, billing month and provider. No RLS: not granted to tenants (they read org_cost_summary or mv_org_cost_summary).';
-- Key (needed by the non-blocking refresh); also "costs of one organization, newest month first".
CREATE UNIQUE INDEX org_cost_summary_mv_key
    ON org_cost_summary_mv (organization_id, billing_month, provider);
-- "Cost trend of one provider in one organization".
CREATE INDEX org_cost_summary_mv_org_provider_idx
    ON org_cost_summary_mv (organization_id, provider, billing_month);

CREATE MATERIALIZED VIEW desk_performance_mv AS
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
WHERE d.deleted_at IS NULL
WITH DATA;
COMMENT ON MATERIALIZED VIEW desk_performance_mv IS
    'Per-desk task, QA and LLM cost metrics. desk_id is desks.id (desk_code is the handle). No RLS: not granted to tenants (they read desk_performance or mv_desk_performance).';
-- Key (needed by the non-blocking refresh); led by organization_id like every tenant key.
CREATE UNIQUE INDEX desk_performance_mv_key
    ON desk_performance_mv (organization_id, desk_id);
-- "Desks of one organization by workload" (the Analytics query: ORDER BY total_tasks DESC).
CREATE INDEX desk_performance_mv_org_total_tasks_idx
    ON desk_performance_mv (organization_id, total_tasks DESC);

-- arcdb's tenant views (as in 0006, on the renamed columns).
CREATE VIEW org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_calls,
    input_tokens, output_tokens, total_tokens, total_cost, avg_cost_per_call,
    first_call_at, last_call_at
FROM org_cost_summary_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW org_cost_summary IS
    'org_cost_summary_mv rows of the organization in app.current_org_id (none when unset).';

CREATE VIEW desk_performance WITH (security_barrier = true) AS
SELECT
    desk_id, organization_id, desk_code, title, role, llm_provider, llm_model, reports_to_id,
    hierarchy_level, is_active, total_tasks, completed_tasks, failed_tasks, open_tasks,
    completion_rate, avg_completion_hours, qa_passed, qa_failed, qa_pass_rate, total_llm_calls,
    total_tokens, total_llm_cost, last_task_at
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW desk_performance IS
    'desk_performance_mv rows of the organization in app.current_org_id (none when unset).';

-- The deployed names, with the deployed columns (desk_id is desks.id, desk_identifier the handle).
CREATE VIEW mv_org_cost_summary WITH (security_barrier = true) AS
SELECT
    organization_id, billing_month, provider, active_desks, tasks_processed, total_cost,
    avg_cost_per_call
FROM org_cost_summary_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW mv_org_cost_summary IS
    'ArcDesk''s name and columns for org_cost_summary_mv: rows of the organization in app.current_org_id (none when unset).';

CREATE VIEW mv_desk_performance WITH (security_barrier = true) AS
SELECT
    organization_id, desk_id, desk_code AS desk_identifier, title, role, total_tasks,
    completed_tasks, avg_completion_hours, total_llm_cost
FROM desk_performance_mv
WHERE organization_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_org_id', true), '')::uuid);
COMMENT ON VIEW mv_desk_performance IS
    'ArcDesk''s name and columns for desk_performance_mv: rows of the organization in app.current_org_id (none when unset).';

GRANT SELECT ON org_cost_summary, desk_performance, mv_org_cost_summary, mv_desk_performance
    TO arcdesk_tenant;
