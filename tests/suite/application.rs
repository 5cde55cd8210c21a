//! The ArcDesk application on arcdb's latest schema, against throwaway PostgreSQL clusters:
//! every column of the deployed schema (../shared/fixtures/arcdesk-001/schema.sql, loaded into a
//! scratch database) exists under its name with a type its values convert to, every deployed
//! enum value and index name exists; and the application, connecting as a member of
//! arcdesk_tenant with `SET LOCAL app.current_org_id`, writes and reads every table with exactly
//! the deployed columns, runs seed 000's Quick Start and Analytics SQL, and sees its own
//! organization's rows only.

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{run, TestCluster};

const QUICKSTART: &str = include_str!("../fixtures/seed000_quickstart.sql");
const ANALYTICS: &str = include_str!("../fixtures/seed000_analytics.sql");
/// The seed's Acme Corporation, one of the other organizations the application must not see.
const ACME: &str = "10000000-0000-4000-8000-000000000001";
const ACME_DESK: &str = "31000000-0000-4000-8000-000000000001";
const ACME_SESSION: &str = "61000000-0000-4000-8000-000000000002";
/// The login role the application connects as (member of arcdesk_tenant, nothing else).
const APP_ROLE: &str = "arcdesk_app";

/// `../shared/fixtures/arcdesk-001/schema.sql` next to the repository (a worktree under
/// `wt/` finds it one level further up).
fn fixture_schema() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = ["../shared", "../../shared"]
        .iter()
        .map(|shared| repo.join(shared).join("fixtures/arcdesk-001/schema.sql"))
        .find(|path| path.is_file())
        .expect("the deployed schema fixture (../shared/fixtures/arcdesk-001/schema.sql)");
    std::fs::read_to_string(path).expect("read the deployed schema fixture")
}

/// A database at arcdb's latest version, as `arcdb up` builds it.
fn migrated(pg: &TestCluster, db: &str) -> String {
    let dsn = pg.create_db(db);
    run(pg.arcdb_at(&dsn, &["up"])).ok("arcdb up");
    dsn
}

/// `table.column -> type` of the application tables of `db` (format_type, so varchar(255),
/// character varying[], user-defined type names).
fn columns(pg: &TestCluster, db: &str) -> BTreeMap<String, String> {
    pg.psql(
        db,
        "SELECT c.relname || '.' || a.attname || '|' || format_type(a.atttypid, a.atttypmod)
           FROM pg_attribute AS a
           JOIN pg_class AS c ON c.oid = a.attrelid AND c.relkind = 'r'
           JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = 'public'
          WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relname <> 'alembic_version'
          ORDER BY 1",
    )
    .lines()
    .map(|line| {
        let (column, ty) = line.split_once('|').expect("column|type");
        (column.to_string(), ty.to_string())
    })
    .collect()
}

fn lines(pg: &TestCluster, db: &str, sql: &str) -> Vec<String> {
    pg.psql(db, sql).lines().map(str::to_string).collect()
}

#[test]
fn every_deployed_column_enum_value_and_index_name_exists_in_the_latest_schema() {
    let pg = TestCluster::start();
    pg.create_db("deployed");
    pg.psql("deployed", &fixture_schema());
    migrated(&pg, "latest");

    let deployed = columns(&pg, "deployed");
    let latest = columns(&pg, "latest");
    assert_eq!(deployed.len(), 210, "the fixture has 210 columns");
    let missing: Vec<&String> = deployed
        .keys()
        .filter(|c| !latest.contains_key(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "{} deployed column(s) missing from the latest schema: {missing:?}",
        missing.len()
    );

    // A deployed value converts to the latest type: the cast must exist (checked in the latest
    // database, where the enum types have the deployed names).
    let casts: Vec<String> = deployed
        .iter()
        .map(|(column, from)| {
            format!(
                "SELECT '{column}' WHERE NULL::{from}::{to} IS NOT NULL;",
                to = latest[column]
            )
        })
        .collect();
    pg.try_psql("latest", &casts.join("\n"))
        .unwrap_or_else(|err| panic!("a deployed type does not convert to the latest one: {err}"));

    // Every deployed enum value is accepted.
    let labels = "SELECT t.typname || '.' || e.enumlabel FROM pg_enum AS e
                    JOIN pg_type AS t ON t.oid = e.enumtypid ORDER BY 1";
    let latest_labels = lines(&pg, "latest", labels);
    let missing_labels: Vec<String> = lines(&pg, "deployed", labels)
        .into_iter()
        .filter(|l| !latest_labels.contains(l))
        .collect();
    assert!(
        missing_labels.is_empty(),
        "deployed enum values missing: {missing_labels:?}"
    );

    // Every deployed index name, except those not carried over on purpose: the platform-wide
    // unique email (arcdb's is per organization), Alembic's own table, and the indexes of the
    // deployed materialized views (those names are tenant views now; see 0007).
    let names = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1";
    let latest_indexes = lines(&pg, "latest", names);
    let not_carried = [
        "users_email_key",
        "alembic_version_pkc",
        "idx_mv_cost_summary_unique",
        "idx_mv_desk_perf_unique",
    ];
    let missing_indexes: Vec<String> = lines(&pg, "deployed", names)
        .into_iter()
        .filter(|i| !latest_indexes.contains(i) && !not_carried.contains(&i.as_str()))
        .collect();
    assert!(
        missing_indexes.is_empty(),
        "deployed index names missing: {missing_indexes:?}"
    );
    let idx_count = latest_indexes
        .iter()
        .filter(|i| i.starts_with("idx_"))
        .count();
    assert_eq!(
        idx_count, 54,
        "the 54 deployed idx_* names: {latest_indexes:?}"
    );
}

/// Runs `sql` as the application: a login member of arcdesk_tenant, in one transaction that
/// starts with `SET LOCAL app.current_org_id` (as seed 000 says the application must, minus the
/// plain SET). Returns psql's unaligned output, or its error.
fn as_app(pg: &TestCluster, db: &str, org: &str, sql: &str) -> Result<String, String> {
    let sql = format!("BEGIN;\nSET LOCAL app.current_org_id = '{org}';\n{sql}\nCOMMIT;\n");
    app_psql(pg, db, &sql)
}

/// psql as [`APP_ROLE`], `sql` on stdin (every statement's output, unlike `-c`).
fn app_psql(pg: &TestCluster, db: &str, sql: &str) -> Result<String, String> {
    let mut child = Command::new(pg.bins().tool("psql"))
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!("{} user={APP_ROLE}", pg.dsn(db)))
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs");
    child
        .stdin
        .take()
        .expect("psql stdin")
        .write_all(sql.as_bytes())
        .expect("write SQL to psql");
    let out = child.wait_with_output().expect("psql output");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn app(pg: &TestCluster, db: &str, org: &str, sql: &str) -> String {
    as_app(pg, db, org, sql).unwrap_or_else(|err| panic!("as the application: {err}\nSQL:\n{sql}"))
}

/// The Quick Start block under `-- seed000: <heading>`, placeholders substituted.
fn quickstart_block(heading: &str, subst: &[(&str, &str)]) -> String {
    let mut block = QUICKSTART
        .split("-- seed000: ")
        .find(|b| b.starts_with(heading))
        .and_then(|b| b.split_once('\n'))
        .map(|(_heading, sql)| sql.to_string())
        .unwrap_or_else(|| panic!("no Quick Start block '{heading}'"));
    for (placeholder, value) in subst {
        block = block.replace(placeholder, value);
    }
    block
}

/// The guide's two Analytics SELECTs (not its REFRESH statements) for organization `org`.
fn analytics_queries(org: &str) -> String {
    ANALYTICS
        .split("-- seed000: ")
        .filter(|b| b.starts_with("Query"))
        .filter_map(|b| b.split_once('\n').map(|(_heading, sql)| sql))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("'your-org-id'", &format!("'{org}'"))
}

#[test]
fn the_application_writes_and_reads_every_table_of_its_own_organization_only() {
    let pg = TestCluster::start();
    let dsn = migrated(&pg, "app");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("arcdb seed");
    pg.psql(
        "app",
        &format!("CREATE ROLE {APP_ROLE} LOGIN; GRANT arcdesk_tenant TO {APP_ROLE};"),
    );

    // Quick Start. Creating an organization is a platform action (the tenant role may not
    // insert organizations): the owner runs it, the application the rest.
    let org = pg.scalar(
        "app",
        &quickstart_block("Creating Your First Organization", &[]),
    );
    assert_eq!(org.len(), 36, "organization id: {org}");
    let user = app(
        &pg,
        "app",
        &org,
        &quickstart_block("Creating a User", &[("org-uuid-here", &org)]),
    );
    let desk = app(
        &pg,
        "app",
        &org,
        &quickstart_block("Creating an AI Desk", &[("org-uuid-here", &org)]),
    );
    let task = app(
        &pg,
        "app",
        &org,
        &quickstart_block(
            "Creating a Task",
            &[
                ("org-uuid-here", &org),
                ("user-uuid-here", &user),
                ("desk-uuid-here", &desk),
            ],
        ),
    );
    let (task, task_number) = task.split_once('|').expect("id|task_number");
    // Numbered per organization: the seed's organizations hold tasks, this one starts at 1.
    assert_eq!(task_number, "1");

    // Every table, with exactly the deployed columns (no organization_id where the deployed
    // table has none).
    let write = format!(
        "
UPDATE organizations SET meta_data = '{{\"plan\": \"pro\"}}' WHERE id = '{org}';
INSERT INTO users (organization_id, email, username, full_name, password_hash, avatar_url,
                   is_active, is_admin, is_superuser, last_login_at, email_verified_at, preferences)
VALUES ('{org}', 'ann@example.com', 'ann', 'Ann Lee', '$2b$12$hash', 'https://example.com/a.png',
        true, true, false, '2025-05-01 08:00+00', '2025-04-01 08:00+00', '{{\"theme\": \"dark\"}}');
INSERT INTO desks (organization_id, desk_id, title, role, reports_to_id, hierarchy_level,
                   hierarchy_path, llm_provider, llm_model, llm_config, capabilities, skills,
                   is_active, status, system_prompt, instructions, meta_data)
VALUES ('{org}', 'qa-001', 'QA Engineer', 'qa_engineer', '{desk}', NULL, NULL, 'local', 'llama-3',
        '{{\"temperature\": 0.2}}', '{{testing,review}}', '{{\"pytest\": 5}}', true, 'available',
        'You review code.', 'Be strict.', '{{}}');
INSERT INTO workflows (organization_id, name, description, stages, transitions, qa_enabled,
                       qa_stages, is_active, is_default, meta_data)
VALUES ('{org}', 'Delivery', 'Build, then review', '[{{\"name\": \"build\"}}, {{\"name\": \"review\"}}]',
        '{{\"build\": \"review\"}}', true, '[\"review\"]', true, true, '{{}}');
INSERT INTO tasks (organization_id, title, description, created_by_id, assigned_to_id,
                   delegated_from_id, parent_task_id, status, priority, workflow_id, current_stage,
                   due_date, estimated_hours, actual_hours, acceptance_criteria, deliverables, tags,
                   context, meta_data, result, output_artifacts, started_at, completed_at)
SELECT '{org}', 'Write the login tests', 'Cover JWT expiry', '{user}', '{desk}',
       (SELECT id FROM desks WHERE desk_id = 'qa-001'), '{task}', 'completed', 'medium',
       (SELECT id FROM workflows WHERE name = 'Delivery'), 'review', '2025-06-01 00:00+00', 3.5,
       4.25, '[\"tests pass\"]', '[\"tests\"]', '{{auth,tests}}', '{{\"repo\": \"api\"}}', '{{}}',
       '{{\"ok\": true}}', '[]', '2025-05-10 09:00+00', '2025-05-10 13:30+00';
INSERT INTO agent_sessions (desk_id, task_id, session_type, status, conversation_id,
                            message_count, input_tokens, output_tokens, total_cost, started_at,
                            completed_at, duration_seconds, result, error)
SELECT '{desk}', id, 'coding', 'completed', gen_random_uuid(), 2, 1200, 300, 0.015,
       '2025-05-10 09:00+00', '2025-05-10 09:30+00', 1800, '{{\"ok\": true}}', NULL
  FROM tasks WHERE task_number = 2;
INSERT INTO messages (session_id, role, content, meta_data, tool_calls, tool_results,
                      input_tokens, output_tokens, cost)
SELECT id, 'user', 'Write the tests', '{{}}', NULL, NULL, 10, 0, 0.0001 FROM agent_sessions;
INSERT INTO messages (session_id, role, content, meta_data, tool_calls, tool_results,
                      input_tokens, output_tokens, cost)
SELECT id, 'assistant', 'Done', '{{}}', '[{{\"name\": \"run\"}}]', '[{{\"ok\": true}}]', 0, 20, 0.0002
  FROM agent_sessions;
INSERT INTO qa_reviews (task_id, stage_name, stage_order, review_type, reviewer_desk_id,
                        reviewer_type, status, score, passed, findings, feedback, recommendations,
                        metrics, started_at, completed_at)
SELECT t.id, 'review', 2, 'code', d.id, 'desk', s.status::qastagestatus, s.score, s.passed, '[]',
       s.feedback, '[\"add a test\"]', '{{\"coverage\": 0.9}}', '2025-05-10 12:00+00', '2025-05-10 12:30+00'
  FROM tasks AS t, desks AS d,
       (VALUES ('failed', 40.0, false, 'Missing expiry case'), ('passed', 92.5, true, 'Looks good'))
           AS s (status, score, passed, feedback)
 WHERE t.task_number = 2 AND d.desk_id = 'qa-001'
 ORDER BY s.score;
INSERT INTO delegations (task_id, from_desk_id, to_desk_id, reason, instructions, context, status,
                         response, completed_at)
SELECT t.id, '{desk}', d.id, 'Needs review', 'Check the tests', '{{}}', 'completed', 'Done',
       '2025-05-10 12:30+00'
  FROM tasks AS t, desks AS d WHERE t.task_number = 2 AND d.desk_id = 'qa-001';
INSERT INTO knowledge_bases (organization_id, name, description, embedding_model,
                             vector_store_config, is_active, meta_data)
VALUES ('{org}', 'Engineering docs', 'Runbooks', 'text-embedding-3-small', '{{\"store\": \"pg\"}}',
        true, '{{}}');
INSERT INTO data_sources (knowledge_base_id, name, source_type, uri, sync_enabled, sync_frequency,
                          last_synced_at, credentials, document_count, total_size_bytes, meta_data)
SELECT id, 'API repo', 'github', 'https://github.com/example/api', true, 'daily', NULL,
       '{{\"token\": \"x\"}}', 12, 4096, '{{}}'
  FROM knowledge_bases;
INSERT INTO cost_tracking (organization_id, desk_id, task_id, session_id, provider, model,
                           input_tokens, output_tokens, total_tokens, input_cost, output_cost,
                           total_cost, meta_data, created_at)
SELECT '{org}', '{desk}', t.id, s.id, 'anthropic', 'claude-3-5-sonnet-20241022', 1000, 500, 1500,
       0.003, 0.007, 0.010, '{{}}', '2025-05-10 09:10+00'
  FROM tasks AS t, agent_sessions AS s WHERE t.task_number = 2;
INSERT INTO cost_tracking (organization_id, desk_id, task_id, provider, model, input_tokens,
                           output_tokens, input_cost, output_cost, total_cost, created_at)
SELECT '{org}', '{desk}', id, 'anthropic', 'claude-3-5-sonnet-20241022', 2000, 1000, 0.006, 0.014,
       0.020, '2025-05-20 10:00+00'
  FROM tasks WHERE task_number = 2;
INSERT INTO cost_tracking (organization_id, desk_id, provider, model, input_tokens, output_tokens,
                           total_cost, created_at)
SELECT '{org}', id, 'openai', 'text-embedding-3-small', 400, 0, 0.004, '2025-06-02 10:00+00'
  FROM desks WHERE desk_id = 'qa-001';
INSERT INTO audit_logs (organization_id, user_id, desk_id, actor_type, action, resource_type,
                        resource_id, description, changes, meta_data, ip_address, user_agent)
SELECT '{org}', '{user}', NULL, 'user', 'access', 'task', id, 'Viewed the task', NULL, '{{}}',
       '203.0.113.7', 'Mozilla/5.0'
  FROM tasks WHERE task_number = 2;
INSERT INTO api_keys (organization_id, user_id, name, key_hash, key_prefix, scopes, is_active,
                      expires_at, last_used_at, usage_count)
VALUES ('{org}', '{user}', 'ci', encode(sha256('app-key'::bytea), 'hex'), 'ak_app', '{{tasks:read}}',
        true, NULL, NULL, 0);
UPDATE api_keys SET last_used_at = now(), usage_count = usage_count + 1 WHERE name = 'ci';
"
    );
    app(&pg, "app", &org, &write);

    // Read back, as the application, through deployed columns.
    let read = "
SELECT 'orgs', name, slug, subscription_tier, subscription_status, max_desks, max_tasks_per_month,
       max_llm_cost_per_month, meta_data FROM organizations;
SELECT 'desk', desk_id, role, hierarchy_level, reports_to_id IS NOT NULL, llm_provider,
       capabilities, status FROM desks ORDER BY hierarchy_level;
SELECT 'task', task_number, title, status, priority, due_date IS NOT NULL, tags, context
  FROM tasks ORDER BY task_number;
SELECT 'msg', role, content, sequence_number FROM messages ORDER BY sequence_number;
SELECT 'qa', stage_name, status, passed, iteration FROM qa_reviews ORDER BY iteration;
SELECT 'cost', billing_month, provider, total_tokens, total_cost FROM cost_tracking
 WHERE billing_month >= '2025-05' ORDER BY created_at;
SELECT 'audit', actor_type, action, host(ip_address) FROM audit_logs;
SELECT 'key', name, is_active, usage_count, last_used_at IS NOT NULL FROM api_keys;
SELECT 'ds', name, uri, sync_frequency, document_count FROM data_sources;
SELECT 'counts', (SELECT count(*) FROM organizations), (SELECT count(*) FROM users),
       (SELECT count(*) FROM desks), (SELECT count(*) FROM workflows), (SELECT count(*) FROM tasks),
       (SELECT count(*) FROM agent_sessions), (SELECT count(*) FROM messages),
       (SELECT count(*) FROM qa_reviews), (SELECT count(*) FROM delegations),
       (SELECT count(*) FROM knowledge_bases), (SELECT count(*) FROM data_sources),
       (SELECT count(*) FROM cost_tracking), (SELECT count(*) FROM audit_logs),
       (SELECT count(*) FROM api_keys);
";
    assert_eq!(
        app(&pg, "app", &org, read),
        [
            "orgs|My Company|my-company|professional|active|10|1000|100.00|{\"plan\": \"pro\"}",
            "desk|senior-eng-001|senior_engineer|1|f|anthropic|{}|available",
            "desk|qa-001|qa_engineer|2|t|local|{testing,review}|available",
            "task|1|Implement user authentication|pending|high|f|{}|{}",
            "task|2|Write the login tests|completed|medium|t|{auth,tests}|{\"repo\": \"api\"}",
            "msg|user|Write the tests|1",
            "msg|assistant|Done|2",
            "qa|review|failed|f|1",
            "qa|review|passed|t|2",
            "cost|2025-05|anthropic|1500|0.010000",
            "cost|2025-05|anthropic|3000|0.020000",
            "cost|2025-06|openai|400|0.004000",
            "audit|user|access|203.0.113.7",
            "key|ci|t|1|t",
            "ds|API repo|https://github.com/example/api|daily|12",
            "counts|1|2|2|1|2|1|2|2|1|1|1|3|1|1",
        ]
        .join("\n")
    );

    // The other organizations have rows in every table, and the application saw none of them
    // (the counts above); nor does another organization see this one's.
    let others = pg.scalar(
        "app",
        &format!(
            "SELECT string_agg(t, ',') FROM (VALUES
               ('users', (SELECT count(*) FROM users WHERE organization_id <> '{org}')),
               ('desks', (SELECT count(*) FROM desks WHERE organization_id <> '{org}')),
               ('workflows', (SELECT count(*) FROM workflows WHERE organization_id <> '{org}')),
               ('tasks', (SELECT count(*) FROM tasks WHERE organization_id <> '{org}')),
               ('agent_sessions', (SELECT count(*) FROM agent_sessions WHERE organization_id <> '{org}')),
               ('messages', (SELECT count(*) FROM messages WHERE organization_id <> '{org}')),
               ('qa_reviews', (SELECT count(*) FROM qa_reviews WHERE organization_id <> '{org}')),
               ('delegations', (SELECT count(*) FROM delegations WHERE organization_id <> '{org}')),
               ('knowledge_bases', (SELECT count(*) FROM knowledge_bases WHERE organization_id <> '{org}')),
               ('data_sources', (SELECT count(*) FROM data_sources WHERE organization_id <> '{org}')),
               ('cost_tracking', (SELECT count(*) FROM cost_tracking WHERE organization_id <> '{org}')),
               ('audit_logs', (SELECT count(*) FROM audit_logs WHERE organization_id <> '{org}')),
               ('api_keys', (SELECT count(*) FROM api_keys WHERE organization_id <> '{org}')))
               AS c (t, n) WHERE n = 0"
        ),
    );
    assert_eq!(others, "", "tables without rows of other organizations");
    assert_eq!(
        app(
            &pg,
            "app",
            ACME,
            &format!(
                "SELECT (SELECT count(*) FROM tasks WHERE organization_id = '{org}')
                      + (SELECT count(*) FROM messages WHERE organization_id = '{org}')
                      + (SELECT count(*) FROM agent_sessions WHERE organization_id = '{org}')"
            )
        ),
        "0"
    );
    // The organization the rows were filled with is their parent's.
    assert_eq!(
        pg.scalar(
            "app",
            &format!(
                "SELECT (SELECT count(*) FROM agent_sessions WHERE organization_id = '{org}')
                     || ' ' || (SELECT count(*) FROM messages WHERE organization_id = '{org}')
                     || ' ' || (SELECT count(*) FROM qa_reviews WHERE organization_id = '{org}')
                     || ' ' || (SELECT count(*) FROM delegations WHERE organization_id = '{org}')
                     || ' ' || (SELECT count(*) FROM data_sources WHERE organization_id = '{org}')"
            )
        ),
        "1 2 2 1 1"
    );

    // Quick Start's "Setting Organization Context": the plain SET of the guide, then its SELECT
    // sees this organization's two tasks only.
    let context = app_psql(
        &pg,
        "app",
        &quickstart_block(
            "Setting Organization Context",
            &[("your-org-uuid-here", &org)],
        ),
    )
    .expect("the Quick Start's context block");
    let titles: Vec<&str> = context
        .lines()
        .filter(|l| l.contains("Implement user authentication") || l.contains("login tests"))
        .collect();
    assert_eq!(context.lines().count(), 2, "{context}");
    assert_eq!(titles.len(), 2, "{context}");

    // Analytics: `arcdb refresh` (as the owner) replaces the guide's REFRESH statements; the
    // guide's two SELECTs, run by the application, see this organization's rows only.
    run(pg.arcdb_at(&dsn, &["refresh"])).ok("arcdb refresh");
    assert_eq!(
        app(&pg, "app", &org, &analytics_queries(&org)),
        [
            "2025-06|openai|1|0|0.004000|0.004000",
            "2025-05|anthropic|1|1|0.030000|0.015000",
            "Senior Software Engineer|senior_engineer|2|1|4.50|0.030000",
            "QA Engineer|qa_engineer|0|0||0.004000",
        ]
        .join("\n")
    );
    // Another organization's id in the guide's WHERE gives nothing (the view filters by the
    // setting), and the refresh the guide ran is not the application's to run.
    assert_eq!(app(&pg, "app", &org, &analytics_queries(ACME)), "");
    let refresh = as_app(
        &pg,
        "app",
        &org,
        "REFRESH MATERIALIZED VIEW org_cost_summary_mv;",
    )
    .expect_err("a tenant refresh");
    assert!(refresh.contains("must be owner"), "{refresh}");
}

#[test]
fn a_child_row_of_another_organization_is_refused_with_a_clear_error() {
    let pg = TestCluster::start();
    let dsn = migrated(&pg, "refuse");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("arcdb seed");
    pg.psql(
        "refuse",
        &format!("CREATE ROLE {APP_ROLE} LOGIN; GRANT arcdesk_tenant TO {APP_ROLE};"),
    );
    let tech = "10000000-0000-4000-8000-000000000002";

    // The application (no organization_id) names Acme's desk while working for Tech Startup.
    let err = as_app(
        &pg,
        "refuse",
        tech,
        &format!(
            "INSERT INTO agent_sessions (desk_id, session_type) VALUES ('{ACME_DESK}', 'chat');"
        ),
    )
    .expect_err("a session on another organization's desk");
    assert!(
        err.contains(&format!(
            "agent session refused: desk {ACME_DESK} does not exist in organization {tech}"
        )),
        "{err}"
    );
    let err = as_app(
        &pg,
        "refuse",
        tech,
        &format!("INSERT INTO messages (session_id, role, content) VALUES ('{ACME_SESSION}', 'user', 'hi');"),
    )
    .expect_err("a message into another organization's session");
    assert!(err.contains("message refused: session"), "{err}");

    // Without any organization (no setting, no column): refused, not guessed.
    let err = app_psql(
        &pg,
        "refuse",
        "INSERT INTO data_sources (name, source_type, uri) VALUES ('x', 'github', 'https://x');",
    )
    .expect_err("a data source without an organization");
    assert!(err.contains("no app.current_org_id"), "{err}");

    // The owner gives an organization that is not the parent's: the composite key refuses it.
    let err = pg
        .try_psql(
            "refuse",
            &format!(
                "INSERT INTO messages (organization_id, session_id, role, content)
                 VALUES ('{tech}', '{ACME_SESSION}', 'user', 'hi');"
            ),
        )
        .expect_err("a message whose organization is not its session's");
    assert!(err.contains("messages_session_fkey"), "{err}");

    // As the owner without a setting, the organization comes from the parent.
    assert_eq!(
        pg.scalar(
            "refuse",
            &format!(
                "INSERT INTO messages (session_id, role, content) VALUES ('{ACME_SESSION}', 'user', 'hi')
                 RETURNING organization_id"
            )
        ),
        ACME
    );
}

#[test]
fn the_application_lists_critical_tasks_first_with_order_by_priority() {
    let pg = TestCluster::start();
    pg.create_db("deployed");
    pg.psql("deployed", &fixture_schema());
    let dsn = migrated(&pg, "prio");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("arcdb seed");
    pg.psql(
        "prio",
        &format!("CREATE ROLE {APP_ROLE} LOGIN; GRANT arcdesk_tenant TO {APP_ROLE};"),
    );

    // The enum sorts as deployed.
    let order = "SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum AS e
                  JOIN pg_type AS t ON t.oid = e.enumtypid WHERE t.typname = 'taskpriority'";
    assert_eq!(pg.scalar("prio", order), "critical,high,medium,low");
    assert_eq!(pg.scalar("prio", order), pg.scalar("deployed", order));

    // The application's `ORDER BY priority` puts critical first.
    let listed = app(
        &pg,
        "prio",
        ACME,
        "INSERT INTO tasks (organization_id, title, priority)
         SELECT current_setting('app.current_org_id')::uuid, 'prio-' || p, p::taskpriority
           FROM unnest(ARRAY['low', 'critical', 'medium', 'high']) AS p;
         SELECT string_agg(priority::text, ',' ORDER BY priority) FROM tasks WHERE title LIKE 'prio-%';",
    );
    assert_eq!(listed, "critical,high,medium,low");

    // The priority indexes are ascending, so that critical-first is an index order.
    let desc = pg.scalar(
        "prio",
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'tasks' AND indexdef LIKE '%priority DESC%'",
    );
    assert_eq!(desc, "0", "tasks indexes still descending on priority");
}

#[test]
fn the_application_reads_desk_id_chains_as_hierarchy_paths() {
    let pg = TestCluster::start();
    let dsn = migrated(&pg, "tree");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("arcdb seed");
    pg.psql(
        "tree",
        &format!("CREATE ROLE {APP_ROLE} LOGIN; GRANT arcdesk_tenant TO {APP_ROLE};"),
    );
    let org = "current_setting('app.current_org_id')::uuid";
    let tree = "SELECT string_agg(desk_id || '|' || hierarchy_level || '|' || hierarchy_path, ',' ORDER BY hierarchy_path)
                  FROM desks WHERE desk_id LIKE 't-%';";

    // The application inserts a tree as deployed: top level 1, paths of desk_id handles.
    let read = app(
        &pg,
        "tree",
        ACME,
        &format!(
            "INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model)
             VALUES ({org}, 't-ceo', 'CEO', 'executive', 'anthropic', 'claude');
             INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model, reports_to_id)
             SELECT {org}, 't-cto', 'CTO', 'director', 'anthropic', 'claude', id FROM desks WHERE desk_id = 't-ceo';
             INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model, reports_to_id)
             SELECT {org}, 't-eng', 'Engineer', 'engineer', 'anthropic', 'claude', id FROM desks WHERE desk_id = 't-cto';
             {tree}"
        ),
    );
    assert_eq!(
        read,
        "t-ceo|1|t-ceo,t-cto|2|t-ceo/t-cto,t-eng|3|t-ceo/t-cto/t-eng"
    );

    // A rename of a handle and a move re-path the subtree.
    let read = app(
        &pg,
        "tree",
        ACME,
        &format!(
            "UPDATE desks SET desk_id = 't-boss' WHERE desk_id = 't-ceo';
             UPDATE desks SET reports_to_id = (SELECT id FROM desks WHERE desk_id = 't-boss')
              WHERE desk_id = 't-eng';
             {tree}"
        ),
    );
    assert_eq!(
        read,
        "t-boss|1|t-boss,t-cto|2|t-boss/t-cto,t-eng|2|t-boss/t-eng"
    );

    // A cycle is still refused.
    let err = as_app(
        &pg,
        "tree",
        ACME,
        "UPDATE desks SET reports_to_id = (SELECT id FROM desks WHERE desk_id = 't-cto')
          WHERE desk_id = 't-boss';",
    )
    .expect_err("a desk under its own descendant");
    assert!(
        err.contains("that desk is itself or one of its descendants"),
        "{err}"
    );

    // The seed's desks carry deployed paths too (computed by the trigger, or by 0007 on upgrade).
    let bad = pg.scalar(
        "tree",
        "SELECT count(*) FROM desks AS d LEFT JOIN desks AS p ON p.id = d.reports_to_id
          WHERE d.hierarchy_path IS DISTINCT FROM
                CASE WHEN p.id IS NULL THEN d.desk_id::text ELSE p.hierarchy_path || '/' || d.desk_id END",
    );
    assert_eq!(bad, "0");
}

#[test]
fn a_tenant_cannot_make_a_superuser_but_manages_its_own_users() {
    let pg = TestCluster::start();
    let dsn = migrated(&pg, "su");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("arcdb seed");
    pg.psql(
        "su",
        &format!("CREATE ROLE {APP_ROLE} LOGIN; GRANT arcdesk_tenant TO {APP_ROLE};"),
    );
    let org = "current_setting('app.current_org_id')::uuid";
    let insert = |superuser: bool| {
        format!(
            "INSERT INTO users (organization_id, email, username, is_admin, is_superuser)
             VALUES ({org}, 'su-{superuser}@example.com', 'su-{superuser}', false, {superuser})
             RETURNING username;"
        )
    };

    // The application's own writes: a user (is_superuser false), then profile and admin flags.
    assert_eq!(app(&pg, "su", ACME, &insert(false)), "su-false");
    assert_eq!(
        app(
            &pg,
            "su",
            ACME,
            "UPDATE users SET is_admin = true, full_name = 'Su', last_login_at = now()
              WHERE username = 'su-false' RETURNING is_admin;"
        ),
        "t"
    );

    // Neither an UPDATE nor an INSERT makes a superuser.
    let err = as_app(
        &pg,
        "su",
        ACME,
        "UPDATE users SET is_superuser = true WHERE username = 'su-false';",
    )
    .expect_err("a tenant setting is_superuser");
    assert!(err.contains("permission denied for table users"), "{err}");
    let err = as_app(&pg, "su", ACME, &insert(true)).expect_err("a tenant inserting a superuser");
    assert!(
        err.contains("a tenant may not create a superuser (users.is_superuser)"),
        "{err}"
    );
    assert_eq!(
        pg.scalar("su", "SELECT count(*) FROM users WHERE is_superuser"),
        "0"
    );

    // The platform (the owner) still can.
    assert_eq!(
        pg.scalar(
            "su",
            "UPDATE users SET is_superuser = true WHERE username = 'su-false' RETURNING is_superuser"
        ),
        "t"
    );
}

#[test]
fn an_assigned_task_counts_as_open() {
    let pg = TestCluster::start();
    let dsn = migrated(&pg, "open");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("arcdb seed");
    pg.psql(
        "open",
        &format!("CREATE ROLE {APP_ROLE} LOGIN; GRANT arcdesk_tenant TO {APP_ROLE};"),
    );
    let open_tasks = "SELECT open_tasks FROM desk_performance WHERE desk_id = '31000000-0000-4000-8000-000000000001';";
    run(pg.arcdb_at(&dsn, &["refresh"])).ok("arcdb refresh");
    let before: u64 = app(&pg, "open", ACME, open_tasks).parse().unwrap();

    // The application assigns two tasks to the desk ('assigned', a deployed status).
    app(
        &pg,
        "open",
        ACME,
        &format!(
            "INSERT INTO tasks (organization_id, title, status, assigned_to_id)
             SELECT current_setting('app.current_org_id')::uuid, 'open-' || n, 'assigned', '{ACME_DESK}'
               FROM generate_series(1, 2) AS n;"
        ),
    );
    run(pg.arcdb_at(&dsn, &["refresh"])).ok("arcdb refresh");
    let after: u64 = app(&pg, "open", ACME, open_tasks).parse().unwrap();
    assert_eq!(
        after,
        before + 2,
        "desk_performance.open_tasks counts assigned"
    );

    // The open-tasks index's predicate is arcdb's definition of open.
    let def = pg.scalar(
        "open",
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'tasks_org_assigned_open_idx'",
    );
    assert!(def.contains("'assigned'"), "{def}");
}
