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
pub mod citus;
pub mod fix;
mod locate;
pub mod probe;
mod reach;
mod render;
pub mod severity;
pub mod tenancy;

pub use severity::Severity;
pub use tenancy::Tenancy;

use crate::db::Db;
use crate::error::{ExitStatus, Refusal};
use crate::output::Report;
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
    /// The tenant root table (its name; its schema is among `schemas`), keyed by `root_key`
    /// instead of `tenant_column`.
    pub root_table: String,
    /// The key column of the root table that the tenant column holds.
    pub root_key: String,
    /// Probe at most this many organizations (a sample beyond that, and the report says so).
    pub max_orgs: usize,
    /// Declarative cases from this directory instead of the embedded `rls-tests/`.
    pub cases_dir: Option<PathBuf>,
    /// Skip the live probes and cases (catalog audit only).
    pub static_only: bool,
    /// Findings of this severity or above fail the run (exit 5).
    pub fail_on: Severity,
    /// How the setting's identity maps to a tenant ([`tenancy`]).
    pub tenancy: Tenancy,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            tenant_role: "arcdesk_tenant".into(),
            setting: "app.current_org_id".into(),
            schemas: vec!["public".into()],
            tenant_column: "organization_id".into(),
            root_table: "organizations".into(),
            root_key: "id".into(),
            max_orgs: 50,
            cases_dir: None,
            static_only: false,
            fail_on: Severity::Error,
            tenancy: Tenancy::Column,
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
    /// How much it weighs ([`severity::SEVERITIES`]); set from the rule by [`Check::fail`].
    pub severity: Severity,
    /// The table, view, function, policy, role or schema, qualified (`public.tasks`,
    /// `policy debug_all on public.tasks`, `function public.f(uuid)`).
    pub object: String,
    /// SELECT / INSERT / UPDATE / DELETE / ALL, where it applies.
    pub command: Option<String>,
    /// What a tenant could do because of it.
    pub message: String,
    /// More about it (e.g. the findings a root cause explains), when there is more.
    pub detail: Option<String>,
    /// How to fix it (SQL where possible).
    pub fix: String,
    /// Where in a source file the object is defined, when known.
    pub location: Option<Location>,
}

/// A place in a file (for SARIF and for people).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: String,
    pub line: Option<u32>,
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
    pub fn fail(suite: Suite, name: impl Into<String>, mut finding: Finding) -> Check {
        finding.severity = severity::of(&finding.rule);
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

/// Findings per severity.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

/// What a run established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every tenant table audited and probed, no finding.
    Isolated,
    /// At least one finding at or above `fail_on`.
    Findings,
    /// No failing finding, but something was not verified (`inconclusive` says what).
    Inconclusive,
}

#[derive(Debug, Serialize)]
pub struct RlsReport {
    pub verdict: Verdict,
    /// Findings of this severity or above fail the run (`--fail-on`).
    pub fail_on: Severity,
    /// Findings per severity.
    pub summary: Summary,
    /// Why the run is not a pass though nothing was found (empty when verified).
    pub inconclusive: Vec<String>,
    /// Probe tenants verify-rls made itself (in rolled-back transactions), among the
    /// organizations probed.
    pub probe_tenants: usize,
    pub target: String,
    pub engine: String,
    pub tenant_role: String,
    /// The tenancy model (`--model`): column, membership or supabase.
    pub model: &'static str,
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
        render::table(self, render::width())
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
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
                        s.set_message(format!(
                            "{} {}: {}",
                            finding.severity.as_str(),
                            finding.object,
                            finding.message
                        ));
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

    fn render_sarif(&self) -> Option<String> {
        use crate::output::sarif;
        let findings: Vec<sarif::Finding> = self
            .findings()
            .map(|f| sarif::Finding {
                rule: f.rule.clone(),
                severity: match f.severity {
                    Severity::Error => sarif::Level::Error,
                    Severity::Warning => sarif::Level::Warning,
                    Severity::Info => sarif::Level::Note,
                },
                file: f
                    .location
                    .as_ref()
                    .map(|l| l.path.clone())
                    .unwrap_or_default(),
                line: f.location.as_ref().and_then(|l| l.line).unwrap_or(0) as usize,
                message: format!("{}: {}", f.object, f.message),
                help: f.fix.clone(),
            })
            .collect();
        Some(sarif::render("arcdb verify-rls", &findings))
    }

    fn exit_status(&self) -> ExitStatus {
        match self.verdict {
            Verdict::Findings => ExitStatus::Findings,
            Verdict::Inconclusive => ExitStatus::Inconclusive,
            Verdict::Isolated => ExitStatus::Ok,
        }
    }
}

/// Bad input is refused (exit 2) before any check runs: a setting name PostgreSQL would not
/// accept as a custom parameter (an unknown schema is refused by `verify` itself, naming it). A
/// tenant role that does not exist is not refused: it is the audit's root cause
/// (`tenant-role-missing`), reported once, with the probes and cases skipped for it.
fn check_setting(opts: &VerifyOptions) -> anyhow::Result<()> {
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
    Ok(())
}

/// A `--membership` table (or one of its columns) that does not exist is refused (exit 2)
/// before any check runs.
async fn check_membership(db: &Db, opts: &VerifyOptions) -> anyhow::Result<()> {
    if let Some(m) = opts.tenancy.membership() {
        let found = db
            .client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL,
                        ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                               WHERE a.attrelid = to_regclass($1) AND a.attnum > 0
                                 AND NOT a.attisdropped AND a.attname = ANY($2))",
                &[
                    &m.sql_name(),
                    &vec![m.user_col.clone(), m.tenant_col.clone()],
                ],
            )
            .await;
        if let Ok(row) = found {
            let (exists, columns): (bool, Vec<String>) = (row.get(0), row.get(1));
            let missing: Vec<&str> = [&m.user_col, &m.tenant_col]
                .into_iter()
                .filter(|c| !columns.contains(c))
                .map(String::as_str)
                .collect();
            if !exists {
                return Err(Refusal::usage(format!(
                    "the membership table {} does not exist: name it with --membership 'TABLE(user_col, tenant_col)' (schema-qualified when not on the search_path)",
                    m.sql_name()
                ))
                .into());
            }
            if !missing.is_empty() {
                return Err(Refusal::usage(format!(
                    "the membership table {} has no column {}: --membership takes TABLE(user_col, tenant_col)",
                    m.sql_name(),
                    missing.join(", ")
                ))
                .into());
            }
        }
    }
    Ok(())
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
        fail_on: opts.fail_on,
        summary: Summary::default(),
        inconclusive: Vec::new(),
        probe_tenants: 0,
        target: db.target(),
        engine: db.engine.describe(),
        tenant_role: opts.tenant_role.clone(),
        model: opts.tenancy.name(),
        tables: 0,
        organizations_probed: 0,
        sampled: false,
        checks: Vec::new(),
        notes: Vec::new(),
    };
    check_setting(opts)?;
    check_membership(db, opts).await?;
    setting_read(db, opts, &mut report).await?;
    audit::run(db, opts, &mut report).await?;
    citus::run(db, &mut report).await?;
    reach::run(db, opts, &mut report).await?;
    if !opts.static_only {
        if tenant_role_exists(db, opts).await? {
            probe::run(db, opts, &mut report).await?;
            cases::run(db, opts, &mut report).await?;
        } else {
            // The root cause is the audit's one finding; what it prevented is said once per suite.
            let why = format!(
                "the tenant role {} does not exist (tenant-role-missing): nothing can run as it",
                opts.tenant_role
            );
            report
                .checks
                .push(Check::skipped(Suite::Probe, "probe (all tables)", &why));
            report
                .checks
                .push(Check::skipped(Suite::Cases, "cases (all)", why));
        }
    }
    // Findings on objects of arcdb's own migrations point at their definition (SARIF).
    let migrated = db
        .client
        .query_one(
            "SELECT to_regclass('arcdb.schema_history') IS NOT NULL",
            &[],
        )
        .await
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    if migrated {
        for check in &mut report.checks {
            if let Outcome::Fail { finding } = &mut check.outcome {
                finding.location = locate::locate(&finding.object);
            }
        }
    }
    decide(opts, &mut report);
    Ok(report)
}

async fn tenant_role_exists(db: &Db, opts: &VerifyOptions) -> anyhow::Result<bool> {
    let row = db
        .client
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&opts.tenant_role],
        )
        .await?;
    Ok(row.is_some())
}

/// A root cause: policies exist but none (and no function) reads `--setting`, so the probes
/// set a setting nothing looks at and every finding after would follow from that one mistake.
async fn setting_read(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) -> anyhow::Result<()> {
    let Ok(row) = db
        .client
        .query_one(include_str!("setting_read.sql"), &[&opts.setting])
        .await
    else {
        return Ok(()); // an engine without these catalogs: the audit says what it cannot see
    };
    let (policies, read, others): (i64, bool, Vec<String>) = (row.get(0), row.get(1), row.get(2));
    // Supabase: older auth.uid() bodies read the per-claim setting (request.jwt.claim.sub),
    // which the probes set along with request.jwt.claims.
    let read = read
        || (opts.tenancy.is_supabase()
            && opts.setting == tenancy::SUPABASE_CLAIMS
            && others.iter().any(|s| s.starts_with("request.jwt.claim.")));
    let name = format!("setting-unread {}", opts.setting);
    if policies == 0 || read {
        report.checks.push(Check::pass(Suite::Audit, name));
        return Ok(());
    }
    let read_instead = if others.is_empty() {
        "no policy reads any setting with current_setting()".to_string()
    } else {
        format!("the policies and functions read {}", others.join(", "))
    };
    report.checks.push(Check::fail(
        Suite::Audit,
        name,
        Finding {
            rule: "setting-unread".into(),
            severity: Severity::Error,
            object: format!("setting {}", opts.setting),
            command: None,
            message: format!(
                "no policy or function reads {}: the probes act as a tenant the schema never sees, so the other findings follow from this one ({read_instead})",
                opts.setting
            ),
            detail: None,
            fix: match others.first() {
                Some(s) => format!("name the setting the application sets: --setting {s}"),
                None => "name the setting the application sets with --setting".into(),
            },
            location: None,
        },
    ));
    Ok(())
}

/// The verdict: findings, else isolated only when nothing was left unverified.
fn decide(opts: &VerifyOptions, report: &mut RlsReport) {
    let mut why = std::mem::take(&mut report.inconclusive);
    let role_missing = report
        .findings()
        .any(|f| f.rule == audit::rule::TENANT_ROLE_MISSING);
    if role_missing {
        why.push(format!(
            "the tenant role {} does not exist: no table was audited or probed",
            opts.tenant_role
        ));
    } else if report.tables == 0 {
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
    let mut summary = Summary::default();
    for f in report.findings() {
        match f.severity {
            Severity::Error => summary.error += 1,
            Severity::Warning => summary.warning += 1,
            Severity::Info => summary.info += 1,
        }
    }
    report.summary = summary;
    report.verdict = if report.findings().any(|f| f.severity >= opts.fail_on) {
        Verdict::Findings
    } else if report.inconclusive.is_empty() {
        Verdict::Isolated
    } else {
        Verdict::Inconclusive
    };
}
