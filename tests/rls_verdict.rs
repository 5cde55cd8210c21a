//! `arcdb verify-rls` says "isolated" only when every tenant table was audited and probed: on a
//! freshly migrated (empty) database it makes its own probe tenants inside its rolled-back
//! transactions, and finds holes there; what it cannot verify (no tenant table, an unknown
//! schema, --static-only, an empty cases directory, a table no probe row can be made for) is
//! reported as such, with exit 6 (inconclusive) or 2 (bad input), never as a pass.

mod support;

use serde_json::Value;
use support::{run, Run, TestCluster};

fn arcdb(pg: &TestCluster, db: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(&pg.dsn(db), args))
}

/// A migrated database without data, named `db`.
fn empty_db(pg: &TestCluster, db: &str) {
    pg.create_db(db);
    let up = arcdb(pg, db, &["up"]);
    assert_eq!(up.code, 0, "arcdb up failed: {}{}", up.stdout, up.stderr);
}

fn checks(report: &Value) -> &Vec<Value> {
    report["checks"].as_array().expect("checks array")
}

fn outcome_list(report: &Value, outcome: &str) -> Vec<String> {
    checks(report)
        .iter()
        .filter(|c| c["outcome"] == outcome)
        .map(|c| {
            format!(
                "{} → {}",
                c["name"],
                c.get("reason").or(c.get("finding")).unwrap_or(&Value::Null)
            )
        })
        .collect()
}

fn count_rows(pg: &TestCluster, db: &str) -> String {
    pg.scalar(
        db,
        "SELECT (SELECT count(*) FROM organizations) || '/' || (SELECT count(*) FROM tasks) || '/' || (SELECT count(*) FROM users)",
    )
}

#[test]
fn an_empty_database_is_probed_as_probe_tenants_and_its_holes_are_found() {
    let pg = TestCluster::start();
    empty_db(&pg, "empty");

    let run = arcdb(&pg, "empty", &["verify-rls", "--format", "json"]);
    let report = run.json();
    assert_eq!(
        report["verdict"],
        "isolated",
        "fails: {:#?}\nskipped: {:#?}\ninconclusive: {}",
        outcome_list(&report, "fail"),
        outcome_list(&report, "skipped"),
        report["inconclusive"]
    );
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(report["probe_tenants"], 2);
    assert_eq!(report["organizations_probed"], 2);
    // Every tenant table was read as each probe tenant, with the other's row there to leak.
    for table in [
        "public.tasks",
        "public.messages",
        "public.desks",
        "public.api_keys",
    ] {
        for n in [1, 2] {
            let name = format!("probe read {table} as probe tenant {n}");
            assert!(
                checks(&report)
                    .iter()
                    .any(|c| c["name"] == name.as_str() && c["outcome"] == "pass"),
                "{name} did not pass"
            );
        }
    }
    // The probe tenants were rolled back with everything else.
    assert_eq!(count_rows(&pg, "empty"), "0/0/0");

    // A hole on the empty database: an extra permissive policy that shows every organization.
    pg.psql(
        "empty",
        "CREATE POLICY debug_all ON tasks FOR SELECT TO arcdesk_tenant USING (true);",
    );
    let holed = arcdb(&pg, "empty", &["verify-rls", "--format", "json"]);
    let report = holed.json();
    assert_eq!(holed.code, 5, "stderr: {}", holed.stderr);
    assert!(
        checks(&report)
            .iter()
            .any(|c| c["finding"]["rule"] == "probe-cross-org-read"
                && c["finding"]["object"] == "public.tasks"),
        "the probe tenants did not reveal the leak: {:#?}",
        outcome_list(&report, "fail")
    );
    assert_eq!(count_rows(&pg, "empty"), "0/0/0");
}

#[test]
fn what_was_not_verified_is_never_reported_as_isolation() {
    let pg = TestCluster::start();
    empty_db(&pg, "arcdesk");

    // An unknown schema is bad input: exit 2, one line naming it.
    let unknown = arcdb(&pg, "arcdesk", &["verify-rls", "--schema", "nosuch"]);
    assert_eq!(unknown.code, 2, "{}{}", unknown.stdout, unknown.stderr);
    assert!(
        unknown.stderr.contains("schema nosuch does not exist"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stdout.is_empty());

    // A schema without a tenant table: inconclusive, and the table says why.
    pg.psql("arcdesk", "CREATE SCHEMA empty_schema;");
    let none = arcdb(&pg, "arcdesk", &["verify-rls", "--schema", "empty_schema"]);
    assert_eq!(none.code, 6, "{}{}", none.stdout, none.stderr);
    assert!(none.stdout.contains("INCONCLUSIVE"), "{}", none.stdout);
    assert!(
        none.stdout
            .contains("no tenant table in schema empty_schema"),
        "{}",
        none.stdout
    );
    assert!(
        !none.stdout.contains("tenants are isolated"),
        "{}",
        none.stdout
    );

    // --static-only: the audit passes, isolation is not claimed.
    let audit = arcdb(
        &pg,
        "arcdesk",
        &["verify-rls", "--static-only", "--format", "json"],
    );
    let report = audit.json();
    assert_eq!(audit.code, 6, "{}", audit.stderr);
    assert_eq!(report["verdict"], "inconclusive");
    assert!(report["inconclusive"].to_string().contains("--static-only"));

    // An empty cases directory: the user asked for cases and none ran.
    let dir = pg.root().join("no-cases");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = arcdb(
        &pg,
        "arcdesk",
        &[
            "verify-rls",
            "--cases",
            dir.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let report = cases.json();
    assert_eq!(cases.code, 6, "{}", cases.stderr);
    assert!(
        report["inconclusive"].to_string().contains("holds no case"),
        "{}",
        report["inconclusive"]
    );

    // A table no probe row can be made for (a CHECK nothing generic satisfies): its probes are
    // skipped, the run says which table and why, and exits 6.
    pg.psql(
        "arcdesk",
        "ALTER TABLE workflows ADD COLUMN magic text NOT NULL CHECK (magic = md5('x'));",
    );
    let stuck = arcdb(&pg, "arcdesk", &["verify-rls", "--format", "json"]);
    let report = stuck.json();
    assert_eq!(stuck.code, 6, "{}", stuck.stderr);
    let why = report["inconclusive"].to_string();
    assert!(
        why.contains("public.workflows") && why.contains("magic"),
        "{why}"
    );
}
