//! `arcdb verify-rls`: prove that no tenant can read or write another tenant's rows.
//!
//! Three suites, one report:
//! - `audit`: static checks over the catalogs (RLS flags, roles, grants, policies, views,
//!   functions, keys) for every table of the tenant schemas;
//! - `probe`: live queries as the tenant role, per table and organization, in transactions that
//!   are always rolled back;
//! - `cases`: the declarative cases of `rls-tests/`.
//!
//! Every check is recorded (pass or finding) so the JUnit rendering lists what was proven, not
//! only what failed.

pub mod audit;
pub mod cases;
pub mod probe;

use crate::db::Db;
use crate::error::{ExitStatus, Refusal};
use crate::output::{table, Report};
use serde::Serialize;
use std::path::PathBuf;

/// What a verification run looks at. Defaults describe the ArcDesk schema.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The role tenant sessions run as (subject to RLS).
    pub tenant_role: String,
    /// The session setting that carries the tenant's organization id.
    pub setting: String,
    /// Schemas whose tables hold tenant rows.
    pub schemas: Vec<String>,
    /// The tenant key column of tenant tables.
    pub tenant_column: String,
    /// The tenant root table, keyed by `id` instead of `tenant_column`.
    pub root_table: String,
    /// Probe at most this many organizations (a sample beyond that, and the report says so).
    pub max_orgs: usize,
    /// Declarative cases from this directory instead of the embedded `rls-tests/`.
    pub cases_dir: Option<PathBuf>,
    /// Skip the live probes and cases (catalog audit only).
    pub static_only: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            tenant_role: "arcdesk_tenant".into(),
            setting: "app.current_org_id".into(),
            schemas: vec!["public".into()],
            tenant_column: "organization_id".into(),
            root_table: "organizations".into(),
            max_orgs: 50,
            cases_dir: None,
            static_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    Audit,
    Probe,
    Cases,
}

/// One hole: what it is, where, what a tenant could do with it, and how to close it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier of the rule, e.g. `rls-disabled`, `policy-unscoped`.
    pub rule: String,
    /// The table, view, function, policy, role or schema, qualified (`public.tasks`,
    /// `policy debug_all on public.tasks`, `function public.f(uuid)`).
    pub object: String,
    /// SELECT / INSERT / UPDATE / DELETE / ALL, where it applies.
    pub command: Option<String>,
    /// What a tenant could do because of it.
    pub risk: String,
    /// How to fix it (SQL where possible).
    pub fix: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome")]
pub enum Outcome {
    Pass,
    Fail {
        finding: Finding,
    },
    /// Could not be decided (e.g. no rows to probe); says why. Not a finding.
    Skipped {
        reason: String,
    },
}

/// One check that ran: a JUnit test case.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub suite: Suite,
    /// e.g. `rls-enabled public.tasks`, `probe cross-org-read public.tasks as Acme`.
    pub name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Check {
    pub fn pass(suite: Suite, name: impl Into<String>) -> Check {
        Check {
            suite,
            name: name.into(),
            outcome: Outcome::Pass,
        }
    }
    pub fn fail(suite: Suite, name: impl Into<String>, finding: Finding) -> Check {
        Check {
            suite,
            name: name.into(),
            outcome: Outcome::Fail { finding },
        }
    }
    pub fn skipped(suite: Suite, name: impl Into<String>, reason: impl Into<String>) -> Check {
        Check {
            suite,
            name: name.into(),
            outcome: Outcome::Skipped {
                reason: reason.into(),
            },
        }
    }
    pub fn finding(&self) -> Option<&Finding> {
        match &self.outcome {
            Outcome::Fail { finding } => Some(finding),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RlsReport {
    pub target: String,
    pub engine: String,
    pub tenant_role: String,
    pub tables: usize,
    pub organizations_probed: usize,
    /// True when more organizations exist than were probed.
    pub sampled: bool,
    pub checks: Vec<Check>,
    /// Informational remarks that are not findings (e.g. how the setting must be set).
    pub notes: Vec<String>,
}

impl RlsReport {
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.checks.iter().filter_map(Check::finding)
    }
}

impl Report for RlsReport {
    fn render_table(&self) -> String {
        let findings: Vec<&Finding> = self.findings().collect();
        let mut out = String::new();
        if !findings.is_empty() {
            let rows = findings.iter().map(|f| {
                vec![
                    f.rule.clone(),
                    f.object.clone(),
                    f.command.clone().unwrap_or_default(),
                    f.risk.clone(),
                    f.fix.clone(),
                ]
            });
            out.push_str(&table(
                &["rule", "object", "command", "a tenant could", "fix"],
                rows,
            ));
            out.push('\n');
        }
        let skipped = self
            .checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped { .. }))
            .count();
        let sample = if self.sampled {
            " (a sample: more organizations exist)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{} ({}) as {}: {} checks over {} tables and {} organizations{sample}, {} skipped — {}",
            self.target,
            self.engine,
            self.tenant_role,
            self.checks.len(),
            self.tables,
            self.organizations_probed,
            skipped,
            if findings.is_empty() {
                "no finding: tenants are isolated".to_string()
            } else {
                format!("{} finding(s)", findings.len())
            }
        ));
        out
    }

    fn render_junit(&self) -> Option<String> {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut junit = Junit::new("arcdb verify-rls");
        for suite in [Suite::Audit, Suite::Probe, Suite::Cases] {
            let mut ts = TestSuite::new(format!("{suite:?}").to_lowercase());
            for check in self.checks.iter().filter(|c| c.suite == suite) {
                let status = match &check.outcome {
                    Outcome::Pass => TestCaseStatus::success(),
                    Outcome::Skipped { reason } => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(reason.clone());
                        s
                    }
                    Outcome::Fail { finding } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!("{}: {}", finding.object, finding.risk));
                        s.set_type(finding.rule.clone());
                        s.set_description(format!("fix: {}", finding.fix));
                        s
                    }
                };
                ts.add_test_case(TestCase::new(check.name.clone(), status));
            }
            junit.add_test_suite(ts);
        }
        junit.to_string().ok()
    }

    fn exit_status(&self) -> ExitStatus {
        if self.findings().next().is_some() {
            ExitStatus::Findings
        } else {
            ExitStatus::Ok
        }
    }
}

/// Run every suite against `db` and collect one report.
/// Bad input is refused (exit 2) before any check runs: an unknown tenant role (when probing) or
/// schema, a setting name PostgreSQL would not accept as a custom parameter.
async fn check_inputs(db: &Db, opts: &VerifyOptions) -> anyhow::Result<()> {
    let word = |w: &str| {
        !w.is_empty()
            && !w.starts_with(|c: char| c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = opts.setting.split('.').collect();
    if parts.len() < 2 || !parts.iter().all(|p| word(p)) {
        return Err(Refusal::usage(format!(
            "--setting {:?} is not a custom parameter name: use the form prefix.name (default app.current_org_id)",
            opts.setting
        ))
        .into());
    }
    let roles = db
        .client
        .query(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&opts.tenant_role],
        )
        .await?;
    // --static-only reports a missing role as the audit's finding; the probes cannot run
    // without it, so there it is refused before anything runs.
    if roles.is_empty() && !opts.static_only {
        return Err(Refusal::usage(format!(
            "the tenant role {} does not exist: apply the migrations (arcdb up) or name the role with --tenant-role",
            opts.tenant_role
        ))
        .into());
    }
    for schema in &opts.schemas {
        let found = db
            .client
            .query(
                "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
                &[schema],
            )
            .await?;
        if found.is_empty() {
            return Err(Refusal::usage(format!(
                "--schema {schema}: no such schema in the database; name a schema that holds tenant tables"
            ))
            .into());
        }
    }
    Ok(())
}

pub async fn verify(db: &Db, opts: &VerifyOptions) -> anyhow::Result<RlsReport> {
    let mut report = RlsReport {
        target: db.target(),
        engine: db.engine.describe(),
        tenant_role: opts.tenant_role.clone(),
        tables: 0,
        organizations_probed: 0,
        sampled: false,
        checks: Vec::new(),
        notes: Vec::new(),
    };
    check_inputs(db, opts).await?;
    audit::run(db, opts, &mut report).await?;
    if !opts.static_only {
        probe::run(db, opts, &mut report).await?;
        cases::run(db, opts, &mut report).await?;
    }
    Ok(report)
}
