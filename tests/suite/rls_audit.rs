//! The static audit of `verify-rls` against real PostgreSQL: each test migrates a throwaway
//! database with `arcdb up`, opens one class of hole (the way a careless migration or DBA
//! would), runs `arcdb verify-rls --static-only --format json` and asserts the finding that names
//! it (rule + object) and the exit code. A freshly migrated database has no finding.

use crate::support;

use serde::Deserialize;
use support::TestCluster;

const DB: &str = "arcdesk";

/// A cluster with `arcdesk` migrated by the binary under test.
fn migrated() -> TestCluster {
    let pg = TestCluster::start();
    let dsn = pg.create_db(DB);
    let out = pg
        .arcdb()
        .args(["--dsn", &dsn, "up"])
        .output()
        .expect("arcdb runs");
    assert!(
        out.status.success(),
        "arcdb up failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    pg
}

/// The parts of `verify-rls --format json` these tests read.
#[derive(Debug, Deserialize)]
struct RlsReport {
    /// Exit code of the run (0: no finding, 5: findings).
    #[serde(skip)]
    code: i32,
    tables: usize,
    checks: Vec<Check>,
    notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Check {
    suite: String,
    name: String,
    outcome: String,
    finding: Option<Finding>,
}

#[derive(Debug, Clone, Deserialize)]
struct Finding {
    rule: String,
    object: String,
    command: Option<String>,
    severity: String,
    message: String,
    fix: String,
}

impl RlsReport {
    fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.checks.iter().filter_map(|c| c.finding.as_ref())
    }
}

/// `arcdb verify-rls --static-only --format json` on `db` (the catalog audit only).
fn audit(pg: &TestCluster, db: &str) -> RlsReport {
    let out = pg
        .arcdb()
        .args([
            "--dsn",
            &pg.dsn(db),
            "verify-rls",
            "--static-only",
            "--format",
            "json",
        ])
        .output()
        .expect("arcdb runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut report: RlsReport = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "verify-rls did not print a JSON report ({e}):\n{stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report.code = out.status.code().unwrap_or(-1);
    assert!(
        report.checks.iter().all(|c| c.suite == "audit"),
        "--static-only runs the audit only"
    );
    // --static-only never claims isolation: no finding is 6 (inconclusive: nothing probed).
    let expected = if report.findings().any(|f| f.severity == "error") {
        5
    } else {
        6
    };
    assert_eq!(report.code, expected, "exit code follows the findings");
    report
}

fn findings(report: &RlsReport) -> Vec<&Finding> {
    report.findings().collect()
}

fn listing(report: &RlsReport) -> String {
    report
        .findings()
        .map(|f| {
            format!(
                "  {} | {} | {} | {}\n",
                f.rule,
                f.object,
                f.command.as_deref().unwrap_or("-"),
                f.message
            )
        })
        .collect()
}

/// Open a hole with `sql` (as the superuser) and return the finding `rule` on `object`.
fn hole(sql: &str, rule: &str, object: &str) -> Finding {
    let pg = migrated();
    pg.psql(DB, sql);
    let report = audit(&pg, DB);
    expect(&report, rule, object)
}

fn expect(report: &RlsReport, rule: &str, object: &str) -> Finding {
    report
        .findings()
        .find(|f| f.rule == rule && f.object == object)
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "expected finding {rule} on {object}; the audit found:\n{}",
                listing(report)
            )
        })
}

/// No finding at all.
fn assert_clean(report: &RlsReport) {
    assert!(
        report.findings().next().is_none(),
        "expected no finding; the audit found:\n{}",
        listing(report)
    );
}

#[test]
fn freshly_migrated_database_has_no_finding() {
    let pg = migrated();
    let report = audit(&pg, DB);
    assert!(
        findings(&report).is_empty(),
        "a freshly migrated database must pass the audit; found:\n{}",
        listing(&report)
    );
    // Every table of the schema was examined (the 14 of 0002 and the 4 tenant analytics
    // tables of 0009), and the checks say so.
    assert_eq!(report.tables, 18, "tables examined");
    for name in [
        "rls-disabled public.tasks",
        "table-owned-by-tenant public.tasks",
        "policy-unscoped policy tasks_tenant_isolation on public.tasks [SELECT, UPDATE, DELETE]",
        "policy-check-unscoped policy tasks_tenant_isolation on public.tasks [INSERT, UPDATE]",
        "command-without-policy public.organizations [UPDATE]",
        "rls-disabled public.desk_performance",
        "table-owned-by-tenant public.org_cost_summary",
        "matview-readable materialized view public.org_cost_summary_mv [SELECT]",
        "fk-unscoped constraint tasks_assigned_to_fkey on public.tasks",
        "grant-truncate public.tasks [TRUNCATE]",
        "schema-create schema public [CREATE]",
        "role-bypassrls role arcdesk_tenant",
    ] {
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.name == name && c.outcome == "pass"),
            "missing passing check {name}"
        );
    }
    assert!(
        report.checks.iter().any(|c| c
            .name
            .starts_with("unique-unscoped constraint organizations_slug_key")
            && c.name.contains("tagged platform-unique")),
        "the tagged slug key is accepted as platform-unique"
    );
    assert!(report.notes.iter().any(|n| n.contains("SET LOCAL")));
}

#[test]
fn rls_disabled_on_a_table() {
    let f = hole(
        "ALTER TABLE tasks DISABLE ROW LEVEL SECURITY;",
        "rls-disabled",
        "public.tasks",
    );
    assert!(f.fix.contains("ENABLE ROW LEVEL SECURITY"), "{}", f.fix);
}

#[test]
fn new_tenant_table_without_rls() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE TABLE invoices (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                                organization_id uuid NOT NULL REFERENCES organizations (id),
                                amount numeric NOT NULL,
                                UNIQUE (organization_id, id));
         GRANT SELECT, INSERT ON invoices TO arcdesk_tenant;
         CREATE TABLE scratch_notes (id serial PRIMARY KEY, body text);",
    );
    let report = audit(&pg, DB);
    expect(&report, "rls-disabled", "public.invoices");
    // A table without the tenant column (not tagged global) is a finding of its own.
    expect(&report, "rls-disabled", "public.scratch_notes");
    expect(&report, "tenant-column-missing", "public.scratch_notes");
    // Partitions are audited on their own (queried directly they use their own RLS flag).
    pg.psql(
        DB,
        "DROP TABLE invoices, scratch_notes;
         CREATE TABLE events (organization_id uuid NOT NULL, at date NOT NULL, body text)
             PARTITION BY RANGE (at);
         ALTER TABLE events ENABLE ROW LEVEL SECURITY;
         CREATE POLICY events_tenant ON events TO arcdesk_tenant
             USING (organization_id = (SELECT current_org_id()));
         CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         CREATE TABLE codes (code text PRIMARY KEY);
         COMMENT ON TABLE codes IS 'arcdb:global: ISO codes shared by every organization';",
    );
    let report = audit(&pg, DB);
    let f = expect(&report, "rls-disabled", "public.events_2026");
    assert!(f.message.contains("public.events"), "{}", f.message);
    assert!(
        !report.findings().any(|f| f.object == "public.codes"),
        "a table tagged arcdb:global: is exempt:\n{}",
        listing(&report)
    );
    assert_eq!(report.tables, 21);
}

#[test]
fn permissive_using_true_policy() {
    let f = hole(
        "CREATE POLICY debug_all ON tasks USING (true);",
        "policy-unscoped",
        "policy debug_all on public.tasks",
    );
    assert!(f.message.contains("PUBLIC"), "{}", f.message);
    assert!(f.message.contains("every row"), "{}", f.message);
    assert!(
        f.fix.contains("DROP POLICY debug_all ON public.tasks"),
        "{}",
        f.fix
    );
}

#[test]
fn organization_id_is_not_null_policy() {
    let f = hole(
        "CREATE POLICY desks_any ON desks FOR SELECT TO arcdesk_tenant USING (organization_id IS NOT NULL);",
        "policy-unscoped",
        "policy desks_any on public.desks",
    );
    assert!(f.message.contains("IS NOT NULL"), "{}", f.message);
    assert_eq!(f.command.as_deref(), Some("SELECT"));
}

#[test]
fn policy_to_a_group_role_the_tenant_belongs_to() {
    let f = hole(
        "CREATE ROLE support_staff NOLOGIN;
         GRANT support_staff TO arcdesk_tenant;
         CREATE POLICY support_reads_all ON users FOR SELECT TO support_staff USING (true);",
        "policy-group-unscoped",
        "policy support_reads_all on public.users",
    );
    assert!(
        f.message.contains("arcdesk_tenant → support_staff"),
        "{}",
        f.message
    );
}

#[test]
fn policy_for_a_role_the_tenant_is_not_is_not_a_finding() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE ROLE auditor NOLOGIN;
         CREATE POLICY auditor_reads_all ON users FOR SELECT TO auditor USING (true);",
    );
    let report = audit(&pg, DB);
    assert_clean(&report);
}

#[test]
fn insert_policy_without_with_check() {
    // PostgreSQL checks the new rows of an INSERT policy without WITH CHECK against false:
    // fail-closed, but the organization check is missing (and the INSERT is not governed).
    let pg = migrated();
    pg.psql(
        DB,
        "DROP POLICY audit_logs_tenant_isolation ON audit_logs;
         CREATE POLICY audit_logs_read ON audit_logs FOR SELECT TO arcdesk_tenant
             USING (organization_id = (SELECT current_org_id()));
         CREATE POLICY audit_logs_append ON audit_logs FOR INSERT TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    expect(
        &report,
        "policy-check-missing",
        "policy audit_logs_append on public.audit_logs",
    );
    let f = expect(&report, "command-without-policy", "public.audit_logs");
    assert_eq!(f.command.as_deref(), Some("INSERT"));
}

#[test]
fn insert_policy_with_check_true() {
    hole(
        "CREATE POLICY import_any ON tasks FOR INSERT TO arcdesk_tenant WITH CHECK (true);",
        "policy-check-unscoped",
        "policy import_any on public.tasks",
    );
}

#[test]
fn update_policy_without_check_is_judged_by_its_using() {
    // FOR UPDATE without WITH CHECK: PostgreSQL checks new rows with the USING. Scoped USING:
    // fine. Unscoped USING: both the rows it reaches and the rows it writes are open.
    let pg = migrated();
    pg.psql(
        DB,
        "DROP POLICY desks_tenant_isolation ON desks;
         CREATE POLICY desks_rw ON desks FOR ALL TO arcdesk_tenant
             USING (organization_id = (SELECT current_org_id()))
             WITH CHECK (organization_id = (SELECT current_org_id()));
         CREATE POLICY desks_move ON desks FOR UPDATE TO arcdesk_tenant
             USING (organization_id = (SELECT current_org_id()));",
    );
    let report = audit(&pg, DB);
    assert_clean(&report);

    pg.psql(
        DB,
        "ALTER POLICY desks_move ON desks USING (true);
         CREATE POLICY tasks_move ON tasks FOR UPDATE TO arcdesk_tenant
             USING (organization_id = (SELECT current_org_id())) WITH CHECK (true);",
    );
    let report = audit(&pg, DB);
    expect(
        &report,
        "policy-unscoped",
        "policy desks_move on public.desks",
    );
    let f = expect(
        &report,
        "policy-check-unscoped",
        "policy desks_move on public.desks",
    );
    assert!(
        f.message.contains("its USING checks new rows"),
        "{}",
        f.message
    );
    let f = expect(
        &report,
        "policy-check-unscoped",
        "policy tasks_move on public.tasks",
    );
    assert!(f.message.contains("move its rows"), "{}", f.message);
}

#[test]
fn policy_failing_open_on_an_unset_setting() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE POLICY workflows_lenient ON workflows FOR SELECT TO arcdesk_tenant
             USING (current_setting('app.current_org_id', true) IS NULL
                    OR organization_id = current_setting('app.current_org_id', true)::uuid);
         CREATE POLICY tasks_lenient ON tasks FOR SELECT TO arcdesk_tenant
             USING (organization_id = COALESCE(NULLIF(current_setting('app.current_org_id', true), '')::uuid, organization_id));",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "policy-unscoped",
        "policy workflows_lenient on public.workflows",
    );
    assert!(f.message.contains("fails open"), "{}", f.message);
    let f = expect(
        &report,
        "policy-unscoped",
        "policy tasks_lenient on public.tasks",
    );
    assert!(f.message.contains("COALESCE"), "{}", f.message);
}

#[test]
fn helper_that_fails_open() {
    let pg = migrated();
    // Since 0006 the policies read the setting themselves; put the helper back into one (as
    // 0004 had it), then make the helper fail open.
    pg.psql(
        DB,
        "ALTER POLICY tasks_tenant_isolation ON tasks
             USING (organization_id = (SELECT current_org_id()))
             WITH CHECK (organization_id = (SELECT current_org_id()));",
    );
    let sound = audit(&pg, DB);
    assert!(
        sound.checks.iter().any(
            |c| c.name == "org-helper-unsafe function public.current_org_id()"
                && c.outcome == "pass"
        ),
        "the helper a policy calls is examined (and sound as migrated)"
    );
    assert_clean(&sound);
    pg.psql(
        DB,
        "CREATE OR REPLACE FUNCTION current_org_id() RETURNS uuid LANGUAGE sql STABLE
             AS $$ SELECT COALESCE(NULLIF(current_setting('app.current_org_id', true), ''),
                                   '00000000-0000-0000-0000-000000000001')::uuid $$;",
    );
    let report = audit(&pg, DB);
    expect(
        &report,
        "org-helper-unsafe",
        "function public.current_org_id()",
    );
    // Every policy comparing with it is reported.
    expect(
        &report,
        "policy-unscoped",
        "policy tasks_tenant_isolation on public.tasks",
    );
}

#[test]
fn tenant_role_owning_a_table() {
    let pg = migrated();
    pg.psql(DB, "ALTER TABLE knowledge_bases OWNER TO arcdesk_tenant;");
    let report = audit(&pg, DB);
    expect(&report, "table-owned-by-tenant", "public.knowledge_bases");
    expect(&report, "owner-not-forced", "public.knowledge_bases");
    // FORCE closes the bypass but not the ownership (the owner can disable RLS).
    pg.psql(DB, "ALTER TABLE knowledge_bases FORCE ROW LEVEL SECURITY;");
    let report = audit(&pg, DB);
    expect(&report, "table-owned-by-tenant", "public.knowledge_bases");
    assert!(
        !report.findings().any(|f| f.rule == "owner-not-forced"),
        "{}",
        listing(&report)
    );
    // A member of the owner's role counts as the owner.
    pg.psql(
        DB,
        "CREATE ROLE kb_owners NOLOGIN;
         ALTER TABLE knowledge_bases OWNER TO kb_owners;
         GRANT kb_owners TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    let f = expect(&report, "table-owned-by-tenant", "public.knowledge_bases");
    assert!(f.message.contains("kb_owners"), "{}", f.message);
}

#[test]
fn bypassrls_on_the_tenant_role() {
    let f = hole(
        "ALTER ROLE arcdesk_tenant BYPASSRLS;",
        "role-bypassrls",
        "role arcdesk_tenant",
    );
    assert!(f.fix.contains("NOBYPASSRLS"), "{}", f.fix);
}

#[test]
fn superuser_and_bypassrls_reached_through_membership() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE ROLE app_ops NOLOGIN NOINHERIT;
         CREATE ROLE data_admin NOLOGIN BYPASSRLS;
         CREATE ROLE break_glass NOLOGIN SUPERUSER;
         GRANT app_ops TO arcdesk_tenant;
         GRANT data_admin TO app_ops;
         GRANT break_glass TO data_admin;",
    );
    let report = audit(&pg, DB);
    let f = expect(&report, "role-bypassrls", "role data_admin");
    assert!(
        f.message.contains("arcdesk_tenant → app_ops → data_admin"),
        "{}",
        f.message
    );
    let f = expect(&report, "role-superuser", "role break_glass");
    assert!(
        f.message
            .contains("arcdesk_tenant → app_ops → data_admin → break_glass"),
        "{}",
        f.message
    );
}

#[test]
fn plain_view_over_tenant_rows_granted_to_the_tenant() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE VIEW all_tasks AS SELECT id, organization_id, title FROM tasks;
         GRANT SELECT ON all_tasks TO arcdesk_tenant;
         CREATE VIEW my_tasks AS SELECT id, title FROM tasks
             WHERE organization_id = (SELECT current_org_id());
         GRANT SELECT ON my_tasks TO arcdesk_tenant;
         CREATE VIEW invoker_tasks WITH (security_invoker = true) AS SELECT id, title FROM tasks;
         GRANT SELECT ON invoker_tasks TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    let f = expect(&report, "view-unscoped", "view public.all_tasks");
    assert!(f.fix.contains("security_invoker"), "{}", f.fix);
    // Filtered, but without security_barrier: a leaky predicate of the tenant can run first.
    expect(&report, "view-not-security-barrier", "view public.my_tasks");
    assert!(
        !report
            .findings()
            .any(|f| f.object == "view public.invoker_tasks"),
        "{}",
        listing(&report)
    );
}

#[test]
fn materialized_view_granted_to_the_tenant() {
    let pg = migrated();
    pg.psql(DB, "GRANT SELECT ON org_cost_summary_mv TO arcdesk_tenant;");
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "matview-readable",
        "materialized view public.org_cost_summary_mv",
    );
    assert!(f.message.contains("public.cost_tracking"), "{}", f.message);
    // The predefined pg_read_all_data reads every relation without any ACL entry.
    pg.psql(
        DB,
        "REVOKE SELECT ON org_cost_summary_mv FROM arcdesk_tenant;
         GRANT pg_read_all_data TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "matview-readable",
        "materialized view public.desk_performance_mv",
    );
    assert!(
        f.message
            .contains("REVOKE pg_read_all_data FROM arcdesk_tenant"),
        "{}",
        f.message
    );
    expect(
        &report,
        "matview-readable",
        "materialized view public.org_cost_summary_mv",
    );
}

#[test]
fn security_definer_function_over_tenant_rows() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE FUNCTION task_titles() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
             AS $$ SELECT title FROM public.tasks $$;
         CREATE FUNCTION my_task_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
             SET search_path = public, pg_temp
             AS $$ SELECT count(*) FROM tasks WHERE organization_id = current_org_id() $$;",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "definer-function-unscoped",
        "function public.task_titles()",
    );
    assert!(f.message.contains("PUBLIC"), "{}", f.message);
    expect(
        &report,
        "definer-search-path",
        "function public.task_titles()",
    );
    assert!(
        !report
            .findings()
            .any(|f| f.object == "function public.my_task_count()"),
        "{}",
        listing(&report)
    );
    // Not executable by the tenant: not reachable, not a finding.
    pg.psql(DB, "REVOKE EXECUTE ON FUNCTION task_titles() FROM PUBLIC;");
    let report = audit(&pg, DB);
    assert_clean(&report);
}

#[test]
fn foreign_key_without_organization_id() {
    let f = hole(
        // The primary keys lead with organization_id, so a foreign key on id alone first needs a
        // platform-wide unique key on desks(id), as a careless migration would add.
        "ALTER TABLE desks ADD CONSTRAINT desks_id_key UNIQUE (id);
         ALTER TABLE tasks ADD COLUMN reviewer_desk_id uuid REFERENCES desks (id);",
        "fk-unscoped",
        "constraint tasks_reviewer_desk_id_fkey on public.tasks",
    );
    assert!(
        f.fix.contains("FOREIGN KEY (organization_id, reviewer_desk_id) REFERENCES public.desks (organization_id, id)"),
        "{}",
        f.fix
    );
}

#[test]
fn global_unique_index_without_the_tag() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE UNIQUE INDEX users_email_global ON users (email);
         ALTER TABLE desks ADD CONSTRAINT desks_title_key UNIQUE (title);",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "unique-unscoped",
        "index public.users_email_global on public.users",
    );
    assert!(f.message.contains("duplicate-key"), "{}", f.message);
    expect(
        &report,
        "unique-unscoped",
        "constraint desks_title_key on public.desks",
    );
    // The tag (on the index or on the constraint) is the allowlist.
    pg.psql(
        DB,
        "COMMENT ON INDEX users_email_global IS 'arcdb:platform-unique: one login per address';
         COMMENT ON CONSTRAINT desks_title_key ON desks IS 'arcdb:platform-unique: titles are a global catalog';",
    );
    let report = audit(&pg, DB);
    assert_clean(&report);
}

#[test]
fn sequence_feeding_a_tenant_table_the_tenant_can_use() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE SEQUENCE ticket_number_seq;
         ALTER TABLE tasks ADD COLUMN ticket_number bigint DEFAULT nextval('ticket_number_seq');
         GRANT USAGE ON SEQUENCE ticket_number_seq TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "sequence-shared",
        "sequence public.ticket_number_seq",
    );
    assert!(f.message.contains("USAGE"), "{}", f.message);
    assert!(
        f.fix.contains(
            "REVOKE USAGE, SELECT, UPDATE ON SEQUENCE public.ticket_number_seq FROM arcdesk_tenant"
        ),
        "{}",
        f.fix
    );
}

#[test]
fn truncate_trigger_and_references_grants() {
    let pg = migrated();
    pg.psql(
        DB,
        "GRANT TRUNCATE ON messages TO arcdesk_tenant;
         GRANT TRIGGER ON qa_reviews TO arcdesk_tenant;
         GRANT REFERENCES (id) ON users TO PUBLIC;",
    );
    let report = audit(&pg, DB);
    let f = expect(&report, "grant-truncate", "public.messages");
    assert_eq!(
        f.fix,
        "REVOKE TRUNCATE ON public.messages FROM arcdesk_tenant;"
    );
    expect(&report, "grant-trigger", "public.qa_reviews");
    let f = expect(&report, "grant-references", "public.users");
    assert!(f.fix.contains("FROM PUBLIC"), "{}", f.fix);
}

#[test]
fn create_on_schema_public() {
    let f = hole(
        "GRANT CREATE ON SCHEMA public TO PUBLIC;",
        "schema-create",
        "schema public",
    );
    assert_eq!(f.fix, "REVOKE CREATE ON SCHEMA public FROM PUBLIC;");
}

#[test]
fn leakproof_user_function() {
    hole(
        "CREATE FUNCTION loud_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE LEAKPROOF
             AS $$ BEGIN RAISE NOTICE '% = %', a, b; RETURN a = b; END $$;",
        "leakproof-function",
        "function public.loud_eq(a text, b text)",
    );
}

#[test]
fn default_privileges_granting_the_tenant() {
    let f = hole(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO arcdesk_tenant;",
        "default-privileges",
        "default privileges of role postgres in schema public on tables",
    );
    assert_eq!(f.command.as_deref(), Some("INSERT, SELECT"));
    assert_eq!(
        f.fix,
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public REVOKE ALL ON TABLES FROM arcdesk_tenant;"
    );
}

#[test]
fn missing_tenant_role_is_a_finding_not_an_error() {
    let pg = TestCluster::start();
    pg.create_db(DB);
    let report = audit(&pg, DB);
    expect(&report, "tenant-role-missing", "role arcdesk_tenant");
}

#[test]
fn a_surrogate_uuid_unique_key_is_a_warning_that_fails_only_with_fail_on_warning() {
    let pg = migrated();
    pg.psql(
        DB,
        "ALTER TABLE desks ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
         ALTER TABLE desks ADD CONSTRAINT desks_public_id_key UNIQUE (public_id);",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "unique-surrogate-unscoped",
        "constraint desks_public_id_key on public.desks",
    );
    assert_eq!(f.severity, "warning");
    assert!(
        report.findings().all(|f| f.severity != "error"),
        "{}",
        listing(&report)
    );
    // A warning alone does not fail the run (6: --static-only never passes); --fail-on
    // warning makes it fail.
    assert_eq!(report.code, 6);
    let strict = pg
        .arcdb()
        .args([
            "--dsn",
            &pg.dsn(DB),
            "verify-rls",
            "--static-only",
            "--fail-on",
            "warning",
        ])
        .output()
        .expect("arcdb runs");
    assert_eq!(strict.status.code(), Some(5));

    // SARIF 2.1.0: the finding, at its level, with the rule in the driver.
    let sarif = pg
        .arcdb()
        .args([
            "--dsn",
            &pg.dsn(DB),
            "verify-rls",
            "--static-only",
            "--format",
            "sarif",
        ])
        .output()
        .expect("arcdb runs");
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    let hit = results
        .iter()
        .find(|r| r["ruleId"] == "unique-surrogate-unscoped")
        .expect("the warning is a SARIF result");
    assert_eq!(hit["level"], "warning");
    assert!(log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "unique-surrogate-unscoped"));
}

#[test]
fn findings_on_objects_of_the_migrations_point_at_their_definition() {
    let pg = migrated();
    pg.psql(DB, "ALTER TABLE tasks DISABLE ROW LEVEL SECURITY;");
    let sarif = pg
        .arcdb()
        .args([
            "--dsn",
            &pg.dsn(DB),
            "verify-rls",
            "--static-only",
            "--format",
            "sarif",
        ])
        .output()
        .expect("arcdb runs");
    assert_eq!(sarif.status.code(), Some(5));
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
    let hit = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "rls-disabled")
        .expect("rls-disabled result")
        .clone();
    let physical = &hit["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        "migrations/0002_core_schema/up.sql"
    );
    assert!(physical["region"]["startLine"].as_u64().unwrap() > 1);
    assert_eq!(hit["level"], "error");
}

#[test]
fn a_relation_the_tenant_can_read_outside_the_tenant_schemas() {
    let pg = migrated();
    pg.psql(
        DB,
        "CREATE SCHEMA reporting;
         CREATE TABLE reporting.all_tasks AS SELECT * FROM public.tasks;
         GRANT USAGE ON SCHEMA reporting TO arcdesk_tenant;
         GRANT SELECT ON reporting.all_tasks TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "reachable-outside-tenant-schemas",
        "reporting.all_tasks",
    );
    assert_eq!(f.severity, "error");
    assert!(
        f.message.contains("outside the tenant schemas"),
        "{}",
        f.message
    );
    assert!(f.fix.contains("--schema reporting"), "{}", f.fix);
    // Shared on purpose: tagged, not a finding.
    pg.psql(
        DB,
        "COMMENT ON TABLE reporting.all_tasks IS 'arcdb:global: a test of the tag';",
    );
    let report = audit(&pg, DB);
    assert!(
        report
            .findings()
            .all(|f| f.rule != "reachable-outside-tenant-schemas"),
        "{}",
        listing(&report)
    );
    // Reached only through a role the tenant can SET ROLE to without inheriting its rights.
    pg.psql(
        DB,
        "CREATE ROLE reporting_reader NOLOGIN;
         GRANT USAGE ON SCHEMA reporting TO reporting_reader;
         CREATE TABLE reporting.all_sessions AS SELECT * FROM public.agent_sessions;
         GRANT SELECT ON reporting.all_sessions TO reporting_reader;
         ALTER ROLE arcdesk_tenant NOINHERIT;
         GRANT reporting_reader TO arcdesk_tenant;",
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "reachable-outside-tenant-schemas",
        "reporting.all_sessions",
    );
    assert_eq!(f.severity, "error");
}

/// The findings of `rules` in `report`, for asserting a clean schema has none of them.
fn of_rules<'r>(report: &'r RlsReport, rules: &[&str]) -> Vec<&'r Finding> {
    report
        .findings()
        .filter(|f| rules.contains(&f.rule.as_str()))
        .collect()
}

#[test]
fn functions_the_tenant_can_run_outside_the_tenant_schemas() {
    let pg = migrated();
    let rules = ["reachable-definer-function", "reachable-function"];
    let clean = audit(&pg, DB);
    assert!(of_rules(&clean, &rules).is_empty(), "{}", listing(&clean));
    pg.psql(
        DB,
        "CREATE SCHEMA util;
         GRANT USAGE ON SCHEMA util TO arcdesk_tenant;
         CREATE FUNCTION util.task_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
             SET search_path = pg_catalog AS 'SELECT count(*) FROM public.tasks';
         CREATE FUNCTION util.slug(text) RETURNS text LANGUAGE sql AS 'SELECT lower($1)';
         CREATE FUNCTION util.hidden() RETURNS int LANGUAGE sql AS 'SELECT 1';
         REVOKE EXECUTE ON FUNCTION util.hidden() FROM PUBLIC;
         CREATE SCHEMA ext; GRANT USAGE ON SCHEMA ext TO arcdesk_tenant;
         CREATE EXTENSION fuzzystrmatch SCHEMA ext;",
    );
    let report = audit(&pg, DB);
    let definer = expect(
        &report,
        "reachable-definer-function",
        "function util.task_count()",
    );
    assert_eq!(definer.severity, "error");
    assert!(
        definer.message.contains("a superuser"),
        "{}",
        definer.message
    );
    assert_eq!(
        definer.fix,
        "REVOKE EXECUTE ON FUNCTION util.task_count() FROM PUBLIC, arcdesk_tenant; or, if it needs no more than the caller's rights: ALTER FUNCTION util.task_count() SECURITY INVOKER; or audit its schema: --schema util"
    );
    let plain = expect(&report, "reachable-function", "function util.slug(text)");
    assert_eq!(plain.severity, "info");
    assert!(plain
        .fix
        .contains("REVOKE EXECUTE ON FUNCTION util.slug(text)"));
    // Not executable, or an extension's: not findings.
    let named: Vec<&Finding> = of_rules(&report, &rules);
    assert!(
        named
            .iter()
            .all(|f| !f.object.contains("hidden") && !f.object.starts_with("function ext.")),
        "{}",
        listing(&report)
    );
}

#[test]
fn create_on_any_schema_the_tenant_can_use() {
    let pg = migrated();
    let rules = ["schema-create", "schema-create-unresolved"];
    let clean = audit(&pg, DB);
    assert!(of_rules(&clean, &rules).is_empty(), "{}", listing(&clean));
    pg.psql(
        DB,
        "CREATE SCHEMA scratch; GRANT CREATE ON SCHEMA scratch TO arcdesk_tenant;
         CREATE SCHEMA lookup; GRANT CREATE ON SCHEMA lookup TO PUBLIC;
         CREATE FUNCTION public.label(text) RETURNS text LANGUAGE sql
             SET search_path = lookup, pg_catalog AS 'SELECT lower($1)';
         CREATE SCHEMA sessions; GRANT CREATE ON SCHEMA sessions TO arcdesk_tenant;
         ALTER ROLE arcdesk_tenant SET search_path = \"$user\", sessions, public;",
    );
    let report = audit(&pg, DB);
    // Nothing resolves names in scratch: a warning.
    let f = expect(&report, "schema-create-unresolved", "schema scratch");
    assert_eq!(f.severity, "warning");
    assert_eq!(
        f.fix,
        "REVOKE CREATE ON SCHEMA scratch FROM arcdesk_tenant;"
    );
    // On a function's pinned search_path, or on the tenant's: an error.
    let f = expect(&report, "schema-create", "schema lookup");
    assert_eq!(f.severity, "error");
    assert_eq!(f.fix, "REVOKE CREATE ON SCHEMA lookup FROM PUBLIC;");
    let f = expect(&report, "schema-create", "schema sessions");
    assert_eq!(f.severity, "error");
    assert!(f.message.contains("search_path"), "{}", f.message);
}

#[test]
fn large_objects_the_tenant_can_read_and_lo_compat_privileges() {
    let pg = migrated();
    let rules = ["reachable-large-object", "lo-compat-privileges"];
    let clean = audit(&pg, DB);
    assert!(of_rules(&clean, &rules).is_empty(), "{}", listing(&clean));
    // A large object nobody granted is not the tenant's.
    let private = pg.scalar(DB, "SELECT lo_from_bytea(0, 'private'::bytea)");
    let report = audit(&pg, DB);
    assert!(of_rules(&report, &rules).is_empty(), "{}", listing(&report));
    let shared = pg.scalar(DB, "SELECT lo_from_bytea(0, 'attachment'::bytea)");
    pg.psql(
        DB,
        &format!("GRANT SELECT, UPDATE ON LARGE OBJECT {shared} TO arcdesk_tenant;"),
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "reachable-large-object",
        &format!("large objects {shared}"),
    );
    assert_eq!(f.severity, "error");
    assert_eq!(f.command.as_deref(), Some("SELECT, UPDATE"));
    assert_eq!(
        f.fix,
        format!("REVOKE SELECT, UPDATE ON LARGE OBJECT {shared} FROM PUBLIC, arcdesk_tenant;")
    );
    assert!(!f.object.contains(&private), "{}", f.object);
    // lo_compat_privileges = on: no privilege is checked on any large object.
    pg.psql(
        DB,
        &format!("ALTER DATABASE {DB} SET lo_compat_privileges = on;"),
    );
    let report = audit(&pg, DB);
    let f = expect(
        &report,
        "lo-compat-privileges",
        "setting lo_compat_privileges",
    );
    assert_eq!(f.severity, "error");
    assert!(f.fix.contains("lo_compat_privileges = off"), "{}", f.fix);
}
