//! Declarative cases of `rls-tests/*.toml` (format: `rls-tests/README.md`): each case picks a
//! tenant (organization by slug, optionally a user by email), runs SQL as the tenant role in a
//! transaction that is rolled back, and compares the outcome with what it expects (a number of
//! rows, values, or an error).

use super::probe::{become_tenant, db_error_text, rolled_back, READ_COMMITTED};
use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::{quoted_ident, quoted_name, Db};
use crate::error::Refusal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio_postgres::SimpleQueryMessage;

/// The user setting a case's `user` sets (ArcDesk's per-user scope), unless the file says
/// otherwise.
const USER_SETTING: &str = "app.current_user_id";
/// Where users are looked up by email (in the first tenant schema).
const USERS_TABLE: &str = "users";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    /// The setting `user` fills (default app.current_user_id).
    #[serde(default)]
    user_setting: Option<String>,
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Organization slug: the tenant.
    #[serde(default)]
    org: Option<String>,
    /// User email: sets the user setting; also the tenant when `org` is absent.
    #[serde(default)]
    user: Option<String>,
    /// Further settings (name = value), set with set_config(…, true).
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    query_file: Option<String>,
    expect: Expect,
    #[serde(default)]
    fix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    rows: Option<u64>,
    min_rows: Option<u64>,
    value: Option<toml::Value>,
    values: Option<Vec<toml::Value>>,
    error: Option<String>,
    message: Option<String>,
}

/// What one case's SQL did: the last statement's rows (first column as text) and row count,
/// or its error.
enum Outcome {
    Rows {
        first: Vec<Option<String>>,
        count: u64,
    },
    Error {
        code: String,
        text: String,
    },
}

/// One file of cases, from the embedded tree or a directory.
struct Source {
    /// Relative path (for check names).
    path: String,
    /// Where the file really is, for messages: `rls-tests/<path>` when embedded, the path on
    /// disk under `--cases DIR`.
    shown: String,
    text: String,
    dir: Option<PathBuf>,
}

pub async fn run(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) -> anyhow::Result<()> {
    let sources = load_sources(opts)?;
    let mut files = Vec::new();
    for source in &sources {
        let file: CaseFile = toml::from_str(&source.text).map_err(|e| {
            Refusal::usage(format!(
                "{}: not a valid case file: {}",
                source.shown,
                e.to_string().replace('\n', " ")
            ))
        })?;
        for case in &file.cases {
            validate(source, case)?;
        }
        files.push(file);
    }
    if files.iter().all(|f| f.cases.is_empty()) {
        if let Some(dir) = &opts.cases_dir {
            report.inconclusive.push(format!(
                "the cases directory {} holds no case (*.toml with [[case]] entries)",
                dir.display()
            ));
        }
        return Ok(());
    }
    if opts.cases_dir.is_none() && opts.tenancy != super::Tenancy::Column {
        report.checks.push(Check::not_applicable(
            Suite::Cases,
            "cases (built-in)",
            format!(
                "the built-in cases describe ArcDesk, whose setting carries the organization id, not the {} model: give your own with --cases DIR",
                opts.tenancy.name()
            ),
        ));
        return Ok(());
    }
    if opts.cases_dir.is_none() {
        // The built-in cases are about ArcDesk's sample data (organizations by slug, users by
        // email): elsewhere they do not apply, and say so instead of failing.
        let schema = &opts.schemas[0];
        let wanted = [opts.root_table.as_str(), USERS_TABLE];
        let found: i64 = db
            .client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = ANY($2)
                    AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                 WHERE a.attrelid = c.oid AND a.attnum > 0
                                   AND a.attname IN ('slug', 'email'))",
                &[schema, &wanted.to_vec()],
            )
            .await?
            .get(0);
        if found < 2 {
            report.checks.push(Check::not_applicable(
                Suite::Cases,
                "cases (built-in)",
                format!(
                    "the built-in cases describe ArcDesk's sample data and {schema} has no ArcDesk {} and {USERS_TABLE} tables: give your own with --cases DIR",
                    opts.root_table
                ),
            ));
            return Ok(());
        }
    }
    // A session of its own: the cases' settings never reach the other suites' session.
    let case_db = db.reconnect().await?;
    for (source, file) in sources.iter().zip(&files) {
        let user_setting = file.user_setting.as_deref().unwrap_or(USER_SETTING);
        for case in &file.cases {
            let check = run_case(&case_db, opts, source, user_setting, case).await?;
            report.checks.push(check);
        }
    }
    Ok(())
}

fn load_sources(opts: &VerifyOptions) -> anyhow::Result<Vec<Source>> {
    match &opts.cases_dir {
        None => Ok(crate::embedded::RLS_TESTS
            .iter()
            .filter(|f| f.path.ends_with(".toml"))
            .map(|f| Source {
                path: f.path.to_string(),
                shown: format!("rls-tests/{}", f.path),
                text: f.contents.to_string(),
                dir: None,
            })
            .collect()),
        Some(dir) => {
            let mut paths = Vec::new();
            collect_toml(dir, &mut paths).map_err(|e| {
                Refusal::usage(format!(
                    "cannot read the cases directory {}: {e}",
                    dir.display()
                ))
            })?;
            paths.sort();
            paths
                .into_iter()
                .map(|path| {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        Refusal::usage(format!("cannot read {}: {e}", path.display()))
                    })?;
                    Ok(Source {
                        shown: path.display().to_string(),
                        path: path
                            .strip_prefix(dir)
                            .unwrap_or(&path)
                            .to_string_lossy()
                            .replace('\\', "/"),
                        dir: path.parent().map(Path::to_path_buf),
                        text,
                    })
                })
                .collect()
        }
    }
}

fn collect_toml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_toml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

fn validate(source: &Source, case: &Case) -> anyhow::Result<()> {
    let bad = |what: &str| -> anyhow::Error {
        Refusal::usage(format!("{}: case '{}': {what}", source.shown, case.name)).into()
    };
    if case.query.is_some() == case.query_file.is_some() {
        return Err(bad("give exactly one of query and query_file"));
    }
    let e = &case.expect;
    let kinds = [
        e.rows.is_some(),
        e.min_rows.is_some(),
        e.value.is_some(),
        e.values.is_some(),
        e.error.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(bad(
            "expect needs exactly one of rows, min_rows, value, values, error",
        ));
    }
    if e.message.is_some() && e.error.is_none() {
        return Err(bad("expect.message goes with expect.error"));
    }
    if let Some(code) = &e.error {
        if !(code == "any" || code.len() == 2 || code.len() == 5) {
            return Err(bad(
                "expect.error is a SQLSTATE (42501), a class (23) or \"any\"",
            ));
        }
    }
    Ok(())
}

/// The SQL of a case, read from `query` or `query_file`.
fn case_sql(source: &Source, case: &Case) -> anyhow::Result<String> {
    if let Some(q) = &case.query {
        return Ok(q.clone());
    }
    let rel = case.query_file.as_deref().unwrap_or_default();
    let text = match &source.dir {
        Some(dir) => std::fs::read_to_string(dir.join(rel)).ok(),
        None => {
            let base = Path::new(&source.path).parent().unwrap_or(Path::new(""));
            let wanted = base.join(rel).to_string_lossy().replace('\\', "/");
            crate::embedded::RLS_TESTS
                .iter()
                .find(|f| f.path == wanted)
                .map(|f| f.contents.to_string())
        }
    };
    text.ok_or_else(|| {
        Refusal::usage(format!(
            "{}: case '{}': query_file {rel} not found",
            source.shown, case.name
        ))
        .into()
    })
}

/// Replace `{{org:slug}}`, `{{user:email}}`, `{{org_of:email}}`, `{{org}}` and `{{user}}`
/// with ids looked up as the owner. `Err` carries why the data is missing.
struct Resolver<'a> {
    tx: super::probe::Tx<'a>,
    opts: &'a VerifyOptions,
    org: Option<String>,
    user: Option<String>,
}

impl Resolver<'_> {
    async fn org_by_slug(&self, slug: &str) -> anyhow::Result<Result<String, String>> {
        let root = quoted_name(&self.opts.schemas[0], &self.opts.root_table);
        let rows = self
            .tx
            .query(
                &format!("SELECT id::text FROM {root} WHERE slug::text = $1"),
                &[&slug],
            )
            .await?;
        Ok(match rows.first() {
            Some(row) => Ok(row.get(0)),
            None => Err(format!("no organization with slug '{slug}' in {root}")),
        })
    }

    /// (user id, its organization id)
    async fn user_by_email(&self, email: &str) -> anyhow::Result<Result<(String, String), String>> {
        let users = quoted_name(&self.opts.schemas[0], USERS_TABLE);
        let rows = self
            .tx
            .query(
                &format!(
                    "SELECT id::text, {}::text FROM {users} WHERE email::text = $1",
                    quoted_ident(&self.opts.tenant_column)
                ),
                &[&email],
            )
            .await?;
        Ok(match rows.first() {
            Some(row) => Ok((row.get(0), row.get(1))),
            None => Err(format!("no user with email '{email}' in {users}")),
        })
    }

    async fn expand(&self, text: &str) -> anyhow::Result<Result<String, String>> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let inner = rest[start + 2..start + len].trim();
            let (kind, arg) = inner.split_once(':').unwrap_or((inner, ""));
            let value = match (kind.trim(), arg.trim()) {
                ("org", "") => self
                    .org
                    .clone()
                    .ok_or_else(|| "{{org}} but the case sets no organization".to_string()),
                ("user", "") => self
                    .user
                    .clone()
                    .ok_or_else(|| "{{user}} but the case sets no user".to_string()),
                ("org", slug) => self.org_by_slug(slug).await?,
                ("user", email) => self.user_by_email(email).await?.map(|(u, _)| u),
                ("org_of", email) => self.user_by_email(email).await?.map(|(_, o)| o),
                _ => Err(format!("unknown placeholder {{{{{inner}}}}}")),
            };
            match value {
                Ok(v) => out.push_str(&v),
                Err(why) => return Ok(Err(why)),
            }
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        Ok(Ok(out))
    }
}

async fn run_case(
    db: &Db,
    opts: &VerifyOptions,
    source: &Source,
    user_setting: &str,
    case: &Case,
) -> anyhow::Result<Check> {
    let name = format!("case {}: {}", source.path, case.name);
    let sql = case_sql(source, case)?;
    rolled_back(&db.client, READ_COMMITTED, |tx| async move {
        // As the owner: who the tenant is, and the ids the SQL refers to.
        let mut resolver = Resolver {
            tx,
            opts,
            org: None,
            user: None,
        };
        let missing = |why: String| {
            Check::skipped(
                Suite::Cases,
                name.clone(),
                format!("{why}: the data this case needs is not loaded (the sample data: arcdb seed)"),
            )
        };
        if let Some(email) = &case.user {
            match resolver.user_by_email(email).await? {
                Ok((user, org)) => {
                    resolver.user = Some(user);
                    resolver.org = Some(org);
                }
                Err(why) => return Ok(missing(why)),
            }
        }
        if let Some(slug) = &case.org {
            match resolver.org_by_slug(slug).await? {
                Ok(org) => resolver.org = Some(org),
                Err(why) => return Ok(missing(why)),
            }
        }
        let sql = match resolver.expand(&sql).await? {
            Ok(sql) => sql,
            Err(why) => return Ok(missing(why)),
        };
        let mut settings = Vec::new();
        for (key, value) in &case.settings {
            match resolver.expand(value).await? {
                Ok(v) => settings.push((key.clone(), v)),
                Err(why) => return Ok(missing(why)),
            }
        }
        let expected_values = match &case.expect.values {
            Some(values) => {
                let mut out = Vec::new();
                for v in values {
                    match resolver.expand(&toml_text(v)).await? {
                        Ok(v) => out.push(v),
                        Err(why) => return Ok(missing(why)),
                    }
                }
                Some(out)
            }
            None => None,
        };
        let expected_value = match &case.expect.value {
            Some(v) => match resolver.expand(&toml_text(v)).await? {
                Ok(v) => Some(v),
                Err(why) => return Ok(missing(why)),
            },
            None => None,
        };

        // As the tenant.
        tx.batch("SET LOCAL lock_timeout = '5s'").await?;
        become_tenant(tx, &opts.tenant_role).await?;
        if let Some(org) = &resolver.org {
            tx.query("SELECT set_config($1, $2, true)", &[&opts.setting, org])
                .await?;
        }
        if let Some(user) = &resolver.user {
            tx.query("SELECT set_config($1, $2, true)", &[&user_setting, user])
                .await?;
        }
        for (key, value) in &settings {
            tx.query("SELECT set_config($1, $2, true)", &[key, value])
                .await?;
        }
        let outcome = match tx.simple_query(&sql).await {
            Ok(messages) => {
                let (mut rows, mut last) = (Vec::new(), (Vec::new(), 0));
                for message in messages {
                    match message {
                        SimpleQueryMessage::Row(row) => rows.push(row.get(0).map(str::to_string)),
                        SimpleQueryMessage::CommandComplete(n) => {
                            last = (std::mem::take(&mut rows), n);
                        }
                        _ => {}
                    }
                }
                Outcome::Rows {
                    first: last.0,
                    count: last.1,
                }
            }
            Err(err) => Outcome::Error {
                code: err.code().map(|c| c.code().to_string()).unwrap_or_default(),
                text: db_error_text(&err),
            },
        };
        // A write on a read-only connection proves nothing either way.
        if let Outcome::Error { code, .. } = &outcome {
            if code == "25006" {
                return Ok(Check::skipped(
                    Suite::Cases,
                    name,
                    "the connection is read-only: this case writes, so it could not be decided",
                ));
            }
        }
        let failure = judge(&case.expect, expected_value.as_deref(), expected_values.as_deref(), &outcome);
        Ok(match failure {
            None => Check::pass(Suite::Cases, name),
            Some(got) => {
                let tenant = match (&case.org, &case.user) {
                    (Some(org), Some(user)) => format!("{user} of {org}"),
                    (Some(org), None) => format!("the tenant of {org}"),
                    (None, Some(user)) => user.clone(),
                    (None, None) => "a tenant session without organization".into(),
                };
                Check::fail(
                    Suite::Cases,
                    name.clone(),
                    Finding {
                        rule: "case-failed".into(),
                        object: format!("{} case '{}'", source.shown, case.name),
                        command: Some(command_of(&sql)),
                        message: format!(
                            "{}: as {tenant}, {got}",
                            case.description.as_deref().unwrap_or(&case.name)
                        ),
                        fix: case.fix.clone().unwrap_or_else(|| {
                            "make the policies of the tables this query touches enforce what the case expects (or correct the case if the expectation is wrong)".into()
                        }),
                        severity: Severity::Error,
                        detail: None,
                        location: None,
                    },
                )
            }
        })
    })
    .await
}

/// `None` when the outcome is what the case expects, else what happened instead.
fn judge(
    expect: &Expect,
    value: Option<&str>,
    values: Option<&[String]>,
    outcome: &Outcome,
) -> Option<String> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    match outcome {
        Outcome::Error { code, text } => match &expect.error {
            Some(want) => {
                let code_ok = want == "any" || code.starts_with(want.as_str());
                let message_ok = expect
                    .message
                    .as_ref()
                    .is_none_or(|m| text.to_lowercase().contains(&m.to_lowercase()));
                (!(code_ok && message_ok)).then(|| {
                    format!(
                        "expected error {want}{}, got error {text}",
                        expect
                            .message
                            .as_ref()
                            .map(|m| format!(" mentioning '{m}'"))
                            .unwrap_or_default()
                    )
                })
            }
            None => Some(format!("the statement failed: {text}")),
        },
        Outcome::Rows { first, count } => {
            if let Some(want) = &expect.error {
                return Some(format!(
                    "expected error {want}, but the statement succeeded ({count} rows)"
                ));
            }
            if let Some(want) = expect.rows {
                return (*count != want).then(|| format!("expected {want} rows, got {count}"));
            }
            if let Some(want) = expect.min_rows {
                return (*count < want)
                    .then(|| format!("expected at least {want} rows, got {count}"));
            }
            if let Some(want) = value {
                return match first.as_slice() {
                    [one] if show(one) == want => None,
                    [one] => Some(format!("expected {want}, got {}", show(one))),
                    _ => Some(format!(
                        "expected one row with {want}, got {} rows",
                        first.len()
                    )),
                };
            }
            if let Some(want) = values {
                let got: Vec<String> = first.iter().map(show).collect();
                return (got != want).then(|| format!("expected {want:?}, got {got:?}"));
            }
            None
        }
    }
}

/// A TOML scalar as PostgreSQL's text output writes it (booleans are t / f).
fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(b) => if *b { "t" } else { "f" }.into(),
        other => other.to_string(),
    }
}

/// The command of the last statement (SELECT, INSERT, …), for the finding.
fn command_of(sql: &str) -> String {
    let last = sql
        .split(';')
        .map(str::trim)
        .rfind(|s| !s.is_empty())
        .unwrap_or("");
    let word: String = last
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_uppercase();
    if word == "WITH" || word.is_empty() {
        "SQL".into()
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(toml_text: &str) -> Expect {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn judging_rows_values_and_errors() {
        let rows = |v: &[&str], n| Outcome::Rows {
            first: v.iter().map(|s| Some(s.to_string())).collect(),
            count: n,
        };
        assert!(judge(&expect("rows = 0"), None, None, &rows(&[], 0)).is_none());
        assert_eq!(
            judge(&expect("rows = 0"), None, None, &rows(&["x"], 1)).unwrap(),
            "expected 0 rows, got 1"
        );
        assert!(judge(&expect("min_rows = 1"), None, None, &rows(&["x"], 1)).is_none());
        let e = expect("value = 2");
        assert!(judge(&e, Some("2"), None, &rows(&["2"], 1)).is_none());
        assert!(judge(&e, Some("2"), None, &rows(&["3"], 1)).is_some());
        let err = Outcome::Error {
            code: "42501".into(),
            text: "42501 new row violates row-level security policy for table \"desks\"".into(),
        };
        assert!(judge(&expect("error = \"42501\""), None, None, &err).is_none());
        assert!(judge(&expect("error = \"42\""), None, None, &err).is_none());
        assert!(judge(&expect("error = \"23\""), None, None, &err).is_some());
        assert!(judge(
            &expect("error = \"any\"\nmessage = \"Row-Level Security\""),
            None,
            None,
            &err
        )
        .is_none());
        assert!(judge(&expect("rows = 0"), None, None, &err).is_some());
        assert!(judge(&expect("error = \"any\""), None, None, &rows(&[], 0)).is_some());
    }

    #[test]
    fn commands_and_text() {
        assert_eq!(command_of("SELECT 1"), "SELECT");
        assert_eq!(command_of("-- hi\nupdate t set a = 1;"), "UPDATE");
        assert_eq!(command_of("select 1; delete from t"), "DELETE");
        assert_eq!(toml_text(&toml::Value::Boolean(true)), "t");
        assert_eq!(toml_text(&toml::Value::Integer(3)), "3");
    }

    #[test]
    fn the_embedded_cases_parse() {
        for file in crate::embedded::RLS_TESTS
            .iter()
            .filter(|f| f.path.ends_with(".toml"))
        {
            let parsed: CaseFile = toml::from_str(file.contents)
                .unwrap_or_else(|e| panic!("rls-tests/{}: {e}", file.path));
            let source = Source {
                path: file.path.into(),
                shown: format!("rls-tests/{}", file.path),
                text: file.contents.into(),
                dir: None,
            };
            for case in &parsed.cases {
                validate(&source, case).unwrap();
                case_sql(&source, case).unwrap();
            }
        }
    }
}
