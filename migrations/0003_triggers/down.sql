-- 0003_triggers (down): drop the 16 triggers, then their 5 functions. The maintained columns
-- keep their last values (they are plain columns of 0002).
DROP TRIGGER tasks_assign_task_number ON tasks;
DROP TRIGGER cost_tracking_set_billing_month ON cost_tracking;
DROP TRIGGER desks_cascade_path ON desks;
DROP TRIGGER desks_set_hierarchy ON desks;

DROP TRIGGER api_keys_set_updated_at ON api_keys;
DROP TRIGGER data_sources_set_updated_at ON data_sources;
DROP TRIGGER knowledge_bases_set_updated_at ON knowledge_bases;
DROP TRIGGER delegations_set_updated_at ON delegations;
DROP TRIGGER qa_reviews_set_updated_at ON qa_reviews;
DROP TRIGGER messages_set_updated_at ON messages;
DROP TRIGGER agent_sessions_set_updated_at ON agent_sessions;
DROP TRIGGER tasks_set_updated_at ON tasks;
DROP TRIGGER workflows_set_updated_at ON workflows;
DROP TRIGGER desks_set_updated_at ON desks;
DROP TRIGGER users_set_updated_at ON users;
DROP TRIGGER organizations_set_updated_at ON organizations;

DROP FUNCTION tasks_assign_task_number();
DROP FUNCTION cost_tracking_set_billing_month();
DROP FUNCTION desks_cascade_path();
DROP FUNCTION desks_set_hierarchy();
DROP FUNCTION set_updated_at();
