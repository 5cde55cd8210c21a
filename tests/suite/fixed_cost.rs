//! What a run of many small migrations costs: one round trip and (but for the last) no WAL
//! flush of its own per migration, while each one stays atomic.

use crate::support;

use arcdb::local::{Cluster, ClusterSpec, StopMode};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use support::{run, write_migration};

fn tiny_migrations(source: &std::path::Path, n: u32) {
    for i in 1..=n {
        write_migration(
            source,
            &format!("{i:04}_t{i}"),
            &format!("CREATE TABLE t{i} (id int PRIMARY KEY);\nINSERT INTO t{i} VALUES ({i});\n"),
            &format!("DROP TABLE t{i};"),
        );
    }
}

/// A cluster with fsync and synchronous commit on (test clusters have both off), so that each
/// synchronous commit is a WAL sync pg_stat_wal (18: pg_stat_io) counts; stopped on drop.
struct Durable {
    cluster: Cluster,
    root: tempfile::TempDir,
}

impl Durable {
    fn start() -> Durable {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let spec = ClusterSpec::new(root.path().join("pg"), support::free_port());
        let cluster = Cluster::init(support::test_binaries(), spec).unwrap();
        cluster.start().unwrap();
        cluster.create_database("many").unwrap();
        Durable { cluster, root }
    }

    fn scalar(&self, sql: &str) -> String {
        let out = Command::new(self.cluster.bins().tool("psql"))
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.cluster.socket_dsn("many"))
            .args(["-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn arcdb(&self, args: &[&str]) -> support::Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
        cmd.env_remove("DATABASE_URL")
            .env_remove("ARCDB_PROFILE")
            .env_remove("ARCDB_FORCE_STEPWISE")
            .env("ARCDB_LOCAL_DIR", self.root.path().join("local"))
            .current_dir(self.root.path())
            .arg("--dsn")
            .arg(self.cluster.socket_dsn("many"))
            .args(args);
        run(cmd)
    }

    /// WAL syncs counted so far, once the stats of the sessions that ended are in.
    fn wal_syncs(&self) -> i64 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let major: i32 = self.scalar("SHOW server_version_num").parse().unwrap();
        self.scalar(if major >= 180000 {
            // PostgreSQL 18 moved the WAL's I/O counts to pg_stat_io.
            "SELECT coalesce(sum(fsyncs), 0)::bigint FROM pg_stat_io WHERE object = 'wal'"
        } else {
            "SELECT wal_sync FROM pg_stat_wal"
        })
        .parse()
        .unwrap()
    }
}

impl Drop for Durable {
    fn drop(&mut self) {
        self.cluster.stop(StopMode::Immediate).ok();
    }
}

#[test]
fn many_migrations_commit_without_a_wal_flush_each_and_stay_atomic() {
    let pg = Durable::start();
    let source = pg.root.path().join("many");
    let n = 60;
    tiny_migrations(&source, n);
    let source_arg = source.to_str().unwrap();
    assert_eq!(pg.scalar("SHOW synchronous_commit"), "on");
    assert_eq!(pg.scalar("SHOW fsync"), "on");
    let before = pg.wal_syncs();
    let up = pg.arcdb(&["up", "--source", source_arg, "--format", "json"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert_eq!(up.json()["steps"].as_array().unwrap().len(), n as usize);
    let syncs = pg.wal_syncs() - before;
    // A flush per commit would be at least n syncs; the WAL writer adds a few of its own (at
    // most one per wal_writer_delay, 200 ms, or per MB of WAL), the last commit one.
    assert!(
        (1..(n as i64) / 2).contains(&syncs),
        "{syncs} WAL syncs for {n} migrations"
    );
    assert_eq!(
        pg.scalar(
            "SELECT count(*) || ' ' || bool_and(execution_ms >= 0 AND complete)::text FROM arcdb.schema_history"
        ),
        format!("{n} true")
    );
    assert_eq!(pg.scalar(&format!("SELECT id FROM t{n}")), n.to_string());

    // A failure in the middle of a run: the earlier ones stay, nothing of the failed one.
    write_migration(
        &source,
        &format!("{:04}_ok", n + 1),
        "CREATE TABLE kept (id int);",
        "DROP TABLE kept;",
    );
    write_migration(
        &source,
        &format!("{:04}_broken", n + 2),
        "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT 1/0;\n",
        "DROP TABLE half;",
    );
    write_migration(
        &source,
        &format!("{:04}_after", n + 3),
        "CREATE TABLE never (id int);",
        "DROP TABLE never;",
    );
    let failed = pg.arcdb(&["up", "--source", source_arg]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("division by zero")
            && failed
                .stderr
                .contains(&format!("database stays at version {}", n + 1)),
        "{}",
        failed.stderr
    );
    assert_eq!(
        pg.scalar(
            "SELECT max(version) || ' ' || (to_regclass('kept') IS NOT NULL) || ' ' || (to_regclass('half') IS NULL) || ' ' || (to_regclass('never') IS NULL) FROM arcdb.schema_history"
        ),
        format!("{} true true true", n + 1)
    );
    // The session is usable after the failure: status reads the history afresh.
    let status = pg.arcdb(&["status", "--source", source_arg]);
    assert_eq!(status.code, 3, "{}", status.stderr);
}

/// Statements the server ran for sessions named `app` (log_statement = all, the application
/// name prefixed to each log line): a statement per round trip arcdb makes, but for the ones it
/// pipelines.
fn statements_of(pg: &support::TestCluster, app: &str) -> usize {
    logged_statements(pg, app).len()
}

fn logged_statements(pg: &support::TestCluster, app: &str) -> Vec<String> {
    let log = std::fs::read_to_string(pg.cluster().log_path()).unwrap();
    log.lines()
        .filter(|l| l.starts_with(&format!("{app}|")))
        .filter(|l| l.contains("LOG:  statement: ") || l.contains("LOG:  execute "))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_noop_up_and_status_make_the_same_round_trips_at_1000_migrations_as_at_10() {
    let pg = support::TestCluster::start();
    let mut counts = Vec::new();
    for n in [10, 1000] {
        let db = format!("many{n}");
        let dsn = pg.create_db(&db);
        let source = pg.root().join(&db);
        tiny_migrations(&source, n);
        let source = source.to_str().unwrap();
        run(pg.arcdb_at(&dsn, &["up", "--source", source])).ok("up");
        // The first status compares object by object (and stores the fingerprint).
        let first = run(pg.arcdb_at(&dsn, &["status", "--source", source, "--format", "json"]));
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert_eq!(first.json()["live"]["compared"], "object_by_object");

        pg.psql(
            "postgres",
            "ALTER SYSTEM SET log_statement = 'all'; ALTER SYSTEM SET log_line_prefix = '%a|'; SELECT pg_reload_conf();",
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        let named = |what: &str| format!("{dsn} application_name=rt_{what}_{n}");
        let status = run(pg.arcdb_at(
            &named("status"),
            &["status", "--source", source, "--format", "json"],
        ));
        assert_eq!(status.code, 0, "{}", status.stderr);
        assert_eq!(status.json()["live"]["compared"], "fingerprint");
        let up = run(pg.arcdb_at(
            &named("up"),
            &["up", "--source", source, "--format", "json"],
        ));
        assert_eq!(up.code, 0, "{}", up.stderr);
        assert_eq!(up.json()["steps"], serde_json::json!([]));
        pg.psql(
            "postgres",
            "ALTER SYSTEM RESET log_statement; ALTER SYSTEM RESET log_line_prefix; SELECT pg_reload_conf();",
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        counts.push((
            statements_of(&pg, &format!("rt_status_{n}")),
            statements_of(&pg, &format!("rt_up_{n}")),
        ));
        // PostgreSQL says its version as the session starts (server_version): no round trip
        // asks it again.
        let asked: Vec<String> = ["status", "up"]
            .iter()
            .flat_map(|what| logged_statements(&pg, &format!("rt_{what}_{n}")))
            .filter(|l| l.contains("version()"))
            .collect();
        assert!(asked.is_empty(), "{asked:#?}");
        // Nothing to apply: the no-op up takes no migration lock (nor gives one back).
        let locking: Vec<String> = logged_statements(&pg, &format!("rt_up_{n}"))
            .into_iter()
            .filter(|l| l.contains("advisory"))
            .collect();
        assert!(locking.is_empty(), "{locking:#?}");
    }
    eprintln!("statements (status, no-op up) at 10 and 1000 migrations: {counts:?}");
    assert!(
        counts[0].0 > 0 && counts[0].1 > 0,
        "nothing logged: {counts:?}"
    );
    assert_eq!(counts[0], counts[1], "round trips grow with the migrations");
}

/// Sessions opened by connections named `app` (log_connections, the application name in the
/// "connection authorized" line).
fn sessions_of(pg: &support::TestCluster, app: &str) -> usize {
    let log = std::fs::read_to_string(pg.cluster().log_path()).unwrap();
    log.lines()
        .filter(|l| l.contains("connection authorized") && l.contains(&format!("={app}")))
        .count()
}

#[test]
fn the_lock_wait_watcher_is_opened_only_by_a_statement_that_outlasts_a_sampling_period() {
    let pg = support::TestCluster::start();
    pg.psql(
        "postgres",
        "ALTER SYSTEM SET log_connections = on; SELECT pg_reload_conf();",
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Quick migrations: the run's own session only.
    let dsn = pg.create_db("quick");
    let quick = pg.root().join("quick");
    tiny_migrations(&quick, 5);
    let quick = quick.to_str().unwrap();
    run(pg.arcdb_at(
        &format!("{dsn} application_name=quick_up"),
        &["up", "--source", quick],
    ))
    .ok("up of quick migrations");
    // A statement that runs past the first sample (a quarter of the 2 s lock timeout, at most
    // 500 ms) opens the watcher: the count above could have seen it.
    let dsn = pg.create_db("slow");
    let slow = pg.root().join("slow");
    write_migration(
        &slow,
        "0001_slow",
        "CREATE TABLE s (id int);\nSELECT pg_sleep(1.5);\n",
        "DROP TABLE s;",
    );
    let slow = slow.to_str().unwrap();
    run(pg.arcdb_at(
        &format!("{dsn} application_name=slow_up"),
        &["up", "--source", slow],
    ))
    .ok("up of a slow migration");
    pg.psql(
        "postgres",
        "ALTER SYSTEM RESET log_connections; SELECT pg_reload_conf();",
    );
    assert_eq!(sessions_of(&pg, "quick_up"), 1, "quick migrations");
    assert_eq!(sessions_of(&pg, "slow_up"), 2, "a statement of 1.5 s");
}
