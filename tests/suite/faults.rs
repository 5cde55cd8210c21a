//! Fault tests: `arcdb up` and `arcdb refresh` against races, kills, server restarts and broken
//! migration sets, on throwaway PostgreSQL clusters. Pass/fail properties only, no timing.
//!
//! * 8 concurrent `up` runs on an empty database: every version applied exactly once, all exit 0.
//! * `up` killed with SIGKILL at 20 moments spread over a whole apply (a `--source` copy of the
//!   migrations with `pg_sleep` added widens the window), then `up`: the schema equals a clean
//!   one (`pg_dump --schema-only --exclude-schema=arcdb`) and the history agrees with `status`.
//! * The server restarted in the middle of `up` and of `refresh`: a one-line error, nothing half
//!   done, and the next run completes.
//! * A migration set with a broken file: the database is unchanged and the error names the file.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{latest_version, migrations_copy, run, Run, TestCluster};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `arcdb --dsn <dsn> <args…>`, run to completion.
fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(dsn, args))
}

/// `arcdb --dsn <dsn> <args…>`, started in the background with its output captured.
fn spawn_arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Child {
    let mut cmd = pg.arcdb_at(dsn, args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("arcdb starts")
}

/// Poll `sql` (a boolean query) every 20 ms until it returns true; false after `timeout`.
fn wait_until(pg: &TestCluster, db: &str, sql: &str, timeout: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if pg
            .try_psql(db, sql)
            .map(|s| s.trim() == "t")
            .unwrap_or(false)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Assert two dumps are equal, showing the first differing line instead of two whole dumps.
fn assert_same_schema(actual: &str, expected: &str, what: &str) {
    if actual == expected {
        return;
    }
    let first = actual
        .lines()
        .zip(expected.lines())
        .enumerate()
        .find(|(_, (a, e))| a != e)
        .map(|(i, (a, e))| format!("line {}: got {a:?}, clean has {e:?}", i + 1))
        .unwrap_or_else(|| {
            format!(
                "one dump is a prefix of the other ({} vs {} lines)",
                actual.lines().count(),
                expected.lines().count()
            )
        });
    panic!("{what}: the schema differs from a clean database's: {first}");
}

/// `(version, checksum)` rows of `arcdb.schema_history`; empty when the table does not exist.
fn history(pg: &TestCluster, db: &str) -> Vec<(u32, String)> {
    if pg.scalar(db, "SELECT to_regclass('arcdb.schema_history') IS NULL") == "t" {
        return Vec::new();
    }
    let text = pg.psql(
        db,
        "SELECT version || ' ' || checksum || ' ' || complete FROM arcdb.schema_history ORDER BY version",
    );
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "unexpected history row {l:?}");
            assert_eq!(
                parts[2], "true",
                "migration {} recorded as incomplete",
                parts[0]
            );
            (parts[0].parse().unwrap(), parts[1].to_string())
        })
        .collect()
}

/// `(version, checksum)` of every migration `arcdb status --format json` lists.
fn status_checksums(pg: &TestCluster, dsn: &str, source: Option<&Path>) -> Vec<(u32, String)> {
    let mut args = vec!["status", "--format", "json"];
    let source_text;
    if let Some(dir) = source {
        source_text = dir.to_str().unwrap().to_string();
        args.extend(["--source", source_text.as_str()]);
    }
    let status = arcdb(pg, dsn, &args);
    status.json()["migrations"]
        .as_array()
        .expect("status lists migrations")
        .iter()
        .map(|m| {
            (
                m["version"].as_u64().unwrap() as u32,
                m["checksum"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The history must list exactly versions 1..n with the checksums `status` computes.
fn assert_history_agrees(pg: &TestCluster, db: &str, dsn: &str, source: Option<&Path>) {
    let recorded = history(pg, db);
    let expected = status_checksums(pg, dsn, source);
    assert!(!expected.is_empty());
    assert_eq!(
        recorded.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        (1..=expected.len() as u32).collect::<Vec<_>>(),
        "{db}: versions recorded"
    );
    assert_eq!(recorded, expected, "{db}: recorded checksums vs status");
}

/// The `up.sql` files of a migrations directory, oldest first.
fn up_scripts(source: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(source)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|d| d.join("up.sql")).collect()
}

/// Insert `stmt` before the first line of `sql` that starts (in column 0) with one of
/// `markers`: a top-level statement boundary in these files (bodies are indented).
fn insert_before_first(sql: &str, markers: &[&str], stmt: &str) -> String {
    let mut out = String::with_capacity(sql.len() + stmt.len() + 1);
    let mut done = false;
    for line in sql.split_inclusive('\n') {
        if !done && markers.iter().any(|m| line.starts_with(m)) {
            out.push_str(stmt);
            out.push('\n');
            done = true;
        }
        out.push_str(line);
    }
    out
}

/// A copy of the migrations where every up.sql sleeps `secs` at its start, before its first
/// CREATE INDEX / CREATE POLICY / CREATE TRIGGER / CREATE VIEW (if any), and at its end: the
/// apply then spends time at many points of every migration, so a kill can land anywhere.
fn slow_copy(dir: &Path, secs: f64) -> PathBuf {
    let source = migrations_copy(dir, "migrations-slow");
    let sleep = format!("SELECT pg_sleep({secs});");
    for up in up_scripts(&source) {
        let sql = std::fs::read_to_string(&up).unwrap();
        let middle = insert_before_first(
            &sql,
            &[
                "CREATE INDEX",
                "CREATE POLICY",
                "CREATE TRIGGER",
                "CREATE VIEW",
            ],
            &sleep,
        );
        std::fs::write(&up, format!("{sleep}\n{middle}\n{sleep}\n")).unwrap();
    }
    source
}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

#[test]
fn eight_concurrent_ups_on_an_empty_database_apply_each_version_once() {
    let pg = TestCluster::start();
    let clean = pg.create_db("clean");
    assert_eq!(arcdb(&pg, &clean, &["up"]).code, 0);
    let dsn = pg.create_db("race");
    let children: Vec<Child> = (0..8)
        .map(|_| spawn_arcdb(&pg, &dsn, &["up", "--format", "json"]))
        .collect();
    let mut applied: Vec<u32> = Vec::new();
    for child in children {
        let run = Run::from(child.wait_with_output().unwrap());
        assert_eq!(run.code, 0, "a concurrent up failed: {}", run.stderr);
        for step in run.json()["steps"].as_array().unwrap() {
            applied.push(step["version"].as_u64().unwrap() as u32);
        }
    }
    applied.sort_unstable();
    assert_eq!(
        applied,
        (1..=latest_version()).collect::<Vec<_>>(),
        "every version applied by exactly one of the 8 runs"
    );
    assert_history_agrees(&pg, "race", &dsn, None);
    assert_same_schema(
        &pg.pg_dump_app_schema("race"),
        &pg.pg_dump_app_schema("clean"),
        "after 8 concurrent ups",
    );
}

// ---------------------------------------------------------------------------------------------
// SIGKILL
// ---------------------------------------------------------------------------------------------

#[test]
fn up_killed_at_random_moments_then_up_gives_a_clean_schema_and_history() {
    const KILLS: u32 = 20;
    let pg = TestCluster::start();
    let source = slow_copy(pg.root(), 0.05);
    let source_arg = source.to_str().unwrap().to_string();
    let up_args = ["up", "--source", source_arg.as_str()];

    // The clean reference, which also measures how long a whole apply takes here.
    let clean_dsn = pg.create_db("clean");
    let started = Instant::now();
    let clean_run = arcdb(&pg, &clean_dsn, &up_args);
    let whole = started.elapsed();
    assert_eq!(clean_run.code, 0, "{}", clean_run.stderr);
    let clean = pg.pg_dump_app_schema("clean");
    assert_history_agrees(&pg, "clean", &clean_dsn, Some(&source));

    // What a database at each version k looks like (k = 0: nothing but the empty database).
    let latest = latest_version();
    let at_version: Vec<String> = (0..=latest)
        .map(|k| {
            let db = format!("at{k}");
            let dsn = pg.create_db(&db);
            if k > 0 {
                let to = k.to_string();
                let run = arcdb(
                    &pg,
                    &dsn,
                    &["up", "--to", to.as_str(), "--source", source_arg.as_str()],
                );
                assert_eq!(run.code, 0, "{}", run.stderr);
            }
            pg.pg_dump_app_schema(&db)
        })
        .collect();

    let mut interrupted = 0;
    let mut left_at = vec![0u32; latest as usize + 1];
    for i in 0..KILLS {
        let db = format!("killed{i}");
        let dsn = pg.create_db(&db);
        // Stratified over the whole apply (process start included): kill i lands in the i-th
        // twentieth of it, at a random point inside that slice.
        let slice = whole.as_secs_f64() / f64::from(KILLS);
        let delay = slice * (f64::from(i) + rand::random::<f64>());
        let mut child = spawn_arcdb(&pg, &dsn, &up_args);
        std::thread::sleep(Duration::from_secs_f64(delay));
        let still_running = child.try_wait().unwrap().is_none();
        kill_and_reap(&mut child);
        if still_running {
            interrupted += 1;
        }

        // What the kill left, once the killed run's server session has noticed that its client
        // is gone (it rolls back and ends): a prefix of the versions, each complete, and exactly
        // the schema of a database migrated to that version.
        let gone = wait_until(
            &pg,
            "postgres",
            &format!("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{db}' AND backend_type = 'client backend')"),
            Duration::from_secs(60),
        );
        assert!(gone, "the killed run's session on {db} never ended");
        let versions: Vec<u32> = history(&pg, &db).iter().map(|(v, _)| *v).collect();
        let k = versions.len() as u32;
        assert_eq!(
            versions,
            (1..=k).collect::<Vec<_>>(),
            "history after the kill"
        );
        assert_same_schema(
            &pg.pg_dump_app_schema(&db),
            &at_version[k as usize],
            &format!("killed after {delay:.3}s at version {k}"),
        );
        left_at[k as usize] += 1;

        // Whatever the kill left, the next run completes it (after the killed run's server
        // session notices its client is gone and rolls back, releasing the lock).
        let again = arcdb(&pg, &dsn, &up_args);
        assert_eq!(
            again.code, 0,
            "up after a kill at {delay:.3}s failed: {}",
            again.stderr
        );
        assert_same_schema(
            &pg.pg_dump_app_schema(&db),
            &clean,
            &format!("killed after {delay:.3}s, then up"),
        );
        assert_history_agrees(&pg, &db, &dsn, Some(&source));
        let status = arcdb(&pg, &dsn, &["status", "--source", source_arg.as_str()]);
        assert_eq!(status.code, 0, "status after recovery: {}", status.stdout);
        pg.psql("postgres", &format!("DROP DATABASE \"{db}\""));
    }
    eprintln!("{interrupted} of {KILLS} kills hit a running apply; versions left by the kills: {left_at:?} (index = version)");
    assert!(
        interrupted >= KILLS / 2,
        "only {interrupted} of {KILLS} kills interrupted a running apply: the window is too narrow"
    );
}

// ---------------------------------------------------------------------------------------------
// Server restarts
// ---------------------------------------------------------------------------------------------

#[test]
fn server_restart_during_up_fails_with_one_line_and_the_next_up_completes() {
    let pg = TestCluster::start();
    // 0003 sleeps at its end: 0001 and 0002 are committed, 0003 is under way when the server
    // goes down. 0001 and 0002 are unchanged copies, so the embedded set can finish the job.
    let source = migrations_copy(pg.root(), "migrations-stall");
    let stall = up_scripts(&source)[2].clone();
    assert!(stall.to_str().unwrap().contains("0003_"), "{stall:?}");
    let sql = std::fs::read_to_string(&stall).unwrap();
    std::fs::write(&stall, format!("{sql}\nSELECT pg_sleep(60);\n")).unwrap();
    let source_arg = source.to_str().unwrap();

    let dsn = pg.create_db("restarted");
    let mut child = spawn_arcdb(&pg, &dsn, &["up", "--source", source_arg]);
    let sleeping = wait_until(
        &pg,
        "postgres",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = 'restarted' AND wait_event = 'PgSleep')",
        Duration::from_secs(60),
    );
    if !sleeping {
        kill_and_reap(&mut child);
        panic!("arcdb up never reached the pg_sleep of 0003");
    }
    pg.restart();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(
        run.code, 1,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let lines = run.error_lines();
    assert_eq!(lines.len(), 1, "one error line, got: {lines:#?}");
    eprintln!("up cut off by the restart said: {}", lines[0]);
    assert!(
        lines[0].contains("0003_triggers/up.sql") && lines[0].contains("version 2"),
        "the error names the migration and where the database stays: {}",
        lines[0]
    );

    // Nothing half done: exactly 0001 and 0002, as a database migrated --to 2.
    let reference = pg.create_db("reference");
    assert_eq!(arcdb(&pg, &reference, &["up", "--to", "2"]).code, 0);
    assert_eq!(
        history(&pg, "restarted"),
        history(&pg, "reference"),
        "history after the restart"
    );
    assert_same_schema(
        &pg.pg_dump_app_schema("restarted"),
        &pg.pg_dump_app_schema("reference"),
        "after a restart during 0003",
    );

    let again = arcdb(&pg, &dsn, &["up"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(arcdb(&pg, &reference, &["up"]).code, 0);
    assert_same_schema(
        &pg.pg_dump_app_schema("restarted"),
        &pg.pg_dump_app_schema("reference"),
        "after the next up",
    );
    assert_history_agrees(&pg, "restarted", &dsn, None);
}

#[test]
fn server_restart_during_refresh_records_no_success_and_the_next_refresh_completes() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("views");
    assert_eq!(arcdb(&pg, &dsn, &["up"]).code, 0);
    let seeded = arcdb(&pg, &dsn, &["seed"]);
    assert_eq!(seeded.code, 0, "{}", seeded.stderr);
    let first = arcdb(&pg, &dsn, &["refresh"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let counts = "SELECT (SELECT count(*) FROM desk_performance_mv) || ' ' || (SELECT count(*) FROM org_cost_summary_mv)";
    let rows_before = pg.scalar("views", counts);
    let last_log = pg.scalar("views", "SELECT max(id) FROM arcdb.refresh_log");

    // A session holding ACCESS EXCLUSIVE locks on the tables both views read makes the refresh
    // wait in the middle of its REFRESH statement (materialized views themselves cannot be
    // locked with LOCK TABLE).
    let mut holder = Command::new(pg.bins().tool("psql"))
        .args(["-X", "-q", "-d"])
        .arg(pg.dsn("views"))
        .args([
            "-c",
            "BEGIN; LOCK TABLE tasks, cost_tracking IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;",
        ])
        .env_remove("PGOPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql starts");
    let locked = wait_until(
        &pg,
        "views",
        "SELECT count(*) = 2 FROM pg_locks WHERE relation IN ('tasks'::regclass, 'cost_tracking'::regclass) AND mode = 'AccessExclusiveLock' AND granted",
        Duration::from_secs(30),
    );
    assert!(locked, "the lock holder never got its locks");

    let mut child = spawn_arcdb(&pg, &dsn, &["refresh"]);
    let waiting = wait_until(
        &pg,
        "views",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = 'views' AND wait_event_type = 'Lock' AND query ILIKE '%REFRESH MATERIALIZED VIEW%')",
        Duration::from_secs(25),
    );
    if !waiting {
        kill_and_reap(&mut child);
        kill_and_reap(&mut holder);
        panic!("arcdb refresh never waited on the view lock");
    }
    pg.restart();
    let run = Run::from(child.wait_with_output().unwrap());
    kill_and_reap(&mut holder);
    assert_ne!(
        run.code, 0,
        "a refresh cut off by a restart reported success: {}",
        run.stdout
    );
    let lines = run.error_lines();
    assert_eq!(
        lines.len(),
        1,
        "one error line, got: {lines:#?}\nstdout: {}",
        run.stdout
    );
    eprintln!(
        "refresh cut off by the restart (exit {}) said: {}\n{}",
        run.code, lines[0], run.stdout
    );
    assert!(
        lines[0].contains("desk_performance_mv") || lines[0].contains("org_cost_summary_mv"),
        "the error names the view being refreshed: {}",
        lines[0]
    );
    // The refresh's own cause (the server ending the session: SQLSTATE 57P01) leads, not just
    // the refresh_log write that failed after it; the state it claims is the true one.
    assert!(
        lines[0].contains("57P01") || lines[0].contains("administrator command"),
        "the error gives the refresh's own cause: {}",
        lines[0]
    );
    let cause_at = lines[0]
        .find("57P01")
        .or_else(|| lines[0].find("administrator command"))
        .unwrap();
    if let Some(log_at) = lines[0].find("refresh_log") {
        assert!(
            cause_at < log_at,
            "the cause comes before the refresh_log failure: {}",
            lines[0]
        );
    }
    assert!(
        lines[0].contains("keeps its previous contents"),
        "a REFRESH cut off inside its transaction is rolled back, and the error says so: {}",
        lines[0]
    );
    assert!(
        !lines[0].contains("password") && !lines[0].contains("postgresql://"),
        "no connection string in the error: {}",
        lines[0]
    );

    // Nothing half done: the views hold what the last good refresh made, and no attempt after
    // it is recorded as successful.
    assert_eq!(pg.scalar("views", counts), rows_before);
    assert_eq!(
        pg.scalar("views",
            &format!("SELECT count(*) FROM arcdb.refresh_log WHERE id > {last_log} AND outcome <> 'failed'")
        ),
        "0",
        "refresh_log after the restart"
    );

    let again = arcdb(&pg, &dsn, &["refresh", "--format", "json"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_eq!(pg.scalar("views", counts), rows_before);
    assert_eq!(
        pg.scalar(
            "views",
            &format!(
                "SELECT count(*) FROM arcdb.refresh_log WHERE id > {last_log} AND outcome = 'ok'"
            )
        ),
        "2",
        "the next refresh records both views"
    );
}

// ---------------------------------------------------------------------------------------------
// Broken migration sets
// ---------------------------------------------------------------------------------------------

#[test]
fn a_broken_migration_set_leaves_the_database_unchanged_and_names_the_file() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("target");
    assert_eq!(arcdb(&pg, &dsn, &["up", "--to", "2"]).code, 0);
    let before = pg.pg_dump_app_schema("target");
    let history_before = history(&pg, "target");
    let empty_dsn = pg.create_db("empty");
    let empty_before = pg.pg_dump_app_schema("empty");

    let unchanged = |label: &str, run: &Run, names: &str| {
        assert_ne!(run.code, 0, "{label}: up succeeded");
        let lines = failure_lines(run);
        assert_eq!(lines.len(), 1, "{label}: one error line, got {lines:#?}");
        eprintln!("{label}: {}", lines[0]);
        assert!(
            lines[0].contains(names),
            "{label}: the error names {names}: {}",
            lines[0]
        );
        assert_same_schema(&pg.pg_dump_app_schema("target"), &before, label);
        assert_eq!(history(&pg, "target"), history_before, "{label}: history");
    };

    // 1. A syntax error in the next migration to apply: its transaction leaves nothing.
    let source = migrations_copy(pg.root(), "broken-sql");
    let up3 = up_scripts(&source)[2].clone();
    let sql = std::fs::read_to_string(&up3).unwrap();
    std::fs::write(
        &up3,
        format!("{sql}\nCREATE TABLE leftover (id int);\nCREATE FUNCTION oops( RETURNS int;\n"),
    )
    .unwrap();
    let run = arcdb(&pg, &dsn, &["up", "--source", source.to_str().unwrap()]);
    unchanged("syntax error in 0003", &run, "0003_triggers/up.sql");
    assert!(
        failure_lines(&run)[0].contains("SQLSTATE 42601"),
        "{}",
        run.stderr
    );

    // 2. Broken files of the set itself: refused before anything is touched, also on an empty
    // database (not even arcdb's own schema appears).
    type BreakSet = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, BreakSet, &str)> = vec![
        (
            "missing down.sql",
            Box::new(|s: &Path| {
                std::fs::remove_file(s.join("0005_analytics_views/down.sql")).unwrap()
            }),
            "0005_analytics_views",
        ),
        (
            "up.sql not UTF-8",
            Box::new(|s: &Path| {
                std::fs::write(
                    s.join("0004_row_level_security/up.sql"),
                    b"SELECT '\xff\xfe';\n",
                )
                .unwrap()
            }),
            "0004_row_level_security/up.sql",
        ),
        (
            "badly named directory",
            Box::new(|s: &Path| {
                std::fs::rename(s.join("0003_triggers"), s.join("3_triggers")).unwrap()
            }),
            "3_triggers",
        ),
        (
            "unexpected file",
            Box::new(|s: &Path| {
                std::fs::write(s.join("0003_triggers/upp.sql"), "SELECT 1;\n").unwrap()
            }),
            "upp.sql",
        ),
    ];
    for (i, (label, break_it, names)) in cases.iter().enumerate() {
        let source = migrations_copy(pg.root(), &format!("broken-set-{i}"));
        break_it(&source);
        let source_arg = source.to_str().unwrap();
        let run = arcdb(&pg, &dsn, &["up", "--source", source_arg]);
        unchanged(label, &run, names);
        let run = arcdb(&pg, &empty_dsn, &["up", "--source", source_arg]);
        assert_ne!(run.code, 0, "{label} on an empty database: up succeeded");
        assert_same_schema(&pg.pg_dump_app_schema("empty"), &empty_before, label);
        assert_eq!(
            pg.scalar(
                "empty",
                "SELECT count(*) FROM pg_namespace WHERE nspname = 'arcdb'"
            ),
            "0",
            "{label}: nothing created on the empty database"
        );
    }

    // The intact set still applies after all that.
    let run = arcdb(&pg, &dsn, &["up"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_history_agrees(&pg, "target", &dsn, None);
}

/// The stderr lines of a failed `up` without its safety notices: from version 2 it first says
/// which accepted hazards of 0007/0008 concern existing tables (notices, not errors).
fn failure_lines(run: &Run) -> Vec<&str> {
    run.error_lines()
        .into_iter()
        .filter(|l| !l.starts_with("arcdb: safety:"))
        .collect()
}
