//! Catalog rows for the unit tests of the rule families: a tenant, two tenant tables with the
//! ArcDesk-style policies and grants, and the helpers that build variations of them.

use super::*;

pub const TENANT: u32 = 100;
pub const OWNER: u32 = 10;

pub fn role(oid: u32, name: &str) -> RoleRow {
    RoleRow {
        oid,
        name: name.into(),
        superuser: false,
        bypassrls: false,
    }
}

pub fn table(oid: u32, name: &str) -> TableRow {
    TableRow {
        oid,
        namespace: 2200,
        schema: "public".into(),
        name: name.into(),
        qname: format!("public.{name}"),
        kind: "r".into(),
        owner: OWNER,
        owner_name: "postgres".into(),
        rls: true,
        force_rls: false,
        has_tenant_column: name != "organizations",
        comment: None,
        parent: None,
        columns: vec![
            ("id".into(), "uuid".into()),
            ("organization_id".into(), "uuid".into()),
        ],
    }
}

pub fn policy(
    table: u32,
    name: &str,
    cmd: &str,
    using: Option<&str>,
    check: Option<&str>,
) -> PolicyRow {
    PolicyRow {
        table,
        name: name.into(),
        cmd: cmd.into(),
        permissive: true,
        roles: vec![TENANT],
        using: using.map(Into::into),
        check: check.map(Into::into),
    }
}

/// A view (`kind` "v") or materialized view ("m") in schema public, owned by postgres.
pub fn view(
    oid: u32,
    name: &str,
    kind: &str,
    options: &[&str],
    definition: Option<&str>,
    refs: &[u32],
) -> ViewRow {
    ViewRow {
        oid,
        name: name.into(),
        qname: format!("public.{name}"),
        kind: kind.into(),
        owner_name: "postgres".into(),
        options: options.iter().map(|o| o.to_string()).collect(),
        definition: definition.map(Into::into),
        refs: refs.to_vec(),
    }
}

pub fn grant(rel: u32, privilege: &str) -> GrantRow {
    GrantRow {
        rel,
        column: None,
        grantee: TENANT,
        privilege: privilege.into(),
    }
}

pub const SCOPED: &str = "(organization_id = ( SELECT current_org_id() AS current_org_id))";

/// Two tenant tables with the ArcDesk-style policy and grants: no finding.
pub fn baseline() -> Catalog {
    let mut cat = Catalog::unavailable("unused");
    cat.tenant = Ok(Some(role(TENANT, "arcdesk_tenant")));
    cat.memberships = Ok(vec![]);
    cat.tables = Ok(vec![table(1, "organizations"), table(2, "tasks")]);
    cat.policies = Ok(vec![
        policy(
            1,
            "org_iso",
            "*",
            Some("(id = ( SELECT current_org_id() AS current_org_id))"),
            Some("(id = ( SELECT current_org_id() AS current_org_id))"),
        ),
        policy(2, "tasks_iso", "*", Some(SCOPED), Some(SCOPED)),
    ]);
    cat.grants = Ok(["SELECT", "INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .map(|p| grant(2, p))
        .chain([grant(1, "SELECT")])
        .collect());
    cat.views = Ok(vec![]);
    cat.functions = Ok(vec![]);
    cat.triggers = Ok(vec![]);
    cat.helpers = Ok(vec![HelperRow {
        schema: "public".into(),
        name: "current_org_id".into(),
        qname: "public.current_org_id()".into(),
        language: "sql".into(),
        source: " SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid ".into(),
        owner: OWNER,
    }]);
    cat.leakproof = Ok(vec![]);
    cat.foreign_keys = Ok(vec![ForeignKeyRow {
        name: "tasks_org_fkey".into(),
        table: 2,
        ref_table: 1,
        columns: vec!["organization_id".into()],
        ref_columns: vec!["id".into()],
    }]);
    cat.unique_keys = Ok(vec![]);
    cat.sequences = Ok(vec![]);
    cat.schemas = Ok(vec![SchemaRow {
        oid: 2200,
        qname: "public".into(),
        create_by: vec![],
        resolved: true,
    }]);
    cat.default_acls = Ok(vec![]);
    cat
}

pub fn findings(cat: &Catalog) -> Vec<(String, String)> {
    evaluate(cat, &VerifyOptions::default())
        .findings()
        .map(|f| (f.rule.clone(), f.object.clone()))
        .collect()
}

pub fn has(cat: &Catalog, rule: &str, object: &str) {
    let f = findings(cat);
    assert!(
        f.iter().any(|(r, o)| r == rule && o == object),
        "expected {rule} on {object}, got {f:?}"
    );
}
