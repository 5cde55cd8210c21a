-- 0003_triggers: columns the database maintains itself, so no client can get them wrong.
--   * updated_at on every table that has it (one shared function, 12 triggers);
--   * desks.path / desks.depth: computed from the parent on insert and on a move, cycles
--     rejected, and the whole subtree rewritten when a desk moves (2 triggers);
--   * cost_tracking.billing_month = first day of the UTC month of created_at (1 trigger);
--   * tasks.task_number: numbered per organization from a counter on organizations (1 trigger).
-- All functions run as the invoker (no SECURITY DEFINER: a tenant's write fires them with the
-- tenant's own rights and row-level security), pin search_path, and are not executable by
-- PUBLIC (firing a trigger needs no EXECUTE right; calling these directly is never needed).
-- Only PostgreSQL 13 syntax: CREATE TRIGGER (no OR REPLACE), EXECUTE FUNCTION.

-- ---------------------------------------------------------------------------------------------
-- updated_at
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION set_updated_at() IS 'BEFORE UPDATE trigger: stamps updated_at with the transaction time.';

-- organizations: not when only the task counter moved (every task insert bumps it; that is not
-- a change of the organization).
CREATE TRIGGER organizations_set_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW WHEN (OLD.last_task_number = NEW.last_task_number)
    EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER desks_set_updated_at BEFORE UPDATE ON desks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER workflows_set_updated_at BEFORE UPDATE ON workflows
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER agent_sessions_set_updated_at BEFORE UPDATE ON agent_sessions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER messages_set_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER qa_reviews_set_updated_at BEFORE UPDATE ON qa_reviews
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER delegations_set_updated_at BEFORE UPDATE ON delegations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER knowledge_bases_set_updated_at BEFORE UPDATE ON knowledge_bases
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER data_sources_set_updated_at BEFORE UPDATE ON data_sources
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER api_keys_set_updated_at BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- desks hierarchy
-- path = '/<root id>/.../<own id>/', depth = number of ancestors.
-- BEFORE INSERT, and BEFORE UPDATE of parent_desk_id/path/depth: recompute both from the
-- parent (so path and depth cannot be set by hand) and reject a parent that is the desk itself
-- or one of its descendants. The parent row is read FOR SHARE: a concurrent move of the parent
-- or of an ancestor (whose fix-up rewrites the parent row) then waits for us or we for it, so
-- a stale path is never read and two crossing moves cannot both commit a cycle (one of them
-- waits and then sees the cycle, or is cancelled as a deadlock).
-- AFTER UPDATE, when the path changed: touch the direct children, whose own BEFORE trigger
-- recomputes from this row and whose AFTER trigger carries on one level further down.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION desks_set_hierarchy() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    parent_path  text;
    parent_depth integer;
BEGIN
    IF NEW.parent_desk_id IS NULL THEN
        NEW.path := '/' || NEW.id::text || '/';
        NEW.depth := 0;
        RETURN NEW;
    END IF;

    SELECT d.path, d.depth
      INTO parent_path, parent_depth
      FROM public.desks AS d
     WHERE d.organization_id = NEW.organization_id
       AND d.id = NEW.parent_desk_id
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'parent desk % does not exist in organization % (or is not visible)',
                NEW.parent_desk_id, NEW.organization_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;

    IF position('/' || NEW.id::text || '/' IN parent_path) > 0 THEN
        RAISE EXCEPTION 'desk % cannot be placed under desk %: that desk is itself or one of its descendants',
                NEW.id, NEW.parent_desk_id
            USING ERRCODE = 'check_violation',
                  HINT = 'A desk hierarchy is a tree: move the descendant elsewhere first.';
    END IF;

    NEW.path := parent_path || NEW.id::text || '/';
    NEW.depth := parent_depth + 1;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION desks_set_hierarchy() IS
    'BEFORE INSERT/UPDATE trigger on desks: path and depth from the parent; rejects cycles.';

CREATE FUNCTION desks_cascade_path() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE public.desks
       SET path = path
     WHERE organization_id = NEW.organization_id
       AND parent_desk_id = NEW.id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION desks_cascade_path() IS
    'AFTER UPDATE trigger on desks: when a desk''s path changed, recompute its children (recursively through their own triggers).';

CREATE TRIGGER desks_set_hierarchy
    BEFORE INSERT OR UPDATE OF parent_desk_id, path, depth ON desks
    FOR EACH ROW EXECUTE FUNCTION desks_set_hierarchy();
CREATE TRIGGER desks_cascade_path
    AFTER UPDATE OF parent_desk_id, path, depth ON desks
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION desks_cascade_path();

-- ---------------------------------------------------------------------------------------------
-- cost_tracking.billing_month: always derived from created_at, in UTC so that it does not
-- depend on the session's TimeZone.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION cost_tracking_set_billing_month() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
BEGIN
    NEW.billing_month := date_trunc('month', NEW.created_at AT TIME ZONE 'UTC')::date;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION cost_tracking_set_billing_month() IS
    'BEFORE INSERT/UPDATE trigger on cost_tracking: billing_month = first day of the UTC month of created_at.';

CREATE TRIGGER cost_tracking_set_billing_month
    BEFORE INSERT OR UPDATE OF created_at, billing_month ON cost_tracking
    FOR EACH ROW EXECUTE FUNCTION cost_tracking_set_billing_month();

-- ---------------------------------------------------------------------------------------------
-- tasks.task_number: per organization, no sequence shared between organizations.
-- NULL task_number (the normal case): UPDATE organizations ... RETURNING bumps the
-- organization's counter. That row lock serializes concurrent inserts of one organization (the
-- second waits for the first to commit and then reads the new counter; under REPEATABLE READ or
-- SERIALIZABLE it gets a serialization failure to retry), while other organizations are not
-- blocked. The lock is FOR NO KEY UPDATE, so foreign-key checks against the organization
-- (FOR KEY SHARE) are not blocked either. UNIQUE (organization_id, task_number) is the backstop.
-- An explicit task_number (imports, bulk loads, the sample seed) is accepted only when it is
-- already reserved, i.e. not above the counter: reserve a block with one UPDATE of
-- last_task_number, then load, and the counter stays >= every task_number.
-- Runs as the invoker: a tenant bumps only the counter of the organization its RLS policy shows
-- it; for any other organization the row is invisible and the insert fails with the error below.
-- A row skipped by INSERT ... ON CONFLICT DO NOTHING has already fired this trigger, so it
-- leaves a gap in the numbering (like a sequence); numbers are unique, not gapless.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION tasks_assign_task_number() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
AS $$
DECLARE
    counter bigint;
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.task_number IS NOT DISTINCT FROM OLD.task_number
       AND NEW.organization_id IS NOT DISTINCT FROM OLD.organization_id THEN
        RETURN NEW;
    END IF;

    IF NEW.task_number IS NULL THEN
        UPDATE public.organizations
           SET last_task_number = last_task_number + 1
         WHERE id = NEW.organization_id
        RETURNING last_task_number INTO counter;
    ELSE
        SELECT o.last_task_number
          INTO counter
          FROM public.organizations AS o
         WHERE o.id = NEW.organization_id;
    END IF;

    IF NOT FOUND THEN
        RAISE EXCEPTION 'cannot number task: organization % does not exist or is not visible to role %',
                NEW.organization_id, current_user
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'A tenant can only write rows of the organization set in app.current_org_id.';
    END IF;

    IF NEW.task_number IS NULL THEN
        NEW.task_number := counter;
    ELSIF NEW.task_number > counter THEN
        RAISE EXCEPTION 'task_number % is not reserved in organization % (last_task_number is %)',
                NEW.task_number, NEW.organization_id, counter
            USING ERRCODE = 'check_violation',
                  HINT = 'Leave task_number NULL to get the next number, or first raise organizations.last_task_number.';
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION tasks_assign_task_number() IS
    'BEFORE INSERT/UPDATE trigger on tasks: per-organization task_number from organizations.last_task_number.';

CREATE TRIGGER tasks_assign_task_number
    BEFORE INSERT OR UPDATE OF task_number, organization_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_assign_task_number();

-- ---------------------------------------------------------------------------------------------
-- Trigger functions are not callable by PUBLIC.
-- ---------------------------------------------------------------------------------------------
REVOKE EXECUTE ON FUNCTION
    set_updated_at(), desks_set_hierarchy(), desks_cascade_path(),
    cost_tracking_set_billing_month(), tasks_assign_task_number()
FROM PUBLIC;
