-- 0003_triggers (down), CockroachDB variant: as down.sql, with IF EXISTS so that an interrupted
-- rollback (run statement by statement) can be run again. No CASCADE: CockroachDB's DROP
-- TRIGGER has none (docs v26.2 known-limitations/drop-trigger-limitations.md).
DROP TRIGGER IF EXISTS tasks_assign_task_number ON tasks;
DROP TRIGGER IF EXISTS cost_tracking_set_billing_month ON cost_tracking;
DROP TRIGGER IF EXISTS desks_cascade_path ON desks;
DROP TRIGGER IF EXISTS desks_set_hierarchy ON desks;

DROP TRIGGER IF EXISTS api_keys_set_updated_at ON api_keys;
DROP TRIGGER IF EXISTS data_sources_set_updated_at ON data_sources;
DROP TRIGGER IF EXISTS knowledge_bases_set_updated_at ON knowledge_bases;
DROP TRIGGER IF EXISTS delegations_set_updated_at ON delegations;
DROP TRIGGER IF EXISTS qa_reviews_set_updated_at ON qa_reviews;
DROP TRIGGER IF EXISTS messages_set_updated_at ON messages;
DROP TRIGGER IF EXISTS agent_sessions_set_updated_at ON agent_sessions;
DROP TRIGGER IF EXISTS tasks_set_updated_at ON tasks;
DROP TRIGGER IF EXISTS workflows_set_updated_at ON workflows;
DROP TRIGGER IF EXISTS desks_set_updated_at ON desks;
DROP TRIGGER IF EXISTS users_set_updated_at ON users;
DROP TRIGGER IF EXISTS organizations_set_updated_at ON organizations;

DROP FUNCTION IF EXISTS tasks_assign_task_number();
DROP FUNCTION IF EXISTS cost_tracking_set_billing_month();
DROP FUNCTION IF EXISTS desks_cascade_path();
DROP FUNCTION IF EXISTS desks_set_hierarchy();
DROP FUNCTION IF EXISTS set_updated_at();
