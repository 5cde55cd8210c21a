//! `arcdb verify-rls` live probes and declarative cases against throwaway PostgreSQL clusters:
//! a migrated and seeded database passes; each hole, opened in a copy of it, is found by the
//! probe meant for it; the cases of rls-tests/ pass on the sample data, a wrong expectation
//! fails with a clear finding, missing data is skipped; nothing verify-rls does stays.

use crate::support;

use serde_json::Value;
use support::{run, Run, TestCluster};

fn arcdb(pg: &TestCluster, db: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(&pg.dsn(db), args))
}

/// A migrated database with the sample data, named `db`.
fn sample_db(pg: &TestCluster, db: &str) {
    pg.create_db(db);
    let up = arcdb(pg, db, &["up"]);
    assert_eq!(up.code, 0, "arcdb up failed: {}{}", up.stdout, up.stderr);
    let seed = arcdb(pg, db, &["seed"]);
    assert_eq!(
        seed.code, 0,
        "arcdb seed failed: {}{}",
        seed.stdout, seed.stderr
    );
    refresh(pg, db);
}

/// `arcdb refresh`: the seed leaves the analytics unrefreshed, and the tenant tables of 0009
/// (copies of the materialized views) hold the seeded organizations' rows only after it, as a
/// database in service does; the probes then aim at real rows of every organization there too.
fn refresh(pg: &TestCluster, db: &str) {
    let refresh = arcdb(pg, db, &["refresh"]);
    assert_eq!(
        refresh.code, 0,
        "arcdb refresh failed: {}{}",
        refresh.stdout, refresh.stderr
    );
}

/// A copy of `template` (no session may be connected to it).
fn copy_db(pg: &TestCluster, template: &str, db: &str) {
    pg.psql(
        "postgres",
        &format!("CREATE DATABASE {db} TEMPLATE {template}"),
    );
}

fn checks(report: &Value) -> &Vec<Value> {
    report["checks"].as_array().expect("checks array")
}

fn failures<'a>(report: &'a Value, suite: &str) -> Vec<&'a Value> {
    checks(report)
        .iter()
        .filter(|c| c["suite"] == suite && c["outcome"] == "fail")
        .collect()
}

fn describe(checks: &[&Value]) -> String {
    checks
        .iter()
        .map(|c| format!("  {} → {}", c["name"], c["finding"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The probe findings of `report` with this rule whose object mentions `object`.
fn probe_findings<'a>(report: &'a Value, rule: &str, object: &str) -> Vec<&'a Value> {
    failures(report, "probe")
        .into_iter()
        .filter(|c| {
            c["finding"]["rule"] == rule
                && c["finding"]["object"]
                    .as_str()
                    .is_some_and(|o| o.contains(object))
        })
        .collect()
}

/// Row counts of every table of schema public and checksums of the tables a probe writes to
/// hardest (tasks, with its per-organization numbering, and organizations, whose counter the
/// tasks trigger bumps).
fn fingerprint(pg: &TestCluster, db: &str) -> String {
    pg.psql(
        db,
        "SELECT string_agg(format('%s=%s', c.relname,
                    (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text),
                    ' ' ORDER BY c.relname)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r';
         SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM public.tasks t;
         SELECT md5(string_agg(o::text, '|' ORDER BY o.id)) FROM public.organizations o;
         SELECT md5(string_agg(d::text, '|' ORDER BY d.id)) FROM public.desks d;",
    )
}

#[test]
fn a_migrated_and_seeded_database_passes_and_stays_unchanged() {
    let pg = TestCluster::start();
    sample_db(&pg, "arcdesk");
    let before = fingerprint(&pg, "arcdesk");

    let run = arcdb(&pg, "arcdesk", &["verify-rls", "--format", "json"]);
    let report = run.json();
    let probe_fails = failures(&report, "probe");
    let case_fails = failures(&report, "cases");
    assert!(
        probe_fails.is_empty() && case_fails.is_empty(),
        "probes/cases found holes in the shipped schema:\n{}\n{}",
        describe(&probe_fails),
        describe(&case_fails)
    );
    let audit_fails = failures(&report, "audit");
    assert!(
        audit_fails.is_empty(),
        "the audit found holes in the shipped schema:\n{}",
        describe(&audit_fails)
    );
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(report["organizations_probed"], 3);
    assert_eq!(report["sampled"], false);

    // Every kind of probe ran, for every organization, and decided.
    let probes: Vec<&Value> = checks(&report)
        .iter()
        .filter(|c| c["suite"] == "probe")
        .collect();
    for kind in [
        "read",
        "insert-other-org",
        "update-other-org",
        "move-to-other-org",
        "delete-other-org",
        "reference-other-org",
        "unset-setting",
        "empty-setting",
    ] {
        assert!(
            probes.iter().any(|c| c["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("probe {kind} "))),
            "no {kind} probe ran"
        );
    }
    for org in ["Acme Corporation", "Tech Startup Inc", "Healthcare Co"] {
        assert!(
            probes
                .iter()
                .any(|c| c["name"] == format!("probe read public.tasks as {org}").as_str()),
            "tasks was not read as {org}"
        );
    }
    let skipped: Vec<&&Value> = probes
        .iter()
        .filter(|c| c["outcome"] == "skipped")
        .collect();
    assert!(skipped.is_empty(), "undecided probes: {skipped:#?}");
    // The cases of rls-tests/ ran and passed.
    let cases: Vec<&Value> = checks(&report)
        .iter()
        .filter(|c| c["suite"] == "cases")
        .collect();
    assert!(cases.len() >= 20, "too few cases ran: {}", cases.len());
    assert!(cases.iter().all(|c| c["outcome"] == "pass"), "{cases:#?}");
    assert!(cases
        .iter()
        .any(|c| c["name"] == "case sample_tenants.toml: Bob cannot see Charlie"));

    // JUnit: one test case per check, in suites audit / probe / cases.
    let junit = arcdb(&pg, "arcdesk", &["verify-rls", "--format", "junit"]);
    assert_eq!(junit.code, 0, "stderr: {}", junit.stderr);
    let xml = junit.stdout.trim();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.ends_with("</testsuites>"), "{xml}");
    assert_eq!(
        xml.matches("<testcase ").count(),
        checks(&report).len(),
        "one <testcase> per check"
    );
    assert!(!xml.contains("<failure"));
    for suite in ["audit", "probe", "cases"] {
        assert!(
            xml.contains(&format!("<testsuite name=\"{suite}\"")),
            "{suite}"
        );
    }
    assert!(xml.contains("name=\"case sample_tenants.toml: Bob cannot see Charlie\""));
    assert!(xml.contains("name=\"probe reference-other-org public.tasks.tasks_assigned_to_fkey as Acme Corporation\""));

    // The table for people ends with the verdict.
    let table = arcdb(&pg, "arcdesk", &["verify-rls"]);
    assert_eq!(table.code, 0);
    assert!(
        table.stdout.contains("no finding: tenants are isolated"),
        "{}",
        table.stdout
    );

    // Three full runs later, not a row, counter or value has changed.
    assert_eq!(fingerprint(&pg, "arcdesk"), before);
}

#[test]
fn the_probes_find_each_hole() {
    let pg = TestCluster::start();
    sample_db(&pg, "base");
    let holes: &[(&str, &str)] = &[
        // INSERT checks nothing (the permissive FOR ALL policy's WITH CHECK is gone in effect).
        (
            "no_with_check",
            "DROP POLICY workflows_tenant_isolation ON workflows;
             CREATE POLICY w_select ON workflows FOR SELECT TO arcdesk_tenant
                 USING (organization_id = (SELECT current_org_id()));
             CREATE POLICY w_insert ON workflows FOR INSERT TO arcdesk_tenant WITH CHECK (true);
             CREATE POLICY w_update ON workflows FOR UPDATE TO arcdesk_tenant
                 USING (organization_id = (SELECT current_org_id()));
             CREATE POLICY w_delete ON workflows FOR DELETE TO arcdesk_tenant
                 USING (organization_id = (SELECT current_org_id()));",
        ),
        // New rows are not checked: rows can be inserted for, and moved to, another tenant.
        (
            "check_true",
            "ALTER POLICY desks_tenant_isolation ON desks WITH CHECK (true);",
        ),
        // Fail-open on a missing setting.
        (
            "fail_open",
            "ALTER POLICY tasks_tenant_isolation ON tasks
                 USING (current_setting('app.current_org_id', true) IS NULL
                        OR organization_id = (SELECT current_org_id()));",
        ),
        // A bare cast instead of NULLIF(current_setting(…, true), '')::uuid.
        (
            "fail_loud",
            "ALTER POLICY desks_tenant_isolation ON desks
                 USING (organization_id = current_setting('app.current_org_id')::uuid)
                 WITH CHECK (organization_id = current_setting('app.current_org_id')::uuid);",
        ),
        ("rls_off", "ALTER TABLE messages DISABLE ROW LEVEL SECURITY;"),
        // A foreign key without organization_id.
        (
            "fk_plain",
            "ALTER TABLE desks ADD CONSTRAINT desks_id_key UNIQUE (id);
             ALTER TABLE tasks DROP CONSTRAINT tasks_assigned_to_fkey,
                 ADD CONSTRAINT tasks_assigned_to_fkey FOREIGN KEY (assigned_to_id) REFERENCES desks (id);",
        ),
        // An extra permissive UPDATE policy: invisible to SELECT, reachable by UPDATE without WHERE.
        (
            "update_any",
            "CREATE POLICY tasks_update_any ON tasks AS PERMISSIVE FOR UPDATE TO arcdesk_tenant
                 USING (true) WITH CHECK (true);",
        ),
        // An extra permissive DELETE policy that does not scope by organization.
        (
            "delete_cancelled",
            "CREATE POLICY tasks_delete_cancelled ON tasks AS PERMISSIVE FOR DELETE TO arcdesk_tenant
                 USING (status = 'cancelled');",
        ),
    ];
    let mut reports = std::collections::HashMap::new();
    for (db, sql) in holes {
        copy_db(&pg, "base", db);
        pg.psql(db, sql);
        let run = arcdb(&pg, db, &["verify-rls", "--format", "json"]);
        assert_eq!(run.code, 5, "{db}: expected findings\n{}", run.stderr);
        reports.insert(*db, run.json());
    }
    let found = |db: &str, rule: &str, object: &str, min: usize| {
        let report = &reports[db];
        let hits = probe_findings(report, rule, object);
        assert!(
            hits.len() >= min,
            "{db}: expected {min}+ {rule} finding(s) on {object}, got:\n{}",
            describe(&failures(report, "probe"))
        );
        for hit in &hits {
            let finding = &hit["finding"];
            for field in ["message", "fix"] {
                assert!(
                    finding[field].as_str().is_some_and(|s| s.len() > 20),
                    "{db}: {field} missing in {finding}"
                );
            }
            assert!(finding["command"].is_string(), "{finding}");
        }
        hits
    };

    // One finding per organization, naming table, command, what a tenant could do, and the fix.
    let hits = found(
        "no_with_check",
        "probe-cross-org-insert",
        "public.workflows",
        3,
    );
    assert_eq!(hits[0]["finding"]["command"], "INSERT");
    assert!(hits[0]["finding"]["fix"]
        .as_str()
        .unwrap()
        .contains("WITH CHECK"));
    found("check_true", "probe-cross-org-insert", "public.desks", 3);
    found("check_true", "probe-cross-org-move", "public.desks", 3);
    let hits = found("fail_open", "probe-fail-open", "public.tasks", 1);
    assert_eq!(hits[0]["name"], "probe unset-setting public.tasks");
    let hits = found("fail_loud", "probe-fail-loud", "public.desks", 2);
    let names: Vec<&str> = hits.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"probe unset-setting public.desks"),
        "{names:?}"
    );
    assert!(
        names.contains(&"probe empty-setting public.desks"),
        "{names:?}"
    );
    found("rls_off", "probe-cross-org-read", "public.messages", 3);
    found("rls_off", "probe-fail-open", "public.messages", 2);
    let hits = found(
        "fk_plain",
        "probe-cross-org-reference",
        "tasks_assigned_to_fkey",
        3,
    );
    assert!(hits[0]["finding"]["fix"]
        .as_str()
        .unwrap()
        .contains("FOREIGN KEY (organization_id, assigned_to_id)"));
    found("update_any", "probe-cross-org-update", "public.tasks", 1);
    found(
        "delete_cancelled",
        "probe-cross-org-delete",
        "public.tasks",
        1,
    );

    // Each hole is found where it is and nowhere else: the other tables stay clean.
    for (db, table) in [
        ("no_with_check", "public.workflows"),
        ("check_true", "public.desks"),
        ("fail_open", "public.tasks"),
        ("fail_loud", "public.desks"),
        ("rls_off", "public.messages"),
        ("fk_plain", "public.tasks"),
        ("update_any", "public.tasks"),
        ("delete_cancelled", "public.tasks"),
    ] {
        let elsewhere: Vec<&Value> = failures(&reports[db], "probe")
            .into_iter()
            .filter(|c| !c["finding"]["object"].as_str().unwrap().contains(table))
            .collect();
        assert!(
            elsewhere.is_empty(),
            "{db}: findings outside {table}:\n{}",
            describe(&elsewhere)
        );
    }

    // The cases of the guide catch what they are about, too.
    let case_fails = failures(&reports["fk_plain"], "cases");
    assert!(
        case_fails.iter().any(|c| c["name"]
            == "case sample_tenants.toml: Alice cannot attach an Acme task to Tech Startup's desk"),
        "{}",
        describe(&case_fails)
    );
}

#[test]
fn declarative_cases_report_wrong_expectations_and_skip_missing_data() {
    let pg = TestCluster::start();
    sample_db(&pg, "arcdesk");
    pg.create_db("empty");
    let up = arcdb(&pg, "empty", &["up"]);
    assert_eq!(up.code, 0, "{}", up.stderr);

    let dir = pg.root().join("cases");
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    std::fs::write(
        dir.join("sql/count_users.sql"),
        "SELECT count(*) FROM users",
    )
    .unwrap();
    std::fs::write(
        dir.join("mine.toml"),
        r#"
[[case]]
name = "Alice sees two users"
user = "alice@acme.com"
query_file = "sql/count_users.sql"
expect.value = 2

[[case]]
name = "Bob sees Charlie"
description = "a deliberately wrong expectation"
user = "bob@acme.com"
query = "SELECT count(*) FROM users WHERE email = 'charlie@techstartup.io'"
expect.value = 1
fix = "nothing to fix: this case is wrong on purpose"

[[case]]
name = "Charlie cannot write into Acme"
user = "charlie@techstartup.io"
query = "INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model) VALUES ('{{org_of:alice@acme.com}}', 'planted', 'Planted', 'engineer', 'openai', 'gpt-4o')"
expect.error = "42501"

[[case]]
name = "Nobody named Zed"
user = "zed@nowhere.example"
query = "SELECT 1"
expect.rows = 1
"#,
    )
    .unwrap();
    let cases = dir.to_str().unwrap();

    let run = arcdb(
        &pg,
        "arcdesk",
        &["verify-rls", "--cases", cases, "--format", "json"],
    );
    assert_eq!(run.code, 5, "{}", run.stderr);
    let report = run.json();
    let by_name = |name: &str| -> &Value {
        checks(&report)
            .iter()
            .find(|c| c["name"] == format!("case mine.toml: {name}").as_str())
            .unwrap_or_else(|| panic!("no case {name}"))
    };
    assert_eq!(by_name("Alice sees two users")["outcome"], "pass");
    assert_eq!(by_name("Charlie cannot write into Acme")["outcome"], "pass");
    let wrong = by_name("Bob sees Charlie");
    assert_eq!(wrong["outcome"], "fail", "{wrong}");
    let finding = &wrong["finding"];
    assert_eq!(finding["rule"], "case-failed");
    assert_eq!(finding["command"], "SELECT");
    // Named by its real path, not as if it were one of the built-in rls-tests/.
    assert_eq!(
        finding["object"],
        format!(
            "{} case 'Bob sees Charlie'",
            dir.join("mine.toml").display()
        )
        .as_str()
    );
    assert_eq!(
        finding["message"],
        "a deliberately wrong expectation: as bob@acme.com, expected 1, got 0"
    );
    assert_eq!(
        finding["fix"],
        "nothing to fix: this case is wrong on purpose"
    );
    let zed = by_name("Nobody named Zed");
    assert_eq!(zed["outcome"], "skipped");
    assert!(zed["reason"]
        .as_str()
        .unwrap()
        .contains("zed@nowhere.example"));
    // --cases replaces the built-in cases.
    assert!(checks(&report)
        .iter()
        .filter(|c| c["suite"] == "cases")
        .all(|c| c["name"].as_str().unwrap().starts_with("case mine.toml: ")));

    // The table names the failing case and what happened.
    let table = arcdb(&pg, "arcdesk", &["verify-rls", "--cases", cases]);
    assert_eq!(table.code, 5);
    assert!(table.stdout.contains("case-failed"), "{}", table.stdout);
    assert!(
        table.stdout.contains("expected 1, got 0"),
        "{}",
        table.stdout
    );

    // Without the sample data the built-in cases are skipped, not failed, and the probes run
    // as the probe tenants verify-rls makes itself (tests/suite/rls_verdict.rs covers them).
    let run = arcdb(&pg, "empty", &["verify-rls", "--format", "json"]);
    let report = run.json();
    let built_in: Vec<&Value> = checks(&report)
        .iter()
        .filter(|c| c["suite"] == "cases")
        .collect();
    assert!(failures(&report, "cases").is_empty(), "{built_in:#?}");
    let skipped: Vec<&&Value> = built_in
        .iter()
        .filter(|c| c["outcome"] == "skipped")
        .collect();
    // Only the cases that name no tenant (a session without organization sees nothing) can
    // run on an empty database.
    assert!(skipped.len() + 2 >= built_in.len(), "{built_in:#?}");
    for case in skipped {
        assert!(
            case["reason"].as_str().unwrap().contains("arcdb seed"),
            "{case}"
        );
    }
    assert!(failures(&report, "probe").is_empty());
    assert_eq!(report["organizations_probed"], 2);
    assert_eq!(report["probe_tenants"], 2);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // A malformed case file is bad input (exit 2), naming the file.
    std::fs::write(dir.join("broken.toml"), "[[case]]\nname = 1\n").unwrap();
    let run = arcdb(&pg, "arcdesk", &["verify-rls", "--cases", cases]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("broken.toml"), "{}", run.stderr);
}

#[test]
fn organizations_beyond_max_orgs_are_sampled_and_a_non_member_is_told_how_to_grant() {
    let pg = TestCluster::start();
    sample_db(&pg, "arcdesk");

    let run = arcdb(
        &pg,
        "arcdesk",
        &["verify-rls", "--max-orgs", "2", "--format", "json"],
    );
    let report = run.json();
    assert_eq!(report["organizations_probed"], 2);
    assert_eq!(report["sampled"], true);
    assert!(
        report["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("sample of 2 of 3 organizations")),
        "{}",
        report["notes"]
    );
    assert!(failures(&report, "probe").is_empty());
    // The same sample on every run.
    let again = arcdb(
        &pg,
        "arcdesk",
        &["verify-rls", "--max-orgs", "2", "--format", "json"],
    )
    .json();
    let probed = |r: &Value| -> Vec<String> {
        checks(r)
            .iter()
            .filter_map(|c| c["name"].as_str())
            .filter(|n| n.starts_with("probe read public.tasks as "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(probed(&report), probed(&again));
    assert_eq!(probed(&report).len(), 2);

    // A login role that is not a member of the tenant role gets one line saying what to grant.
    pg.psql(
        "arcdesk",
        "CREATE ROLE verifier LOGIN; GRANT pg_read_all_data TO verifier;",
    );
    let mut cmd = pg.arcdb();
    cmd.arg("--dsn")
        .arg(pg.dsn("arcdesk").replace("user=postgres", "user=verifier"))
        .args(["verify-rls"]);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("GRANT arcdesk_tenant TO verifier;"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// Each organization aims its keyed UPDATE and DELETE at the sampled rows of a few neighbours
/// only (at most 3 organizations × 10 sampled rows), not of every other probed one: with 8
/// organizations, a hole that lets any tenant touch other tenants' rows is still found for
/// every one of them, through those keys, and each statement reaches at most 30 rows.
#[test]
fn a_cross_org_write_hole_is_found_for_every_organization_with_bounded_keys() {
    const ORGS: usize = 8;
    /// 3 neighbours × SAMPLE_ROWS (src/rls/probe/mod.rs).
    const MAX_KEYS: u64 = 30;
    let pg = TestCluster::start();
    pg.create_db("many");
    let up = arcdb(&pg, "many", &["up"]);
    assert_eq!(up.code, 0, "arcdb up failed: {}{}", up.stdout, up.stderr);
    let seed = arcdb(
        &pg,
        "many",
        &[
            "seed",
            "--scale",
            "--orgs",
            &ORGS.to_string(),
            "--tasks",
            "400",
        ],
    );
    assert_eq!(seed.code, 0, "{}{}", seed.stdout, seed.stderr);
    refresh(&pg, "many");
    // The test means something only if aiming at every other organization's sampled rows (up
    // to 10 each) would reach more than MAX_KEYS rows for each organization.
    let least_reach: u64 = pg
        .psql(
            "many",
            "WITH c AS (SELECT o.id, least(10, count(q.id)) AS n
                          FROM organizations o LEFT JOIN qa_reviews q ON q.organization_id = o.id
                         GROUP BY o.id)
             SELECT min((SELECT sum(n) FROM c) - n) FROM c",
        )
        .parse()
        .unwrap();
    assert!(least_reach > MAX_KEYS, "too few qa_reviews: {least_reach}");

    // Any tenant may read, change and delete every organization's reviews (only new rows are
    // checked): not specific to any pair of organizations.
    pg.psql(
        "many",
        "CREATE POLICY qa_reviews_leak ON qa_reviews AS PERMISSIVE FOR ALL TO arcdesk_tenant
             USING (true) WITH CHECK (organization_id = (SELECT current_org_id()));",
    );
    let run = arcdb(&pg, "many", &["verify-rls", "--format", "json"]);
    assert_eq!(run.code, 5, "expected findings\n{}", run.stderr);
    let report = run.json();
    assert_eq!(report["organizations_probed"], ORGS);

    // UPDATE and DELETE without WHERE run for one organization per table only: a finding for
    // each of the 8 comes from the keyed statements, i.e. from the neighbours' keys.
    for (rule, kind) in [
        ("probe-cross-org-update", "update-other-org"),
        ("probe-cross-org-delete", "delete-other-org"),
    ] {
        let hits = probe_findings(&report, rule, "public.qa_reviews");
        let keyed: Vec<&&Value> = hits
            .iter()
            .filter(|c| {
                !c["finding"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("without WHERE")
            })
            .collect();
        assert_eq!(
            keyed.len(),
            ORGS,
            "expected a keyed {rule} finding for each organization, got:\n{}",
            describe(&hits)
        );
        let mut names: Vec<&str> = keyed.iter().map(|c| c["name"].as_str().unwrap()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ORGS, "{names:?}");
        assert!(names
            .iter()
            .all(|n| n.starts_with(&format!("probe {kind} public.qa_reviews as "))));
    }
    // Each keyed DELETE reached real rows of other organizations, and at most MAX_KEYS of them.
    for hit in probe_findings(&report, "probe-cross-org-delete", "public.qa_reviews") {
        let risk = hit["finding"]["message"].as_str().unwrap();
        if risk.contains("without WHERE") {
            continue;
        }
        let deleted: u64 = risk
            .rsplit(": ")
            .next()
            .and_then(|s| s.strip_suffix(" rows deleted"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no row count in {risk}"));
        assert!(
            (1..=MAX_KEYS).contains(&deleted),
            "{}: {deleted} rows deleted",
            hit["name"]
        );
    }
    // The other tables stay clean.
    let elsewhere: Vec<&Value> = failures(&report, "probe")
        .into_iter()
        .filter(|c| c["finding"]["object"] != "public.qa_reviews")
        .collect();
    assert!(elsewhere.is_empty(), "{}", describe(&elsewhere));
}
