//! Everything the tenant can reach, not only `--schema`:
//! - a relation in any other schema that the tenant role (or a role it can become) may read or
//!   write is outside the audit and the probes, so it is a finding unless it is tagged
//!   `arcdb:global:` (shared on purpose);
//! - a function or procedure there that it can run: a SECURITY DEFINER one runs with its
//!   owner's rights, outside the tenant's RLS (error); any other runs with the tenant's own
//!   rights and is listed (info). Functions of extensions are the extension's, not the schema's;
//! - a large object it can read or write (large objects have no row-level security), and
//!   `lo_compat_privileges = on`, which lets every role read and write every large object.
//!
//! CREATE on schemas is the audit's `schemas` rule family. arcdb's own schema (`arcdb`, the
//! migration history) and the system schemas are not the tenant's.

use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::{sql_ident, Db};

pub const RULE: &str = "reachable-outside-tenant-schemas";
pub const DEFINER_FUNCTION: &str = "reachable-definer-function";
pub const FUNCTION: &str = "reachable-function";
pub const LARGE_OBJECT: &str = "reachable-large-object";
pub const LO_COMPAT: &str = "lo-compat-privileges";

/// Large objects named in a finding's message and fix (the count says how many in all).
const LARGE_OBJECTS_NAMED: usize = 10;

pub async fn run(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) -> anyhow::Result<()> {
    let exists = db
        .client
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&opts.tenant_role],
        )
        .await?;
    if exists.is_none() {
        return Ok(()); // tenant-role-missing says it
    }
    relations(db, opts, report).await;
    functions(db, opts, report).await;
    large_objects(db, opts, report).await;
    Ok(())
}

async fn relations(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) {
    let Ok(rows) = db
        .client
        .query(
            include_str!("reach.sql"),
            &[&opts.tenant_role, &opts.schemas],
        )
        .await
    else {
        report.checks.push(Check::skipped(
            Suite::Audit,
            format!("{RULE} (all objects)"),
            "this engine's catalogs do not answer which relations outside the tenant schemas the tenant can use",
        ));
        return;
    };
    let mut any = false;
    for row in rows {
        let (qname, kind, privileges, global): (String, String, Vec<String>, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        any = true;
        let name = format!("{RULE} {qname}");
        if global {
            report.checks.push(Check::not_applicable(
                Suite::Audit,
                name,
                "tagged arcdb:global: shared by every organization on purpose",
            ));
            continue;
        }
        let what = match kind.as_str() {
            "v" => "view",
            "m" => "materialized view",
            "f" => "foreign table",
            _ => "table",
        };
        let schema = qname.split('.').next().unwrap_or_default().to_string();
        report.checks.push(Check::fail(
            Suite::Audit,
            name,
            Finding {
                rule: RULE.into(),
                severity: Severity::Error,
                object: qname.clone(),
                command: Some(privileges.join(", ")),
                message: format!(
                    "{} can {} the {what} {qname}, outside the tenant schemas ({}): neither the audit nor the probes look at it, so whatever it holds is every organization's",
                    opts.tenant_role,
                    privileges.join("/"),
                    opts.schemas.join(", ")
                ),
                detail: None,
                fix: format!(
                    "REVOKE ALL ON {qname} FROM {}; or audit it: --schema {schema}; or, if it is shared on purpose: COMMENT ON TABLE {qname} IS 'arcdb:global: <reason>';",
                    sql_ident(&opts.tenant_role)
                ),
                location: None,
            },
        ));
    }
    if !any {
        report
            .checks
            .push(Check::pass(Suite::Audit, format!("{RULE} (all schemas)")));
    }
}

async fn functions(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) {
    let rows = match db
        .client
        .query(
            include_str!("reach_functions.sql"),
            &[&opts.tenant_role, &opts.schemas],
        )
        .await
    {
        Ok(rows) => rows,
        Err(err) => {
            report.checks.push(Check::skipped(
                Suite::Audit,
                format!("{DEFINER_FUNCTION} (all functions)"),
                format!(
                    "the catalogs do not answer which functions outside the tenant schemas the tenant can run: {}",
                    super::probe::db_error_text(&err)
                ),
            ));
            return;
        }
    };
    let tenant = sql_ident(&opts.tenant_role);
    let mut definers = 0;
    for row in rows {
        let reached = ReachedFunction {
            signature: row.get("signature"),
            kind: row.get("kind"),
            qname: row.get("qname"),
            owner: row.get("owner_name"),
            definer: row.get("definer"),
            owner_bypasses: row.get("owner_bypasses"),
            owner_of_tenant: row.get("owner_of_tenant"),
        };
        definers += usize::from(reached.definer);
        let (rule, finding) = reached.finding(opts, &tenant);
        report.checks.push(Check::fail(
            Suite::Audit,
            format!("{rule} {}", reached.signature),
            finding,
        ));
    }
    if definers == 0 {
        report.checks.push(Check::pass(
            Suite::Audit,
            format!("{DEFINER_FUNCTION} (all schemas)"),
        ));
    }
}

/// A function outside the tenant schemas that the tenant can run.
struct ReachedFunction {
    /// `function s.f(args)`, as findings name functions.
    signature: String,
    /// `FUNCTION` or `PROCEDURE`, as GRANT and ALTER write it.
    kind: String,
    qname: String,
    owner: String,
    definer: bool,
    owner_bypasses: bool,
    owner_of_tenant: bool,
}

impl ReachedFunction {
    fn finding(&self, opts: &VerifyOptions, tenant: &str) -> (&'static str, Finding) {
        let owner_rights = match (self.owner_bypasses, self.owner_of_tenant) {
            (true, _) => format!(
                "{}, a superuser or BYPASSRLS role that no policy applies to",
                self.owner
            ),
            (false, true) => format!(
                "{}, which owns tenant tables (RLS does not apply to their owner unless FORCEd)",
                self.owner
            ),
            (false, false) => self.owner.clone(),
        };
        let revoke = format!(
            "REVOKE EXECUTE ON {} {} FROM PUBLIC, {tenant};",
            self.kind, self.qname
        );
        let schema = self.qname.split('.').next().unwrap_or_default();
        let (rule, message, fix) = if self.definer {
            (
                DEFINER_FUNCTION,
                format!(
                    "{} can run this SECURITY DEFINER function outside the tenant schemas ({}): it runs with the rights of its owner {owner_rights}, outside the tenant's row-level security, and neither the audit's policy rules nor the probes look at what it reads or writes",
                    opts.tenant_role,
                    opts.schemas.join(", ")
                ),
                format!(
                    "{revoke} or, if it needs no more than the caller's rights: ALTER {} {} SECURITY INVOKER; or audit its schema: --schema {schema}",
                    self.kind, self.qname
                ),
            )
        } else {
            (
                FUNCTION,
                format!(
                    "{} can run this function outside the tenant schemas ({}), owned by {}: it runs with the tenant's own rights, so RLS still applies to what it reads",
                    opts.tenant_role,
                    opts.schemas.join(", "),
                    self.owner
                ),
                format!("nothing, if tenants are meant to call it; else {revoke}"),
            )
        };
        (
            rule,
            Finding {
                rule: rule.into(),
                severity: Severity::Error,
                object: self.signature.clone(),
                command: Some("EXECUTE".into()),
                message,
                detail: None,
                fix,
                location: None,
            },
        )
    }
}

async fn large_objects(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) {
    // has_largeobject_privilege exists from PostgreSQL 18 on (committed September 2024, after
    // 17 branched); before, the ACL is read.
    let version: i32 = match db
        .client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('lo_compat_privileges', true)",
            &[],
        )
        .await
    {
        Ok(row) => {
            let compat: Option<String> = row.get(1);
            report.checks.push(lo_compat(compat.as_deref()));
            row.get(0)
        }
        Err(_) => 0,
    };
    let sql = if version >= 180000 {
        include_str!("reach_large_objects.sql")
    } else {
        include_str!("reach_large_objects_acl.sql")
    };
    let rows = match db.client.query(sql, &[&opts.tenant_role]).await {
        Ok(rows) => rows,
        Err(err) => {
            report.checks.push(Check::skipped(
                Suite::Audit,
                format!("{LARGE_OBJECT} (all large objects)"),
                format!(
                    "the catalogs do not answer which large objects the tenant can use: {}",
                    super::probe::db_error_text(&err)
                ),
            ));
            return;
        }
    };
    let name = format!("{LARGE_OBJECT} (all large objects)");
    if rows.is_empty() {
        report.checks.push(Check::pass(Suite::Audit, name));
        return;
    }
    let mut privileges: Vec<String> = Vec::new();
    let mut granted: Vec<i64> = Vec::new();
    let mut owned: Vec<(i64, String)> = Vec::new();
    for row in &rows {
        let loid: i64 = row.get("loid");
        for p in row.get::<_, Vec<String>>("privileges") {
            if !privileges.contains(&p) {
                privileges.push(p);
            }
        }
        if row.get::<_, bool>("owned") {
            owned.push((loid, row.get("owner_name")));
        } else {
            granted.push(loid);
        }
    }
    privileges.sort();
    let listed = |oids: &mut dyn Iterator<Item = i64>| {
        oids.take(LARGE_OBJECTS_NAMED)
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = listed(&mut rows.iter().map(|r| r.get::<_, i64>("loid")));
    let more = if rows.len() > LARGE_OBJECTS_NAMED {
        format!(" and {} more", rows.len() - LARGE_OBJECTS_NAMED)
    } else {
        String::new()
    };
    let tenant = sql_ident(&opts.tenant_role);
    let mut fix = Vec::new();
    if !granted.is_empty() {
        fix.push(format!(
            "REVOKE SELECT, UPDATE ON LARGE OBJECT {} FROM PUBLIC, {tenant};",
            listed(&mut granted.iter().copied())
        ));
    }
    for (loid, owner) in owned.iter().take(LARGE_OBJECTS_NAMED) {
        fix.push(format!(
            "ALTER LARGE OBJECT {loid} OWNER TO <a role the tenant is not>; -- owned by {owner}"
        ));
    }
    if rows.len() > LARGE_OBJECTS_NAMED {
        fix.push("(the same for every large object listed in pg_largeobject_metadata)".into());
    }
    report.checks.push(Check::fail(
        Suite::Audit,
        name,
        Finding {
            rule: LARGE_OBJECT.into(),
            severity: Severity::Error,
            object: format!("large objects {all}{more}"),
            command: Some(privileges.join(", ")),
            message: format!(
                "{} can {} {} large object(s) ({all}{more}): large objects have no row-level security, so whatever organization's data they hold, every tenant can {}",
                opts.tenant_role,
                privileges.join("/"),
                rows.len(),
                if privileges.iter().any(|p| p == "UPDATE") { "read or overwrite it" } else { "read it" }
            ),
            detail: None,
            fix: fix.join(" "),
            location: None,
        },
    ));
}

/// `lo_compat_privileges = on` turns off every privilege check on large objects.
fn lo_compat(setting: Option<&str>) -> Check {
    let name = format!("{LO_COMPAT} (server setting)");
    match setting {
        // Not PostgreSQL: whether it has large objects at all is the large-object check's.
        None => Check::not_applicable(
            Suite::Audit,
            name,
            "this engine has no lo_compat_privileges setting",
        ),
        Some("on") => Check::fail(
            Suite::Audit,
            name,
            Finding {
                rule: LO_COMPAT.into(),
                severity: Severity::Error,
                object: "setting lo_compat_privileges".into(),
                command: None,
                message: "lo_compat_privileges is on: no privilege is checked on large objects, so every role, every tenant included, can read and overwrite every large object (which have no row-level security)".into(),
                detail: None,
                fix: "ALTER SYSTEM SET lo_compat_privileges = off; SELECT pg_reload_conf(); -- and ALTER DATABASE/ROLE … RESET lo_compat_privileges where it was set".into(),
                location: None,
            },
        ),
        Some(_) => Check::pass(Suite::Audit, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(definer: bool, owner_bypasses: bool) -> ReachedFunction {
        ReachedFunction {
            signature: "function util.f(uuid)".into(),
            kind: "FUNCTION".into(),
            qname: "util.f(uuid)".into(),
            owner: "postgres".into(),
            definer,
            owner_bypasses,
            owner_of_tenant: false,
        }
    }

    #[test]
    fn a_definer_function_is_an_error_an_invoker_one_is_info() {
        let opts = VerifyOptions::default();
        let (rule, f) = function(true, true).finding(&opts, "arcdesk_tenant");
        assert_eq!(rule, DEFINER_FUNCTION);
        assert_eq!(crate::rls::severity::of(rule), Severity::Error);
        assert!(
            f.message.contains("superuser or BYPASSRLS"),
            "{}",
            f.message
        );
        assert!(
            f.fix.starts_with(
                "REVOKE EXECUTE ON FUNCTION util.f(uuid) FROM PUBLIC, arcdesk_tenant;"
            ),
            "{}",
            f.fix
        );
        assert!(f
            .fix
            .contains("ALTER FUNCTION util.f(uuid) SECURITY INVOKER"));
        // Owned by a superuser but SECURITY INVOKER: it runs with the tenant's rights.
        let (rule, f) = function(false, true).finding(&opts, "arcdesk_tenant");
        assert_eq!(rule, FUNCTION);
        assert_eq!(crate::rls::severity::of(rule), Severity::Info);
        assert!(f.message.contains("tenant's own rights"), "{}", f.message);
    }

    #[test]
    fn lo_compat_privileges_on_is_an_error() {
        let on = lo_compat(Some("on"));
        let finding = on.finding().expect("a finding");
        assert_eq!(finding.rule, LO_COMPAT);
        assert_eq!(finding.severity, Severity::Error);
        assert!(matches!(
            lo_compat(Some("off")).outcome,
            super::super::Outcome::Pass
        ));
        let none = lo_compat(None);
        assert!(none.finding().is_none() && none.unverified().is_none());
    }
}
