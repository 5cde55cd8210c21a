//! refinery's databases and applications, with refinery's own runner (the `refinery` crate's
//! tokio-postgres driver): what `arcdb export --layout refinery` writes is what refinery loads
//! and applies, and `arcdb adopt --from refinery` takes such a database over, checking each
//! applied row's checksum with refinery's algorithm and the live schema.

use crate::support;

use std::path::Path;
use support::{latest_version, run, Run, TestCluster};

fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(dsn, args))
}

/// Apply the refinery files in `dir` to `dsn` with refinery's runner; the versions it applied.
fn refinery_migrate(dsn: &str, dir: &Path) -> Vec<u32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (mut client, connection) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
            .await
            .expect("connect for refinery");
        tokio::spawn(connection);
        let migrations = refinery::load_sql_migrations(dir).expect("refinery loads the export");
        let report = refinery::Runner::new(&migrations)
            .run_async(&mut client)
            .await
            .expect("refinery applies the export");
        report
            .applied_migrations()
            .iter()
            .map(|m| m.version())
            .collect()
    })
}

fn export(pg: &TestCluster, dir: &Path) -> Run {
    let mut cmd = pg.arcdb();
    cmd.args(["export", "--layout", "refinery", "--format", "json"])
        .arg(dir);
    run(cmd)
}

#[test]
fn refinery_applies_the_export_and_arcdb_adopts_the_database() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("app");
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("migrations");

    let exported = export(&pg, &files).ok("export");
    let report = exported.json();
    assert_eq!(
        report["files"].as_array().unwrap().len() as u32,
        latest_version()
    );
    assert_eq!(report["files"][1]["file"], "V2__core_schema.sql");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("down scripts") && warnings.contains("up.cockroachdb.sql"),
        "{warnings}"
    );
    let table = export(&pg, &files).ok("repeated export");
    assert!(table.stdout.contains("\"unchanged\""), "{}", table.stdout);

    let applied = refinery_migrate(&dsn, &files);
    assert_eq!(applied, (1..=latest_version()).collect::<Vec<_>>());

    // arcdb does not know this database yet.
    let status = arcdb(&pg, &dsn, &["status", "--format", "json"]);
    assert_eq!(status.code, 3, "{}", status.stdout);

    let dry = arcdb(&pg, &dsn, &["adopt", "--from", "refinery", "--dry-run"]).ok("adopt --dry-run");
    assert!(dry.stdout.contains("would record"), "{}", dry.stdout);
    assert_eq!(
        pg.scalar("app", "SELECT to_regclass('arcdb.schema_history') IS NULL"),
        "t"
    );

    let adopted = arcdb(
        &pg,
        &dsn,
        &["adopt", "--from", "refinery", "--format", "json"],
    )
    .ok("adopt");
    assert_eq!(adopted.json()["adopted"], true);
    assert_eq!(
        pg.scalar("app", "SELECT count(*) FROM arcdb.schema_history"),
        latest_version().to_string()
    );
    // refinery's table stays (not drift), and its runner still has nothing to do.
    assert_eq!(
        pg.scalar("app", "SELECT count(*) FROM refinery_schema_history"),
        latest_version().to_string()
    );
    let status = arcdb(&pg, &dsn, &["status", "--format", "json"]).ok("status after adopt");
    assert_eq!(status.json()["live"]["differences"], serde_json::json!([]));
    assert!(refinery_migrate(&dsn, &files).is_empty());

    let again = arcdb(&pg, &dsn, &["adopt", "--from", "refinery"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("already has arcdb history"),
        "{}",
        again.stderr
    );
}

#[test]
fn adopt_from_refinery_refuses_other_files_and_another_schema_touching_nothing() {
    let pg = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("migrations");
    export(&pg, &files).ok("export");

    // A file refinery ran that is not arcdb's (edited after the export).
    let dsn = pg.create_db("edited");
    let v3 = files.join("V3__triggers.sql");
    let original = std::fs::read_to_string(&v3).unwrap();
    let edited_dir = dir.path().join("edited");
    std::fs::create_dir(&edited_dir).unwrap();
    for entry in std::fs::read_dir(&files).unwrap().flatten() {
        std::fs::copy(entry.path(), edited_dir.join(entry.file_name())).unwrap();
    }
    std::fs::write(
        edited_dir.join("V3__triggers.sql"),
        format!("-- ours\n{original}"),
    )
    .unwrap();
    refinery_migrate(&dsn, &edited_dir);
    let refused = arcdb(
        &pg,
        &dsn,
        &["adopt", "--from", "refinery", "--format", "json"],
    );
    assert_eq!(refused.code, 4, "{}\n{}", refused.stdout, refused.stderr);
    let rows = refused.json()["rows"].as_array().unwrap().clone();
    let bad: Vec<&serde_json::Value> = rows.iter().filter(|r| r.get("problem").is_some()).collect();
    assert_eq!(bad.len(), 1, "{rows:?}");
    assert_eq!(bad[0]["version"], 3);
    assert!(bad[0]["problem"]
        .as_str()
        .unwrap()
        .contains("checksum differs"));
    assert_eq!(
        pg.scalar("edited", "SELECT to_regnamespace('arcdb') IS NULL"),
        "t"
    );

    // arcdb's files, but the schema was changed by hand afterwards.
    let dsn = pg.create_db("changed");
    refinery_migrate(&dsn, &files);
    pg.psql("changed", "DROP INDEX tasks_org_assigned_open_idx;");
    let refused = arcdb(&pg, &dsn, &["adopt", "--from", "refinery"]);
    assert_eq!(refused.code, 4, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stdout.contains("tasks_org_assigned_open_idx"),
        "{}",
        refused.stdout
    );
    assert_eq!(
        pg.scalar("changed", "SELECT to_regnamespace('arcdb') IS NULL"),
        "t"
    );

    // Not a refinery database at all.
    let dsn = pg.create_db("empty");
    let refused = arcdb(&pg, &dsn, &["adopt", "--from", "refinery"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("no table refinery_schema_history"),
        "{}",
        refused.stderr
    );

    // Export never writes into a directory with other files.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    let refused = export(&pg, &other);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);
}
