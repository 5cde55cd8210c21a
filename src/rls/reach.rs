//! Everything the tenant can reach, not only `--schema`: a relation in any other schema that
//! the tenant role (or a role it can become) may read or write is outside the audit and the
//! probes, so it is a finding unless it is tagged `arcdb:global:` (shared on purpose). arcdb's
//! own schema (`arcdb`, the migration history) and the system schemas are not the tenant's.

use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::Db;

pub const RULE: &str = "reachable-outside-tenant-schemas";

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
        return Ok(());
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
                    super::audit::sql_ident(&opts.tenant_role)
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
    Ok(())
}
