-- 0008_arcdesk_enum_values, CockroachDB variant: the same values as up.sql (read its header),
-- with IF NOT EXISTS so that an interrupted run can be re-run from the start. CockroachDB
-- documents ADD VALUE with BEFORE/AFTER (alter-type.md).
ALTER TYPE roletype ADD VALUE IF NOT EXISTS 'writer' AFTER 'technical_writer';
ALTER TYPE roletype ADD VALUE IF NOT EXISTS 'editor' AFTER 'writer';
ALTER TYPE roletype ADD VALUE IF NOT EXISTS 'support_l1' AFTER 'support_agent';
ALTER TYPE roletype ADD VALUE IF NOT EXISTS 'support_l2' AFTER 'support_l1';
ALTER TYPE roletype ADD VALUE IF NOT EXISTS 'support_l3' AFTER 'support_l2';
ALTER TYPE roletype ADD VALUE IF NOT EXISTS 'custom' AFTER 'support_l3';

ALTER TYPE taskstatus ADD VALUE IF NOT EXISTS 'assigned' AFTER 'pending';
ALTER TYPE taskstatus ADD VALUE IF NOT EXISTS 'approved' AFTER 'in_review';
ALTER TYPE taskstatus ADD VALUE IF NOT EXISTS 'rejected' AFTER 'approved';

ALTER TYPE llmprovider ADD VALUE IF NOT EXISTS 'local' BEFORE 'custom';
ALTER TYPE llmprovider ADD VALUE IF NOT EXISTS 'azure' BEFORE 'custom';

ALTER TYPE auditaction ADD VALUE IF NOT EXISTS 'access';
ALTER TYPE auditaction ADD VALUE IF NOT EXISTS 'execute';

-- taskpriority in the deployed order ('critical', 'high', 'medium', 'low'; read up.sql's header).
-- CockroachDB converts a column to another enum type only under an experimental setting, so the
-- labels are swapped in place (the first value, which was 'low', is named 'critical', and so on)
-- and every task row is then set back to its own priority under the new labels. Not re-runnable
-- (a second run swaps back): after an interruption between the renames and the UPDATE, finish
-- the remaining statements by hand. The UPDATE fires tasks' triggers (updated_at is touched).
DROP INDEX IF EXISTS idx_tasks_org_status_priority;
DROP INDEX IF EXISTS tasks_org_pending_queue_idx;
DROP INDEX IF EXISTS tasks_org_assigned_open_idx;
ALTER TYPE taskpriority RENAME VALUE 'low' TO 'low_0008';
ALTER TYPE taskpriority RENAME VALUE 'medium' TO 'medium_0008';
ALTER TYPE taskpriority RENAME VALUE 'high' TO 'high_0008';
ALTER TYPE taskpriority RENAME VALUE 'critical' TO 'critical_0008';
ALTER TYPE taskpriority RENAME VALUE 'low_0008' TO 'critical';
ALTER TYPE taskpriority RENAME VALUE 'medium_0008' TO 'high';
ALTER TYPE taskpriority RENAME VALUE 'high_0008' TO 'medium';
ALTER TYPE taskpriority RENAME VALUE 'critical_0008' TO 'low';
UPDATE tasks SET priority = CASE priority
    WHEN 'critical' THEN 'low'::taskpriority
    WHEN 'high' THEN 'medium'::taskpriority
    WHEN 'medium' THEN 'high'::taskpriority
    ELSE 'critical'::taskpriority
END;
ALTER TABLE tasks ALTER COLUMN priority SET DEFAULT 'medium';
CREATE INDEX IF NOT EXISTS idx_tasks_org_status_priority ON tasks (organization_id, status, priority, created_at);
CREATE INDEX IF NOT EXISTS tasks_org_pending_queue_idx ON tasks (organization_id, priority, created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');
