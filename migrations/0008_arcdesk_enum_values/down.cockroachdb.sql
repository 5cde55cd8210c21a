-- 0008_arcdesk_enum_values (down), CockroachDB variant: CockroachDB drops an enum value in place
-- (ALTER TYPE ... DROP VALUE, alter-type.md), refusing while a row still holds it, so nothing
-- is rebuilt (the PostgreSQL down rebuilds the four types). Each statement fails on a re-run
-- once its value is gone: after an interruption, drop the values still present by hand.
-- taskpriority back in 0002's ascending order: the up's swap again (it is its own inverse), and
-- the priority indexes descending again. Not re-runnable (read the up's note).
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
CREATE INDEX IF NOT EXISTS idx_tasks_org_status_priority ON tasks (organization_id, status, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS tasks_org_pending_queue_idx ON tasks (organization_id, priority DESC, created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_org_assigned_open_idx ON tasks
    (organization_id, assigned_to_id, priority DESC, created_at)
    WHERE status IN ('pending', 'in_progress', 'in_review', 'blocked');

ALTER TYPE auditaction DROP VALUE 'execute';
ALTER TYPE auditaction DROP VALUE 'access';

ALTER TYPE llmprovider DROP VALUE 'azure';
ALTER TYPE llmprovider DROP VALUE 'local';

ALTER TYPE taskstatus DROP VALUE 'rejected';
ALTER TYPE taskstatus DROP VALUE 'approved';
ALTER TYPE taskstatus DROP VALUE 'assigned';

ALTER TYPE roletype DROP VALUE 'custom';
ALTER TYPE roletype DROP VALUE 'support_l3';
ALTER TYPE roletype DROP VALUE 'support_l2';
ALTER TYPE roletype DROP VALUE 'support_l1';
ALTER TYPE roletype DROP VALUE 'editor';
ALTER TYPE roletype DROP VALUE 'writer';
