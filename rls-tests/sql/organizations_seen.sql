-- Every organization whose rows the current session can see, in any tenant table.
-- Used by the "sees only its own organization's data" cases of sample_tenants.toml.
SELECT DISTINCT org::text
  FROM (
        SELECT id              AS org FROM organizations
  UNION SELECT organization_id        FROM users
  UNION SELECT organization_id        FROM desks
  UNION SELECT organization_id        FROM workflows
  UNION SELECT organization_id        FROM tasks
  UNION SELECT organization_id        FROM agent_sessions
  UNION SELECT organization_id        FROM messages
  UNION SELECT organization_id        FROM qa_reviews
  UNION SELECT organization_id        FROM delegations
  UNION SELECT organization_id        FROM knowledge_bases
  UNION SELECT organization_id        FROM data_sources
  UNION SELECT organization_id        FROM cost_tracking
  UNION SELECT organization_id        FROM api_keys
  UNION SELECT organization_id        FROM audit_logs
  ) AS seen
 ORDER BY 1;
