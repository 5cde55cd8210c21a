-- 0006_rls_fast_path, CockroachDB variant: only the index (read up.sql's header). The other
-- changes there remove PostgreSQL planning costs that the CockroachDB variant of 0004 never had
-- in that form: its helpers have no SET clause, its policies cannot hold subqueries and already
-- ask message_session_visible(). Whether CockroachDB's optimizer needs more is not measured
-- (there is no CockroachDB on the benchmark machine; docs/cockroachdb.md).
-- The partial index serves a desk's open tasks by priority; IF NOT EXISTS keeps it re-runnable
-- (a CockroachDB migration is not atomic: an interrupted run is re-run from the start).
CREATE INDEX IF NOT EXISTS tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority DESC, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');
