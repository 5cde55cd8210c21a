//! What arcdb does for CockroachDB, tested without a CockroachDB server (none can be installed
//! here): the statement-by-statement runner and the lease lock run against a real PostgreSQL
//! through their test hooks (`ARCDB_FORCE_STEPWISE=1`, `ARCDB_LOCK=lease`), and `arcdb lint`
//! runs over the embedded migrations (both engines, variants included) and over fixtures.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{run, write_migration, Run, TestCluster};

/// `arcdb --dsn <dsn> <args…>` with extra environment variables (the test hooks).
fn arcdb_cmd(pg: &TestCluster, dsn: &str, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = pg.arcdb_at(dsn, args);
    for var in ["ARCDB_FORCE_STEPWISE", "ARCDB_LOCK", "ARCDB_LEASE_TTL_SECS"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn arcdb(pg: &TestCluster, dsn: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
    run(arcdb_cmd(pg, dsn, env, args))
}

/// `arcdb` without a database (lint).
fn arcdb_offline(args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    cmd.env_remove("DATABASE_URL").args(args);
    run(cmd)
}

const STEPWISE: (&str, &str) = ("ARCDB_FORCE_STEPWISE", "1");
const LEASE: (&str, &str) = ("ARCDB_LOCK", "lease");

// ---------------------------------------------------------------------------------------------
// The statement-by-statement runner (what CockroachDB gets), on PostgreSQL
// ---------------------------------------------------------------------------------------------

#[test]
fn stepwise_runner_builds_and_removes_the_same_schema_as_the_transactional_one() {
    let pg = TestCluster::start();
    let tx = pg.create_db("tx");
    let step = pg.create_db("step");

    let plain = arcdb(&pg, &tx, &[], &["up"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let stepwise = arcdb(&pg, &step, &[STEPWISE], &["up", "--format", "json"]);
    assert_eq!(stepwise.code, 0, "{}", stepwise.stderr);
    assert!(!stepwise.json()["steps"].as_array().unwrap().is_empty());
    assert_eq!(
        pg.pg_dump_schema("tx"),
        pg.pg_dump_schema("step"),
        "the stepwise runner built a different schema"
    );
    assert_eq!(
        pg.scalar(
            "step",
            "SELECT count(*) FILTER (WHERE NOT complete) FROM arcdb.schema_history"
        ),
        "0"
    );
    // Both databases get the same commands: the first status creates arcdb's cache tables.
    for (dsn, env) in [(&tx, vec![]), (&step, vec![STEPWISE])] {
        let status = arcdb(&pg, dsn, &env, &["status"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    }

    for (dsn, env) in [(&tx, vec![]), (&step, vec![STEPWISE])] {
        let back = arcdb(&pg, dsn, &env, &["rollback", "--to", "0", "--yes"]);
        assert_eq!(back.code, 0, "{}", back.stderr);
    }
    assert_eq!(pg.pg_dump_schema("tx"), pg.pg_dump_schema("step"));
    assert_eq!(
        pg.scalar("step", "SELECT count(*) FROM arcdb.schema_history"),
        "0"
    );
}

#[test]
fn stepwise_failure_names_file_and_line_and_the_next_up_reruns_the_migration() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("resume");
    let source = pg.root().join("stepwise-migrations");
    write_migration(
        &source,
        "0001_first",
        "CREATE TABLE IF NOT EXISTS first_t (x int);\n",
        "DROP TABLE IF EXISTS first_t;\n",
    );
    // The second statement fails on line 5 (where `later_t` is); the first one stays applied.
    write_migration(
        &source,
        "0002_resumable",
        "-- idempotent, as CockroachDB variants must be\nCREATE TABLE IF NOT EXISTS step_a (x int);\n\nINSERT INTO step_a (x)\n    SELECT x FROM later_t;\nCREATE TABLE IF NOT EXISTS step_c (y int);\n",
        "DROP TABLE IF EXISTS step_c;\nDROP TABLE IF EXISTS step_a;\n",
    );
    let src = source.to_str().unwrap();

    let failed = arcdb(&pg, &dsn, &[STEPWISE], &["up", "--source", src]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    for needle in [
        "0002_resumable/up.sql, line 5",
        "INSERT INTO step_a",
        "later_t",
        "does not exist",
        "42P01",
        "0002_resumable stays recorded as incomplete",
    ] {
        assert!(
            failed.stderr.contains(needle),
            "{needle}: {}",
            failed.stderr
        );
    }
    assert_eq!(
        pg.scalar(
            "resume",
            "SELECT to_regclass('step_a') IS NOT NULL, to_regclass('step_c') IS NULL"
        ),
        "t|t",
        "the statement before the failing one stays applied, the ones after do not run"
    );
    let status = arcdb(
        &pg,
        &dsn,
        &[STEPWISE],
        &["status", "--source", src, "--format", "json"],
    );
    assert_eq!(status.code, 3, "{}", status.stderr);
    let states: Vec<String> = status.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, vec!["applied", "incomplete"]);

    pg.psql(
        "resume",
        "CREATE TABLE later_t (x int); INSERT INTO later_t VALUES (7);",
    );
    let resumed = arcdb(
        &pg,
        &dsn,
        &[STEPWISE],
        &["up", "--source", src, "--format", "json"],
    );
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let steps = resumed.json()["steps"].as_array().unwrap().clone();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["version"], 2);
    assert_eq!(
        pg.scalar("resume",
            "SELECT (SELECT count(*) FROM step_a), to_regclass('step_c') IS NOT NULL, (SELECT bool_and(complete) FROM arcdb.schema_history)"
        ),
        "1|t|t"
    );
    let status = arcdb(&pg, &dsn, &[STEPWISE], &["status", "--source", src]);
    assert_eq!(status.code, 0, "{}", status.stdout);

    // A failing down script leaves the version incomplete too, and says so.
    std::fs::write(
        source.join("0002_resumable/down.sql"),
        "DROP TABLE IF EXISTS step_c;\nDROP TABLE step_a_typo;\n",
    )
    .unwrap();
    // (A changed down script is not drift: only the up script's checksum is recorded.)
    let back = arcdb(
        &pg,
        &dsn,
        &[STEPWISE],
        &["rollback", "--to", "1", "--yes", "--source", src],
    );
    assert_eq!(back.code, 1, "{}", back.stderr);
    assert!(
        back.stderr.contains("0002_resumable/down.sql, line 2")
            && back.stderr.contains("step_a_typo"),
        "{}",
        back.stderr
    );
    assert_eq!(
        pg.scalar(
            "resume",
            "SELECT complete FROM arcdb.schema_history WHERE version = 2"
        ),
        "f"
    );
}

// ---------------------------------------------------------------------------------------------
// The lease lock (what CockroachDB gets), on PostgreSQL
// ---------------------------------------------------------------------------------------------

#[test]
fn lease_lock_lets_concurrent_runs_apply_each_version_once() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("lease");
    let source = pg.root().join("lease-migrations");
    // Not idempotent and slow: two runs applying the same version would collide.
    for (version, name) in [(1, "one"), (2, "two"), (3, "three")] {
        write_migration(
            &source,
            &format!("{version:04}_{name}"),
            &format!(
                "CREATE TABLE probe_{name} (pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());\nINSERT INTO probe_{name} (pid) SELECT pg_backend_pid();\nSELECT pg_sleep(0.4);\n"
            ),
            &format!("DROP TABLE probe_{name};\n"),
        );
    }
    let src = source.to_str().unwrap().to_string();
    let runners: Vec<Child> = (0..5)
        .map(|_| {
            let mut cmd = arcdb_cmd(
                &pg,
                &dsn,
                &[LEASE, ("ARCDB_LEASE_TTL_SECS", "5")],
                &[
                    "up",
                    "--source",
                    &src,
                    "--lock-timeout",
                    "60",
                    "--format",
                    "json",
                ],
            );
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().expect("spawn arcdb")
        })
        .collect();
    let runs: Vec<Run> = runners
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect();
    for r in &runs {
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
    let applied: usize = runs
        .iter()
        .map(|r| r.json()["steps"].as_array().unwrap().len())
        .sum();
    assert_eq!(applied, 3, "each version applied by exactly one run");
    assert!(
        runs.iter()
            .any(|r| r.stderr.contains("waiting up to") && r.stderr.contains("held by")),
        "nobody said it waited: {:?}",
        runs.iter().map(|r| &r.stderr).collect::<Vec<_>>()
    );
    assert_eq!(
        pg.scalar("lease",
            "SELECT (SELECT count(*) FROM probe_one) + (SELECT count(*) FROM probe_two) + (SELECT count(*) FROM probe_three), (SELECT count(*) FROM arcdb.schema_history)"
        ),
        "3|3"
    );
    // The lease was used (the table exists) and given back (no row left).
    assert_eq!(
        pg.scalar("lease", "SELECT count(*) FROM arcdb.migration_lock"),
        "0"
    );
    let again = arcdb(&pg, &dsn, &[LEASE], &["up", "--source", &src]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
}

#[test]
fn lease_of_a_killed_holder_is_taken_over_after_it_expires() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("takeover");
    pg.psql(
        "takeover",
        "CREATE TABLE sleep_control (seconds float8 NOT NULL); INSERT INTO sleep_control VALUES (60);",
    );
    let source = pg.root().join("takeover-migrations");
    write_migration(
        &source,
        "0001_slow",
        "CREATE TABLE slow_done (x int);\nSELECT pg_sleep(seconds) FROM public.sleep_control;\n",
        "DROP TABLE slow_done;\n",
    );
    let src = source.to_str().unwrap().to_string();
    // A lease of 6 s, renewed every 2 s: long enough that a loaded machine does not lose it
    // while the holder lives, short enough for the takeover below.
    let ttl = [LEASE, ("ARCDB_LEASE_TTL_SECS", "6")];
    let holder_log = pg.root().join("holder.stderr");

    let mut holder = arcdb_cmd(&pg, &dsn, &ttl, &["up", "--source", &src]);
    holder
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&holder_log).unwrap());
    let mut holder = holder.spawn().expect("spawn the holder");
    let holder_pid = holder.id();
    // Wait until it holds the lease and is inside the migration.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy = pg.scalar("takeover",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'arcdb' AND query LIKE '%pg_sleep%'",
        );
        if busy != "0" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the holder never started migrating: {}",
            std::fs::read_to_string(&holder_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let lease = pg.scalar("takeover", "SELECT holder FROM arcdb.migration_lock");
    assert!(lease.contains(&format!("pid {holder_pid} ")), "{lease}");

    // A live holder renews its lease: another run times out and names it.
    let blocked = arcdb(
        &pg,
        &dsn,
        &ttl,
        &["up", "--source", &src, "--lock-timeout", "3"],
    );
    assert_eq!(
        blocked.code,
        1,
        "{}\nholder: {}",
        blocked.stderr,
        std::fs::read_to_string(&holder_log).unwrap_or_default()
    );
    assert!(
        blocked
            .stderr
            .contains("timed out after 3s waiting for the migration lock held by")
            && blocked.stderr.contains(&format!("pid {holder_pid} ")),
        "{}",
        blocked.stderr
    );

    // SIGKILL: no release, no more heartbeats. Its server sessions are ended too (a server
    // notices a dead client only when it next writes to it) and the sleep is cut short.
    holder.kill().unwrap();
    holder.wait().unwrap();
    pg.psql(
        "takeover",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'arcdb'; UPDATE sleep_control SET seconds = 0;",
    );
    assert_eq!(
        pg.scalar("takeover", "SELECT count(*) FROM arcdb.migration_lock"),
        "1",
        "a killed holder leaves its lease behind"
    );
    let started = Instant::now();
    let next = arcdb(
        &pg,
        &dsn,
        &ttl,
        &["up", "--source", &src, "--lock-timeout", "30"],
    );
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert!(
        next.stderr.contains("took over the migration lock from")
            && next.stderr.contains(&format!("pid {holder_pid} ")),
        "{}",
        next.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        pg.scalar("takeover",
            "SELECT to_regclass('slow_done') IS NOT NULL, (SELECT count(*) FROM arcdb.schema_history WHERE complete), (SELECT count(*) FROM arcdb.migration_lock)"
        ),
        "t|1|0"
    );
}

// ---------------------------------------------------------------------------------------------
// arcdb lint
// ---------------------------------------------------------------------------------------------

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn findings(run: &Run) -> BTreeSet<(String, u64, String)> {
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            let short = file.rsplit_once("lint/").map(|(_, s)| s).unwrap_or(file);
            (
                short.to_string(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn embedded_migrations_lint_clean_for_both_engines() {
    for args in [
        vec!["--engine", "postgres", "--engine-version", "13"],
        vec!["--engine", "postgres"],
        vec!["--engine", "cockroachdb"],
        vec!["--engine", "cockroachdb", "--engine-version", "25.3"],
    ] {
        let mut all = vec!["lint", "--format", "json"];
        all.extend(&args);
        let run = arcdb_offline(&all);
        assert_eq!(
            run.code,
            0,
            "{args:?}: {}",
            serde_json::to_string_pretty(&run.json()["findings"]).unwrap()
        );
        let report = run.json();
        assert!(report["statements"].as_u64().unwrap() > 100, "{args:?}");
        let files: Vec<&str> = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let variants = files.iter().filter(|f| f.contains(".cockroachdb")).count();
        if args[1] == "cockroachdb" {
            assert!(
                variants > 0,
                "the CockroachDB variants were not selected: {files:?}"
            );
        } else {
            assert_eq!(variants, 0, "{files:?}");
        }
    }
}

#[test]
fn lint_refuses_what_older_cockroachdb_versions_lack() {
    let run = arcdb_offline(&[
        "lint",
        "--engine",
        "cockroachdb",
        "--engine-version",
        "24.1",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    let rules: BTreeSet<String> = findings(&run).into_iter().map(|(_, _, r)| r).collect();
    for rule in [
        "crdb-triggers",
        "crdb-policies",
        "crdb-row-level-security",
        "crdb-citext-type",
    ] {
        assert!(rules.contains(rule), "{rule} missing from {rules:?}");
    }
}

#[test]
fn lint_fixture_reports_each_finding_at_its_line() {
    let source = repo_path("tests/fixtures/lint");
    let src = source.to_str().unwrap();
    let up = "0001_unsupported/up.sql";
    let down = "0001_unsupported/down.sql";
    let pg_up = "0002_newer_postgres/up.sql";
    let expected_crdb: BTreeSet<(String, u64, String)> = [
        (up, 4, "crdb-extension-citext"),
        (up, 5, "crdb-extension-unavailable"),
        (up, 7, "crdb-serial"),
        (up, 11, "crdb-exclusion-constraint"),
        (up, 13, "crdb-deferrable"),
        (up, 15, "crdb-jsonb-path-ops"),
        (up, 16, "crdb-index-concurrently"),
        (up, 17, "crdb-btree-opclass"),
        (up, 18, "crdb-listen-notify"),
        (up, 19, "crdb-advisory-lock"),
        (up, 21, "crdb-routine-set-option"),
        (up, 24, "crdb-plpgsql-record-variable"),
        (up, 25, "crdb-plpgsql-type-copy"),
        (up, 27, "crdb-pg-notify"),
        (up, 27, "crdb-plpgsql-perform"),
        (up, 27, "crdb-composite-field-access"),
        (up, 28, "crdb-plpgsql-execute"),
        (up, 29, "crdb-plpgsql-found"),
        (up, 35, "crdb-trigger-update-of"),
        (up, 36, "crdb-trigger-when-field-access"),
        (up, 38, "crdb-trigger-statement-level"),
        (up, 40, "crdb-policy-subquery"),
        (up, 41, "crdb-column-privileges"),
        (up, 42, "crdb-view-with-data"),
        (up, 43, "crdb-refresh-concurrently"),
        (up, 44, "crdb-view-option"),
        (up, 44, "crdb-view-star"),
        (up, 45, "crdb-comment-on-view"),
        (down, 1, "crdb-drop-trigger-cascade"),
        (down, 2, "crdb-plpgsql-perform"),
        (pg_up, 10, "crdb-merge"),
        (pg_up, 12, "crdb-index-concurrently"),
    ]
    .into_iter()
    .map(|(f, l, r)| (f.to_string(), l, r.to_string()))
    .collect();
    let crdb = arcdb_offline(&[
        "lint",
        "--engine",
        "cockroachdb",
        "--source",
        src,
        "--format",
        "json",
    ]);
    assert_eq!(crdb.code, 5, "{}", crdb.stderr);
    assert_eq!(findings(&crdb), expected_crdb);

    let expected_pg13: BTreeSet<(String, u64, String)> = [
        (up, 16, "pg-no-transaction-block"),
        (pg_up, 3, "pg-nulls-not-distinct"),
        (pg_up, 4, "pg-security-invoker"),
        (pg_up, 8, "pg-fk-set-column-list"),
        (pg_up, 10, "pg-merge"),
        (pg_up, 11, "pg-create-or-replace-trigger"),
        (pg_up, 12, "pg-no-transaction-block"),
        (pg_up, 13, "pg-uuidv7"),
    ]
    .into_iter()
    .map(|(f, l, r)| (f.to_string(), l, r.to_string()))
    .collect();
    let pg13 = arcdb_offline(&[
        "lint",
        "--engine",
        "postgres",
        "--engine-version",
        "13",
        "--source",
        src,
        "--format",
        "json",
    ]);
    assert_eq!(pg13.code, 5, "{}", pg13.stderr);
    assert_eq!(findings(&pg13), expected_pg13);

    // On PostgreSQL 18 only what no version allows inside a migration remains.
    let pg18 = arcdb_offline(&[
        "lint",
        "--engine",
        "postgres",
        "--engine-version",
        "18",
        "--source",
        src,
        "--format",
        "json",
    ]);
    let rules: BTreeSet<String> = findings(&pg18).into_iter().map(|(_, _, r)| r).collect();
    assert_eq!(
        rules,
        ["pg-no-transaction-block".to_string()]
            .into_iter()
            .collect()
    );

    // The table names file:line and the statement; JUnit has one failing case per file.
    let table = arcdb_offline(&["lint", "--engine", "cockroachdb", "--source", src]);
    assert_eq!(table.code, 5);
    assert!(
        table.stdout.contains("0001_unsupported/up.sql:35")
            && table.stdout.contains("CREATE TRIGGER bookings_touch")
            && table.stdout.contains("docs v26.2"),
        "{}",
        table.stdout
    );
    let junit = arcdb_offline(&[
        "lint",
        "--engine",
        "cockroachdb",
        "--source",
        src,
        "--format",
        "junit",
    ]);
    assert_eq!(junit.code, 5);
    assert!(junit.stdout.starts_with("<?xml"), "{}", junit.stdout);
    assert_eq!(
        junit.stdout.matches("<testcase").count(),
        4,
        "{}",
        junit.stdout
    );
    assert_eq!(
        junit.stdout.matches("<failure").count(),
        3,
        "{}",
        junit.stdout
    );
}

#[test]
fn lint_rejects_a_bad_version() {
    let run = arcdb_offline(&[
        "lint",
        "--engine",
        "cockroachdb",
        "--engine-version",
        "latest",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--engine-version latest"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// The CockroachDB variants
// ---------------------------------------------------------------------------------------------

/// "kind:name" of what a script creates: tables, their columns and constraints, types,
/// indexes, views, functions, triggers, policies.
fn created_objects(sql: &str) -> BTreeSet<String> {
    use arcdb::migrate::statements::{split_tokens, TokenKind};
    let mut out = BTreeSet::new();
    for (_, tokens) in split_tokens(sql) {
        let words: Vec<String> = tokens
            .iter()
            .map(|t| match t.kind {
                TokenKind::Word => t.text(sql).to_ascii_uppercase(),
                _ => t.text(sql).to_string(),
            })
            .collect();
        let skip = |from: usize, ws: &[&str]| {
            let mut i = from;
            while i < words.len() && ws.contains(&words[i].as_str()) {
                i += 1;
            }
            i
        };
        if words.first().map(String::as_str) == Some("CREATE") {
            let i = skip(1, &["OR", "REPLACE", "UNIQUE", "MATERIALIZED"]);
            let Some(kind) = words.get(i) else { continue };
            let j = skip(i + 1, &["IF", "NOT", "EXISTS"]);
            let Some(name) = words.get(j) else { continue };
            let name = name.to_ascii_lowercase();
            out.insert(format!("{}:{name}", kind.to_ascii_lowercase()));
            if kind == "TABLE" {
                // Elements of the column list: a column name or CONSTRAINT name.
                let mut depth = 0;
                let mut at_start = false;
                for (k, w) in words.iter().enumerate().skip(j + 1) {
                    match w.as_str() {
                        "(" => {
                            depth += 1;
                            at_start = depth == 1;
                            continue;
                        }
                        ")" => depth -= 1,
                        "," if depth == 1 => {
                            at_start = true;
                            continue;
                        }
                        _ if at_start && depth == 1 => {
                            if w == "CONSTRAINT" {
                                out.insert(format!(
                                    "constraint:{}",
                                    words[k + 1].to_ascii_lowercase()
                                ));
                            } else {
                                out.insert(format!("column:{name}.{}", w.to_ascii_lowercase()));
                            }
                        }
                        _ => {}
                    }
                    at_start = false;
                }
            }
        } else if words.first().map(String::as_str) == Some("ALTER") {
            if let Some(k) = words.iter().position(|w| w == "CONSTRAINT") {
                if words.get(k - 1).map(String::as_str) == Some("ADD") {
                    out.insert(format!("constraint:{}", words[k + 1].to_ascii_lowercase()));
                }
            }
        }
    }
    out
}

/// The whole CockroachDB set ends with the objects the whole PostgreSQL set ends with. Compared
/// over all migrations, not migration by migration: a later migration may redefine on
/// PostgreSQL what a variant already had from the start (0006 adds `message_session_visible()`,
/// which the 0004 variant has always needed), and a variant is free to leave such a
/// redefinition out.
#[test]
fn cockroachdb_variants_create_what_the_postgres_scripts_create() {
    // What the variants may add (and why): column guards stand in for column privileges.
    let extra: BTreeSet<String> = [
        "function:organizations_guard_tenant_update",
        "function:api_keys_guard_tenant_update",
        "trigger:organizations_guard_tenant_update",
        "trigger:api_keys_guard_tenant_update",
        // up.sql creates the role inside a DO block (CockroachDB routines cannot run DDL).
        "role:arcdesk_tenant",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // What they may leave out (and why): CITEXT is built in.
    let left_out: BTreeSet<String> = ["extension:citext"].into_iter().map(String::from).collect();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_path("migrations"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let (mut pg, mut crdb) = (BTreeSet::new(), BTreeSet::new());
    let mut variants = 0;
    for dir in &dirs {
        let up = std::fs::read_to_string(dir.join("up.sql")).unwrap();
        pg.extend(created_objects(&up));
        let variant = dir.join("up.cockroachdb.sql");
        if variant.exists() {
            crdb.extend(created_objects(&std::fs::read_to_string(&variant).unwrap()));
            variants += 1;
        } else {
            crdb.extend(created_objects(&up));
        }
    }
    let missing: Vec<&String> = pg
        .difference(&crdb)
        .filter(|o| !left_out.contains(*o))
        .collect();
    let added: Vec<&String> = crdb
        .difference(&pg)
        .filter(|o| !extra.contains(*o))
        .collect();
    assert!(
        missing.is_empty() && added.is_empty(),
        "the CockroachDB migrations are out of step with the PostgreSQL ones: missing {missing:?}, extra {added:?}"
    );
    assert!(variants >= 4, "only {variants} variants found");
    assert!(
        pg.contains("index:tasks_org_assigned_open_idx")
            && pg.contains("function:message_session_visible"),
        "created_objects no longer sees what 0004-0006 create: {pg:?}"
    );
}

/// A migration set whose 0003 is the CockroachDB variant (valid PostgreSQL too), the rest
/// the PostgreSQL scripts.
fn set_with_crdb_triggers(target: &Path) {
    let repo = repo_path("migrations");
    for (dir, use_variant) in [
        ("0001_extensions", false),
        ("0002_core_schema", false),
        ("0003_triggers", true),
    ] {
        let from = repo.join(dir);
        let (up, down) = if use_variant {
            ("up.cockroachdb.sql", "down.cockroachdb.sql")
        } else {
            ("up.sql", "down.sql")
        };
        write_migration(
            target,
            dir,
            &std::fs::read_to_string(from.join(up)).unwrap(),
            &std::fs::read_to_string(from.join(down)).unwrap(),
        );
    }
}

/// Exercises every trigger of 0003; one line per observation (errors as SQLSTATE).
const TRIGGER_BEHAVIOUR: &str = r#"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $f$;
INSERT INTO organizations (id, name, slug) VALUES ('00000000-0000-4000-8000-0000000000a1', 'Acme', 'acme');
INSERT INTO users (id, organization_id, email, username)
    VALUES ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000a1', 'a@acme.test', 'ann');
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model)
    VALUES ('00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000a1', 'root', 'Root', 'executive', 'anthropic', 'm');
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model)
    VALUES ('00000000-0000-4000-8000-0000000000d2', '00000000-0000-4000-8000-0000000000a1', 'other', 'Other', 'manager', 'openai', 'm');
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model, parent_desk_id)
    VALUES ('00000000-0000-4000-8000-0000000000d3', '00000000-0000-4000-8000-0000000000a1', 'child', 'Child', 'engineer', 'anthropic', 'm', '00000000-0000-4000-8000-0000000000d1');
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model, parent_desk_id)
    VALUES ('00000000-0000-4000-8000-0000000000d4', '00000000-0000-4000-8000-0000000000a1', 'grandchild', 'Grandchild', 'engineer', 'anthropic', 'm', '00000000-0000-4000-8000-0000000000d3');
SELECT 'after insert', desk_id, depth, path FROM desks ORDER BY desk_id;
UPDATE desks SET parent_desk_id = '00000000-0000-4000-8000-0000000000d2' WHERE desk_id = 'child';
SELECT 'after move', desk_id, depth, path FROM desks ORDER BY desk_id;
UPDATE desks SET title = 'Renamed', path = '/forged/' WHERE desk_id = 'grandchild';
SELECT 'after forged path', desk_id, depth, path FROM desks WHERE desk_id = 'grandchild';
SELECT 'cycle', pg_temp.try($$UPDATE desks SET parent_desk_id = '00000000-0000-4000-8000-0000000000d4' WHERE desk_id = 'other'$$);
SELECT 'missing parent', pg_temp.try($$INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model, parent_desk_id) VALUES ('00000000-0000-4000-8000-0000000000a1', 'orphan', 'O', 'engineer', 'anthropic', 'm', gen_random_uuid())$$);
INSERT INTO tasks (organization_id, title) VALUES ('00000000-0000-4000-8000-0000000000a1', 'one');
INSERT INTO tasks (organization_id, title) VALUES ('00000000-0000-4000-8000-0000000000a1', 'two');
SELECT 'unreserved number', pg_temp.try($$INSERT INTO tasks (organization_id, title, task_number) VALUES ('00000000-0000-4000-8000-0000000000a1', 'x', 9)$$);
SELECT 'reserved number', pg_temp.try($$INSERT INTO tasks (organization_id, title, task_number) VALUES ('00000000-0000-4000-8000-0000000000a1', 'x', 1)$$);
SELECT 'unknown org', pg_temp.try($$INSERT INTO tasks (organization_id, title) VALUES (gen_random_uuid(), 'x')$$);
UPDATE tasks SET title = 'one!' WHERE title = 'one';
SELECT 'tasks', title, task_number FROM tasks ORDER BY task_number, title;
SELECT 'counter', last_task_number FROM organizations;
INSERT INTO cost_tracking (organization_id, provider, model, created_at)
    VALUES ('00000000-0000-4000-8000-0000000000a1', 'anthropic', 'm', '2024-03-31 23:30:00-02');
SELECT 'billing month', billing_month FROM cost_tracking;
UPDATE cost_tracking SET billing_month = '2020-01-01';
SELECT 'billing month kept', billing_month FROM cost_tracking;
UPDATE users SET full_name = 'Ann' WHERE username = 'ann';
SELECT 'updated_at moved', updated_at > created_at FROM users;
UPDATE organizations SET last_task_number = last_task_number + 1;
SELECT 'counter bump keeps updated_at', updated_at = created_at FROM organizations;
"#;

#[test]
fn cockroachdb_trigger_variant_behaves_like_up_sql_and_can_be_rerun() {
    let pg = TestCluster::start();
    let pg_dsn = pg.create_db("pg_triggers");
    let crdb_dsn = pg.create_db("crdb_triggers");
    let source = pg.root().join("crdb-trigger-set");
    set_with_crdb_triggers(&source);
    let src = source.to_str().unwrap();

    let plain = arcdb(&pg, &pg_dsn, &[], &["up", "--to", "3"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let variant = arcdb(&pg, &crdb_dsn, &[STEPWISE], &["up", "--source", src]);
    assert_eq!(variant.code, 0, "{}", variant.stderr);

    // As after an interruption: the whole variant runs again from its first statement.
    pg.psql(
        "crdb_triggers",
        "UPDATE arcdb.schema_history SET complete = false WHERE version = 3",
    );
    let rerun = arcdb(
        &pg,
        &crdb_dsn,
        &[STEPWISE],
        &["up", "--source", src, "--format", "json"],
    );
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(rerun.json()["steps"].as_array().unwrap().len(), 1);

    // Both databases use a slow clock tick apart from their creation time for updated_at.
    std::thread::sleep(Duration::from_millis(20));
    let expected = pg.psql("pg_triggers", TRIGGER_BEHAVIOUR);
    let got = pg.psql("crdb_triggers", TRIGGER_BEHAVIOUR);
    assert_eq!(
        got, expected,
        "the CockroachDB trigger variant behaves differently"
    );
    for line in [
        "after move|grandchild|2|/00000000-0000-4000-8000-0000000000d2/00000000-0000-4000-8000-0000000000d3/00000000-0000-4000-8000-0000000000d4/",
        "cycle|23514",
        "missing parent|23503",
        "unreserved number|23514",
        // Accepted by the trigger (not above the counter), stopped by the unique backstop.
        "reserved number|23505",
        "unknown org|23503",
        "tasks|one!|1",
        "tasks|two|2",
        "billing month|2024-04-01",
        "billing month kept|2024-04-01",
        "updated_at moved|t",
        "counter bump keeps updated_at|t",
    ] {
        assert!(got.lines().any(|l| l == line), "{line} not in:\n{got}");
    }

    // The variant's down script, twice (as after an interrupted rollback: the version is back
    // as incomplete), leaves no trigger behind.
    let checksum = pg.scalar(
        "crdb_triggers",
        "SELECT checksum FROM arcdb.schema_history WHERE version = 3",
    );
    for round in 0..2 {
        if round == 1 {
            pg.psql(
                "crdb_triggers",
                &format!("INSERT INTO arcdb.schema_history (version, name, checksum, script, complete) VALUES (3, 'triggers', '{checksum}', 'up.sql', false)"),
            );
        }
        let back = arcdb(
            &pg,
            &crdb_dsn,
            &[STEPWISE],
            &[
                "rollback", "--to", "2", "--yes", "--source", src, "--format", "json",
            ],
        );
        assert_eq!(back.code, 0, "{}", back.stderr);
        assert_eq!(back.json()["steps"].as_array().unwrap().len(), 1);
    }
    assert_eq!(
        pg.scalar(
            "crdb_triggers",
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
        ),
        "0"
    );
}

#[test]
fn every_lint_rule_is_documented() {
    let doc = std::fs::read_to_string(repo_path("docs/cockroachdb.md")).unwrap();
    let missing: Vec<&str> = arcdb::lint::RULES
        .iter()
        // The Citus rules are documented in docs/citus.md (tests/suite/citus_lint.rs).
        .filter(|r| r.engine != arcdb::lint::Target::Citus)
        .map(|r| r.id)
        .filter(|id| !doc.contains(&format!("`{id}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/cockroachdb.md lacks rules {missing:?}"
    );
}

/// Tenant isolation as seen by a login role of arcdesk_tenant; one line per observation.
const ISOLATION_BEHAVIOUR: &str = r#"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $f$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;
INSERT INTO organizations (id, name, slug) VALUES
    ('00000000-0000-4000-8000-0000000000a1', 'A', 'org-a'), ('00000000-0000-4000-8000-0000000000a2', 'B', 'org-b');
INSERT INTO users (id, organization_id, email, username) VALUES
    ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000a1', 'u1@a.test', 'u1'),
    ('00000000-0000-4000-8000-0000000000b2', '00000000-0000-4000-8000-0000000000a1', 'u2@a.test', 'u2'),
    ('00000000-0000-4000-8000-0000000000b3', '00000000-0000-4000-8000-0000000000a2', 'u3@b.test', 'u3');
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model) VALUES
    ('00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000a1', 'da', 'DA', 'engineer', 'anthropic', 'm'),
    ('00000000-0000-4000-8000-0000000000d2', '00000000-0000-4000-8000-0000000000a2', 'db', 'DB', 'engineer', 'anthropic', 'm');
INSERT INTO agent_sessions (id, organization_id, desk_id, user_id, title) VALUES
    ('00000000-0000-4000-8000-0000000000e1', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000b1', 'of u1'),
    ('00000000-0000-4000-8000-0000000000e2', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000b2', 'of u2'),
    ('00000000-0000-4000-8000-0000000000e3', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000d1', NULL, 'desk only'),
    ('00000000-0000-4000-8000-0000000000e4', '00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000d2', NULL, 'of B');
INSERT INTO messages (organization_id, session_id, sequence_number, role, content)
    SELECT organization_id, id, 1, 'user', 'in ' || title FROM agent_sessions;
INSERT INTO api_keys (organization_id, name, key_prefix, key_hash) VALUES
    ('00000000-0000-4000-8000-0000000000a1', 'k', 'arc_ab12', repeat('a', 64));
INSERT INTO cost_tracking (organization_id, provider, model, cost_usd) VALUES
    ('00000000-0000-4000-8000-0000000000a1', 'anthropic', 'm', 1), ('00000000-0000-4000-8000-0000000000a2', 'openai', 'm', 2);
REFRESH MATERIALIZED VIEW mv_org_cost_summary;
SET ROLE app_tenant;
SELECT 'no org: organizations', count(*) FROM organizations;
SELECT set_config('app.current_org_id', '00000000-0000-4000-8000-0000000000a1', false) IS NOT NULL;
SELECT 'organizations', string_agg(name, ',' ORDER BY name) FROM organizations;
SELECT 'users', string_agg(username::text, ',' ORDER BY username) FROM users;
SELECT 'sessions', string_agg(title, ',' ORDER BY title) FROM agent_sessions;
SELECT 'messages', string_agg(content, ',' ORDER BY content) FROM messages;
SELECT 'cost view', string_agg(provider::text, ',') FROM org_cost_summary;
SELECT 'matview direct', pg_temp.try('SELECT 1 FROM mv_org_cost_summary');
SELECT 'insert other org', pg_temp.try($$INSERT INTO users (organization_id, email, username) VALUES ('00000000-0000-4000-8000-0000000000a2', 'x@b.test', 'x')$$);
SELECT 'rename org', pg_temp.try($$UPDATE organizations SET name = 'A2'$$);
SELECT 'change slug', pg_temp.try($$UPDATE organizations SET slug = 'other'$$);
SELECT 'change tier', pg_temp.try($$UPDATE organizations SET subscription_tier = 'enterprise'$$);
SELECT 'revoke key', pg_temp.try($$UPDATE api_keys SET revoked_at = now(), revocation_reason = 'leak'$$);
SELECT 'rewrite key hash', pg_temp.try($$UPDATE api_keys SET key_hash = repeat('b', 64)$$);
SELECT 'delete audit', pg_temp.try($$DELETE FROM audit_logs$$);
SELECT 'create table', pg_temp.try($$CREATE TABLE public.tenant_made (x int)$$);
SELECT set_config('app.current_user_id', '00000000-0000-4000-8000-0000000000b1', false) IS NOT NULL;
SELECT 'u1 sessions', string_agg(title, ',' ORDER BY title) FROM agent_sessions;
SELECT 'u1 messages', string_agg(content, ',' ORDER BY content) FROM messages;
RESET ROLE;
SELECT 'slug after', string_agg(slug::text, ',' ORDER BY slug) FROM organizations;
"#;

#[test]
fn cockroachdb_isolation_variants_isolate_like_up_sql_on_postgres() {
    let pg = TestCluster::start();
    let pg_dsn = pg.create_db("pg_rls");
    let crdb_dsn = pg.create_db("crdb_rls");
    // Version 6 on the PostgreSQL side: the behaviour SQL below uses the column and view names
    // of 0002-0006 (0007 renames them), and the variants compared are those of 0004/0005.
    let full = arcdb(&pg, &pg_dsn, &[], &["up", "--to", "6"]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let base = arcdb(&pg, &crdb_dsn, &[], &["up", "--to", "3"]);
    assert_eq!(base.code, 0, "{}", base.stderr);
    // The 0004/0005 variants, with the two CockroachDB-only forms spelled for PostgreSQL.
    let read = |p: &str| std::fs::read_to_string(repo_path(p)).unwrap();
    let rls = read("migrations/0004_row_level_security/up.cockroachdb.sql");
    let create_role = "CREATE ROLE IF NOT EXISTS arcdesk_tenant WITH NOLOGIN;";
    assert_eq!(rls.matches(create_role).count(), 1);
    let rls = rls
        .replace(
            create_role,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'arcdesk_tenant') THEN CREATE ROLE arcdesk_tenant NOLOGIN; END IF; END $$;",
        )
        .replace("CREATE POLICY IF NOT EXISTS ", "CREATE POLICY ");
    pg.psql("crdb_rls", &rls);
    pg.psql(
        "crdb_rls",
        &read("migrations/0005_analytics_views/up.cockroachdb.sql"),
    );
    pg.psql(
        "pg_rls",
        "CREATE ROLE app_tenant LOGIN; GRANT arcdesk_tenant TO app_tenant;",
    );

    let expected = pg.psql("pg_rls", ISOLATION_BEHAVIOUR);
    let got = pg.psql("crdb_rls", ISOLATION_BEHAVIOUR);
    assert_eq!(
        got, expected,
        "the CockroachDB isolation variants behave differently"
    );
    for line in [
        "no org: organizations|0",
        "organizations|A",
        "users|u1,u2",
        "sessions|desk only,of u1,of u2",
        "cost view|anthropic",
        "matview direct|42501",
        "insert other org|42501",
        "rename org|ok",
        "change slug|42501",
        "change tier|42501",
        "revoke key|ok",
        "rewrite key hash|42501",
        "delete audit|42501",
        "create table|42501",
        "u1 sessions|desk only,of u1",
        "u1 messages|in desk only,in of u1",
        "slug after|org-a,org-b",
    ] {
        assert!(got.lines().any(|l| l == line), "{line} not in:\n{got}");
    }
}
