//! The round trip on ONE PostgreSQL server — the one whose binaries `ARCDB_PG_BIN` names (else the
//! ones found by `PgBinaries::discover`): `.ci/majors.sh` runs it once per major.
//!
//! `up` on an empty database → `status` up to date (JSON) → `seed` → `verify-rls` (no finding) →
//! `refresh` → `rollback --to 0 --yes` leaves no user object → `up` again gives the same
//! `pg_dump --schema-only` (schema `arcdb`, arcdb's own history with timestamps, excluded).
//!
//! Every step prints one machine-readable line on stdout (see it with `-- --nocapture`):
//!   `round-trip: server PostgreSQL <version> (<bin dir>)`
//!   `round-trip: step <name>: ok (<ms> ms)` or `round-trip: step <name>: not in this build (…)`
//! `.ci/majors.sh` reads these lines to build its matrix; keep their shape.

use crate::support;

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;
use support::{latest_version, TestCluster};

const DB: &str = "round_trip";

/// What `arcdb` answers for a subcommand that is declared in `cli.rs` but not implemented yet.
const NOT_IN_BUILD: &str = "not available in this build";

/// One finished `arcdb` process.
struct Run {
    args: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "`arcdb {}` exited {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "`arcdb {}` did not print JSON ({err}):\n{}\nstderr:\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }

    fn not_in_build(&self) -> bool {
        self.code != 0 && self.stderr.contains(NOT_IN_BUILD)
    }
}

/// `arcdb --dsn <dsn> <args…>` with stdin closed (so `rollback` cannot ask).
fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    let mut cmd = pg.arcdb();
    cmd.arg("--dsn").arg(dsn).args(args).stdin(Stdio::null());
    let output = cmd
        .output()
        .unwrap_or_else(|err| panic!("could not run arcdb: {err}"));
    Run {
        args: args.join(" "),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Time `body` and print the step's line.
fn step(name: &str, body: impl FnOnce() -> StepOutcome) {
    let started = Instant::now();
    match body() {
        StepOutcome::Ran => println!(
            "round-trip: step {name}: ok ({} ms)",
            started.elapsed().as_millis()
        ),
        StepOutcome::NotInBuild(why) => {
            println!("round-trip: step {name}: not in this build ({why})")
        }
    }
}

enum StepOutcome {
    Ran,
    /// The subcommand exists in `cli.rs` but this build answers that it is not available yet.
    NotInBuild(String),
}

/// Panic with the first differing line when `a` != `b`; both are kept under the cargo target dir
/// (`target/tmp/round_trip/<label>/`).
fn assert_same_text(what: &str, label: &str, a: &str, b: &str) {
    if a == b {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("round_trip")
        .join(label);
    std::fs::create_dir_all(&dir).expect("create the dump directory");
    std::fs::write(dir.join("first.sql"), a).expect("write first.sql");
    std::fs::write(dir.join("second.sql"), b).expect("write second.sql");
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = la
        .iter()
        .zip(&lb)
        .position(|(x, y)| x != y)
        .unwrap_or(la.len().min(lb.len()));
    let context =
        |lines: &[&str]| lines[at.saturating_sub(3)..(at + 4).min(lines.len())].join("\n");
    panic!(
        "{what} differ from line {} on (first: {} lines, second: {} lines; both in {}):\n--- first\n{}\n--- second\n{}",
        at + 1,
        la.len(),
        lb.len(),
        dir.display(),
        context(&la),
        context(&lb)
    );
}

// ---------------------------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------------------------

fn step_up(pg: &TestCluster, dsn: &str, from: u64) {
    let run = arcdb(pg, dsn, &["up", "--format", "json"]);
    let report = run.expect_code(0).json();
    assert_eq!(report["from_version"], from, "{}", run.stdout);
    assert_eq!(report["to_version"], latest_version(), "{}", run.stdout);
}

fn step_status(pg: &TestCluster, dsn: &str) {
    let run = arcdb(pg, dsn, &["status", "--format", "json"]);
    let report = run.expect_code(0).json();
    assert_eq!(
        report["current_version"],
        latest_version(),
        "{}",
        run.stdout
    );
    assert_eq!(report["latest_version"], latest_version(), "{}", run.stdout);
    let migrations = report["migrations"]
        .as_array()
        .unwrap_or_else(|| panic!("status JSON has no migrations array:\n{}", run.stdout));
    assert_eq!(
        migrations.len(),
        latest_version() as usize,
        "{}",
        run.stdout
    );
    for m in migrations {
        assert_eq!(m["state"], "applied", "{m}");
    }
}

/// STEP seed: `arcdb seed` loads the sample organizations (exit 0), and is idempotent.
fn step_seed(pg: &TestCluster, dsn: &str) -> StepOutcome {
    let run = arcdb(pg, dsn, &["seed"]);
    if run.not_in_build() {
        return StepOutcome::NotInBuild(run.stderr.trim().to_string());
    }
    run.expect_code(0);
    let orgs = pg.psql(DB, "SELECT count(*) FROM organizations");
    assert_ne!(orgs.trim(), "0", "seed loaded no organization");
    arcdb(pg, dsn, &["seed"]).expect_code(0);
    assert_eq!(
        pg.psql(DB, "SELECT count(*) FROM organizations"),
        orgs,
        "a second seed changed the number of organizations"
    );
    StepOutcome::Ran
}

/// STEP verify-rls: no finding (exit 0) on the freshly migrated and seeded database.
fn step_verify_rls(pg: &TestCluster, dsn: &str) -> StepOutcome {
    let run = arcdb(pg, dsn, &["verify-rls", "--format", "json"]);
    if run.not_in_build() {
        return StepOutcome::NotInBuild(run.stderr.trim().to_string());
    }
    run.expect_code(0).json();
    StepOutcome::Ran
}

/// STEP refresh: every managed materialized view refreshes (exit 0) and holds data afterwards.
fn step_refresh(pg: &TestCluster, dsn: &str) -> StepOutcome {
    let run = arcdb(pg, dsn, &["refresh"]);
    if run.not_in_build() {
        return StepOutcome::NotInBuild(run.stderr.trim().to_string());
    }
    run.expect_code(0);
    let unpopulated = pg.psql(
        DB,
        "SELECT string_agg(matviewname, ', ') FROM pg_matviews WHERE schemaname = 'public' AND NOT ispopulated",
    );
    assert_eq!(
        unpopulated.trim(),
        "",
        "materialized views still unpopulated after refresh"
    );
    StepOutcome::Ran
}

fn step_rollback(pg: &TestCluster, dsn: &str, empty: &str) {
    let run = arcdb(
        pg,
        dsn,
        &["rollback", "--to", "0", "--yes", "--format", "json"],
    );
    let report = run.expect_code(0).json();
    assert_eq!(report["to_version"], 0, "{}", run.stdout);
    let left = pg.user_objects(DB);
    assert_same_text(
        "the catalog listings before the first up and after rollback --to 0",
        "rollback-catalog",
        empty,
        &left,
    );
    assert_eq!(
        pg.psql(DB, "SELECT count(*) FROM arcdb.schema_history"),
        "0",
        "history records left after rollback --to 0"
    );
    let status = arcdb(pg, dsn, &["status", "--format", "json"]);
    assert_eq!(
        status.code, 3,
        "status after rollback --to 0 must say pending: {}",
        status.stderr
    );
    assert_eq!(status.json()["current_version"], 0);
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

#[test]
fn round_trip_on_one_server() {
    let pg = TestCluster::start();
    let version = pg
        .bins()
        .version()
        .unwrap_or_else(|err| panic!("server version: {err:#}"));
    let dsn = pg.create_db(DB);
    let reported = pg.psql(DB, "SHOW server_version");
    assert!(
        reported.starts_with(&version),
        "the server says {reported}, its binaries {version}"
    );
    println!(
        "round-trip: server PostgreSQL {version} ({})",
        pg.bins().dir().display()
    );
    let empty = pg.user_objects(DB);

    let mut first_dump = String::new();
    step("up", || {
        step_up(&pg, &dsn, 0);
        // The listing that must be empty again after the rollback sees what up made.
        let made = pg.user_objects(DB);
        for expected in [
            "class public.organizations kind=r",
            "extension citext",
            "policy organizations.organizations_tenant_isolation",
            "role arcdesk_tenant",
        ] {
            assert!(
                made.contains(expected),
                "no `{expected}` in the catalog listing after up:\n{made}"
            );
        }
        first_dump = pg.pg_dump_app_schema(DB);
        StepOutcome::Ran
    });
    step("status", || {
        step_status(&pg, &dsn);
        StepOutcome::Ran
    });
    step("seed", || step_seed(&pg, &dsn));
    step("verify-rls", || step_verify_rls(&pg, &dsn));
    step("refresh", || step_refresh(&pg, &dsn));
    step("rollback", || {
        step_rollback(&pg, &dsn, &empty);
        StepOutcome::Ran
    });
    step("up-again", || {
        step_up(&pg, &dsn, 0);
        let second_dump = pg.pg_dump_app_schema(DB);
        assert_same_text(
            "pg_dump --schema-only of the first and second up",
            &version,
            &first_dump,
            &second_dump,
        );
        StepOutcome::Ran
    });
    println!("round-trip: passed on PostgreSQL {version}");
}
