//! `up` and `rollback` on a database with traffic: DDL under a lock timeout with retries,
//! signals that cancel the running statement on the server, transaction control refused,
//! session state reset between migrations, migrations outside a transaction.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use support::{latest_version, migrations_copy, run, write_migration, Run, TestCluster};

fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(dsn, args))
}

fn spawn_arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Child {
    let mut cmd = pg.arcdb_at(dsn, args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("arcdb starts")
}

/// Wait for `child` up to `timeout`; panics (after killing it) when it does not exit.
fn finish(mut child: Child, timeout: Duration, what: &str) -> Run {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap().into();
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let out: Run = child.wait_with_output().unwrap().into();
    panic!(
        "{what} did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
}

/// Poll the boolean query `sql` until true; false after `timeout`.
fn wait_until(pg: &TestCluster, db: &str, sql: &str, timeout: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if pg.try_psql(db, sql).is_ok_and(|s| s.trim() == "t") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// An interactive psql session fed through its stdin (a transaction held open).
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Session {
    fn open(pg: &TestCluster, db: &str, sql: &str) -> Session {
        let mut child = Command::new(pg.bins().tool("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(pg.dsn(db))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql starts");
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{sql}").unwrap();
        stdin.flush().unwrap();
        Session {
            child,
            stdin: Some(stdin),
        }
    }

    /// Send `sql`, close stdin and wait for psql to exit.
    fn end(mut self, sql: &str) {
        let mut stdin = self.stdin.take().unwrap();
        writeln!(stdin, "{sql}").unwrap();
        drop(stdin);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the session's psql failed");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A database at the latest version and a `--source` copy of the migrations to add to.
fn migrated(pg: &TestCluster, db: &str) -> (String, PathBuf) {
    let dsn = pg.create_db(db);
    arcdb(pg, &dsn, &["up"]).ok("up");
    let source = migrations_copy(pg.root(), &format!("{db}-migrations"));
    (dsn, source)
}

fn next_dir(n: u32, name: &str) -> String {
    format!("{:04}_{name}", latest_version() + n)
}

fn history_count(pg: &TestCluster, db: &str) -> String {
    pg.scalar(db, "SELECT count(*) FROM arcdb.schema_history")
}

fn column_exists(pg: &TestCluster, db: &str, column: &str) -> bool {
    pg.scalar(
        db,
        &format!("SELECT count(*) FROM information_schema.columns WHERE table_name = 'tasks' AND column_name = '{column}'"),
    ) == "1"
}

fn src(source: &Path) -> &str {
    source.to_str().unwrap()
}

/// Reader holds a transaction on `tasks`; `up` with an ALTER TABLE on it waits under the lock
/// timeout and retries, naming the reader; other sessions' queries on `tasks` keep completing
/// within the lock timeout plus a margin; once the reader ends, `up` completes.
#[test]
fn ddl_waits_under_a_lock_timeout_and_lets_application_queries_through() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "live");
    write_migration(
        &source,
        &next_dir(1, "tasks_live_x"),
        "ALTER TABLE tasks ADD COLUMN live_x integer;\n",
        "ALTER TABLE tasks DROP COLUMN live_x;\n",
    );
    let reader = Session::open(&pg, "live", "BEGIN; SELECT count(*) FROM tasks;");
    assert!(wait_until(
        &pg,
        "live",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE 'SELECT count(*) FROM tasks%')",
        Duration::from_secs(10)
    ));
    let reader_pid = pg.scalar(
        "live",
        "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE 'SELECT count(*) FROM tasks%'",
    );
    let up = spawn_arcdb(
        &pg,
        &dsn,
        &[
            "up",
            "--source",
            src(&source),
            "--ddl-lock-timeout",
            "1s",
            "--ddl-retry-for",
            "60s",
            "--format",
            "json",
        ],
    );
    // The ALTER is queued behind the reader at least once meanwhile.
    assert!(wait_until(
        &pg,
        "live",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE tasks ADD COLUMN live_x%')",
        Duration::from_secs(10)
    ));
    // The application keeps working: no query waits much more than the lock timeout.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut queries = 0;
    while started.elapsed() < Duration::from_secs(5) {
        let t = Instant::now();
        pg.psql(
            "live",
            "SELECT count(*) FROM tasks; INSERT INTO organizations (name, slug) SELECT 'o', 'o-' || gen_random_uuid() WHERE false",
        );
        slowest = slowest.max(t.elapsed());
        queries += 1;
    }
    assert!(queries >= 3, "only {queries} queries in 5 s");
    assert!(
        slowest < Duration::from_millis(2500),
        "an application query waited {slowest:?} (lock timeout 1 s + margin)"
    );
    assert!(
        !column_exists(&pg, "live", "live_x"),
        "applied while the reader still runs"
    );
    reader.end("COMMIT;");
    let out = finish(up, Duration::from_secs(20), "up after the reader ended");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(column_exists(&pg, "live", "live_x"));
    assert_eq!(out.json()["to_version"], latest_version() + 1);
    assert!(
        out.stderr.contains("was not granted its lock within 1s")
            && out.stderr.contains(&format!("pid {reader_pid} "))
            && out.stderr.contains("AccessExclusiveLock on tasks")
            && out.stderr.contains("holding AccessShareLock")
            && out.stderr.contains("retrying in"),
        "stderr names what it waits for and who holds it:\n{}",
        out.stderr
    );
}

/// The reader never ends: `up` gives up after --ddl-retry-for with exit 1, the database and its
/// history unchanged, the migration lock released.
#[test]
fn ddl_that_never_gets_its_lock_gives_up_with_the_database_unchanged() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "giveup");
    write_migration(
        &source,
        &next_dir(1, "two_steps"),
        "CREATE TABLE giveup_side (x int);\nALTER TABLE tasks ADD COLUMN live_y integer;\n",
        "ALTER TABLE tasks DROP COLUMN live_y;\nDROP TABLE giveup_side;\n",
    );
    let before = pg.pg_dump_schema("giveup");
    let reader = Session::open(&pg, "giveup", "BEGIN; SELECT count(*) FROM tasks;");
    assert!(wait_until(
        &pg,
        "giveup",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction')",
        Duration::from_secs(10)
    ));
    let started = Instant::now();
    let out = arcdb(
        &pg,
        &dsn,
        &[
            "up",
            "--source",
            src(&source),
            "--ddl-lock-timeout",
            "300ms",
            "--ddl-retry-for",
            "3s",
        ],
    );
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
    let last = out
        .error_lines()
        .last()
        .copied()
        .unwrap_or_default()
        .to_string();
    assert!(
        last.contains("gave up after")
            && last.contains("up.sql, line 2")
            && last.contains("nothing of it was applied")
            && last.contains(&format!("stays at version {}", latest_version())),
        "{}",
        out.stderr
    );
    reader.end("ROLLBACK;");
    assert_eq!(pg.pg_dump_schema("giveup"), before, "the schema changed");
    assert_eq!(history_count(&pg, "giveup"), latest_version().to_string());
    assert_eq!(
        pg.scalar(
            "giveup",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        ),
        "0"
    );
}

/// SIGTERM (and SIGINT) while a statement runs: the statement is cancelled on the server (not
/// left running after arcdb is gone), the migration rolled back, exit 1.
#[test]
fn signals_cancel_the_running_statement_on_the_server() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "sig");
    write_migration(
        &source,
        &next_dir(1, "slow"),
        "CREATE TABLE sig_side (x int);\nSELECT pg_sleep(120);\n",
        "DROP TABLE sig_side;\n",
    );
    for signal in ["TERM", "INT"] {
        let up = spawn_arcdb(&pg, &dsn, &["up", "--source", src(&source)]);
        assert!(wait_until(
            &pg,
            "sig",
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, 'pg_sleep(120)') > 0)",
            Duration::from_secs(10)
        ));
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(up.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let out = finish(up, Duration::from_secs(10), "up after a signal");
        assert_eq!(out.code, 1, "SIG{signal}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("interrupted by SIG{signal}"))
                && out.stderr.contains("cancelled on the server")
                && out.stderr.contains("nothing of it was applied"),
            "{}",
            out.stderr
        );
        // Checked at once: the statement is gone, not waiting for a client that went away.
        assert_eq!(
            pg.scalar(
                "sig",
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, 'pg_sleep(120)') > 0"
            ),
            "0",
            "SIG{signal} left the statement running"
        );
        assert_eq!(
            pg.scalar("sig", "SELECT to_regclass('sig_side') IS NULL"),
            "t"
        );
        assert_eq!(history_count(&pg, "sig"), latest_version().to_string());
    }
}

/// --statement-timeout bounds a statement; the migration is rolled back.
#[test]
fn statement_timeout_bounds_each_statement() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "stmt");
    write_migration(
        &source,
        &next_dir(1, "slow"),
        "CREATE TABLE stmt_side (x int);\nSELECT pg_sleep(30);\n",
        "DROP TABLE stmt_side;\n",
    );
    let started = Instant::now();
    let out = arcdb(
        &pg,
        &dsn,
        &[
            "up",
            "--source",
            src(&source),
            "--statement-timeout",
            "500ms",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        out.stderr.contains("up.sql, line 2")
            && out.stderr.contains("statement timeout")
            && out.stderr.contains("nothing of it was applied"),
        "{}",
        out.stderr
    );
    assert_eq!(
        pg.scalar("stmt", "SELECT to_regclass('stmt_side') IS NULL"),
        "t"
    );
    let bad = arcdb(&pg, &dsn, &["up", "--ddl-lock-timeout", "soon"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("not a duration"), "{}", bad.stderr);
}

/// BEGIN/COMMIT/ROLLBACK/… at the top level of a script: refused with file and line before
/// anything runs (not even the valid migrations before it), exit 2.
#[test]
fn transaction_control_in_a_script_is_refused_before_anything_runs() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "txc");
    write_migration(
        &source,
        &next_dir(1, "fine"),
        "CREATE TABLE txc_first (x int);\n",
        "DROP TABLE txc_first;\n",
    );
    let half = next_dir(2, "half");
    for (statement, shown) in [
        ("COMMIT;", "COMMIT"),
        ("rollback;", "ROLLBACK"),
        ("SAVEPOINT s;", "SAVEPOINT"),
        ("END;", "END"),
    ] {
        write_migration(
            &source,
            &half,
            &format!(
                "CREATE TABLE txc_half (x int);\n{statement}\nCREATE TABLE txc_rest (y int);\n"
            ),
            "DROP TABLE txc_rest;\nDROP TABLE txc_half;\n",
        );
        let out = arcdb(&pg, &dsn, &["up", "--source", src(&source)]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("{half}/up.sql, line 2: {shown} at the top level"))
                && out.stderr.contains("nothing was changed"),
            "{}",
            out.stderr
        );
        assert_eq!(
            pg.scalar(
                "txc",
                "SELECT to_regclass('txc_first') IS NULL AND to_regclass('txc_half') IS NULL"
            ),
            "t",
            "something ran"
        );
        assert_eq!(history_count(&pg, "txc"), latest_version().to_string());
    }
    // A down script too, before the rollback asks or touches anything.
    write_migration(
        &source,
        &half,
        "CREATE TABLE txc_half (x int);\n",
        "BEGIN;\nDROP TABLE txc_half;\nCOMMIT;\n",
    );
    arcdb(&pg, &dsn, &["up", "--source", src(&source)]).ok("up");
    let to = (latest_version() + 1).to_string();
    let out = arcdb(
        &pg,
        &dsn,
        &["rollback", "--to", &to, "--yes", "--source", src(&source)],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{half}/down.sql, line 1: BEGIN")),
        "{}",
        out.stderr
    );
    assert_eq!(
        pg.scalar("txc", "SELECT to_regclass('txc_half') IS NOT NULL"),
        "t"
    );
}

/// A migration's SET search_path / SET ROLE / SET does not carry into the next one: one `up`
/// of two versions builds what two `up`s of one build.
#[test]
fn session_settings_do_not_leak_into_the_next_migration() {
    let pg = TestCluster::start();
    let (dsn_one, source) = migrated(&pg, "leak_one");
    let dsn_two = pg.create_db("leak_two");
    arcdb(&pg, &dsn_two, &["up"]).ok("up");
    write_migration(
        &source,
        &next_dir(1, "side_schema"),
        "CREATE SCHEMA side;\n\
         DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leak_role') THEN CREATE ROLE leak_role; END IF; END $$;\n\
         GRANT USAGE, CREATE ON SCHEMA side TO leak_role;\n\
         SET search_path = side;\n\
         SET work_mem = '1234kB';\n\
         SET ROLE leak_role;\n",
        "RESET ROLE;\nDROP SCHEMA public.side CASCADE;\n",
    );
    write_migration(
        &source,
        &next_dir(2, "probe"),
        "CREATE TABLE leak_probe AS SELECT current_setting('work_mem') AS work_mem, current_user::text AS who;\n",
        "DROP TABLE leak_probe;\n",
    );
    arcdb(&pg, &dsn_one, &["up", "--source", src(&source)]).ok("one up");
    let to = (latest_version() + 1).to_string();
    arcdb(
        &pg,
        &dsn_two,
        &["up", "--source", src(&source), "--to", &to],
    )
    .ok("first of two ups");
    arcdb(&pg, &dsn_two, &["up", "--source", src(&source)]).ok("second of two ups");
    for db in ["leak_one", "leak_two"] {
        assert_eq!(
            pg.scalar(db, "SELECT n.nspname || ' ' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'leak_probe'"),
            "public postgres",
            "{db}"
        );
        assert_eq!(
            pg.scalar(db, "SELECT work_mem || ' ' || who FROM public.leak_probe"),
            "4MB postgres",
            "{db}"
        );
    }
    assert_eq!(
        pg.pg_dump_app_schema("leak_one"),
        pg.pg_dump_app_schema("leak_two")
    );
}

/// A `-- arcdb:no-transaction` migration whose CREATE UNIQUE INDEX CONCURRENTLY fails leaves an
/// INVALID index and an incomplete record; the next `up` drops that index and builds it again.
#[test]
fn a_failed_concurrent_index_build_is_rebuilt_by_the_next_up() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "cic");
    write_migration(
        &source,
        &next_dir(1, "dups"),
        "CREATE TABLE live_dups (x int);\nINSERT INTO live_dups SELECT g % 10 FROM generate_series(1, 1000) g;\n",
        "DROP TABLE live_dups;\n",
    );
    let build = next_dir(2, "dups_unique");
    write_migration(
        &source,
        &build,
        "-- arcdb:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS live_dups_x ON live_dups (x);\n",
        "-- arcdb:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS live_dups_x;\n",
    );
    let failed = arcdb(&pg, &dsn, &["up", "--source", src(&source)]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!("{build}/up.sql, line 2"))
            && failed.stderr.contains("23505")
            && failed.stderr.contains("stays recorded as incomplete"),
        "{}",
        failed.stderr
    );
    let validity =
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'live_dups_x'::regclass";
    assert_eq!(
        pg.scalar("cic", validity),
        "f",
        "the failed build left an INVALID index"
    );
    let status = arcdb(
        &pg,
        &dsn,
        &["status", "--source", src(&source), "--format", "json"],
    );
    assert_eq!(status.code, 3, "{}", status.stdout);
    pg.psql(
        "cic",
        "DELETE FROM live_dups WHERE ctid NOT IN (SELECT min(ctid) FROM live_dups GROUP BY x)",
    );
    let again = arcdb(&pg, &dsn, &["up", "--source", src(&source)]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("live_dups_x is INVALID"),
        "{}",
        again.stderr
    );
    assert_eq!(pg.scalar("cic", validity), "t");
    assert_eq!(
        pg.scalar(
            "cic",
            &format!(
                "SELECT complete FROM arcdb.schema_history WHERE version = {}",
                latest_version() + 2
            )
        ),
        "t"
    );
    // Its down runs outside a transaction too.
    let to = (latest_version() + 1).to_string();
    arcdb(
        &pg,
        &dsn,
        &["rollback", "--to", &to, "--yes", "--source", src(&source)],
    )
    .ok("rollback");
    assert_eq!(
        pg.scalar("cic", "SELECT to_regclass('live_dups_x') IS NULL"),
        "t"
    );
}

/// Two `up`s at once over a CREATE INDEX CONCURRENTLY migration on a table with rows and live
/// writes: the second waits with a try-lock loop (a blocking pg_advisory_lock would hold a
/// snapshot the index build waits for), both finish, the migration is applied once.
#[test]
fn two_ups_at_once_over_a_concurrent_index_build_with_live_writes() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "race");
    write_migration(
        &source,
        &next_dir(1, "rows"),
        "CREATE TABLE live_rows (id bigserial PRIMARY KEY, v int NOT NULL);\nINSERT INTO live_rows (v) SELECT g FROM generate_series(1, 200000) g;\n",
        "DROP TABLE live_rows;\n",
    );
    arcdb(&pg, &dsn, &["up", "--source", src(&source)]).ok("up rows");
    write_migration(
        &source,
        &next_dir(2, "rows_v"),
        "-- arcdb:no-transaction\nSET maintenance_work_mem = '64MB';\nSELECT pg_sleep(1.5);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS live_rows_v ON live_rows (v);\n",
        "-- arcdb:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS live_rows_v;\n",
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let dsn = pg.dsn("race");
        let psql = pg.bins().tool("psql");
        std::thread::spawn(move || {
            let mut writes = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let ok = Command::new(&psql)
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &dsn, "-c"])
                    .arg("INSERT INTO live_rows (v) VALUES (-1)")
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "a live write failed");
                writes += 1;
            }
            writes
        })
    };
    let args = [
        "up",
        "--source",
        src(&source),
        "--lock-timeout",
        "60",
        "--format",
        "json",
    ];
    let first = spawn_arcdb(&pg, &dsn, &args);
    assert!(wait_until(
        &pg,
        "race",
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(1.5)%' AND state = 'active')",
        Duration::from_secs(10)
    ));
    let second = spawn_arcdb(&pg, &dsn, &args);
    let started = Instant::now();
    let a = finish(first, Duration::from_secs(40), "the first up");
    let b = finish(second, Duration::from_secs(40), "the second up");
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let writes = writer.join().unwrap();
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(took < Duration::from_secs(20), "the two runs took {took:?}");
    assert!(writes > 0);
    let applied =
        a.json()["steps"].as_array().unwrap().len() + b.json()["steps"].as_array().unwrap().len();
    assert_eq!(applied, 1, "applied exactly once");
    assert!(
        b.stderr
            .contains("waiting up to 60s for the migration lock"),
        "{}",
        b.stderr
    );
    assert_eq!(
        pg.scalar(
            "race",
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'live_rows_v'::regclass"
        ),
        "t"
    );
    assert_eq!(
        pg.scalar(
            "race",
            "SELECT count(*) FILTER (WHERE complete) || '/' || count(*) FROM arcdb.schema_history"
        ),
        format!("{0}/{0}", latest_version() + 2)
    );
}

/// A no-op `up` needs no migration lock: while another run holds it, `up` with every migration
/// applied says so at once; with one pending it waits, gives up after `--lock-timeout` with the
/// database unchanged, and applies it once the lock is free.
#[test]
fn a_noop_up_does_not_wait_for_the_migration_lock() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "held");
    // arcdb's advisory key, the bytes of "arcdbmig".
    let key = "x'61726364626d6967'::bigint";
    let holder = Session::open(&pg, "held", &format!("SELECT pg_advisory_lock({key});"));
    assert!(wait_until(
        &pg,
        "held",
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted)",
        Duration::from_secs(10)
    ));
    let noop = arcdb(
        &pg,
        &dsn,
        &[
            "up",
            "--source",
            src(&source),
            "--lock-timeout",
            "2",
            "--format",
            "json",
        ],
    );
    assert_eq!(noop.code, 0, "{}", noop.stderr);
    assert_eq!(noop.json()["steps"], serde_json::json!([]));
    assert!(!noop.stderr.contains("waiting"), "{}", noop.stderr);

    write_migration(
        &source,
        &next_dir(1, "held_table"),
        "CREATE TABLE held_t (id int);\n",
        "DROP TABLE held_t;\n",
    );
    let before = history_count(&pg, "held");
    let blocked = arcdb(
        &pg,
        &dsn,
        &["up", "--source", src(&source), "--lock-timeout", "1"],
    );
    assert_eq!(blocked.code, 1, "{}", blocked.stderr);
    assert!(
        blocked
            .stderr
            .contains("timed out after 1s waiting for the migration lock"),
        "{}",
        blocked.stderr
    );
    assert_eq!(history_count(&pg, "held"), before);
    assert_eq!(
        pg.scalar("held", "SELECT to_regclass('held_t') IS NULL"),
        "t"
    );

    holder.end(&format!("SELECT pg_advisory_unlock({key});"));
    let applied = arcdb(
        &pg,
        &dsn,
        &["up", "--source", src(&source), "--format", "json"],
    );
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(applied.json()["steps"].as_array().unwrap().len(), 1);
}

/// `arcdb lint` flags the statements of a no-transaction file that do not need it.
#[test]
fn lint_rejects_needless_statements_in_a_no_transaction_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = migrations_copy(dir.path(), "m");
    let bad = next_dir(1, "mixed");
    write_migration(
        &source,
        &bad,
        "-- arcdb:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_x ON tasks (title);\nALTER TABLE tasks ADD COLUMN z int;\n",
        "-- arcdb:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS tasks_x;\n",
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    cmd.args([
        "lint",
        "--engine",
        "postgres",
        "--format",
        "json",
        "--source",
        src(&source),
    ]);
    let out = run(cmd);
    assert_eq!(out.code, 5, "{}", out.stderr);
    let findings: Vec<(String, u64)> = out.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "no-transaction-needless")
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].0.ends_with(&format!("{bad}/up.sql")) && findings[0].1 == 3,
        "{findings:?}"
    );
}

/// `--dry-run` shows each step's SQL for this engine and how it runs; nothing is applied.
#[test]
fn dry_run_shows_the_sql_and_transaction_mode_of_each_step() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "dry");
    let plain = next_dir(1, "plain");
    let outside = next_dir(2, "outside");
    write_migration(
        &source,
        &plain,
        "CREATE TABLE dry_t (x int);\n",
        "DROP TABLE dry_t;\n",
    );
    write_migration(
        &source,
        &outside,
        "-- arcdb:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS dry_t_x ON dry_t (x);\n",
        "-- arcdb:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS dry_t_x;\n",
    );
    let table = arcdb(&pg, &dsn, &["up", "--dry-run", "--source", src(&source)]).ok("dry run");
    assert!(
        table.stdout.contains(&format!("-- {plain}: "))
            && table
                .stdout
                .contains("up.sql, in one transaction\nCREATE TABLE dry_t (x int);"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("up.sql, outside a transaction (-- arcdb:no-transaction), one statement at a time\n-- arcdb:no-transaction\nCREATE INDEX CONCURRENTLY"),
        "{}",
        table.stdout
    );
    let json = arcdb(
        &pg,
        &dsn,
        &[
            "up",
            "--dry-run",
            "--source",
            src(&source),
            "--format",
            "json",
        ],
    )
    .ok("dry run")
    .json();
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps[0]["transaction"], "transaction");
    assert_eq!(steps[1]["transaction"], "no-transaction");
    assert!(steps[1]["sql"]
        .as_str()
        .unwrap()
        .contains("CREATE INDEX CONCURRENTLY"));
    assert_eq!(pg.scalar("dry", "SELECT to_regclass('dry_t') IS NULL"), "t");
    arcdb(&pg, &dsn, &["up", "--source", src(&source)]).ok("up");
    let to = latest_version().to_string();
    let back = arcdb(
        &pg,
        &dsn,
        &[
            "rollback",
            "--to",
            &to,
            "--dry-run",
            "--source",
            src(&source),
        ],
    )
    .ok("rollback dry run");
    assert!(
        back.stdout
            .contains("DROP INDEX CONCURRENTLY IF EXISTS dry_t_x")
            && back.stdout.contains("DROP TABLE dry_t"),
        "{}",
        back.stdout
    );
    assert_eq!(
        pg.scalar("dry", "SELECT to_regclass('dry_t_x') IS NOT NULL"),
        "t"
    );
}

/// `arcdb new NAME` creates the next NNNN_name/ with templates that `up` accepts as they are.
#[test]
fn new_creates_the_next_migration_directory() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "newdb");
    let out = run(pg.arcdb_at(&dsn, &["new", "add_labels", "--source", src(&source)])).ok("new");
    let dir = source.join(next_dir(1, "add_labels"));
    assert!(
        out.stdout.contains(&dir.display().to_string()),
        "{}",
        out.stdout
    );
    let up = std::fs::read_to_string(dir.join("up.sql")).unwrap();
    assert!(up.contains("-- arcdb:no-transaction"), "{up}");
    assert!(dir.join("down.sql").is_file());
    // The empty templates apply and roll back as they are.
    arcdb(&pg, &dsn, &["up", "--source", src(&source)]).ok("up of the template");
    assert_eq!(
        history_count(&pg, "newdb"),
        (latest_version() + 1).to_string()
    );
    // ./migrations by default, created when missing.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    let work = tempfile::tempdir().unwrap();
    cmd.current_dir(work.path()).args(["new", "first"]);
    run(cmd).ok("new in ./migrations");
    assert!(work.path().join("migrations/0001_first/up.sql").is_file());
    let mut bad = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    bad.current_dir(work.path()).args(["new", "Bad Name"]);
    let bad = run(bad);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("lower-case letters"), "{}", bad.stderr);
}

/// `arcdb lint --engine postgres` reports the locking hazards of new migrations with file, line
/// and the safe form, also as SARIF; `up` prints the error-level ones for tables that exist,
/// and `up --strict` refuses them with nothing applied.
#[test]
fn safety_lint_reports_hazards_and_up_strict_refuses_them() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "safety");
    let index = next_dir(1, "tasks_title");
    write_migration(
        &source,
        &index,
        "-- an index on a busy table\nCREATE INDEX tasks_title_live ON tasks (title);\nALTER TABLE tasks ADD COLUMN live_req int NOT NULL;\n",
        "ALTER TABLE tasks DROP COLUMN live_req;\nDROP INDEX tasks_title_live;\n",
    );
    let mut lint = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    lint.args([
        "lint",
        "--engine",
        "postgres",
        "--format",
        "json",
        "--source",
        src(&source),
    ]);
    let out = run(lint);
    assert_eq!(out.code, 5, "{}", out.stderr);
    let found: Vec<(String, u64)> = out.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("require-concurrent-index-creation".to_string(), 2),
            ("adding-required-field".to_string(), 3)
        ],
        "only the new migration is checked by default"
    );
    let mut sarif = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    sarif.args([
        "lint",
        "--engine",
        "postgres",
        "--format",
        "sarif",
        "--source",
        src(&source),
    ]);
    let sarif = run(sarif);
    assert_eq!(sarif.code, 5);
    let log = sarif.json();
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["level"], "error");
    assert!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{index}/up.sql"))
    );
    assert!(result["message"]["text"]
        .as_str()
        .unwrap()
        .contains("CONCURRENTLY"));

    let strict = arcdb(&pg, &dsn, &["up", "--strict", "--source", src(&source)]);
    assert_eq!(strict.code, 5, "{}", strict.stderr);
    assert!(
        strict.stderr.contains(&format!("{index}/up.sql:2"))
            && strict.stderr.contains("require-concurrent-index-creation")
            && strict.stderr.contains("nothing was applied"),
        "{}",
        strict.stderr
    );
    assert_eq!(history_count(&pg, "safety"), latest_version().to_string());
    // Without --strict the findings are printed and the migration runs (the table is empty, so
    // the NOT NULL column can be added).
    let plain = arcdb(&pg, &dsn, &["up", "--source", src(&source)]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(
        plain.stderr.contains("safety: ") && plain.stderr.contains("adding-required-field"),
        "{}",
        plain.stderr
    );
    // A fresh database: every table is created by this run, nothing to warn about.
    let fresh = pg.create_db("safety_fresh");
    let clean = arcdb(&pg, &fresh, &["up", "--strict", "--source", src(&source)]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    assert!(!clean.stderr.contains("safety: "), "{}", clean.stderr);
}

/// Rolling back 0004 drops arcdesk_tenant; the application's login role was a member. The
/// membership is recorded and granted again when `up` re-creates the role.
#[test]
fn rollback_and_reapply_keep_the_application_role_membership() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("members");
    arcdb(&pg, &dsn, &["up"]).ok("up");
    pg.psql(
        "members",
        "CREATE ROLE live_app LOGIN; GRANT arcdesk_tenant TO live_app WITH ADMIN OPTION;",
    );
    let member = "SELECT string_agg(r.rolname || '>' || m.rolname || ':' || am.admin_option, ',') FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member WHERE m.rolname = 'live_app'";
    assert_eq!(pg.scalar("members", member), "arcdesk_tenant>live_app:true");
    let back = arcdb(&pg, &dsn, &["rollback", "--to", "3", "--yes"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(
        back.stderr
            .contains("role arcdesk_tenant was dropped with its member live_app"),
        "{}",
        back.stderr
    );
    assert_eq!(pg.scalar("members", member), "", "the role is gone");
    assert_eq!(
        pg.scalar("members", "SELECT count(*) FROM arcdb.role_memberships"),
        "1"
    );
    let again = arcdb(&pg, &dsn, &["up"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("granted arcdesk_tenant to live_app again"),
        "{}",
        again.stderr
    );
    assert_eq!(pg.scalar("members", member), "arcdesk_tenant>live_app:true");
    assert_eq!(
        pg.scalar("members", "SELECT count(*) FROM arcdb.role_memberships"),
        "0"
    );
}

/// The rollback prompt (on a terminal) names the tables it drops with exact row counts, on
/// tables never analyzed; the drift refusal says what works instead of suggesting rollback.
#[test]
fn the_rollback_prompt_counts_rows_and_drift_advice_works() {
    let pg = TestCluster::start();
    let (dsn, source) = migrated(&pg, "prompt");
    arcdb(&pg, &dsn, &["seed"]).ok("seed");
    let tasks = pg.scalar("prompt", "SELECT count(*) FROM tasks");
    assert_ne!(tasks, "0");
    // A terminal for the prompt: util-linux `script` runs arcdb on a pty.
    let cmd = pg.arcdb_at(&dsn, &["rollback", "--to", "1"]);
    let line = std::iter::once(cmd.get_program().to_string_lossy().into_owned())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => script.env(key, v),
            None => script.env_remove(key),
        };
    }
    script
        .current_dir(pg.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        writeln!(stdin, "no").unwrap();
    }
    let out: Run = child.wait_with_output().unwrap().into();
    assert!(
        out.stdout.contains(&format!("tasks ({tasks} rows)"))
            && out.stdout.contains("rollback cancelled"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(history_count(&pg, "prompt"), latest_version().to_string());

    // Drift: an applied file edited; rollback refuses, and the message does not send people there.
    let up = source.join("0003_triggers/up.sql");
    let mut sql = std::fs::read_to_string(&up).unwrap();
    sql.push_str("\n-- edited\n");
    std::fs::write(&up, sql).unwrap();
    let drift = arcdb(
        &pg,
        &dsn,
        &["rollback", "--to", "1", "--yes", "--source", src(&source)],
    );
    assert_eq!(drift.code, 4, "{}", drift.stderr);
    assert!(
        drift.stderr.contains("put the file back as it was applied")
            && !drift.stderr.contains("roll back and re-apply"),
        "{}",
        drift.stderr
    );
}
