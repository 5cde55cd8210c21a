-- 0008_arcdesk_enum_values: the enum values of ArcDesk's deployed schema (001_multi_tenant) that
-- arcdb's types lacked, so that every value the application writes is accepted (part of the
-- contract of 0007). ALTER TYPE ... ADD VALUE takes no table lock and rewrites nothing; a value
-- added in a transaction cannot be used in that same transaction, which is why this is a
-- migration of its own (nothing in it uses them). Placed where they sort sensibly:
--   roletype:    writer, editor, support_l1, support_l2, support_l3, custom
--   taskstatus:  assigned (after pending), approved and rejected (after in_review)
--   llmprovider: local, azure (before custom)
--   auditaction: access, execute
-- taskpriority, qastagestatus and subscriptiontier already hold every deployed value
-- (taskpriority in arcdb's ascending order; see 0002).
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
