//! `arcdb adopt` and the catalog it is built on, against real clusters holding the deployed
//! ArcDesk database (../shared/fixtures/arcdesk-001, loaded as its README says).

use crate::support;

use std::path::PathBuf;
use std::time::Duration;
use support::{run, TestCluster};

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
    let embedded = include_str!("../../adopt/001_multi_tenant.sql");
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

// ---------------------------------------------------------------------------------------------
// adopt
// ---------------------------------------------------------------------------------------------

/// `arcdb … adopt <args>`.
fn adopt_cmd(pg: &TestCluster, dsn: &str, args: &[&str]) -> std::process::Command {
    let mut all = vec!["adopt"];
    all.extend_from_slice(args);
    pg.arcdb_at(dsn, &all)
}

/// The deployed database as a DBA prepares it for adopt: doadmin may create schemas in it
/// (README), and the sample rows arcdb's CHECK constraints reject are corrected as the dry run
/// lists them (sessions completed "before" they started: the sample leaves started_at at its
/// default, now(); a data source of type 'file', which arcdb calls 'file_upload'). On
/// PostgreSQL 14 PUBLIC may still CREATE in schema public (the default until 15), which only
/// its owner can revoke: the DBA does (README step 1), or verify-rls reports it after adopt.
fn prepared(pg: &TestCluster) -> String {
    let dsn = deployed(pg, true);
    pg.psql(
        "arcdesk",
        "GRANT CREATE ON DATABASE arcdesk TO doadmin;
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         UPDATE agent_sessions SET started_at = completed_at - interval '1 hour' WHERE completed_at < started_at;
         UPDATE data_sources SET source_type = 'file_upload' WHERE source_type = 'file';",
    );
    dsn
}

/// The organization of a row of each deployed table, as SQL valid before and after adopt.
const TABLE_ORGS: [(&str, &str); 14] = [
    ("organizations", "t.id"),
    ("users", "t.organization_id"),
    ("desks", "t.organization_id"),
    ("workflows", "t.organization_id"),
    ("tasks", "t.organization_id"),
    ("agent_sessions", "(SELECT d.organization_id FROM desks d WHERE d.id = t.desk_id)"),
    ("messages", "(SELECT d.organization_id FROM agent_sessions s JOIN desks d ON d.id = s.desk_id WHERE s.id = t.session_id)"),
    ("qa_reviews", "(SELECT x.organization_id FROM tasks x WHERE x.id = t.task_id)"),
    ("delegations", "(SELECT x.organization_id FROM tasks x WHERE x.id = t.task_id)"),
    ("knowledge_bases", "t.organization_id"),
    ("data_sources", "(SELECT k.organization_id FROM knowledge_bases k WHERE k.id = t.knowledge_base_id)"),
    ("cost_tracking", "t.organization_id"),
    ("audit_logs", "t.organization_id"),
    ("api_keys", "t.organization_id"),
];

/// Per table and organization: row count and an md5 of the deployed columns of every row
/// (their text, in column order, rows ordered by id).
fn row_checksums(pg: &TestCluster, deployed_columns: &[(String, Vec<String>)]) -> String {
    let mut out = String::new();
    for (table, org) in TABLE_ORGS {
        let cols = &deployed_columns.iter().find(|(t, _)| t == table).unwrap().1;
        let row = cols
            .iter()
            // arcdb stores ip_address as inet, whose text has a /32 the deployed varchar had
            // not: compared as the address.
            // arcdb's trigger writes desks' paths in its own form (ids, not desk slugs): the
            // report names the column; its level is compared.
            .filter(|c| !(table == "desks" && c.as_str() == "hierarchy_path"))
            .map(|c| match c.as_str() {
                "ip_address" => format!("coalesce(abbrev(t.{c}::inet), '∅')"),
                _ => format!("coalesce(t.{c}::text, '∅')"),
            })
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        out.push_str(&pg.psql(
            "arcdesk",
            &format!(
                "SELECT '{table} ' || coalesce(o::text, 'none') || ' ' || count(*) || ' ' || md5(string_agg({row}, E'\\n' ORDER BY t.id))
                   FROM (SELECT t.*, {org} AS o FROM {table} t) t GROUP BY o ORDER BY o;"
            ),
        ));
        out.push('\n');
    }
    out
}

fn deployed_columns(pg: &TestCluster) -> Vec<(String, Vec<String>)> {
    TABLE_ORGS
        .iter()
        .map(|(t, _)| {
            let cols = pg.psql(
                "arcdesk",
                &format!(
                    "SELECT attname FROM pg_attribute WHERE attrelid = 'public.{t}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;"
                ),
            );
            (t.to_string(), cols.lines().map(str::to_string).collect())
        })
        .collect()
}

/// Everything of database arcdesk a failed adopt must leave as it was: the whole dump (schema
/// and data), the catalog listing of support::user_objects, and the tenant role's members.
fn snapshot(pg: &TestCluster) -> String {
    let output = std::process::Command::new(pg.bins().tool("pg_dump"))
        .arg("-d")
        .arg(pg.dsn("arcdesk"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dump: String = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| {
            !(l.starts_with("-- Dumped")
                || l.starts_with("\\restrict")
                || l.starts_with("\\unrestrict"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "{dump}\n{}\nmembers: {}",
        pg.user_objects("arcdesk"),
        pg.psql(
            "arcdesk",
            "SELECT coalesce(string_agg(m.rolname || ' in ' || g.rolname, ', ' ORDER BY 1), '') FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid WHERE g.rolname NOT LIKE 'pg\\_%';"
        )
    )
}

/// A pg_dump --schema-only split into its sections ("-- Name: …; Type: …"), without those that
/// name one of `skip`, and without the lines naming one of `skip_lines`.
fn dump_sections(dump: &str, skip: &[&str], skip_lines: &[&str]) -> Vec<String> {
    dump.split("\n--\n-- Name: ")
        .filter(|s| {
            !skip
                .iter()
                .any(|k| s.lines().next().unwrap_or("").contains(k))
        })
        .map(|s| {
            s.lines()
                .filter(|l| !skip_lines.iter().any(|k| l.contains(k)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[test]
fn adopt_keeps_every_row_and_the_schema_equals_a_fresh_up() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg);
    // Added by hand: an index and a column, both kept.
    pg.psql(
        "arcdesk",
        "CREATE INDEX ops_task_title_idx ON tasks (title);
         ALTER TABLE tasks ADD COLUMN ops_note text DEFAULT 'n/a';",
    );
    let columns = deployed_columns(&pg);
    let before = row_checksums(&pg, &columns);
    let max_numbers = pg.psql(
        "arcdesk",
        "SELECT organization_id || ' ' || max(task_number) FROM tasks GROUP BY organization_id ORDER BY 1;",
    );

    let dry = run(adopt_cmd(&pg, &dsn, &["--dry-run", "--format", "json"])).ok("adopt --dry-run");
    let plan = dry.json();
    assert_eq!(plan["recognized"], true, "{}", dry.stdout);
    assert!(plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["step"] == "copy"
            && s["sql"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q.as_str().unwrap().contains("INSERT INTO public.tasks ("))));
    assert_eq!(
        before,
        row_checksums(&pg, &columns),
        "the dry run changed rows"
    );

    let adopted = run(adopt_cmd(&pg, &dsn, &["--format", "json"])).ok("adopt");
    let report = adopted.json();
    assert_eq!(report["dry_run"], false);
    assert_eq!(
        report["to_version"].as_u64().unwrap() as u32,
        support::latest_version()
    );
    let kept_columns: Vec<String> = report["recognition"]["kept_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}.{}",
                c["table"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kept_columns, ["public.tasks.ops_note"]);
    let kept_indexes: Vec<&str> = report["recognition"]["kept_indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(kept_indexes, ["public.ops_task_title_idx"]);
    assert_eq!(report["application_roles"], serde_json::json!(["app_user"]));
    assert!(
        report["recomputed_columns"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("public.desks.hierarchy_path")),
        "{}",
        report["recomputed_columns"]
    );
    assert!(
        adopted.stderr.contains("adopt: step copy done"),
        "{}",
        adopted.stderr
    );
    assert!(
        adopted
            .stderr
            .lines()
            .last()
            .unwrap()
            .contains("adopt: done"),
        "{}",
        adopted.stderr
    );

    // Every row, per organization, with the same values.
    assert_eq!(before, row_checksums(&pg, &columns));
    // The organization the five tables did not have is their parent's.
    for (table, org) in TABLE_ORGS.iter().filter(|(t, _)| *t != "organizations") {
        assert_eq!(
            pg.scalar("arcdesk", &format!("SELECT count(*) FROM {table} t WHERE t.organization_id IS DISTINCT FROM {org};")),
            "0",
            "{table}"
        );
    }
    // Numbers the deployed schema did not have follow the rows' creation order, as the
    // application inserted them: messages per session, QA iterations per task and stage.
    for (table, within) in [
        ("messages", "session_id"),
        ("qa_reviews", "task_id, stage_name"),
    ] {
        let column = if table == "messages" {
            "sequence_number"
        } else {
            "iteration"
        };
        assert_eq!(
            pg.scalar("arcdesk", &format!(
                "SELECT count(*) FROM (SELECT {column} AS n, row_number() OVER (PARTITION BY {within} ORDER BY created_at, id) AS expected FROM {table}) q WHERE n <> expected;"
            )),
            "0",
            "{table}.{column}"
        );
    }
    assert_ne!(pg.scalar("arcdesk", "SELECT count(*) FROM messages;"), "0");
    // The tenant analytics tables (0009) hold what the refreshed materialized views hold.
    for (table, mv) in [
        ("desk_performance", "desk_performance_mv"),
        ("org_cost_summary", "org_cost_summary_mv"),
        ("mv_desk_performance", "desk_performance_mv"),
        ("mv_org_cost_summary", "org_cost_summary_mv"),
    ] {
        let rows: i64 = pg
            .scalar("arcdesk", &format!("SELECT count(*) FROM {mv};"))
            .parse()
            .unwrap();
        assert!(rows > 0, "{mv} is empty after adopt");
        assert_eq!(
            pg.scalar("arcdesk", &format!("SELECT count(*) FROM {table};")),
            rows.to_string(),
            "{table} after adopt"
        );
    }
    // Task numbers kept; each organization's counter continues from its highest.
    assert_eq!(
        max_numbers,
        pg.psql("arcdesk", "SELECT organization_id || ' ' || max(task_number) FROM tasks GROUP BY organization_id ORDER BY 1;")
    );
    assert_eq!(
        pg.scalar("arcdesk", "SELECT count(*) FROM organizations o WHERE o.last_task_number <> coalesce((SELECT max(task_number) FROM tasks t WHERE t.organization_id = o.id), 0);"),
        "0"
    );
    assert_eq!(
        pg.scalar("arcdesk", "SELECT ops_note FROM tasks LIMIT 1;"),
        "n/a"
    );
    assert_eq!(
        pg.scalar("arcdesk", "SELECT version_num FROM alembic_version;"),
        "001_multi_tenant"
    );
    assert_eq!(
        pg.scalar(
            "arcdesk",
            "SELECT pg_has_role('app_user', 'arcdesk_tenant', 'MEMBER');"
        ),
        "t"
    );
    assert_eq!(
        pg.scalar(
            "arcdesk",
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'arcdb_adopt_old';"
        ),
        "0"
    );
    // app_user, as a tenant of Acme, reads Acme's tasks only.
    assert_eq!(
        pg.scalar(
            "arcdesk",
            "BEGIN; SET LOCAL ROLE app_user; SELECT set_config('app.current_org_id', '11111111-1111-1111-1111-111111111111', true);
             SELECT count(*) || ' of ' || (SELECT count(DISTINCT organization_id) FROM tasks) FROM tasks; COMMIT;"
        )
        .lines()
        .last()
        .unwrap(),
        "4 of 1"
    );

    // status: every version applied (history only) …
    run(pg.arcdb_at(&dsn, &["status", "--no-live"])).ok("status after adopt");
    // … and the live check names exactly what adopt kept: the objects added by hand and the
    // deployed roles' grants on schema public (drift, exit 4, until they are migrations).
    let live = run(pg.arcdb_at(&dsn, &["status", "--format", "json"]));
    assert_eq!(live.code, 4, "{}", live.stderr);
    let mut kept: Vec<String> = live.json()["live"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["object_kind"].as_str().unwrap(),
                d["object"].as_str().unwrap()
            )
        })
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "column public.tasks.ops_note",
            "index public.ops_task_title_idx",
            "schema public"
        ]
    );
    // verify-rls: no finding (as a superuser, who may SET ROLE arcdesk_tenant; the built-in
    // cases describe arcdb's own seed, not this sample: one case on the fixture's tenants).
    let no_cases = pg.root().join("fixture-cases");
    std::fs::create_dir_all(&no_cases).unwrap();
    std::fs::write(
        no_cases.join("fixture.toml"),
        "description = \"The fixture's tenants after adopt\"\n\n[[case]]\nname = \"Alice sees only Acme\"\nuser = \"alice@acme.com\"\nquery = \"SELECT name FROM organizations\"\nexpect.value = \"Acme Corporation\"\n",
    )
    .unwrap();
    let mut verify = pg.arcdb_at(&pg.dsn("arcdesk"), &["verify-rls", "--cases"]);
    verify.arg(&no_cases);
    run(verify).ok("verify-rls after adopt");

    // The schema is a fresh `arcdb up`'s, as doadmin, but for what the report named as kept
    // and what adopt leaves as it is (alembic_version, the grants on schema public).
    pg.create_db("fresh");
    pg.psql(
        "fresh",
        "GRANT CREATE ON DATABASE fresh TO doadmin; REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE, CREATE ON SCHEMA public TO doadmin; GRANT USAGE ON SCHEMA public TO app_user;",
    );
    let fresh_dsn = format!("{} user=doadmin", pg.dsn("fresh"));
    run(pg.arcdb_at(&fresh_dsn, &["up"])).ok("fresh up");
    let skip = ["alembic_version", "ops_task_title_idx", "SCHEMA public"];
    let adopted_dump = dump_sections(&pg.pg_dump_app_schema("arcdesk"), &skip, &["ops_note"]);
    let fresh_dump = dump_sections(&pg.pg_dump_app_schema("fresh"), &skip, &[]);
    let only_adopted: Vec<&String> = adopted_dump
        .iter()
        .filter(|s| !fresh_dump.contains(s))
        .collect();
    let only_fresh: Vec<&String> = fresh_dump
        .iter()
        .filter(|s| !adopted_dump.contains(s))
        .collect();
    assert!(
        only_adopted.is_empty() && only_fresh.is_empty(),
        "only after adopt:\n{only_adopted:#?}\nonly after a fresh up:\n{only_fresh:#?}"
    );
    assert_eq!(adopted_dump.len(), fresh_dump.len());
    assert!(
        fresh_dump.len() > 100,
        "the dumps were compared section by section"
    );
}

#[test]
fn an_unknown_difference_is_refused_with_exit_2_and_nothing_touched() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg);
    pg.psql("arcdesk", "ALTER TABLE tasks DROP COLUMN current_stage;");
    let before = snapshot(&pg);
    let refused = run(adopt_cmd(&pg, &dsn, &[]));
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    let line = refused.error_lines().last().unwrap().to_string();
    assert!(line.starts_with("error: "), "{line}");
    assert!(
        line.contains("column public.tasks.current_stage is missing"),
        "{line}"
    );
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(before, snapshot(&pg));

    let dry = run(adopt_cmd(&pg, &dsn, &["--dry-run", "--format", "json"]));
    assert_eq!(dry.code, 2, "{}", dry.stderr);
    let report = dry.json();
    assert_eq!(report["recognized"], false);
    let refused = &report["recognition"]["refused"];
    assert_eq!(refused.as_array().unwrap().len(), 1, "{refused:#}");
    assert_eq!(refused[0]["object"], "public.tasks.current_stage");
    assert_eq!(refused[0]["change"], "missing");
    assert_eq!(before, snapshot(&pg));
}

#[test]
fn dry_run_lists_rows_that_cannot_be_carried_and_a_real_run_refuses_them() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg);
    // An Acme task assigned to a Tech Startup desk (the deployed FK on id alone accepts it), an
    // address that is no address, and a second 'alice' at Acme (arcdb scopes usernames by
    // organization, the deployed schema does not constrain them).
    pg.psql(
        "arcdesk",
        "UPDATE tasks SET assigned_to_id = 'd2000000-0000-0000-0000-000000000001' WHERE id = 'b1000000-0000-0000-0000-000000000003';
         UPDATE audit_logs SET ip_address = 'not-an-ip' WHERE description = 'created launch task';
         UPDATE users SET username = 'alice' WHERE email = 'bob@acme.com';",
    );
    let before = snapshot(&pg);
    let dry = run(adopt_cmd(&pg, &dsn, &["--dry-run", "--format", "json"]));
    assert_eq!(dry.code, 5, "{}\n{}", dry.stdout, dry.stderr);
    let report = dry.json();
    let found: Vec<&serde_json::Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["rows"].as_i64().unwrap() > 0)
        .collect();
    let find = |kind: &str, object: &str| {
        found
            .iter()
            .find(|c| c["kind"] == kind && c["object"].as_str().unwrap().starts_with(object))
            .unwrap_or_else(|| panic!("no {kind} check on {object} found: {found:#?}"))
    };
    let cross = find(
        "cross_organization_reference",
        "public.tasks.assigned_to_id",
    );
    let ip = find("invalid_value", "public.audit_logs.ip_address");
    let dup = find("duplicate_key", "public.users.");
    assert_eq!(found.len(), 3, "{found:#?}");
    // Each query lists the planted row; each fix makes it carriable.
    let listed = pg.psql("arcdesk", &format!("{};", cross["query"].as_str().unwrap()));
    assert!(
        listed.contains("b1000000-0000-0000-0000-000000000003"),
        "{listed}"
    );
    let helper = report["check_helper_sql"]
        .as_str()
        .map(|h| format!("{h};\n"))
        .unwrap_or_default();
    let listed = pg.psql(
        "arcdesk",
        &format!("{helper}{};", ip["query"].as_str().unwrap()),
    );
    assert!(listed.contains("not-an-ip"), "{listed}");
    let listed = pg.psql("arcdesk", &format!("{};", dup["query"].as_str().unwrap()));
    assert!(listed.contains("alice"), "{listed}");

    // The real run refuses, before changing anything.
    let refused = run(adopt_cmd(&pg, &dsn, &[]));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("cannot be carried over"),
        "{}",
        refused.stderr
    );
    assert_eq!(before, snapshot(&pg));

    // The fixes the report gives, then the dry run is clean.
    for fix in [cross, ip, dup] {
        pg.psql(
            "arcdesk",
            &format!("{helper}{};", fix["fix"].as_str().unwrap()),
        );
    }
    run(adopt_cmd(&pg, &dsn, &["--dry-run"])).ok("dry run after the fixes");
}

/// `arcdb adopt` started with `env`, as a child that has not finished.
fn spawn_adopt(pg: &TestCluster, dsn: &str, env: (&str, &str)) -> std::process::Child {
    let mut cmd = adopt_cmd(pg, dsn, &[]);
    cmd.env(env.0, env.1)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().unwrap()
}

/// Read the child's stderr until `line` appears.
fn wait_for_line(child: &mut std::process::Child, line: &str) {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for l in std::io::BufReader::new(stderr).lines() {
        let l = l.unwrap();
        seen.push_str(&l);
        seen.push('\n');
        if l.contains(line) {
            return;
        }
    }
    panic!("adopt ended without saying {line:?}:\n{seen}");
}

/// Until no session of arcdb is left on the server (the killed one's backend rolls back).
fn wait_for_no_arcdb_session(pg: &TestCluster) {
    for _ in 0..100 {
        if pg.scalar(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'arcdb';",
        ) == "0"
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the killed arcdb's session is still there");
}

#[test]
fn a_failure_after_any_step_or_a_sigkill_leaves_the_database_as_it_was() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg);
    let before = snapshot(&pg);
    for step in arcdb::adopt::STEPS.iter().filter(|s| **s != "commit") {
        let mut cmd = adopt_cmd(&pg, &dsn, &[]);
        cmd.env("ARCDB_ADOPT_FAIL_AFTER", step);
        let failed = run(cmd);
        assert_eq!(failed.code, 1, "{step}: {}", failed.stderr);
        assert!(
            failed
                .stderr
                .contains(&format!("failure injected after step {step}")),
            "{step}: {}",
            failed.stderr
        );
        assert_eq!(
            before,
            snapshot(&pg),
            "after a failure injected after {step}"
        );
    }

    // SIGKILL while the copy is done and nothing is committed.
    let mut child = spawn_adopt(&pg, &dsn, ("ARCDB_ADOPT_PAUSE_AFTER", "copy"));
    wait_for_line(&mut child, "paused after step copy");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    wait_for_no_arcdb_session(&pg);
    assert_eq!(before, snapshot(&pg), "after SIGKILL");

    // A server restart while the old objects are dropped and nothing is committed.
    let mut child = spawn_adopt(&pg, &dsn, ("ARCDB_ADOPT_PAUSE_AFTER", "drop_old"));
    wait_for_line(&mut child, "paused after step drop_old");
    pg.restart();
    let _ = child.kill();
    child.wait().unwrap();
    assert_eq!(before, snapshot(&pg), "after a server restart");

    // And then it adopts: no lock or half-made object was left behind.
    run(adopt_cmd(&pg, &dsn, &[])).ok("adopt after the interruptions");
}
