//! `arcdb lint`: the statements of a migration set that a target engine's documentation says it
//! does not support, with file and line. No database connection: the set is resolved for the
//! target exactly as `up` would resolve it (engine variants included), split into statements,
//! and every statement (and every PL/pgSQL body) is matched against the rules in [`RULES`].
//!
//! The rules are data: a token pattern, the engine and versions it applies to, why, and the
//! documentation it comes from. Patterns are matched on tokens, so nothing inside a string
//! literal or a comment matches; PL/pgSQL bodies (dollar-quoted) are tokenized on their own.

pub mod safety;

mod citus;
mod pattern;
mod rules;

pub use rules::RULES;

use crate::engine::{Engine, EngineKind, Version};
use crate::error::{ExitStatus, Refusal};
use crate::migrate::catalog::{MigrationSet, Script};
use crate::migrate::statements::{split_tokens, tokenize_range, Token, TokenKind};
use crate::output::{table, Report};
use pattern::{find_all, Pattern};
use serde::Serialize;
use std::path::PathBuf;

/// The newest versions whose documentation the rules were written from: the default target.
pub const NEWEST_COCKROACHDB: Version = Version::new(26, 2, 0);
pub const NEWEST_POSTGRES: Version = Version::new(18, 0, 0);

/// What `arcdb lint` checks a migration set for: an engine arcdb connects to, or PostgreSQL
/// whose tables are to be distributed by tenant with Citus (the PostgreSQL scripts, checked
/// for what Citus refuses or changes; `--engine-version` is then the Citus version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Postgres,
    Cockroachdb,
    Citus,
}

impl Target {
    /// The engine whose migration variants the target runs.
    fn engine(self) -> EngineKind {
        match self {
            Target::Postgres | Target::Citus => EngineKind::Postgres,
            Target::Cockroachdb => EngineKind::Cockroachdb,
        }
    }
}

/// The Citus version the `citus-*` rules were measured on (docs/citus.md).
pub const CITUS_MEASURED: Version = Version::new(13, 2, 2);

/// Where in a statement a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The statement's own tokens (function bodies are one opaque token there).
    Statement,
    /// The tokens of PL/pgSQL bodies (`CREATE FUNCTION … LANGUAGE plpgsql AS $$…$$`, `DO $$…$$`).
    PlpgsqlBody,
    /// Both: the statement and the bodies of any function or DO block in it.
    Everywhere,
    /// Not a pattern: checked by code across the whole set (`lint/citus.rs`), the rule's
    /// `pattern` naming what the check looks for.
    Set,
}

/// What the engine does with the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The engine rejects it (an error when the migration runs).
    Unsupported,
    /// Accepted, but it does nothing there.
    Ignored,
    /// Runs, but behaves differently than on PostgreSQL.
    Differs,
    /// Runs; the documentation advises against it.
    Advice,
}

/// One rule of the table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub engine: Target,
    /// Applies from this engine version on (None: from the first).
    pub since: Option<Version>,
    /// Applies below this version, the one that brought support (None: every version).
    pub until: Option<Version>,
    pub scope: Scope,
    /// Token pattern: words match case-insensitively (`a|b` alternatives), `_` any token,
    /// `...` any tokens, `x?` optional, `-a|b` one token that is none of these, `~a|b` the
    /// previous token is none of these, `$n` a `$1` parameter, `^` at the statement's start.
    pub pattern: &'static str,
    pub kind: Kind,
    pub reason: &'static str,
    /// The documentation (and its version) the rule comes from.
    pub source: &'static str,
}

impl Rule {
    pub fn applies_to(&self, engine: Target, version: Version) -> bool {
        self.engine == engine
            && self.since.is_none_or(|s| version >= s)
            && self.until.is_none_or(|u| version < u)
    }
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/// One statement a rule flags.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    /// The statement's first words.
    pub statement: String,
    pub rule: &'static str,
    pub kind: Kind,
    pub reason: &'static str,
    pub source: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LintReport {
    pub engine: Target,
    pub engine_version: String,
    /// `embedded` or the `--source` directory.
    pub source: String,
    /// The scripts checked (the files this engine would run, variants included).
    pub files: Vec<String>,
    pub statements: usize,
    pub rules: usize,
    pub findings: Vec<Finding>,
    /// Safety hazards a migration accepts (`-- arcdb:safety-accept`): listed, not failing.
    pub accepted: Vec<Accepted>,
}

/// The hazards of one rule that one file accepts, with its author's reason.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub file: String,
    pub rule: &'static str,
    /// The lines of the accepted statements.
    pub lines: Vec<usize>,
    pub reason: String,
}

impl LintReport {
    /// A report of `rules` rules for `engine`, before any script is checked.
    fn empty(engine: Target, engine_version: String, source: String, rules: usize) -> LintReport {
        LintReport {
            engine,
            engine_version,
            source,
            files: Vec::new(),
            statements: 0,
            rules,
            findings: Vec::new(),
            accepted: Vec::new(),
        }
    }

    fn target(&self) -> String {
        format!(
            "{} {}",
            match self.engine {
                Target::Postgres => "PostgreSQL",
                Target::Cockroachdb => "CockroachDB",
                Target::Citus => "Citus",
            },
            self.engine_version
        )
    }
}

impl Report for LintReport {
    fn render_table(&self) -> String {
        let summary = format!(
            "{}: {} statement(s) in {} file(s) checked against {} rule(s) for {}: {}",
            self.source,
            self.statements,
            self.files.len(),
            self.rules,
            self.target(),
            if self.findings.is_empty() {
                "no finding".to_string()
            } else {
                format!("{} finding(s)", self.findings.len())
            }
        );
        let accepted: String = self
            .accepted
            .iter()
            .map(|a| {
                format!(
                    "\naccepted: {} [{}]: {} statement(s) — {}",
                    a.file,
                    a.rule,
                    a.lines.len(),
                    a.reason
                )
            })
            .collect();
        let summary = format!("{summary}{accepted}");
        if self.findings.is_empty() {
            return summary;
        }
        let rows = self.findings.iter().map(|f| {
            vec![
                format!("{}:{}", f.file, f.line),
                f.statement.clone(),
                format!("{}\n{}", f.reason, f.source),
                f.rule.to_string(),
            ]
        });
        format!(
            "{}\n{summary}",
            table(&["where", "statement", "why (source)", "rule"], rows)
        )
    }

    fn render_junit(&self) -> Option<String> {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut junit = Junit::new("arcdb lint");
        let mut suite = TestSuite::new(format!("lint {}", self.target()));
        for file in &self.files {
            let here: Vec<&Finding> = self.findings.iter().filter(|f| &f.file == file).collect();
            let status = if here.is_empty() {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "{} statement(s) {} does not support",
                    here.len(),
                    self.target()
                ));
                s.set_type("lint");
                s.set_description(
                    here.iter()
                        .map(|f| {
                            format!(
                                "{}:{}: {} [{}]: {} ({})",
                                f.file, f.line, f.statement, f.rule, f.reason, f.source
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                s
            };
            let mut case = TestCase::new(file.clone(), status);
            case.set_classname("arcdb.lint");
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
        junit.to_string().ok()
    }

    fn render_sarif(&self) -> Option<String> {
        use crate::output::sarif::{render, Finding as Sarif, Level};
        let findings: Vec<Sarif> = self
            .findings
            .iter()
            .map(|f| Sarif {
                rule: f.rule.to_string(),
                severity: match (safety::severity_of(f.rule), f.kind) {
                    (Some(safety::Severity::Error), _) | (None, Kind::Unsupported) => Level::Error,
                    (Some(safety::Severity::Warning), _)
                    | (None, Kind::Ignored | Kind::Differs) => Level::Warning,
                    (None, _) => Level::Note,
                },
                file: f.file.clone(),
                line: f.line,
                message: format!("{}: {}", f.statement, f.reason),
                help: f.source.to_string(),
            })
            .collect();
        Some(render("arcdb lint", &findings))
    }

    fn exit_status(&self) -> ExitStatus {
        if self.findings.is_empty() {
            ExitStatus::Ok
        } else {
            ExitStatus::Findings
        }
    }
}

pub struct LintOptions {
    pub engine: Target,
    /// Default: PostgreSQL's oldest supported major (a migration must run on all of them);
    /// CockroachDB's newest documented version (older ones are refused on connect anyway).
    pub version: Option<String>,
    pub source: Option<PathBuf>,
    /// Safety rules on every migration, also those released before the safety lint.
    pub all: bool,
}

/// Lint the migration set for a target engine.
pub fn lint(opts: LintOptions) -> anyhow::Result<LintReport> {
    let version = match &opts.version {
        None => match opts.engine {
            Target::Postgres => crate::engine::MIN_POSTGRES,
            Target::Cockroachdb => NEWEST_COCKROACHDB,
            Target::Citus => CITUS_MEASURED,
        },
        Some(text) => Version::parse(text).ok_or_else(|| {
            Refusal::usage(format!(
                "--engine-version {text}: expected a version like 25.3 or 15"
            ))
        })?,
    };
    let engine = Engine {
        kind: opts.engine.engine(),
        // Citus runs the PostgreSQL scripts; its version is not PostgreSQL's.
        version: if opts.engine == Target::Citus {
            citus::POSTGRES
        } else {
            version
        },
        banner: String::new(),
    };
    let set = MigrationSet::load(opts.source.as_deref())?;
    let rules: Vec<&Rule> = RULES
        .iter()
        .filter(|r| r.applies_to(opts.engine, version))
        .collect();
    let mut report = LintReport::empty(
        opts.engine,
        format!("{}.{}", version.major, version.minor),
        opts.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "embedded".into()),
        rules.len(),
    );
    let resolved = set.resolve(&engine);
    for migration in &resolved {
        for script in [&migration.up, migration.down_script()] {
            report.files.push(script.file.clone());
            lint_script(script, &rules, &mut report);
            no_transaction_findings(script, &mut report);
            if opts.engine == Target::Postgres
                && (opts.all || migration.version > safety::RELEASED_BEFORE_SAFETY_LINT)
                && std::ptr::eq(script, &migration.up)
            {
                safety_findings(script, &mut report);
            }
        }
    }
    let set_rules: Vec<&Rule> = rules
        .iter()
        .copied()
        .filter(|r| r.scope == Scope::Set)
        .collect();
    if !set_rules.is_empty() {
        let scripts: Vec<&Script> = resolved
            .iter()
            .flat_map(|m| [&m.up, m.down_script()])
            .collect();
        report
            .findings
            .extend(citus::check_set(&scripts, &set_rules));
        // Findings in file order, each file's by line, as for the pattern rules.
        let order: Vec<&String> = report.files.iter().collect();
        report
            .findings
            .sort_by_key(|f| (order.iter().position(|file| **file == f.file), f.line));
    }
    Ok(report)
}

/// The locking and compatibility hazards of an up script (PostgreSQL; [`safety`]).
fn safety_findings(script: &Script, report: &mut LintReport) {
    for hazard in safety::check(script) {
        if let Some(reason) = hazard.accepted {
            match report
                .accepted
                .iter_mut()
                .find(|a| a.file == hazard.file && a.rule == hazard.rule)
            {
                Some(entry) => entry.lines.push(hazard.line),
                None => report.accepted.push(Accepted {
                    file: hazard.file,
                    rule: hazard.rule,
                    lines: vec![hazard.line],
                    reason,
                }),
            }
            continue;
        }
        report.findings.push(Finding {
            file: hazard.file,
            line: hazard.line,
            statement: hazard.statement,
            rule: hazard.rule,
            kind: Kind::Advice,
            reason: hazard.message,
            source: hazard.help,
        });
    }
}

/// Statements of a `-- arcdb:no-transaction` file that do not need it (any engine).
fn no_transaction_findings(script: &Script, report: &mut LintReport) {
    for (line, statement) in crate::migrate::txmode::needless_outside_a_transaction(script) {
        report.findings.push(Finding {
            file: script.file.clone(),
            line,
            statement: first_words(&statement),
            rule: "no-transaction-needless",
            kind: Kind::Advice,
            reason: "a `-- arcdb:no-transaction` file runs each statement on its own, so a failure leaves the ones before it applied: keep in it only statements that cannot run in a transaction (CREATE/DROP/REINDEX INDEX CONCURRENTLY, VACUUM, ALTER TYPE … ADD VALUE, ALTER SYSTEM, CREATE/DROP DATABASE, SET) and move this one to a transactional migration",
            source: "arcdb README, Running migrations on a live database",
        });
    }
}

/// The statement's first words, for people: "CREATE TRIGGER desks_set_hierarchy BEFORE …".
fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(6).collect();
    let mut out = words.join(" ");
    if out.chars().count() > 60 {
        out = out.chars().take(59).collect::<String>() + "…";
    } else if text.split_whitespace().count() > words.len() {
        out.push_str(" …");
    }
    out
}

fn lint_script(script: &Script, rules: &[&Rule], report: &mut LintReport) {
    let sql = script.sql.as_str();
    let first = report.findings.len();
    for (statement, tokens) in split_tokens(sql) {
        report.statements += 1;
        let bodies = routine_bodies(sql, &tokens);
        let mut seen: Vec<(&'static str, usize)> = Vec::new();
        for rule in rules {
            let pattern = Pattern::parse(rule.pattern);
            let mut lines: Vec<usize> = Vec::new();
            if matches!(rule.scope, Scope::Statement | Scope::Everywhere) {
                lines.extend(
                    find_all(sql, &tokens, &pattern)
                        .into_iter()
                        .map(|i| tokens[i].line),
                );
            }
            for (body, plpgsql) in &bodies {
                let wanted = match rule.scope {
                    Scope::Statement | Scope::Set => false,
                    Scope::PlpgsqlBody => *plpgsql,
                    Scope::Everywhere => true,
                };
                if wanted {
                    lines.extend(
                        find_all(sql, body, &pattern)
                            .into_iter()
                            .map(|i| body[i].line),
                    );
                }
            }
            for line in lines {
                if seen.contains(&(rule.id, line)) {
                    continue;
                }
                seen.push((rule.id, line));
                report.findings.push(Finding {
                    file: script.file.clone(),
                    line,
                    statement: first_words(&statement.text),
                    rule: rule.id,
                    kind: rule.kind,
                    reason: rule.reason,
                    source: rule.source,
                });
            }
        }
    }
    report.findings[first..].sort_by_key(|f| f.line);
}

/// The dollar-quoted bodies of a CREATE FUNCTION/PROCEDURE or DO statement, tokenized, each
/// with whether it is PL/pgSQL.
fn routine_bodies(sql: &str, tokens: &[Token]) -> Vec<(Vec<Token>, bool)> {
    let first = |i: usize| tokens.get(i).map(|t| t.text(sql).to_ascii_uppercase());
    let is_do = first(0).as_deref() == Some("DO");
    let is_routine = first(0).as_deref() == Some("CREATE")
        && tokens
            .iter()
            .take(4)
            .any(|t| t.is_word(sql, "FUNCTION") || t.is_word(sql, "PROCEDURE"));
    if !is_do && !is_routine {
        return Vec::new();
    }
    let language = tokens
        .windows(2)
        .find(|w| w[0].is_word(sql, "LANGUAGE"))
        .map(|w| {
            let t = w[1].text(sql);
            t.trim_matches(|c| c == '\'' || c == '"')
                .to_ascii_lowercase()
        });
    let plpgsql = match language.as_deref() {
        Some(lang) => lang == "plpgsql",
        None => is_do,
    };
    tokens
        .iter()
        .filter_map(|t| match &t.kind {
            TokenKind::DollarString { body } => {
                let line = t.line + sql[t.span.start..body.start].matches('\n').count();
                Some((tokenize_range(sql, body.clone(), line), plpgsql))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> MigrationSet {
        MigrationSet::from_files(
            "m",
            files.iter().map(|(p, c)| (p.to_string(), c.to_string())),
        )
        .unwrap()
    }

    fn lint_text(engine: Target, version: &str, up: &str) -> Vec<(usize, &'static str)> {
        let version = Version::parse(version).unwrap();
        let rules: Vec<&Rule> = RULES
            .iter()
            .filter(|r| r.applies_to(engine, version))
            .collect();
        let mut report = LintReport::empty(engine, String::new(), String::new(), 0);
        let script = Script {
            file: "x.sql".into(),
            sql: up.into(),
        };
        lint_script(&script, &rules, &mut report);
        report.findings.iter().map(|f| (f.line, f.rule)).collect()
    }

    #[test]
    fn patterns_match_tokens_not_text() {
        let found = lint_text(
            Target::Cockroachdb,
            "26.2",
            "-- LISTEN here is a comment\nSELECT 'NOTIFY x; LISTEN y';\nCOMMENT ON TABLE t IS 'DEFERRABLE';\nNOTIFY jobs;",
        );
        assert_eq!(found, vec![(4, "crdb-listen-notify")]);
    }

    #[test]
    fn version_windows_apply() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION f();";
        assert_eq!(
            lint_text(Target::Cockroachdb, "24.1", sql),
            vec![(1, "crdb-triggers")]
        );
        assert!(lint_text(Target::Cockroachdb, "24.3", sql).is_empty());
        let pg = "ALTER TABLE t ADD CONSTRAINT k UNIQUE NULLS NOT DISTINCT (a);";
        assert_eq!(
            lint_text(Target::Postgres, "13", pg),
            vec![(1, "pg-nulls-not-distinct")]
        );
        assert!(lint_text(Target::Postgres, "15", pg).is_empty());
    }

    #[test]
    fn plpgsql_bodies_are_linted_with_their_own_lines() {
        let sql = "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nDECLARE\n  x public.t.c%TYPE;\nBEGIN\n  PERFORM 1;\n  IF NOT FOUND THEN\n    NEW.a := (NEW).b;\n  END IF;\n  IF NEW.c > 0 THEN RETURN NULL; END IF;\n  RETURN NEW;\nEND $$;\nCREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1 WHERE NOT FOUND $$;";
        assert_eq!(
            lint_text(Target::Cockroachdb, "26.2", sql),
            vec![
                (3, "crdb-plpgsql-type-copy"),
                (5, "crdb-plpgsql-perform"),
                (6, "crdb-plpgsql-found"),
                (9, "crdb-composite-field-access"),
            ]
        );
    }

    #[test]
    fn negative_and_lookbehind_elements() {
        let ok = "CREATE TABLE t (a int REFERENCES u NOT DEFERRABLE);\nCREATE EXTENSION IF NOT EXISTS pgcrypto;";
        assert!(lint_text(Target::Cockroachdb, "26.2", ok).is_empty());
        let bad = "CREATE TABLE t (a int REFERENCES u DEFERRABLE INITIALLY DEFERRED);\nCREATE EXTENSION IF NOT EXISTS \"postgres_fdw\";";
        assert_eq!(
            lint_text(Target::Cockroachdb, "26.2", bad),
            vec![(1, "crdb-deferrable"), (2, "crdb-extension-undocumented")]
        );
    }

    #[test]
    fn variants_are_selected_like_up_does() {
        let s = set(&[
            ("0001_a/up.sql", "CREATE EXTENSION citext;"),
            ("0001_a/down.sql", "DROP EXTENSION citext;"),
            ("0001_a/up.cockroachdb.sql", "SELECT 1;"),
        ]);
        let engine = Engine {
            kind: EngineKind::Cockroachdb,
            version: NEWEST_COCKROACHDB,
            banner: String::new(),
        };
        let resolved = s.resolve(&engine);
        assert!(resolved[0].up.file.ends_with("up.cockroachdb.sql"));
    }

    #[test]
    fn report_renders_and_sets_the_exit_status() {
        let report = LintReport {
            engine: Target::Cockroachdb,
            engine_version: "26.2".into(),
            source: "embedded".into(),
            files: vec!["m/0001_a/up.sql".into(), "m/0001_a/down.sql".into()],
            statements: 2,
            rules: 3,
            findings: vec![Finding {
                file: "m/0001_a/up.sql".into(),
                line: 7,
                statement: "CREATE EXTENSION citext".into(),
                rule: "crdb-extension-citext",
                kind: Kind::Unsupported,
                reason: "r",
                source: "s",
            }],
            accepted: Vec::new(),
        };
        assert_eq!(report.exit_status(), ExitStatus::Findings);
        assert!(report.render_table().contains("m/0001_a/up.sql:7"));
        let xml = report.render_junit().unwrap();
        assert!(
            xml.contains("<failure") && xml.contains("m/0001_a/up.sql:7"),
            "{xml}"
        );
        assert!(xml.contains("tests=\"2\""), "{xml}");
    }
}
