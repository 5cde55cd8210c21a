-- 0006_rls_fast_path (down), CockroachDB variant: drop the index up.cockroachdb.sql creates.
DROP INDEX IF EXISTS tasks_org_assigned_open_idx;
