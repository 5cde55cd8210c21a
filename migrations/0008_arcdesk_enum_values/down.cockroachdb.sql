-- 0008_arcdesk_enum_values (down), CockroachDB variant: CockroachDB drops an enum value in place
-- (ALTER TYPE ... DROP VALUE, alter-type.md), refusing while a row still holds it, so nothing
-- is rebuilt (the PostgreSQL down rebuilds the four types). Each statement fails on a re-run
-- once its value is gone: after an interruption, drop the values still present by hand.
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
