//! `arcdb verify-rls` says "isolated" only when every tenant table was audited and probed: on a
//! freshly migrated (empty) database it makes its own probe tenants inside its rolled-back
//! transactions, and finds holes there; what it cannot verify (no tenant table, an unknown
//! schema, --static-only, an empty cases directory, a table no probe row can be made for) is
//! reported as such, with exit 6 (inconclusive) or 2 (bad input), never as a pass.

use crate::support;

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
    // One fix form: the probe that saw the leak suggests the audit's statement for the policy.
    let fix_of = |rule: &str, object: &str| {
        checks(&report)
            .iter()
            .find(|c| c["finding"]["rule"] == rule && c["finding"]["object"] == object)
            .map(|c| c["finding"]["fix"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {rule} on {object}"))
    };
    let audit_fix = fix_of("policy-unscoped", "policy debug_all on public.tasks");
    assert_eq!(fix_of("probe-cross-org-read", "public.tasks"), audit_fix);
    assert!(
        audit_fix.contains("NULLIF(current_setting('app.current_org_id', true), '')::uuid"),
        "{audit_fix}"
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

    // A schema without a tenant table: inconclusive, and the table says why. (With the
    // default role, ArcDesk's tables in public are then reachable outside the named schemas:
    // findings, and the report still says what it did not verify.)
    pg.psql(
        "arcdesk",
        "CREATE SCHEMA empty_schema; CREATE ROLE quiet_tenant NOLOGIN;",
    );
    let reach = arcdb(&pg, "arcdesk", &["verify-rls", "--schema", "empty_schema"]);
    assert_eq!(reach.code, 5, "{}{}", reach.stdout, reach.stderr);
    assert!(
        reach
            .stdout
            .contains("error[reachable-outside-tenant-schemas] public.tasks"),
        "{}",
        reach.stdout
    );
    assert!(reach
        .stdout
        .contains("no tenant table in schema empty_schema"));
    let none = arcdb(
        &pg,
        "arcdesk",
        &[
            "verify-rls",
            "--schema",
            "empty_schema",
            "--tenant-role",
            "quiet_tenant",
        ],
    );
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

#[test]
fn the_report_fits_the_width_and_a_wrong_setting_is_one_root_cause() {
    let pg = TestCluster::start();
    empty_db(&pg, "arcdesk");
    let seed = arcdb(&pg, "arcdesk", &["seed"]);
    assert_eq!(seed.code, 0, "{}", seed.stderr);
    pg.psql(
        "arcdesk",
        "CREATE POLICY debug_all ON tasks FOR SELECT TO arcdesk_tenant USING (true);",
    );

    // Grouped by table, one line per finding within the width, the fix indented under it,
    // counts per severity at the end, notes on stderr only.
    let mut cmd = pg.arcdb_at(&pg.dsn("arcdesk"), &["verify-rls"]);
    cmd.env("COLUMNS", "80");
    let table = run(cmd);
    assert_eq!(table.code, 5, "{}", table.stderr);
    for line in table.stdout.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line}");
    }
    assert!(
        table.stdout.lines().any(|l| l == "public.tasks"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("  error[probe-cross-org-read] public.tasks"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("\n      fix: "), "{}", table.stdout);
    assert!(table.stdout.contains("error(s),"), "{}", table.stdout);
    assert!(!table.stdout.contains("note:"), "{}", table.stdout);
    assert!(table.stderr.contains("note:"), "{}", table.stderr);

    // A setting no policy reads: one root cause, the rest folded under it, a short report.
    let mut cmd = pg.arcdb_at(
        &pg.dsn("arcdesk"),
        &["verify-rls", "--setting", "app.nosuch"],
    );
    cmd.env("COLUMNS", "100");
    let wrong = run(cmd);
    assert_eq!(wrong.code, 5, "{}", wrong.stderr);
    let first = wrong.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error[setting-unread] setting app.nosuch"),
        "{first}"
    );
    assert!(
        wrong.stdout.contains("--setting app.current_org_id"),
        "{}",
        wrong.stdout
    );
    assert!(
        wrong.stdout.contains("explains the other"),
        "{}",
        wrong.stdout
    );
    assert!(
        wrong.stdout.lines().count() < 20,
        "the root cause should fold the rest:\n{}",
        wrong.stdout
    );
}

#[test]
fn a_missing_tenant_role_is_one_root_cause_and_nothing_runs_as_it() {
    let pg = TestCluster::start();
    empty_db(&pg, "arcdesk");
    let seed = arcdb(&pg, "arcdesk", &["seed"]);
    assert_eq!(seed.code, 0, "{}", seed.stderr);

    let json = arcdb(
        &pg,
        "arcdesk",
        &["verify-rls", "--tenant-role", "nosuch", "--format", "json"],
    );
    assert_eq!(json.code, 5, "{}{}", json.stdout, json.stderr);
    let report = json.json();
    assert_eq!(report["verdict"], "findings");
    let errors: Vec<&Value> = checks(&report)
        .iter()
        .filter(|c| c["finding"]["severity"] == "error")
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "one root cause expected: {:#?}",
        outcome_list(&report, "fail")
    );
    let root = &errors[0]["finding"];
    assert_eq!(root["rule"], "tenant-role-missing");
    assert_eq!(root["object"], "role nosuch");
    assert!(root["message"].as_str().unwrap().contains("nosuch"));
    // The probes and cases did not run as a role that does not exist, and say why.
    for suite in ["probe", "cases"] {
        let skipped: Vec<&Value> = checks(&report)
            .iter()
            .filter(|c| c["suite"] == suite)
            .collect();
        assert_eq!(skipped.len(), 1, "{suite}: {skipped:#?}");
        assert_eq!(skipped[0]["outcome"], "skipped");
        assert!(
            skipped[0]["reason"]
                .as_str()
                .unwrap()
                .contains("tenant role nosuch does not exist"),
            "{}",
            skipped[0]["reason"]
        );
    }

    let mut cmd = pg.arcdb_at(
        &pg.dsn("arcdesk"),
        &["verify-rls", "--tenant-role", "nosuch"],
    );
    cmd.env("COLUMNS", "100");
    let table = run(cmd);
    assert_eq!(table.code, 5, "{}", table.stderr);
    assert!(
        table
            .stdout
            .starts_with("error[tenant-role-missing] role nosuch"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.lines().count() < 30,
        "a missing role should be one short report:\n{}",
        table.stdout
    );
}

/// Another tenancy model's names: tenant column `tenant_id`, root `acct.accounts` keyed by
/// `account_id`, role `app_tenant`, setting `app.tenant`.
const ACCOUNTS_SCHEMA: &str = "
    CREATE ROLE app_tenant NOLOGIN;
    CREATE SCHEMA acct;
    GRANT USAGE ON SCHEMA acct TO app_tenant;
    CREATE TABLE acct.accounts (
        account_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100));
    CREATE TABLE acct.notes (
        tenant_id uuid NOT NULL REFERENCES acct.accounts (account_id),
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        body text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('memo', 'todo')),
        PRIMARY KEY (tenant_id, id));
    ALTER TABLE acct.accounts ENABLE ROW LEVEL SECURITY;
    ALTER TABLE acct.notes ENABLE ROW LEVEL SECURITY;
    CREATE POLICY accounts_own ON acct.accounts TO app_tenant
        USING (account_id = NULLIF(current_setting('app.tenant', true), '')::uuid);
    CREATE POLICY notes_own ON acct.notes TO app_tenant
        USING (tenant_id = NULLIF(current_setting('app.tenant', true), '')::uuid)
        WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant', true), '')::uuid);
    GRANT SELECT ON acct.accounts TO app_tenant;
    GRANT SELECT, INSERT, UPDATE, DELETE ON acct.notes TO app_tenant;";

#[test]
fn another_schemas_names_are_given_by_flags_and_its_holes_are_caught() {
    let pg = TestCluster::start();
    pg.create_db("acct");
    pg.psql("acct", ACCOUNTS_SCHEMA);
    let args = [
        "verify-rls",
        "--schema",
        "acct",
        "--tenant-role",
        "app_tenant",
        "--setting",
        "app.tenant",
        "--tenant-column",
        "tenant_id",
        "--root-table",
        "acct.accounts",
        "--root-key",
        "account_id",
        "--format",
        "json",
    ];
    let ok = arcdb(&pg, "acct", &args);
    let report = ok.json();
    assert_eq!(
        report["verdict"],
        "isolated",
        "fails: {:#?}\nskipped: {:#?}\ninconclusive: {}\nstderr: {}",
        outcome_list(&report, "fail"),
        outcome_list(&report, "skipped"),
        report["inconclusive"],
        ok.stderr
    );
    assert_eq!(ok.code, 0);
    assert_eq!(report["tables"], 2);
    assert_eq!(report["probe_tenants"], 2);
    assert!(checks(&report)
        .iter()
        .any(|c| c["name"] == "probe read acct.notes as probe tenant 1" && c["outcome"] == "pass"));
    assert!(checks(&report)
        .iter()
        .any(|c| c["name"] == "cases (built-in)" && c["by_design"] == true));

    // The same names from [verify_rls] in arcdb.toml instead of flags.
    let config = pg.root().join("arcdb.toml");
    std::fs::write(
        &config,
        "[verify_rls]\ntenant_role = \"app_tenant\"\nsetting = \"app.tenant\"\nschemas = [\"acct\"]\ntenant_column = \"tenant_id\"\nroot_table = \"acct.accounts\"\nroot_key = \"account_id\"\n",
    )
    .unwrap();
    let from_file = arcdb(
        &pg,
        "acct",
        &[
            "--config",
            config.to_str().unwrap(),
            "verify-rls",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        from_file.code, 0,
        "{}{}",
        from_file.stdout, from_file.stderr
    );
    assert_eq!(from_file.json()["tenant_role"], "app_tenant");

    // Holes of notes/rls.md in this model: an extra permissive policy; no WITH CHECK.
    pg.psql(
        "acct",
        "CREATE POLICY debug_all ON acct.notes FOR SELECT TO app_tenant USING (true);",
    );
    let holed = arcdb(&pg, "acct", &args);
    let report = holed.json();
    assert_eq!(holed.code, 5, "{}", holed.stderr);
    let rules: Vec<String> = checks(&report)
        .iter()
        .filter(|c| {
            c["finding"]["object"]
                .as_str()
                .unwrap_or("")
                .contains("acct.notes")
        })
        .map(|c| c["finding"]["rule"].as_str().unwrap().to_string())
        .collect();
    assert!(
        rules.iter().any(|r| r == "probe-cross-org-read"),
        "{rules:?}"
    );
    assert!(rules.iter().any(|r| r == "policy-unscoped"), "{rules:?}");
    pg.psql(
        "acct",
        "DROP POLICY debug_all ON acct.notes;
         ALTER POLICY notes_own ON acct.notes WITH CHECK (true);",
    );
    let report = arcdb(&pg, "acct", &args).json();
    assert!(
        checks(&report)
            .iter()
            .any(|c| c["finding"]["rule"] == "probe-cross-org-insert"
                && c["finding"]["object"] == "acct.notes"),
        "{:#?}",
        outcome_list(&report, "fail")
    );
}

#[test]
fn a_read_only_connection_says_so_once_and_is_not_a_pass() {
    let pg = TestCluster::start();
    empty_db(&pg, "arcdesk");
    let seed = arcdb(&pg, "arcdesk", &["seed"]);
    assert_eq!(seed.code, 0, "{}", seed.stderr);
    pg.psql(
        "postgres",
        "ALTER DATABASE arcdesk SET default_transaction_read_only = on;",
    );
    let run = arcdb(&pg, "arcdesk", &["verify-rls", "--format", "json"]);
    let report = run.json();
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        outcome_list(&report, "fail").is_empty(),
        "nothing fails for being read-only: {:#?}",
        outcome_list(&report, "fail")
    );
    // The reads ran; the writes say why not; the note is one line on stderr.
    assert!(checks(&report).iter().any(|c| c["name"]
        == "probe read public.tasks as Acme Corporation"
        && c["outcome"] == "pass"));
    assert!(report["inconclusive"].to_string().contains("read-only"));
    assert_eq!(run.stderr.matches("read-only").count(), 1, "{}", run.stderr);
}
