-- 0002_core_schema (down): drop the 14 tables (with their data, keys and indexes) and the 7
-- enum types. One DROP TABLE statement for all tables, so the foreign keys between them need
-- no particular order; no CASCADE, so an object added outside the migrations that depends on
-- them stops the rollback instead of vanishing with it.
DROP TABLE
    audit_logs, api_keys, cost_tracking, data_sources, knowledge_bases, delegations,
    qa_reviews, messages, agent_sessions, tasks, workflows, desks, users, organizations;

DROP TYPE auditaction, subscriptiontier, llmprovider, qastagestatus, taskpriority, taskstatus, roletype;
