-- 0008_arcdesk_enum_values: the enum values of ArcDesk's deployed schema (001_multi_tenant) that
-- arcdb's types lacked, so that every value the application writes is accepted (part of the
-- contract of 0007). ALTER TYPE ... ADD VALUE takes no table lock and rewrites nothing; a value
-- added in a transaction cannot be used in that same transaction, which is why this is a
-- migration of its own (nothing in it uses them). Placed where they sort sensibly:
--   roletype:    writer, editor, support_l1, support_l2, support_l3, custom
--   taskstatus:  assigned (after pending), approved and rejected (after in_review)
--   llmprovider: local, azure (before custom)
--   auditaction: access, execute
-- qastagestatus and subscriptiontier already hold every deployed value.
-- taskpriority holds every deployed value but in arcdb's ascending order (0002); the application
-- sorts with `ORDER BY priority` and expects 'critical' first, so the type is rebuilt in the
-- deployed order ('critical', 'high', 'medium', 'low'): a rewrite of tasks. The priority indexes
-- are rebuilt ascending, so that `ORDER BY priority, created_at` (critical first, oldest first)
-- is an index order.
ALTER TYPE roletype ADD VALUE 'writer' AFTER 'technical_writer';
ALTER TYPE roletype ADD VALUE 'editor' AFTER 'writer';
ALTER TYPE roletype ADD VALUE 'support_l1' AFTER 'support_agent';
ALTER TYPE roletype ADD VALUE 'support_l2' AFTER 'support_l1';
ALTER TYPE roletype ADD VALUE 'support_l3' AFTER 'support_l2';
ALTER TYPE roletype ADD VALUE 'custom' AFTER 'support_l3';

ALTER TYPE taskstatus ADD VALUE 'assigned' AFTER 'pending';
ALTER TYPE taskstatus ADD VALUE 'approved' AFTER 'in_review';
ALTER TYPE taskstatus ADD VALUE 'rejected' AFTER 'approved';

ALTER TYPE llmprovider ADD VALUE 'local' BEFORE 'custom';
ALTER TYPE llmprovider ADD VALUE 'azure' BEFORE 'custom';

ALTER TYPE auditaction ADD VALUE 'access';
ALTER TYPE auditaction ADD VALUE 'execute';

-- taskpriority in the deployed order (a type created in this transaction is usable in it).
DROP INDEX idx_tasks_org_status_priority;
DROP INDEX tasks_org_pending_queue_idx;
DROP INDEX tasks_org_assigned_open_idx;
ALTER TYPE taskpriority RENAME TO taskpriority_0008;
CREATE TYPE taskpriority AS ENUM ('critical', 'high', 'medium', 'low');
ALTER TABLE tasks
    ALTER COLUMN priority DROP DEFAULT,
    ALTER COLUMN priority TYPE taskpriority USING priority::text::taskpriority,
    ALTER COLUMN priority SET DEFAULT 'medium';
DROP TYPE taskpriority_0008;
CREATE INDEX idx_tasks_org_status_priority ON tasks (organization_id, status, priority, created_at);
CREATE INDEX tasks_org_pending_queue_idx ON tasks (organization_id, priority, created_at) WHERE status = 'pending';
CREATE INDEX tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');
COMMENT ON INDEX tasks_org_assigned_open_idx IS
    'A desk''s open tasks by priority; usable under RLS, where status IN (...) cannot be an index condition of tasks_org_assigned_status_idx.';
