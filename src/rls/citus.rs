//! The Citus rule (issue 19): Citus recreates a table's policies on its shards without
//! `AS RESTRICTIVE` (measured on Citus 13.2.2, PostgreSQL 15.20, 2026-12), so on the workers a
//! restrictive policy becomes permissive and is OR-ed with the others: a tenant read and
//! updated every organization's rows there, while the coordinator's catalog — all this audit
//! reads — still says restrictive. Every restrictive policy on a distributed table is therefore
//! an error, and on a Citus database the report says that the audit sees the coordinator only.

use super::{Check, Finding, RlsReport, Severity, Suite};
use crate::db::Db;

pub const RULE: &str = "citus-restrictive-policy";

/// One policy of a distributed table, as the coordinator's catalog has it.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub table_qname: String,
    pub policy: String,
    pub permissive: bool,
    /// `pg_dist_partition.partmethod`: `h` hash-distributed, `n` reference/local table.
    pub method: String,
}

/// Decide the rule from the catalog rows (a pure function: unit-tested without Citus).
pub fn evaluate(rows: &[PolicyRow]) -> Vec<Check> {
    rows.iter()
        .map(|p| {
            let object = format!("policy {} on {}", p.policy, p.table_qname);
            let name = format!("{RULE} {object}");
            if p.permissive {
                return Check::pass(Suite::Audit, name);
            }
            Check::fail(
                Suite::Audit,
                name,
                Finding {
                    rule: RULE.into(),
                    severity: Severity::Error,
                    object,
                    command: None,
                    message: format!(
                        "{} is distributed by Citus, which recreates its policies on the shards without AS RESTRICTIVE: on the workers this policy is permissive and OR-ed with the others, so what it restricts is not enforced there (a tenant read and updated every organization's rows in the measured case)",
                        p.table_qname
                    ),
                    detail: None,
                    fix: format!(
                        "DROP POLICY {} ON {}; and AND its condition into every permissive policy of the table (one permissive policy per command that carries the whole condition), then check on a worker: SELECT polpermissive FROM pg_policy on the shards",
                        crate::db::sql_ident(&p.policy),
                        p.table_qname
                    ),
                    location: None,
                },
            )
        })
        .collect()
}

/// On a database with the citus extension: the rule's checks and the coordinator-only note.
pub async fn run(db: &Db, report: &mut RlsReport) -> anyhow::Result<()> {
    let installed = db
        .client
        .query_opt(
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'",
            &[],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get::<_, String>(0));
    let Some(version) = installed else {
        return Ok(());
    };
    report.notes.push(format!(
        "citus {version} is installed: the catalog audit reads the coordinator only; the policies, grants and functions Citus creates on the workers' shards are not audited, and probes through the coordinator are only as good as what Citus forwards"
    ));
    let rows = db
        .client
        .query(include_str!("citus_policies.sql"), &[])
        .await
        .map_err(|e| anyhow::anyhow!("cannot read Citus's distributed tables: {e}"))?;
    let rows: Vec<PolicyRow> = rows
        .iter()
        .map(|r| PolicyRow {
            table_qname: r.get(0),
            policy: r.get(1),
            permissive: r.get(2),
            method: r.get(3),
        })
        .filter(|p| p.method != "n" || !p.permissive)
        .collect();
    report.checks.extend(evaluate(&rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(policy: &str, permissive: bool) -> PolicyRow {
        PolicyRow {
            table_qname: "public.messages".into(),
            policy: policy.into(),
            permissive,
            method: "h".into(),
        }
    }

    #[test]
    fn a_restrictive_policy_on_a_distributed_table_is_an_error() {
        let checks = evaluate(&[
            row("messages_tenant_isolation", true),
            row("messages_user_scope", false),
        ]);
        assert_eq!(checks.len(), 2);
        assert!(checks[0].finding().is_none(), "permissive policies pass");
        let f = checks[1]
            .finding()
            .expect("the restrictive one is a finding");
        assert_eq!(f.rule, RULE);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.object, "policy messages_user_scope on public.messages");
        assert!(
            f.message.contains("without AS RESTRICTIVE"),
            "{}",
            f.message
        );
        assert!(f
            .fix
            .starts_with("DROP POLICY messages_user_scope ON public.messages"));
    }

    #[test]
    fn no_distributed_policy_no_check() {
        assert!(evaluate(&[]).is_empty());
    }
}
