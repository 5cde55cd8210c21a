-- 0002_core_schema (down), CockroachDB variant: as down.sql, with IF EXISTS so that a rollback
-- interrupted midway (CockroachDB runs it statement by statement) can simply be run again.
DROP TABLE IF EXISTS
    audit_logs, api_keys, cost_tracking, data_sources, knowledge_bases, delegations,
    qa_reviews, messages, agent_sessions, tasks, workflows, desks, users, organizations;

DROP TYPE IF EXISTS auditaction, subscriptiontier, llmprovider, qastagestatus, taskpriority, taskstatus, roletype;
