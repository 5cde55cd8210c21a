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
    /// Could not be decided (e.g. no rows to probe); says why. Not a finding, and unless
    /// `by_design`, the run is then inconclusive.
    Skipped {
        reason: String,
        /// Not applicable on purpose (a table tagged as shared by every organization): does not
        /// make the run inconclusive.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_design: bool,
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
                by_design: false,
            },
        }
    }
    /// A check that does not apply on purpose (see [`Outcome::Skipped`]).
    pub fn not_applicable(
        suite: Suite,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Check {
        Check {
            suite,
            name: name.into(),
            outcome: Outcome::Skipped {
                reason: reason.into(),
                by_design: true,
            },
        }
    }
    /// Skipped, and not by design: what was not verified.
    pub fn unverified(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Skipped {
                reason,
                by_design: false,
            } => Some(reason),
            _ => None,
        }
    }
    pub fn finding(&self) -> Option<&Finding> {
        match &self.outcome {
            Outcome::Fail { finding } => Some(finding),
            _ => None,
        }
    }
}

/// What a run established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every tenant table audited and probed, no finding.
    Isolated,
    /// At least one finding that fails the run.
    Findings,
    /// No failing finding, but something was not verified (`inconclusive` says what).
    Inconclusive,
}

#[derive(Debug, Serialize)]
pub struct RlsReport {
    pub verdict: Verdict,
    /// Why the run is not a pass though nothing was found (empty when verified).
    pub inconclusive: Vec<String>,
    /// Probe tenants verify-rls made itself (in rolled-back transactions), among the
    /// organizations probed.
    pub probe_tenants: usize,
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
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
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
            match self.verdict {
                Verdict::Isolated => "no finding: tenants are isolated".to_string(),
                Verdict::Findings => format!("{} finding(s)", findings.len()),
                Verdict::Inconclusive => format!(
                    "{} finding(s), INCONCLUSIVE: isolation was not verified ({})",
                    findings.len(),
                    self.inconclusive.join("; ")
                ),
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
                    Outcome::Skipped { reason, .. } => {
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
        match self.verdict {
            Verdict::Findings => ExitStatus::Findings,
            Verdict::Inconclusive => ExitStatus::Inconclusive,
            Verdict::Isolated => ExitStatus::Ok,
        }
    }
}

/// Run every suite against `db` and collect one report.
pub async fn verify(db: &Db, opts: &VerifyOptions) -> anyhow::Result<RlsReport> {
    let known: Vec<String> = db
        .client
        .query(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)",
            &[&opts.schemas],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_else(|_| opts.schemas.clone());
    if let Some(missing) = opts.schemas.iter().find(|s| !known.contains(s)) {
        return Err(Refusal::usage(format!(
            "schema {missing} does not exist in {}: name the schemas that hold the tenant tables with --schema",
            db.target()
        ))
        .into());
    }
    let mut report = RlsReport {
        verdict: Verdict::Inconclusive,
        inconclusive: Vec::new(),
        probe_tenants: 0,
        target: db.target(),
        engine: db.engine.describe(),
        tenant_role: opts.tenant_role.clone(),
        tables: 0,
        organizations_probed: 0,
        sampled: false,
        checks: Vec::new(),
        notes: Vec::new(),
    };
    audit::run(db, opts, &mut report).await?;
    if !opts.static_only {
        probe::run(db, opts, &mut report).await?;
        cases::run(db, opts, &mut report).await?;
    }
    decide(opts, &mut report);
    Ok(report)
}

/// The verdict: findings, else isolated only when nothing was left unverified.
fn decide(opts: &VerifyOptions, report: &mut RlsReport) {
    let mut why = std::mem::take(&mut report.inconclusive);
    if report.tables == 0 {
        why.push(format!(
            "no tenant table in schema {}: nothing was verified",
            opts.schemas.join(", ")
        ));
    }
    if opts.static_only {
        why.push("--static-only: the catalog audit ran, the live probes and cases did not".into());
    }
    for suite in [Suite::Audit, Suite::Probe, Suite::Cases] {
        // The built-in cases describe ArcDesk's sample data: skipped elsewhere, they leave the
        // verdict to the probes. Cases the user named must run.
        if suite == Suite::Cases && opts.cases_dir.is_none() {
            continue;
        }
        let skipped: Vec<&Check> = report
            .checks
            .iter()
            .filter(|c| c.suite == suite && c.unverified().is_some())
            .collect();
        if let Some(first) = skipped.first() {
            why.push(format!(
                "{} {} check(s) skipped, e.g. {}: {}",
                skipped.len(),
                format!("{suite:?}").to_lowercase(),
                first.name,
                first.unverified().unwrap_or_default()
            ));
        }
    }
    report.inconclusive = why;
    report.verdict = if report.findings().next().is_some() {
        Verdict::Findings
    } else if report.inconclusive.is_empty() {
        Verdict::Isolated
    } else {
        Verdict::Inconclusive
    };
}
