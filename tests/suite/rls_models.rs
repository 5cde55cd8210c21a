//! `arcdb verify-rls` on schemas of each tenancy model (`--model column|membership|supabase`):
//! a small schema per model, correct (exit 0, no error) on an empty database (probe tenants)
//! and with data, and versions with the holes of the RLS notes, each caught with its rule.

use crate::support;

use serde_json::Value;
use support::{run, Run, TestCluster};

fn arcdb(pg: &TestCluster, db: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(&pg.dsn(db), args))
}

/// Roles are shared by the databases of a cluster: created once.
fn role(name: &str) -> String {
    format!(
        "DO $$ BEGIN CREATE ROLE {name} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n"
    )
}

/// A database `db` holding `schema`, then `extra`.
fn database(pg: &TestCluster, db: &str, schema: &str, extra: &str) {
    pg.create_db(db);
    pg.psql(db, schema);
    if !extra.is_empty() {
        pg.psql(db, extra);
    }
}

fn verify(pg: &TestCluster, db: &str, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["verify-rls", "--format", "json"];
    all.extend_from_slice(args);
    let run = arcdb(pg, db, &all);
    assert!(
        run.stdout.starts_with('{'),
        "verify-rls {args:?} on {db} gave no report: {}{}",
        run.stdout,
        run.stderr
    );
    let report = run.json();
    (run, report)
}

fn checks(report: &Value) -> &Vec<Value> {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks in the report: {report:#}"))
}

fn listing(report: &Value) -> String {
    checks(report)
        .iter()
        .filter(|c| c["outcome"] != "pass")
        .map(|c| {
            format!(
                "{} → {}",
                c["name"],
                c.get("reason").or(c.get("finding")).unwrap_or(&Value::Null)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Exit 0, verdict isolated, no error (warnings allowed), and every probed organization was
/// probed as a tenant with rows of the other one there to leak.
fn assert_isolated(run: &Run, report: &Value) {
    assert_eq!(
        report["verdict"],
        "isolated",
        "not isolated:\n{}\ninconclusive: {}\nstderr: {}",
        listing(report),
        report["inconclusive"],
        run.stderr
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(report["summary"]["error"], 0, "{}", listing(report));
    assert!(report["organizations_probed"].as_u64().unwrap_or(0) >= 2);
}

/// `probe read <table> as <org>` passed for every organization probed.
fn assert_read_probed(report: &Value, table: &str) {
    let passed = checks(report)
        .iter()
        .filter(|c| {
            c["outcome"] == "pass"
                && c["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&format!("probe read {table} as ")))
        })
        .count() as u64;
    assert_eq!(
        Some(passed),
        report["organizations_probed"].as_u64(),
        "{table} was not read as every organization:\n{}",
        listing(report)
    );
}

/// A finding of `rule` on an object containing `object`, and a failing exit (5).
fn assert_caught(run: &Run, report: &Value, rule: &str, object: &str) {
    assert!(
        checks(report).iter().any(|c| c["finding"]["rule"] == rule
            && c["finding"]["object"]
                .as_str()
                .is_some_and(|o| o.contains(object))),
        "no {rule} on {object}:\n{}",
        listing(report)
    );
    assert_eq!(run.code, 5, "{}", run.stderr);
}

// ------------------------------------------------------------------------------------------------
// Column model keyed by the user (seed 004: app.user_id, tables with user_id)
// ------------------------------------------------------------------------------------------------

fn by_user_schema() -> String {
    role("app_user")
        + "
CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL);
CREATE TABLE chat_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    title text NOT NULL);
CREATE TABLE user_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    expires_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
ALTER TABLE chat_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE chat_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY users_self ON users FOR SELECT TO app_user
    USING (id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY chats_own ON chat_sessions FOR ALL TO app_user
    USING (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid));
CREATE POLICY sessions_own ON user_sessions FOR ALL TO app_user
    USING (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid))
    WITH CHECK (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid));
GRANT SELECT ON users TO app_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON chat_sessions, user_sessions TO app_user;
"
}

const BY_USER_ARGS: &[&str] = &[
    "--tenant-role",
    "app_user",
    "--setting",
    "app.user_id",
    "--tenant-column",
    "user_id",
    "--root-table",
    "users",
];

#[test]
fn column_model_keyed_by_the_user() {
    let pg = TestCluster::start();
    let schema = by_user_schema();

    database(&pg, "by_user", &schema, "");
    let (run, report) = verify(&pg, "by_user", BY_USER_ARGS);
    assert_isolated(&run, &report);
    assert_eq!(report["probe_tenants"], 2, "{}", listing(&report));
    assert_read_probed(&report, "public.chat_sessions");

    // Fails open while app.user_id is unset or empty.
    database(
        &pg,
        "by_user_open",
        &schema,
        "DROP POLICY chats_own ON chat_sessions;
         CREATE POLICY chats_open ON chat_sessions FOR ALL TO app_user
             USING (current_setting('app.user_id', true) IS NULL
                    OR user_id = current_setting('app.user_id', true)::uuid)
             WITH CHECK (user_id = (SELECT NULLIF(current_setting('app.user_id', true), '')::uuid));",
    );
    let (run, report) = verify(&pg, "by_user_open", BY_USER_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "chats_open");
    assert_caught(&run, &report, "probe-fail-open", "public.chat_sessions");

    // The tenant owns a table and FORCE is off: the owner bypasses every policy.
    database(
        &pg,
        "by_user_owner",
        &schema,
        "ALTER TABLE user_sessions OWNER TO app_user;
         ALTER TABLE user_sessions NO FORCE ROW LEVEL SECURITY;",
    );
    let (run, report) = verify(&pg, "by_user_owner", BY_USER_ARGS);
    assert_caught(&run, &report, "owner-not-forced", "public.user_sessions");
    assert_caught(
        &run,
        &report,
        "probe-cross-org-read",
        "public.user_sessions",
    );
}

// ------------------------------------------------------------------------------------------------
// Membership model (seed 001: organization_members, app.current_user_id)
// ------------------------------------------------------------------------------------------------

fn membership_schema() -> String {
    role("member_role")
        + "
CREATE TABLE organizations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
CREATE TABLE users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL UNIQUE);
COMMENT ON TABLE users IS 'arcdb:global: a user belongs to several organizations; the tenant role cannot read it';
CREATE TABLE organization_members (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES users (id),
    role text NOT NULL DEFAULT 'member',
    PRIMARY KEY (organization_id, user_id));
CREATE TABLE agent_tasks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id),
    title text NOT NULL);
CREATE TABLE agent_results (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id),
    output text NOT NULL DEFAULT '');
CREATE FUNCTION current_user_id() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid $$;
CREATE FUNCTION is_member(org uuid) RETURNS boolean LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM organization_members m
                          WHERE m.organization_id = org AND m.user_id = current_user_id()) $$;
CREATE FUNCTION is_member_plpgsql(p_org uuid) RETURNS boolean LANGUAGE plpgsql STABLE
    AS $$ BEGIN RETURN p_org IN (SELECT m.organization_id FROM organization_members m
                                  WHERE m.user_id = current_user_id()); END $$;
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
ALTER TABLE organization_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE organization_members FORCE ROW LEVEL SECURITY;
ALTER TABLE agent_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_tasks FORCE ROW LEVEL SECURITY;
ALTER TABLE agent_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_results FORCE ROW LEVEL SECURITY;
CREATE FUNCTION user_org_ids() RETURNS SETOF uuid LANGUAGE sql STABLE
    AS $$ SELECT organization_id FROM organization_members
           WHERE user_id = NULLIF(current_setting('app.current_user_id', true), '')::uuid $$;
CREATE POLICY orgs_of_member ON organizations FOR SELECT TO member_role
    USING (id IN (SELECT user_org_ids()));
CREATE POLICY orgs_of_member_too ON organizations FOR SELECT TO member_role
    USING (id IN (SELECT m.organization_id FROM organization_members m
                   WHERE m.user_id = (SELECT current_user_id())));
CREATE POLICY own_memberships ON organization_members FOR SELECT TO member_role
    USING (user_id = (SELECT current_user_id()));
CREATE POLICY tasks_of_member ON agent_tasks FOR ALL TO member_role
    USING (is_member(organization_id)) WITH CHECK (is_member_plpgsql(organization_id));
CREATE POLICY results_of_member ON agent_results FOR ALL TO member_role
    USING (EXISTS (SELECT 1 FROM organization_members m
                    WHERE m.organization_id = agent_results.organization_id
                      AND m.user_id = NULLIF(current_setting('app.current_user_id', true), '')::uuid))
    WITH CHECK (organization_id IN (SELECT m.organization_id FROM organization_members m
                                     WHERE m.user_id = current_user_id()));
GRANT SELECT ON organizations, organization_members TO member_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON agent_tasks, agent_results TO member_role;
"
}

/// Acme and Globex, Alice in Acme, Bob in Globex, Carol in both (never probed as: she would
/// see two tenants).
const MEMBERSHIP_DATA: &str = "
INSERT INTO organizations (id, name) VALUES
    ('00000000-0000-0000-0000-00000000000a', 'Acme'),
    ('00000000-0000-0000-0000-00000000000b', 'Globex');
INSERT INTO users (id, email) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'alice@acme.test'),
    ('00000000-0000-0000-0000-0000000000b1', 'bob@globex.test'),
    ('00000000-0000-0000-0000-0000000000c1', 'carol@both.test');
INSERT INTO organization_members (organization_id, user_id) VALUES
    ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-0000000000a1'),
    ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-0000000000c1'),
    ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-0000000000b1'),
    ('00000000-0000-0000-0000-00000000000b', '00000000-0000-0000-0000-0000000000c1');
INSERT INTO agent_tasks (organization_id, title) VALUES
    ('00000000-0000-0000-0000-00000000000a', 'acme task'),
    ('00000000-0000-0000-0000-00000000000b', 'globex task');
INSERT INTO agent_results (organization_id, output) VALUES
    ('00000000-0000-0000-0000-00000000000a', 'acme result'),
    ('00000000-0000-0000-0000-00000000000b', 'globex result');
";

const MEMBERSHIP_ARGS: &[&str] = &[
    "--model",
    "membership",
    "--membership",
    "organization_members(user_id, organization_id)",
    "--tenant-role",
    "member_role",
    "--setting",
    "app.current_user_id",
];

#[test]
fn membership_model() {
    let pg = TestCluster::start();
    let schema = membership_schema();

    // Empty: probe tenants, each with a user of its own.
    database(&pg, "members_empty", &schema, "");
    let (run, report) = verify(&pg, "members_empty", MEMBERSHIP_ARGS);
    assert_isolated(&run, &report);
    assert_eq!(report["probe_tenants"], 2, "{}", listing(&report));
    for table in [
        "public.agent_tasks",
        "public.agent_results",
        "public.organizations",
    ] {
        assert_read_probed(&report, table);
    }
    assert_eq!(
        pg.scalar("members_empty", "SELECT count(*) FROM users"),
        "0",
        "the probe tenants' users were not rolled back"
    );

    // With data: Acme is probed as Alice and Globex as Bob (Carol belongs to both).
    database(&pg, "members", &schema, MEMBERSHIP_DATA);
    let (run, report) = verify(&pg, "members", MEMBERSHIP_ARGS);
    assert_isolated(&run, &report);
    assert_eq!(report["probe_tenants"], 0);
    assert_eq!(report["model"], "membership");
    assert_read_probed(&report, "public.agent_tasks");
    // Acme was probed as Alice, Globex as Bob: never as Carol, a member of both.
    let probed_as = report["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|n| n.contains("probed as a user who is a member of it alone"))
        .unwrap_or_else(|| panic!("no note on who was probed: {}", report["notes"]))
        .to_string();
    assert!(
        probed_as.contains("Acme as 00000000-0000-0000-0000-0000000000a1")
            && probed_as.contains("Globex as 00000000-0000-0000-0000-0000000000b1")
            && !probed_as.contains("0000000000c1"),
        "{probed_as}"
    );
    // The defaults of the model: the setting carries the user (app.current_user_id).
    let (run, report) = verify(
        &pg,
        "members",
        &[
            "--membership",
            "organization_members(user_id, organization_id)",
            "--tenant-role",
            "member_role",
        ],
    );
    assert_isolated(&run, &report);

    // In the column model, the same correct schema is not understood: never "isolated".
    let column = arcdb(
        &pg,
        "members",
        &[
            "verify-rls",
            "--tenant-role",
            "member_role",
            "--setting",
            "app.current_user_id",
        ],
    );
    assert_ne!(column.code, 0, "{}", column.stdout);

    // A membership subquery not bound to the current user: every membership counts.
    database(
        &pg,
        "members_unbound",
        &schema,
        "DROP POLICY orgs_of_member ON organizations;
         CREATE POLICY orgs_of_anyone ON organizations FOR SELECT TO member_role
             USING (id IN (SELECT organization_members.organization_id FROM organization_members));",
    );
    let (run, report) = verify(&pg, "members_unbound", MEMBERSHIP_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "orgs_of_anyone");

    // Filtering on the wrong column: the tenant column compared with the user.
    database(
        &pg,
        "members_wrong_column",
        &schema,
        "DROP POLICY results_of_member ON agent_results;
         CREATE POLICY results_wrong ON agent_results FOR ALL TO member_role
             USING (organization_id IN (SELECT m.organization_id FROM organization_members m
                                         WHERE m.organization_id = current_user_id()))
             WITH CHECK (organization_id IN (SELECT m.organization_id FROM organization_members m
                                              WHERE m.organization_id = current_user_id()));",
    );
    let (run, report) = verify(&pg, "members_wrong_column", MEMBERSHIP_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "results_wrong");
    assert_caught(&run, &report, "policy-check-unscoped", "results_wrong");

    // A writable membership table: a user adds itself to any organization.
    database(
        &pg,
        "members_join",
        &schema,
        &(MEMBERSHIP_DATA.to_string()
            + "GRANT INSERT, UPDATE ON organization_members TO member_role;
               CREATE POLICY join_any ON organization_members FOR INSERT TO member_role
                   WITH CHECK (user_id = current_user_id());"),
    );
    let (run, report) = verify(&pg, "members_join", MEMBERSHIP_ARGS);
    assert_caught(&run, &report, "policy-check-unscoped", "join_any");
    assert_caught(
        &run,
        &report,
        "probe-membership-join",
        "public.organization_members",
    );

    // The tenant owns a table without FORCE: as its owner it bypasses the membership check.
    database(
        &pg,
        "members_owner",
        &schema,
        &(MEMBERSHIP_DATA.to_string()
            + "ALTER TABLE agent_tasks OWNER TO member_role;
               ALTER TABLE agent_tasks NO FORCE ROW LEVEL SECURITY;"),
    );
    let (run, report) = verify(&pg, "members_owner", MEMBERSHIP_ARGS);
    assert_caught(&run, &report, "owner-not-forced", "public.agent_tasks");
    assert_caught(&run, &report, "probe-cross-org-read", "public.agent_tasks");

    // A helper with an argument that does not check the user: not accepted, so unscoped.
    database(
        &pg,
        "members_helper",
        &schema,
        "CREATE OR REPLACE FUNCTION is_member(org uuid) RETURNS boolean LANGUAGE sql STABLE
             AS $$ SELECT EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = org) $$;",
    );
    let (run, report) = verify(&pg, "members_helper", MEMBERSHIP_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "tasks_of_member");

    // A set function of "the user's organizations" that returns every membership's.
    database(
        &pg,
        "members_set_helper",
        &schema,
        "CREATE OR REPLACE FUNCTION user_org_ids() RETURNS SETOF uuid LANGUAGE sql STABLE
             AS $$ SELECT organization_id FROM organization_members $$;",
    );
    let (run, report) = verify(&pg, "members_set_helper", MEMBERSHIP_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "orgs_of_member");
}

#[test]
fn tenancy_flags_are_validated_in_one_place() {
    let pg = TestCluster::start();
    pg.create_db("flags");
    for (args, says) in [
        (
            vec!["--model", "rows"],
            "--model \"rows\" is not a tenancy model",
        ),
        (
            vec!["--model", "membership"],
            "--model membership needs --membership",
        ),
        (
            vec!["--membership", "organization_members"],
            "is not of the form TABLE(user_col, tenant_col)",
        ),
        (
            vec!["--model", "column", "--membership", "m(u, t)"],
            "--membership needs --model membership",
        ),
    ] {
        let mut all = vec!["verify-rls"];
        all.extend(args.iter().copied());
        let run = arcdb(&pg, "flags", &all);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.error_lines().len(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    // A membership table or column that does not exist.
    pg.psql(
        "flags",
        &(role("member_role") + "CREATE TABLE members (user_id uuid, organization_id uuid);"),
    );
    for (membership, says) in [
        (
            "nosuch(user_id, organization_id)",
            "the membership table \"nosuch\" does not exist",
        ),
        ("members(uid, organization_id)", "has no column uid"),
    ] {
        let run = arcdb(
            &pg,
            "flags",
            &[
                "verify-rls",
                "--tenant-role",
                "member_role",
                "--membership",
                membership,
            ],
        );
        assert_eq!(run.code, 2, "{membership}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(says), "{membership}: {}", run.stderr);
    }
    // The same keys in arcdb.toml.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("arcdb.toml");
    std::fs::write(
        &config,
        "[verify_rls]\nmodel = \"supabase\"\nmembership = \"m(u)\"\n",
    )
    .expect("write arcdb.toml");
    let mut cmd = pg.arcdb_at(&pg.dsn("flags"), &["verify-rls"]);
    cmd.env("ARCDB_CONFIG", &config);
    let run = run(cmd);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("\"m(u)\" is not of the form"),
        "{}",
        run.stderr
    );
}

// ------------------------------------------------------------------------------------------------
// Supabase (auth.uid() from request.jwt.claims, roles authenticated and anon)
// ------------------------------------------------------------------------------------------------

fn supabase_schema() -> String {
    role("anon")
        + &role("authenticated")
        + "
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(coalesce(current_setting('request.jwt.claim.sub', true),
                           (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')),
                  '')::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
CREATE TABLE organizations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
CREATE TABLE members (
    organization_id uuid NOT NULL REFERENCES organizations (id),
    user_id uuid NOT NULL REFERENCES auth.users (id),
    PRIMARY KEY (organization_id, user_id));
CREATE TABLE projects (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id),
    name text NOT NULL);
CREATE FUNCTION has_member(org uuid, uid uuid) RETURNS boolean LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM members m WHERE m.organization_id = org AND m.user_id = uid) $$;
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
ALTER TABLE members ENABLE ROW LEVEL SECURITY;
ALTER TABLE members FORCE ROW LEVEL SECURITY;
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
CREATE POLICY orgs_read ON organizations FOR SELECT TO authenticated
    USING (id IN (SELECT m.organization_id FROM members m WHERE m.user_id = (SELECT auth.uid())));
CREATE POLICY members_read ON members FOR SELECT TO authenticated
    USING (user_id = (SELECT auth.uid()));
CREATE POLICY projects_rw ON projects FOR ALL TO authenticated
    USING (EXISTS (SELECT 1 FROM members m
                    WHERE m.organization_id = projects.organization_id
                      AND m.user_id = (SELECT auth.uid())))
    WITH CHECK (has_member(organization_id, (SELECT auth.uid())));
-- Supabase grants the API roles the tables; row-level security decides.
GRANT SELECT ON organizations, members TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON projects TO anon, authenticated;
"
}

const SUPABASE_ARGS: &[&str] = &[
    "--model",
    "supabase",
    "--membership",
    "members(user_id, organization_id)",
];

#[test]
fn supabase_model() {
    let pg = TestCluster::start();
    let schema = supabase_schema();

    database(&pg, "supa", &schema, "");
    let (run, report) = verify(&pg, "supa", SUPABASE_ARGS);
    assert_isolated(&run, &report);
    assert_eq!(report["tenant_role"], "authenticated");
    assert_eq!(report["model"], "supabase");
    let mut table_args = vec!["verify-rls"];
    table_args.extend_from_slice(SUPABASE_ARGS);
    let table = arcdb(&pg, "supa", &table_args);
    assert_eq!(table.code, 0, "{}{}", table.stdout, table.stderr);
    assert!(
        table.stdout.contains("authenticated (supabase model):")
            && table.stdout.contains("tenants are isolated"),
        "{}",
        table.stdout
    );
    assert_read_probed(&report, "public.projects");
    assert!(
        checks(&report)
            .iter()
            .any(|c| c["name"] == "probe anon-read public.projects" && c["outcome"] == "pass"),
        "{}",
        listing(&report)
    );

    // An older auth.uid(), reading the per-claim setting only: the same verdict.
    database(
        &pg,
        "supa_old_uid",
        &schema,
        "CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE
             AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;",
    );
    let (run, report) = verify(&pg, "supa_old_uid", SUPABASE_ARGS);
    assert_isolated(&run, &report);

    // A policy USING (true) for anon: anyone with the public key reads every organization.
    database(
        &pg,
        "supa_anon",
        &schema,
        "CREATE POLICY anon_reads ON projects FOR SELECT TO anon USING (true);",
    );
    let (run, report) = verify(&pg, "supa_anon", SUPABASE_ARGS);
    assert_caught(&run, &report, "probe-anon-read", "public.projects");
    // The audit judges anon's policies too.
    assert_caught(&run, &report, "policy-unscoped", "anon_reads");

    // A policy without TO applies to authenticated too: USING (true) opens the table.
    database(
        &pg,
        "supa_public",
        &schema,
        "CREATE POLICY everyone ON projects FOR SELECT USING (true);",
    );
    let (run, report) = verify(&pg, "supa_public", SUPABASE_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "everyone");
    assert_caught(&run, &report, "probe-cross-org-read", "public.projects");
    assert_caught(&run, &report, "probe-anon-read", "public.projects");

    // The membership subquery bound to the tenant column instead of the user.
    database(
        &pg,
        "supa_wrong",
        &schema,
        "DROP POLICY orgs_read ON organizations;
         CREATE POLICY orgs_read ON organizations FOR SELECT TO authenticated
             USING (id IN (SELECT m.organization_id FROM members m
                            WHERE m.organization_id = (SELECT auth.uid())));",
    );
    let (run, report) = verify(&pg, "supa_wrong", SUPABASE_ARGS);
    assert_caught(&run, &report, "policy-unscoped", "orgs_read");

    // The helper of two arguments called with the tenant column in place of the user.
    database(
        &pg,
        "supa_helper",
        &schema,
        "ALTER POLICY projects_rw ON projects
             WITH CHECK (has_member(organization_id, organization_id));",
    );
    let (run, report) = verify(&pg, "supa_helper", SUPABASE_ARGS);
    assert_caught(&run, &report, "policy-check-unscoped", "projects_rw");
}

/// Supabase without a membership table: rows keyed by the user (`user_id = auth.uid()`), the
/// root a profiles table whose key is the auth user.
#[test]
fn supabase_model_keyed_by_the_user() {
    let pg = TestCluster::start();
    let schema = role("anon")
        + &role("authenticated")
        + "
CREATE SCHEMA auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(coalesce(current_setting('request.jwt.claim.sub', true),
                           (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')),
                  '')::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
CREATE TABLE profiles (id uuid PRIMARY KEY REFERENCES auth.users (id), display_name text);
CREATE TABLE notes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES profiles (id),
    body text NOT NULL);
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE profiles FORCE ROW LEVEL SECURITY;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY own_profile ON profiles FOR SELECT TO authenticated USING (id = (SELECT auth.uid()));
CREATE POLICY own_notes ON notes FOR ALL TO authenticated
    USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
GRANT SELECT ON profiles TO anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO anon, authenticated;
";
    let args = &[
        "--model",
        "supabase",
        "--tenant-column",
        "user_id",
        "--root-table",
        "profiles",
    ];
    database(&pg, "supa_user", &schema, "");
    let (run, report) = verify(&pg, "supa_user", args);
    assert_isolated(&run, &report);
    assert_eq!(report["probe_tenants"], 2, "{}", listing(&report));
    assert_read_probed(&report, "public.notes");

    // `auth.uid() IS NULL OR …`: a request without a user (no claims) reads every user's rows.
    database(
        &pg,
        "supa_user_open",
        &schema,
        "DROP POLICY own_notes ON notes;
         CREATE POLICY own_notes ON notes FOR ALL TO authenticated
             USING (auth.uid() IS NULL OR user_id = auth.uid())
             WITH CHECK (user_id = (SELECT auth.uid()));",
    );
    let (run, report) = verify(&pg, "supa_user_open", args);
    assert_caught(&run, &report, "policy-unscoped", "own_notes");
    assert_caught(&run, &report, "probe-fail-open", "public.notes");
}
