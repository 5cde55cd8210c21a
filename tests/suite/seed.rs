//! `arcdb seed` (the embedded sample data) and `arcdb seed --scale` (the COPY generator) against
//! throwaway PostgreSQL clusters: idempotence, the contents the issue asks for, exact and
//! consistent scale data, determinism across COPY formats, refusals, and loads that fail or are
//! killed halfway and leave nothing behind.

use crate::support;

use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{run, Run, TestCluster};

/// `arcdb --dsn <socket dsn of db> <args…>`.
fn arcdb(pg: &TestCluster, db: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(&pg.dsn(db), args))
}

/// A new database `name` with the whole schema applied.
fn migrated(pg: &TestCluster, name: &str) {
    pg.create_db(name);
    arcdb(pg, name, &["up"]).ok("arcdb up");
}

fn number(pg: &TestCluster, db: &str, sql: &str) -> i64 {
    let text = pg.scalar(db, sql);
    text.parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?} from {sql}"))
}

const TABLES: [&str; 14] = [
    "organizations",
    "users",
    "desks",
    "workflows",
    "tasks",
    "agent_sessions",
    "messages",
    "qa_reviews",
    "delegations",
    "knowledge_bases",
    "data_sources",
    "cost_tracking",
    "api_keys",
    "audit_logs",
];

/// Rows per table, from the report's `tables` array: (table, field).
fn report_counts(report: &Value, field: &str) -> Vec<(String, i64)> {
    report["tables"]
        .as_array()
        .expect("tables array")
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t[field].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The organizations of scale run `run`, as a SQL subquery.
fn scale_orgs(run: u32) -> String {
    format!("(SELECT id FROM organizations WHERE settings #>> '{{arcdb_scale,run}}' = '{run}')")
}

/// Non-internal triggers that are not enabled (a load must leave none disabled).
fn disabled_triggers(pg: &TestCluster, db: &str) -> i64 {
    number(
        pg,
        db,
        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'O'",
    )
}

#[test]
fn seed_before_up_is_refused_with_one_line_and_exit_2() {
    let pg = TestCluster::start();
    pg.create_db("empty");
    for args in [
        &["seed"][..],
        &["seed", "--scale", "--orgs", "2", "--tasks", "10"][..],
    ] {
        let out = arcdb(&pg, "empty", args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed a report: {}",
            out.stdout
        );
        let lines: Vec<&str> = out.stderr.trim().lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {}", out.stderr);
        assert!(
            lines[0].contains("version 0") && lines[0].contains("arcdb up"),
            "{args:?}: {}",
            lines[0]
        );
    }
    assert_eq!(
        number(
            &pg,
            "empty",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        0,
        "a refused seed created tables"
    );
    // Scale-only flags without --scale are a usage error too.
    let out = arcdb(&pg, "empty", &["seed", "--orgs", "3"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn sample_seed_is_idempotent_and_has_what_the_issue_asks_for() {
    let pg = TestCluster::start();
    migrated(&pg, "app");

    let first = arcdb(&pg, "app", &["seed", "--format", "json"])
        .ok("first seed")
        .json();
    let added = report_counts(&first, "added");
    assert_eq!(
        added.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        TABLES,
        "the report lists the 14 tables in load order"
    );
    for (table, n) in &added {
        assert!(*n > 0, "the sample seed adds no rows to {table}");
    }
    assert_eq!(
        first["added"].as_i64().unwrap(),
        added.iter().map(|(_, n)| n).sum::<i64>()
    );

    let second = arcdb(&pg, "app", &["seed", "--format", "json"])
        .ok("second seed")
        .json();
    assert_eq!(second["added"].as_i64(), Some(0), "{second:#}");
    assert_eq!(
        report_counts(&second, "after"),
        report_counts(&first, "after"),
        "a second seed changed row counts"
    );
    assert!(report_counts(&second, "added").iter().all(|(_, n)| *n == 0));
    for (table, after) in report_counts(&second, "after") {
        assert_eq!(
            number(&pg, "app", &format!("SELECT count(*) FROM {table}")),
            after
        );
    }
    let table = arcdb(&pg, "app", &["seed"]).ok("third seed");
    assert!(
        table.stdout.contains("already seeded, nothing added"),
        "{}",
        table.stdout
    );

    assert_eq!(
        pg.scalar("app",
            "SELECT string_agg(name || ':' || subscription_tier, ',' ORDER BY name) FROM organizations"
        ),
        "Acme Corporation:enterprise,Healthcare Co:free,Tech Startup Inc:professional"
    );
    assert_eq!(
        pg.scalar("app",
            "SELECT string_agg(o.name || '/' || split_part(u.email::text, '@', 1), ',' ORDER BY u.email)
               FROM users u JOIN organizations o ON o.id = u.organization_id"
        ),
        "Acme Corporation/alice,Acme Corporation/bob,Tech Startup Inc/charlie,Healthcare Co/diana"
    );
    // Every organization: tasks in every status and priority, a desk hierarchy of >= 3 levels,
    // workflows, sessions with messages, QA reviews, delegations, knowledge bases, data
    // sources, costs over several months and providers, audit entries, hashed API keys.
    let per_org = pg.scalar("app",
        "SELECT string_agg(format('%s:%s/%s/%s', o.name,
                    (SELECT count(DISTINCT status) FROM tasks t WHERE t.organization_id = o.id),
                    (SELECT count(DISTINCT priority) FROM tasks t WHERE t.organization_id = o.id),
                    (SELECT max(hierarchy_level) FROM desks d WHERE d.organization_id = o.id)), ',' ORDER BY o.name)
           FROM organizations o",
    );
    assert_eq!(
        per_org,
        "Acme Corporation:7/4/4,Healthcare Co:7/4/3,Tech Startup Inc:7/4/4"
    );
    assert_eq!(
        number(
            &pg,
            "app",
            "SELECT count(*) FROM organizations o WHERE
                 NOT EXISTS (SELECT 1 FROM workflows x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM messages x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM qa_reviews x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM delegations x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM knowledge_bases x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM data_sources x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM audit_logs x WHERE x.organization_id = o.id)
              OR NOT EXISTS (SELECT 1 FROM api_keys x WHERE x.organization_id = o.id)
              OR (SELECT count(DISTINCT billing_month) FROM cost_tracking x WHERE x.organization_id = o.id) < 2"
        ),
        0,
        "an organization lacks part of the sample data"
    );
    assert!(
        number(
            &pg,
            "app",
            "SELECT count(DISTINCT provider) FROM cost_tracking"
        ) >= 2,
        "costs come from a single provider"
    );
}

#[test]
fn scale_seed_is_exact_consistent_skewed_and_refuses_a_second_run() {
    let pg = TestCluster::start();
    migrated(&pg, "app");
    // The sample first: the scale run must not collide with its ids or slugs.
    arcdb(&pg, "app", &["seed"]).ok("sample seed");
    let sample_tasks = number(&pg, "app", "SELECT count(*) FROM tasks");

    let args = [
        "seed", "--scale", "--orgs", "20", "--tasks", "5000", "--seed", "7", "--format", "json",
    ];
    let report = arcdb(&pg, "app", &args).ok("scale seed").json();
    assert_eq!(report["run"].as_u64(), Some(0));
    assert_eq!(report["copy_format"].as_str(), Some("binary"));
    assert_eq!(
        report["rebuilt"]["tables"].as_array().unwrap().len(),
        14,
        "a fresh database rebuilds the indexes of every table: {report:#}"
    );
    let orgs = scale_orgs(0);
    // The report's counts are the rows in the database.
    let counts = report_counts(&report, "rows");
    assert_eq!(
        counts.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(),
        TABLES
    );
    for (table, rows) in &counts {
        let column = if table == "organizations" {
            "id"
        } else {
            "organization_id"
        };
        assert_eq!(
            number(
                &pg,
                "app",
                &format!("SELECT count(*) FROM {table} WHERE {column} IN {orgs}")
            ),
            *rows,
            "{table}"
        );
        assert!(*rows > 0, "no {table} generated");
    }
    assert_eq!(
        report["total_rows"].as_i64().unwrap(),
        counts.iter().map(|(_, n)| n).sum::<i64>()
    );

    // Exactly the requested counts; the sample data is untouched.
    assert_eq!(
        number(&pg, "app", &format!("SELECT count(*) FROM {orgs} o")),
        20
    );
    assert_eq!(
        number(
            &pg,
            "app",
            &format!("SELECT count(*) FROM tasks WHERE organization_id IN {orgs}")
        ),
        5000
    );
    assert_eq!(
        number(&pg, "app", "SELECT count(*) FROM tasks"),
        sample_tasks + 5000
    );
    // Task numbers 1..n per organization, no gaps, and last_task_number = n.
    assert_eq!(
        number(
            &pg,
            "app",
            &format!(
                "SELECT count(*) FROM organizations o
                   LEFT JOIN (SELECT organization_id, count(*) AS n, min(task_number) AS lo,
                                     max(task_number) AS hi, count(DISTINCT task_number) AS d
                                FROM tasks GROUP BY 1) t ON t.organization_id = o.id
                  WHERE o.id IN {orgs}
                    AND (t.n IS NULL OR t.lo <> 1 OR t.hi <> t.n OR t.d <> t.n
                         OR o.last_task_number <> t.n)"
            )
        ),
        0,
        "task numbers are not 1..n per organization, or last_task_number disagrees"
    );
    // Nothing references another organization (the composite keys guarantee it; check some
    // references joined by id alone).
    assert_eq!(
        number(
            &pg,
            "app",
            "SELECT (SELECT count(*) FROM tasks t JOIN desks d ON d.id = t.assigned_to_id
                      WHERE d.organization_id <> t.organization_id)
                  + (SELECT count(*) FROM messages m JOIN agent_sessions s ON s.id = m.session_id
                      WHERE s.organization_id <> m.organization_id)
                  + (SELECT count(*) FROM cost_tracking c JOIN tasks t ON t.id = c.task_id
                      WHERE t.organization_id <> c.organization_id)
                  + (SELECT count(*) FROM desks c JOIN desks p ON p.id = c.reports_to_id
                      WHERE p.organization_id <> c.organization_id)"
        ),
        0
    );
    // Skewed: the largest organization has several times the median's tasks.
    let (largest, median) = (
        report["largest_org_tasks"].as_i64().unwrap(),
        report["median_org_tasks"].as_i64().unwrap(),
    );
    assert_eq!(
        largest,
        number(
            &pg,
            "app",
            &format!("SELECT max(last_task_number) FROM organizations WHERE id IN {orgs}")
        )
    );
    assert!(
        largest >= 4 * median,
        "not skewed: largest {largest}, median {median}"
    );
    // Every status and priority, several months and providers of costs, >= 3 desk levels.
    assert_eq!(
        pg.scalar(
            "app",
            &format!(
                "SELECT count(DISTINCT status) || '/' || count(DISTINCT priority)
                   FROM tasks WHERE organization_id IN {orgs}"
            )
        ),
        "7/4"
    );
    assert!(
        number(
            &pg,
            "app",
            &format!(
                "SELECT min(d) FROM (SELECT max(hierarchy_level) - 1 AS d FROM desks
                  WHERE organization_id IN {orgs} GROUP BY organization_id) x"
            )
        ) >= 2
    );
    assert!(
        number(
            &pg,
            "app",
            &format!(
                "SELECT count(DISTINCT billing_month) * 100 + count(DISTINCT provider)
                   FROM cost_tracking WHERE organization_id IN {orgs}"
            )
        ) >= 402
    );
    // The columns the disabled triggers would have computed are what they compute: fire them
    // (UPDATE … SET x = x) and compare, in a transaction that is rolled back.
    assert_eq!(
        pg.scalar(
            "app",
            "BEGIN;
             CREATE TEMP TABLE d0 AS SELECT id, hierarchy_path, hierarchy_level FROM desks;
             CREATE TEMP TABLE c0 AS SELECT id, billing_month FROM cost_tracking;
             UPDATE desks SET hierarchy_path = hierarchy_path;
             UPDATE cost_tracking SET created_at = created_at;
             SELECT (SELECT count(*) FROM desks d JOIN d0 USING (id)
                      WHERE d.hierarchy_path <> d0.hierarchy_path
                         OR d.hierarchy_level <> d0.hierarchy_level)
                 || '/' ||
                    (SELECT count(*) FROM cost_tracking c JOIN c0 USING (id)
                      WHERE c.billing_month <> c0.billing_month)
                 || '/' ||
                    (SELECT count(*) FROM cost_tracking
                      WHERE total_tokens <> input_tokens + output_tokens)
                 || '/' ||
                    (SELECT count(*) FROM audit_logs
                      WHERE actor_type <> CASE WHEN user_id IS NOT NULL THEN 'user'
                                               WHEN api_key_id IS NOT NULL THEN 'api_key'
                                               WHEN desk_id IS NOT NULL THEN 'desk'
                                               ELSE 'system' END)
                 || '/' ||
                    (SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL AND is_active);
             ROLLBACK;"
        ),
        "0/0/0/0/0"
    );
    // Triggers enabled again; the schema is exactly what `up` builds (indexes, keys and
    // foreign keys rebuilt and validated, comments kept).
    assert_eq!(disabled_triggers(&pg, "app"), 0);
    assert_eq!(
        number(
            &pg,
            "app",
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated"
        ),
        0
    );
    migrated(&pg, "fresh");
    assert!(
        pg.pg_dump_schema("app") == pg.pg_dump_schema("fresh"),
        "the schema after a scale load differs from a freshly migrated one"
    );

    // The same seed again is refused (exit 2) and changes nothing.
    let again = arcdb(&pg, "app", &args);
    assert_eq!(again.code, 2, "{}{}", again.stdout, again.stderr);
    assert!(again.stderr.contains("--append"), "{}", again.stderr);
    assert_eq!(
        number(&pg, "app", "SELECT count(*) FROM tasks"),
        sample_tasks + 5000
    );

    // --append loads run 1: new organizations, ids and slugs (text COPY, indexes kept).
    let appended = arcdb(
        &pg,
        "app",
        &[
            "seed",
            "--scale",
            "--orgs",
            "20",
            "--tasks",
            "5000",
            "--seed",
            "7",
            "--append",
            "--copy-format",
            "text",
            "--keep-indexes",
            "--format",
            "json",
        ],
    )
    .ok("appended scale seed")
    .json();
    assert_eq!(appended["run"].as_u64(), Some(1));
    assert_eq!(appended["copy_format"].as_str(), Some("text"));
    assert!(appended["rebuilt"]["tables"].as_array().unwrap().is_empty());
    assert_eq!(
        number(
            &pg,
            "app",
            &format!(
                "SELECT count(*) FROM tasks WHERE organization_id IN {}",
                scale_orgs(1)
            )
        ),
        5000
    );
    assert_eq!(
        number(&pg, "app", "SELECT count(*) FROM tasks"),
        sample_tasks + 10_000
    );
    assert_eq!(disabled_triggers(&pg, "app"), 0);
}

#[test]
fn scale_rows_are_deterministic_and_the_same_in_binary_and_text() {
    let pg = TestCluster::start();
    migrated(&pg, "bin");
    migrated(&pg, "txt");
    let load = |db: &str, format: &str| {
        arcdb(
            &pg,
            db,
            &[
                "seed",
                "--scale",
                "--orgs",
                "7",
                "--tasks",
                "1500",
                "--seed",
                "42",
                "--copy-format",
                format,
            ],
        )
        .ok("scale seed");
    };
    load("bin", "binary");
    load("txt", "text");
    for table in TABLES {
        let digest =
            format!("SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {table} x");
        let (a, b) = (pg.scalar("bin", &digest), pg.scalar("txt", &digest));
        assert!(!a.is_empty(), "{table} is empty");
        assert_eq!(a, b, "{table} differs between binary and text COPY");
    }
}

#[test]
fn a_failing_scale_load_leaves_nothing() {
    let pg = TestCluster::start();
    migrated(&pg, "app");
    let indexes = "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'";
    let before = number(&pg, "app", indexes);
    // Messages are loaded after organizations, users, desks, tasks and sessions: make them fail.
    pg.psql(
        "app",
        "ALTER TABLE messages ADD CONSTRAINT seed_test_short CHECK (sequence_number < 3) NOT VALID",
    );
    let out = arcdb(
        &pg,
        "app",
        &["seed", "--scale", "--orgs", "5", "--tasks", "2000"],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let error = out.stderr.lines().last().unwrap_or("");
    assert!(
        error.contains("messages")
            && error.contains("seed_test_short")
            && error.contains("nothing was loaded"),
        "{}",
        out.stderr
    );
    for table in TABLES {
        assert_eq!(
            number(&pg, "app", &format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    assert_eq!(disabled_triggers(&pg, "app"), 0);
    assert_eq!(
        number(&pg, "app", indexes),
        before,
        "dropped indexes were not restored"
    );
}

#[test]
fn a_killed_scale_load_leaves_nothing() {
    let pg = TestCluster::start();
    migrated(&pg, "app");
    arcdb(&pg, "app", &["seed"]).ok("sample seed");
    let before: Vec<i64> = TABLES
        .iter()
        .map(|t| number(&pg, "app", &format!("SELECT count(*) FROM {t}")))
        .collect();
    let schema = pg.pg_dump_schema("app");

    let mut cmd = pg.arcdb();
    cmd.arg("--dsn")
        .arg(pg.dsn("app"))
        .args(["seed", "--scale", "--orgs", "50", "--tasks", "400000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("arcdb starts");
    // Kill it while it streams rows (COPY of a table after the first ones).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copying = number(
            &pg,
            "app",
            "SELECT count(*) FROM pg_stat_activity
              WHERE application_name = 'arcdb' AND query LIKE 'COPY public.tasks%'",
        );
        if copying > 0 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the load finished ({status}) before it could be killed");
        }
        assert!(
            Instant::now() < deadline,
            "the load never reached COPY of tasks"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL arcdb");
    child.wait().unwrap();
    // The server notices the closed connection and rolls the transaction back.
    let deadline = Instant::now() + Duration::from_secs(60);
    while number(
        &pg,
        "app",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'arcdb'",
    ) > 0
    {
        assert!(
            Instant::now() < deadline,
            "the killed load's session lingers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let after: Vec<i64> = TABLES
        .iter()
        .map(|t| number(&pg, "app", &format!("SELECT count(*) FROM {t}")))
        .collect();
    assert_eq!(after, before, "a killed load left rows behind");
    assert_eq!(disabled_triggers(&pg, "app"), 0);
    assert!(
        pg.pg_dump_schema("app") == schema,
        "a killed load changed the schema"
    );
    // And a new load then works.
    arcdb(
        &pg,
        "app",
        &["seed", "--scale", "--orgs", "3", "--tasks", "300"],
    )
    .ok("scale after kill");
}
