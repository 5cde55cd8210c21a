//! `arcdb adopt` and the catalog it is built on, against real clusters holding the deployed
//! ArcDesk database (../shared/fixtures/arcdesk-001, loaded as its README says).

mod support;

use std::path::PathBuf;
use std::time::Duration;
use support::TestCluster;

/// `<repo>/../shared/fixtures/arcdesk-001` (CI has shared/ beside the clone); from a git
/// worktree nested deeper, the nearest ancestor holding `shared/`; `ARCDB_SHARED_DIR` overrides.
fn fixture_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates: Vec<PathBuf> = std::env::var_os("ARCDB_SHARED_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(manifest.ancestors().skip(1).map(|a| a.join("shared")))
        .collect();
    candidates
        .iter()
        .map(|shared| shared.join("fixtures").join("arcdesk-001"))
        .find(|dir| dir.join("schema.sql").is_file())
        .unwrap_or_else(|| {
            panic!(
                "the deployed ArcDesk fixture is expected in shared/fixtures/arcdesk-001 beside the repository (looked in {candidates:?}); set ARCDB_SHARED_DIR"
            )
        })
}

fn fixture(file: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(file)).unwrap()
}

/// Database `arcdesk` holding the deployed schema and its sample, loaded as a superuser with
/// psql -1 as the fixture's README says; returns the DSN of its owner `doadmin` (the role the
/// application connects as, and the one that runs adopt).
fn deployed(pg: &TestCluster, sample: bool) -> String {
    pg.create_db("arcdesk");
    pg.psql(
        "arcdesk",
        &format!("BEGIN;\n{}\nCOMMIT;", fixture("schema.sql")),
    );
    if sample {
        pg.psql(
            "arcdesk",
            &format!("BEGIN;\n{}\nCOMMIT;", fixture("sample.sql")),
        );
    }
    format!("{} user=doadmin", pg.dsn("arcdesk"))
}

fn session(rt: &tokio::runtime::Runtime, dsn: &str) -> arcdb::db::Db {
    let dsn = arcdb::db::Dsn::parse(dsn).unwrap();
    rt.block_on(arcdb::db::connect(&dsn, Duration::from_secs(10)))
        .expect("test session connects")
}

#[test]
fn embedded_001_is_the_shared_fixture() {
    let embedded = include_str!("../adopt/001_multi_tenant.sql");
    let (_, body) = embedded
        .split_once("-- arcdb: end of header\n")
        .expect("header marker");
    assert_eq!(
        body,
        fixture("schema.sql"),
        "adopt/001_multi_tenant.sql is no longer a copy of the shared fixture: copy it again"
    );
}

#[test]
fn catalog_of_the_deployed_database_equals_the_fixture_built_in_a_scratch_database() {
    let pg = TestCluster::start();
    let dsn = deployed(&pg, true);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = session(&rt, &dsn);
    let actual = rt
        .block_on(arcdb::catalog::read(&db.client, &["public"]))
        .unwrap();
    assert_eq!(actual.tables.len(), 15, "14 tables and alembic_version");
    assert!(actual
        .indexes
        .iter()
        .any(|i| i.name == "public.idx_task_org"));
    assert_eq!(actual.policies.len(), 14);
    let expected = rt
        .block_on(arcdb::catalog::scratch::from_sql(
            &db,
            "the fixture",
            &fixture("schema.sql"),
            &["public"],
        ))
        .unwrap();
    let differences = arcdb::catalog::diff(&expected, &actual);
    assert!(differences.is_empty(), "{differences:#?}");
    // The scratch database is gone and its roles were never committed.
    assert_eq!(
        pg.scalar(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'arcdb_scratch%'"
        ),
        "0"
    );

    // A change by hand is one difference, named.
    pg.psql("arcdesk", "ALTER TABLE tasks ALTER COLUMN current_stage TYPE text; CREATE INDEX extra_idx ON tasks (title);");
    let actual = rt
        .block_on(arcdb::catalog::read(&db.client, &["public"]))
        .unwrap();
    let differences = arcdb::catalog::diff(&expected, &actual);
    let lines: Vec<String> = differences.iter().map(|d| d.to_string()).collect();
    assert!(
        lines.contains(
            &"column public.tasks.current_stage: type is text (expected character varying(100))"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"index public.extra_idx is not expected".to_string()),
        "{lines:#?}"
    );
    assert_eq!(lines.len(), 2, "{lines:#?}");
}
