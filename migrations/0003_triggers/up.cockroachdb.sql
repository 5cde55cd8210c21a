-- 0003_triggers, CockroachDB variant (25.3+): the same maintained columns as up.sql (read its
-- header), written in the PL/pgSQL and trigger dialect CockroachDB documents (docs v26.2
-- triggers.md, known-limitations/plpgsql-limitations.md, trigger-limitations.md):
--   * fields of NEW and OLD are read as (NEW).col / (OLD).col (assignment NEW.col := … is fine);
--   * no FOUND: a SELECT/UPDATE … INTO that finds no row leaves its target NULL, tested instead;
--   * no UPDATE OF column lists on triggers: the BEFORE triggers fire on every UPDATE (they
--     recompute the same values, or return early when nothing relevant changed), and the AFTER
--     trigger keeps its WHEN (OLD).path IS DISTINCT FROM (NEW).path;
--   * no SET search_path on functions (CockroachDB resolves the names of a function body when
--     the function is created; every table is schema-qualified anyway);
--   * errors carry SQLSTATE codes (23503, 23514) rather than condition names;
--   * idempotent, because an interrupted run is re-run from the start: CREATE OR REPLACE
--     FUNCTION, DROP TRIGGER IF EXISTS before each CREATE TRIGGER.
-- Under SERIALIZABLE (CockroachDB's default) two concurrent inserts of tasks of one organization
-- conflict on organizations.last_task_number: one gets a 40001 retry error that PL/pgSQL cannot
-- catch, so the client retries; UNIQUE (organization_id, task_number) stays the backstop.

-- ---------------------------------------------------------------------------------------------
-- updated_at
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION set_updated_at() IS 'BEFORE UPDATE trigger: stamps updated_at with the transaction time.';

DROP TRIGGER IF EXISTS organizations_set_updated_at ON organizations;
CREATE TRIGGER organizations_set_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW WHEN ((OLD).last_task_number = (NEW).last_task_number)
    EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS users_set_updated_at ON users;
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS desks_set_updated_at ON desks;
CREATE TRIGGER desks_set_updated_at BEFORE UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS workflows_set_updated_at ON workflows;
CREATE TRIGGER workflows_set_updated_at BEFORE UPDATE ON workflows
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS tasks_set_updated_at ON tasks;
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS agent_sessions_set_updated_at ON agent_sessions;
CREATE TRIGGER agent_sessions_set_updated_at BEFORE UPDATE ON agent_sessions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS messages_set_updated_at ON messages;
CREATE TRIGGER messages_set_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS qa_reviews_set_updated_at ON qa_reviews;
CREATE TRIGGER qa_reviews_set_updated_at BEFORE UPDATE ON qa_reviews
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS delegations_set_updated_at ON delegations;
CREATE TRIGGER delegations_set_updated_at BEFORE UPDATE ON delegations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS knowledge_bases_set_updated_at ON knowledge_bases;
CREATE TRIGGER knowledge_bases_set_updated_at BEFORE UPDATE ON knowledge_bases
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS data_sources_set_updated_at ON data_sources;
CREATE TRIGGER data_sources_set_updated_at BEFORE UPDATE ON data_sources
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
DROP TRIGGER IF EXISTS api_keys_set_updated_at ON api_keys;
CREATE TRIGGER api_keys_set_updated_at BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- desks hierarchy: path and depth from the parent, cycles rejected, subtree rewritten on a move.
-- BEFORE INSERT OR UPDATE (every update: CockroachDB has no UPDATE OF): recomputing from the
-- parent gives the same values when nothing moved. The parent row is read FOR SHARE, as in
-- up.sql (CockroachDB documents FOR SHARE as best-effort under SERIALIZABLE unless
-- enable_durable_locking_for_serializable is on; serializability itself still rejects one of
-- two crossing moves).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION desks_set_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    parent_path  text;
    parent_depth integer;
BEGIN
    IF (NEW).parent_desk_id IS NULL THEN
        NEW.path := '/' || (NEW).id::text || '/';
        NEW.depth := 0;
        RETURN NEW;
    END IF;

    SELECT d.path, d.depth
      INTO parent_path, parent_depth
      FROM public.desks AS d
     WHERE d.organization_id = (NEW).organization_id
       AND d.id = (NEW).parent_desk_id
       FOR SHARE;
    IF parent_path IS NULL THEN
        RAISE EXCEPTION 'parent desk % does not exist in organization % (or is not visible)',
                (NEW).parent_desk_id, (NEW).organization_id
            USING ERRCODE = '23503';
    END IF;

    IF strpos(parent_path, '/' || (NEW).id::text || '/') > 0 THEN
        RAISE EXCEPTION 'desk % cannot be placed under desk %: that desk is itself or one of its descendants',
                (NEW).id, (NEW).parent_desk_id
            USING ERRCODE = '23514',
                  HINT = 'A desk hierarchy is a tree: move the descendant elsewhere first.';
    END IF;

    NEW.path := parent_path || (NEW).id::text || '/';
    NEW.depth := parent_depth + 1;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION desks_set_hierarchy() IS
    'BEFORE INSERT/UPDATE trigger on desks: path and depth from the parent; rejects cycles.';

CREATE OR REPLACE FUNCTION desks_cascade_path() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE public.desks
       SET path = path
     WHERE organization_id = (NEW).organization_id
       AND parent_desk_id = (NEW).id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION desks_cascade_path() IS
    'AFTER UPDATE trigger on desks: when a desk''s path changed, recompute its children (recursively through their own triggers).';

DROP TRIGGER IF EXISTS desks_set_hierarchy ON desks;
CREATE TRIGGER desks_set_hierarchy
    BEFORE INSERT OR UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_set_hierarchy();
DROP TRIGGER IF EXISTS desks_cascade_path ON desks;
CREATE TRIGGER desks_cascade_path
    AFTER UPDATE ON desks
    FOR EACH ROW WHEN ((OLD).path IS DISTINCT FROM (NEW).path)
    EXECUTE FUNCTION desks_cascade_path();

-- ---------------------------------------------------------------------------------------------
-- cost_tracking.billing_month: first day of the UTC month of created_at (every insert and
-- update; the same value when created_at did not change).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION cost_tracking_set_billing_month() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.billing_month := date_trunc('month', (NEW).created_at AT TIME ZONE 'UTC')::date;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION cost_tracking_set_billing_month() IS
    'BEFORE INSERT/UPDATE trigger on cost_tracking: billing_month = first day of the UTC month of created_at.';

DROP TRIGGER IF EXISTS cost_tracking_set_billing_month ON cost_tracking;
CREATE TRIGGER cost_tracking_set_billing_month
    BEFORE INSERT OR UPDATE ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION cost_tracking_set_billing_month();

-- ---------------------------------------------------------------------------------------------
-- tasks.task_number: per organization, from organizations.last_task_number (see up.sql). The
-- trigger fires on every UPDATE and returns at once unless task_number or organization_id
-- changed. No FOUND: counter stays NULL when the organization row is missing or invisible
-- (last_task_number is NOT NULL otherwise).
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION tasks_assign_task_number() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    counter bigint;
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW).task_number IS NOT DISTINCT FROM (OLD).task_number
       AND (NEW).organization_id IS NOT DISTINCT FROM (OLD).organization_id THEN
        RETURN NEW;
    END IF;

    IF (NEW).task_number IS NULL THEN
        UPDATE public.organizations
           SET last_task_number = last_task_number + 1
         WHERE id = (NEW).organization_id
        RETURNING last_task_number INTO counter;
    ELSE
        SELECT o.last_task_number
          INTO counter
          FROM public.organizations AS o
         WHERE o.id = (NEW).organization_id;
    END IF;

    IF counter IS NULL THEN
        RAISE EXCEPTION 'cannot number task: organization % does not exist or is not visible to role %',
                (NEW).organization_id, current_user
            USING ERRCODE = '23503',
                  HINT = 'A tenant can only write rows of the organization set in app.current_org_id.';
    END IF;

    IF (NEW).task_number IS NULL THEN
        NEW.task_number := counter;
    ELSIF (NEW).task_number > counter THEN
        RAISE EXCEPTION 'task_number % is not reserved in organization % (last_task_number is %)',
                (NEW).task_number, (NEW).organization_id, counter
            USING ERRCODE = '23514',
                  HINT = 'Leave task_number NULL to get the next number, or first raise organizations.last_task_number.';
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION tasks_assign_task_number() IS
    'BEFORE INSERT/UPDATE trigger on tasks: per-organization task_number from organizations.last_task_number.';

DROP TRIGGER IF EXISTS tasks_assign_task_number ON tasks;
CREATE TRIGGER tasks_assign_task_number
    BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_assign_task_number();

-- ---------------------------------------------------------------------------------------------
-- Trigger functions are not callable by PUBLIC (which CockroachDB, like PostgreSQL, grants
-- EXECUTE on new functions in schema public).
-- ---------------------------------------------------------------------------------------------
REVOKE EXECUTE ON FUNCTION
    set_updated_at(), desks_set_hierarchy(), desks_cascade_path(),
    cost_tracking_set_billing_month(), tasks_assign_task_number()
FROM PUBLIC;
