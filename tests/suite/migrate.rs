//! `arcdb up` / `status` / `rollback` against throwaway PostgreSQL clusters: the schema it
//! builds, the history it keeps, drift, failures, concurrency, rollback and connection errors.

use crate::support;

use serde_json::Value;
use std::path::Path;
use support::{latest_version, migrations_copy, run, write_migration, Run, TestCluster};

/// `arcdb --dsn <dsn> <args…>`.
fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(dsn, args))
}

#[test]
fn up_builds_the_whole_schema_and_a_second_up_does_nothing() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("fresh");
    let first = arcdb(&pg, &dsn, &["up", "--format", "json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let report = first.json();
    assert_eq!(report["from_version"], 0);
    assert_eq!(report["to_version"], latest_version());
    assert_eq!(
        report["steps"].as_array().unwrap().len() as u32,
        latest_version()
    );

    let count = |sql: &str| pg.scalar("fresh", sql).parse::<i64>().unwrap();
    // The 14 tables of 0002 and the 4 tenant analytics tables of 0009, all under RLS.
    assert_eq!(
        count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        18
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND rowsecurity"),
        18
    );
    assert_eq!(
        count("SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'"),
        7
    );
    assert!(count("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'") >= 50);
    assert!(count("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal") >= 9);
    assert_eq!(
        count("SELECT count(*) FROM pg_matviews WHERE schemaname = 'public'"),
        2
    );
    // Each materialized view has a unique index, so it can be refreshed concurrently.
    assert_eq!(
        count("SELECT count(DISTINCT c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relkind = 'm' AND i.indisunique"),
        2
    );
    // Every foreign key is covered by an index whose leading columns are the key's columns.
    let unindexed = pg.psql(
        "fresh",
        "SELECT conrelid::regclass || ' ' || conname FROM pg_constraint c WHERE contype = 'f'
            AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid
                            AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] @> c.conkey
                            AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] <@ c.conkey)",
    );
    assert_eq!(unindexed.trim(), "", "foreign keys without an index");

    let second = arcdb(&pg, &dsn, &["up", "--format", "json"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.json()["steps"].as_array().unwrap().len(), 0);
    let history = pg.scalar("fresh", "SELECT count(*) FROM arcdb.schema_history");
    assert_eq!(history, latest_version().to_string());

    let status = arcdb(&pg, &dsn, &["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains("up to date"), "{}", status.stdout);
}

#[test]
fn seed_quick_start_and_analytics_sql_run_verbatim() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("quick");
    assert_eq!(arcdb(&pg, &dsn, &["up"]).code, 0);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let quick = std::fs::read_to_string(fixtures.join("seed000_quickstart.sql")).unwrap();
    let analytics = std::fs::read_to_string(fixtures.join("seed000_analytics.sql")).unwrap();
    // The seed's statements, each run as written once its placeholders name real rows.
    let org = pg.scalar("quick", "INSERT INTO organizations (name, slug, subscription_tier) VALUES ('Setup', 'setup', 'free') RETURNING id");
    let user = pg.scalar("quick", &format!("INSERT INTO users (organization_id, email, username, full_name) VALUES ('{org}', 'setup@example.com', 'setup', 'Setup') RETURNING id"));
    let desk = pg.scalar("quick", &format!("INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model) VALUES ('{org}', 'setup-desk', 'Setup', 'engineer', 'openai', 'gpt-4o') RETURNING id"));
    let fill = |sql: &str| {
        sql.replace("your-org-uuid-here", &org)
            .replace("org-uuid-here", &org)
            .replace("user-uuid-here", &user)
            .replace("desk-uuid-here", &desk)
            .replace("your-org-id", &org)
    };
    let out = pg.psql("quick", &fill(&quick));
    assert!(
        !out.trim().is_empty(),
        "the quick start returns the new rows' ids"
    );
    // Analytics: the two SELECTs run as written (mv_org_cost_summary and mv_desk_performance
    // are the tenant tables of 0009, under the tenant policy); the guide's REFRESH statements are
    // what the application must give up: `arcdb refresh` refreshes the materialized views and
    // brings those tables up to date, as their owner.
    let (refreshes, queries) = analytics
        .split_once("-- seed000: Query")
        .expect("the analytics fixture's query blocks");
    assert!(refreshes.contains("REFRESH MATERIALIZED VIEW mv_org_cost_summary;"));
    let refused = pg
        .try_psql("quick", "REFRESH MATERIALIZED VIEW mv_org_cost_summary;")
        .expect_err("REFRESH of a table");
    assert!(refused.contains("is not a materialized view"), "{refused}");
    assert_eq!(arcdb(&pg, &dsn, &["refresh"]).code, 0);
    let rows = pg.psql(
        "quick",
        &format!(
            "BEGIN; SET LOCAL app.current_org_id = '{org}';\n-- seed000: Query{}\nCOMMIT;",
            fill(queries)
        ),
    );
    // Two desks (the Quick Start's and the setup one), no costs yet.
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert_eq!(
        pg.scalar(
            "quick",
            &format!("SELECT count(*) FROM tasks WHERE organization_id = '{org}'")
        ),
        "1"
    );
}

#[test]
fn up_to_a_version_then_status_reports_pending_and_rollback_returns_to_empty() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("partial");
    let empty_objects = pg.user_objects("partial");

    let to2 = arcdb(&pg, &dsn, &["up", "--to", "2", "--format", "json"]);
    assert_eq!(to2.code, 0, "{}", to2.stderr);
    assert_eq!(to2.json()["to_version"], 2);
    let status = arcdb(&pg, &dsn, &["status", "--format", "json"]);
    assert_eq!(
        status.code, 3,
        "pending migrations exit 3: {}",
        status.stdout
    );
    let states: Vec<String> = status.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&states[..2], ["applied", "applied"]);
    assert!(states[2..].iter().all(|s| s == "pending"), "{states:?}");

    assert_eq!(arcdb(&pg, &dsn, &["up"]).code, 0);
    let first_dump = pg.pg_dump_schema("partial");
    pg.psql("partial", "INSERT INTO organizations (name, slug, subscription_tier) VALUES ('Doomed', 'doomed', 'free')");

    // Without a terminal, rollback refuses unless --yes: nothing changes.
    let refused = arcdb(&pg, &dsn, &["rollback", "--to", "0"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        refused.stderr.trim().lines().count(),
        1,
        "one-line error: {}",
        refused.stderr
    );
    let dry = arcdb(
        &pg,
        &dsn,
        &["rollback", "--to", "0", "--dry-run", "--format", "json"],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let planned: Vec<u64> = dry.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_u64().unwrap())
        .collect();
    let mut expected: Vec<u64> = (1..=latest_version() as u64).collect();
    expected.reverse();
    assert_eq!(planned, expected, "newest first");
    assert_eq!(
        pg.scalar("partial", "SELECT count(*) FROM organizations"),
        "1",
        "dry run changed nothing"
    );

    let back = arcdb(&pg, &dsn, &["rollback", "--to", "0", "--yes"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(
        pg.user_objects("partial"),
        empty_objects,
        "rollback --to 0 leaves nothing"
    );
    assert_eq!(
        pg.scalar("partial", "SELECT count(*) FROM arcdb.schema_history"),
        "0"
    );

    assert_eq!(arcdb(&pg, &dsn, &["up"]).code, 0);
    assert_eq!(
        pg.pg_dump_schema("partial"),
        first_dump,
        "up after rollback rebuilds the same schema"
    );
}

/// Every down is the exact inverse of its up: stepping down one version at a time gives, at
/// each version, the schema `pg_dump` showed when the way up passed there. (A down that forgets
/// a grant, restores a policy or a function slightly differently, or leaves an index behind
/// fails here, not only at `rollback --to 0`.) Version 0 is left to the test above: arcdb's
/// own schema stays after `rollback --to 0`, so its dump is not the one of a never-migrated
/// database.
#[test]
fn each_down_restores_the_schema_of_the_version_before() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("steps");
    let latest = latest_version();

    let mut dumps = vec![String::new()];
    for version in 1..=latest {
        let up = arcdb(&pg, &dsn, &["up", "--to", &version.to_string()]);
        assert_eq!(up.code, 0, "up --to {version}: {}", up.stderr);
        dumps.push(pg.pg_dump_schema("steps"));
    }
    for version in (1..latest).rev() {
        let down = arcdb(
            &pg,
            &dsn,
            &["rollback", "--to", &version.to_string(), "--yes"],
        );
        assert_eq!(down.code, 0, "rollback --to {version}: {}", down.stderr);
        let dump = pg.pg_dump_schema("steps");
        if dump != dumps[version as usize] {
            let first_difference = dump
                .lines()
                .zip(dumps[version as usize].lines())
                .find(|(after_down, on_the_way_up)| after_down != on_the_way_up);
            panic!(
                "the down of version {} does not restore version {version}; first differing line (after down, on the way up): {first_difference:?}",
                version + 1
            );
        }
    }
}

#[test]
fn an_extension_the_server_lacks_is_refused_before_anything_runs_and_only_when_pending() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("extensions");
    let source = pg.root().join("extension-source");
    write_migration(
        &source,
        "0001_base",
        "CREATE TABLE base (id int);",
        "DROP TABLE base;",
    );
    let source_arg = source.to_str().unwrap();
    arcdb(&pg, &dsn, &["up", "--source", source_arg]).ok("up without extensions");
    write_migration(
        &source,
        "0002_needs_extension",
        "CREATE TABLE later (id int);\nCREATE EXTENSION IF NOT EXISTS arcdb_no_such_extension;",
        "DROP TABLE later;",
    );

    let refused = arcdb(&pg, &dsn, &["up", "--source", source_arg]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("lacks the extension(s) arcdb_no_such_extension"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        pg.scalar("extensions", "SELECT to_regclass('later') IS NULL"),
        "t"
    );
    assert_eq!(
        pg.scalar(
            "extensions",
            "SELECT max(version) FROM arcdb.schema_history"
        ),
        "1"
    );
    let dry_run = arcdb(&pg, &dsn, &["up", "--source", source_arg, "--dry-run"]);
    assert_eq!(dry_run.code, 2, "{}", dry_run.stderr);

    // Up to version 1 nothing is pending: nothing to refuse, whatever later versions need.
    arcdb(&pg, &dsn, &["up", "--source", source_arg, "--to", "1"]).ok("up --to 1");
}

#[test]
fn drift_and_unknown_versions_are_named_and_block_up() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("drift");
    let source = migrations_copy(pg.root(), "migrations-copy");
    let source_arg = source.to_str().unwrap();
    write_migration(
        &source,
        "0099_extra",
        "CREATE TABLE extra_table (id int);",
        "DROP TABLE extra_table;",
    );
    assert_eq!(arcdb(&pg, &dsn, &["up", "--source", source_arg]).code, 0);

    // The embedded set lacks 0099: unknown.
    let status = arcdb(&pg, &dsn, &["status", "--format", "json"]);
    assert_eq!(status.code, 4, "{}", status.stdout);
    let unknown = status.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["version"] == 99)
        .cloned()
        .unwrap();
    assert_eq!(unknown["state"], "unknown");
    let refused = arcdb(&pg, &dsn, &["up"]);
    assert_eq!(refused.code, 4);
    assert!(refused.stderr.contains("0099_extra"), "{}", refused.stderr);

    // Editing an applied migration: drifted, named, and up refuses before changing anything.
    let core = source.join("0002_core_schema/up.sql");
    let edited = std::fs::read_to_string(&core).unwrap() + "\n-- edited after it was applied\n";
    std::fs::write(&core, edited).unwrap();
    let status = arcdb(&pg, &dsn, &["status", "--source", source_arg]);
    assert_eq!(status.code, 4);
    assert!(status.stdout.contains("drifted"), "{}", status.stdout);
    let refused = arcdb(&pg, &dsn, &["up", "--source", source_arg]);
    assert_eq!(refused.code, 4);
    assert!(
        refused.stderr.contains("0002_core_schema"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_failing_migration_leaves_the_database_unchanged_and_names_file_line_and_message() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("broken");
    let source = migrations_copy(pg.root(), "migrations-copy");
    let source_arg = source.to_str().unwrap();
    assert_eq!(arcdb(&pg, &dsn, &["up"]).code, 0);
    let before = pg.pg_dump_schema("broken");
    write_migration(
        &source,
        "0099_broken",
        "CREATE TABLE half_done (id int);\nALTER TABLE organizations ADD COLUMN fine text;\nSELECT * FROM\n  no_such_table;\n",
        "DROP TABLE half_done;",
    );
    let failed = arcdb(&pg, &dsn, &["up", "--source", source_arg]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let line = failed.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("0099_broken/up.sql"), "{line}");
    assert!(line.contains("line 4, column 3"), "{line}");
    assert!(
        line.contains("relation \"no_such_table\" does not exist"),
        "{line}"
    );
    assert!(line.contains("42P01"), "{line}");
    assert_eq!(
        pg.pg_dump_schema("broken"),
        before,
        "nothing of the failed migration remains"
    );
    assert_eq!(
        pg.scalar("broken", "SELECT max(version) FROM arcdb.schema_history"),
        latest_version().to_string()
    );
}

/// An error without a position (a unique violation) in the middle of a script sent in one round
/// trip: named by its line, nothing of the migration remains.
#[test]
fn an_error_without_a_position_names_its_statement() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("dup");
    let source = migrations_copy(pg.root(), "migrations-copy");
    let source_arg = source.to_str().unwrap();
    arcdb(&pg, &dsn, &["up"]).ok("up");
    write_migration(
        &source,
        "0099_dup",
        "CREATE TABLE dup (id int PRIMARY KEY);\nINSERT INTO dup VALUES (1);\n\nINSERT INTO dup VALUES (1);\nCREATE TABLE after_dup (id int);\n",
        "DROP TABLE dup;",
    );
    let failed = arcdb(&pg, &dsn, &["up", "--source", source_arg]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let line = failed.stderr.trim();
    assert!(
        line.contains("0099_dup/up.sql, line 4 (`INSERT INTO dup VALUES (1)")
            && line.contains("23505")
            && line.contains("nothing of it was applied"),
        "{line}"
    );
    assert_eq!(
        pg.scalar(
            "dup",
            "SELECT to_regclass('dup') IS NULL AND to_regclass('after_dup') IS NULL"
        ),
        "t"
    );
    assert_eq!(
        pg.scalar("dup", "SELECT max(version) FROM arcdb.schema_history"),
        latest_version().to_string()
    );
}

#[test]
fn concurrent_ups_apply_each_version_exactly_once() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("race");
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut cmd = pg.arcdb();
            cmd.args(["--dsn", &dsn, "up", "--format", "json"]);
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        applied += report["steps"].as_array().unwrap().len() as u32;
    }
    assert_eq!(
        applied,
        latest_version(),
        "every version applied by exactly one run"
    );
    assert_eq!(
        pg.scalar(
            "race",
            "SELECT count(*) || ' ' || count(DISTINCT version) FROM arcdb.schema_history"
        ),
        format!("{0} {0}", latest_version())
    );
}

#[test]
fn bad_connections_fail_fast_with_one_line_and_no_password() {
    let pg = TestCluster::start();
    pg.create_db("conn");
    let secret = pg.password().to_string();
    let check = |args: &[&str], expect_code: i32, needle: &str| {
        let started = std::time::Instant::now();
        let mut cmd = pg.arcdb();
        cmd.args(args).args(["status"]);
        let out = run(cmd);
        let elapsed = started.elapsed();
        assert_eq!(out.code, expect_code, "{args:?}: {}", out.stderr);
        let line = out.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{args:?}: {line}");
        assert!(line.contains(needle), "{args:?}: {line}");
        assert!(
            !line.contains(&secret) && !out.stdout.contains(&secret),
            "password leaked: {line}"
        );
        assert!(!line.contains("wrong-pw-123"), "password leaked: {line}");
        elapsed
    };
    let good = pg.tcp_dsn("conn");
    let port = pg.port();
    // Malformed: a usage error, nothing contacted.
    check(
        &[
            "--dsn",
            &format!("postgresql://postgres:{secret}@127.0.0.1:notaport/conn"),
        ],
        2,
        "malformed connection string",
    );
    // Wrong password.
    check(
        &[
            "--dsn",
            &format!("postgresql://postgres:wrong-pw-123@127.0.0.1:{port}/conn"),
        ],
        1,
        "password authentication failed",
    );
    // TLS demanded of a server without it.
    check(
        &["--dsn", &format!("{good}?sslmode=require")],
        1,
        "does not support TLS",
    );
    // Nothing listening.
    let closed = support::free_port();
    check(
        &[
            "--dsn",
            &format!("postgresql://postgres:{secret}@127.0.0.1:{closed}/conn"),
        ],
        1,
        "connection refused",
    );
    // A host that accepts TCP but never answers: bounded by --connect-timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let elapsed = check(
        &[
            "--connect-timeout",
            "2",
            "--dsn",
            &format!("postgresql://postgres:{secret}@127.0.0.1:{silent_port}/conn?sslmode=disable"),
        ],
        1,
        "within 2s",
    );
    assert!(
        elapsed < std::time::Duration::from_secs(8),
        "gave up after {elapsed:?}"
    );
    drop(silent);
    // And the good DSN works, with the password only ever shown redacted.
    let ok = arcdb(&pg, &good, &["status", "--format", "json"]);
    assert_eq!(ok.code, 3, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("postgresql://postgres:***@127.0.0.1"),
        "{}",
        ok.stdout
    );
    assert!(!ok.stdout.contains(&secret));
}

#[test]
fn profiles_take_the_password_from_the_environment() {
    let pg = TestCluster::start();
    pg.create_db("prof");
    let config = pg.root().join("arcdb.toml");
    std::fs::write(
        &config,
        format!(
            "default_profile = \"ci\"\n[profiles.ci]\ndsn = \"postgresql://postgres@127.0.0.1:{}/prof?sslmode=disable\"\npassword_env = \"ARCDB_TEST_PW\"\n",
            pg.port()
        ),
    )
    .unwrap();
    let mut cmd = pg.arcdb();
    cmd.arg("--config")
        .arg(&config)
        .env("ARCDB_TEST_PW", pg.password())
        .args(["up", "--format", "json"]);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["to_version"], latest_version());

    let mut missing = pg.arcdb();
    missing.arg("--config").arg(&config).arg("status");
    let out = run(missing);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("$ARCDB_TEST_PW"), "{}", out.stderr);
}

#[test]
fn without_any_dsn_arcdb_uses_its_local_server() {
    let pg = TestCluster::start();
    // `pg.arcdb()` points ARCDB_LOCAL_DIR into this test's directory and clears DATABASE_URL.
    let port = support::free_port().to_string();
    let mut cmd = pg.arcdb();
    cmd.env("ARCDB_LOCAL_PORT", &port)
        .args(["up", "--format", "json"]);
    let out = run(cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("local PostgreSQL"),
        "says so on stderr: {}",
        out.stderr
    );
    assert_eq!(out.json()["to_version"], latest_version());
    let mut stop = pg.arcdb();
    stop.env("ARCDB_LOCAL_PORT", &port)
        .args(["local", "destroy", "--yes"]);
    let stopped = run(stop);
    assert_eq!(stopped.code, 0, "{}", stopped.stderr);
}

#[test]
fn a_missing_extension_is_refused_before_anything_is_touched() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("noext");
    let source = pg.root().join("needs-extension");
    write_migration(
        &source,
        "0001_exotic",
        "CREATE EXTENSION IF NOT EXISTS no_such_extension_xyz;\n",
        "DROP EXTENSION no_such_extension_xyz;",
    );
    let refused = arcdb(&pg, &dsn, &["up", "--source", source.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no_such_extension_xyz"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        pg.scalar(
            "noext",
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'arcdb'"
        ),
        "0",
        "not even arcdb's history was created"
    );
}
