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
