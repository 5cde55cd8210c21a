//! Errors that carry their own exit code. Capabilities return `anyhow::Result`; where the exit
//! code matters to CI (drift, usage, findings) they return one of these, and `main` maps it once.

use std::fmt;

/// The process exit codes arcdb documents (README "Exit codes"). CI scripts rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Success; `status`: up to date; `verify-rls`/`lint`: no finding.
    Ok = 0,
    /// A runtime failure: connection, SQL error, lock timeout, a failing migration.
    Failure = 1,
    /// Bad input: flags, DSN, configuration, unknown names; nothing was touched.
    Usage = 2,
    /// `status`: migrations are pending.
    Pending = 3,
    /// Drift: an applied migration's checksum differs, or an applied version is unknown.
    Drift = 4,
    /// A check found problems: `verify-rls` findings, `lint` findings, a view that failed to refresh.
    Findings = 5,
    /// `verify-rls`: no finding, but isolation was not verified everywhere (nothing to probe,
    /// probes or cases skipped, no tenant table, `--static-only`): never a pass.
    Inconclusive = 6,
    /// Interrupted (Ctrl-C) and cleaned up: the shell's convention, 128 + SIGINT.
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error whose exit code is not the generic 1.
#[derive(Debug)]
pub struct Refusal {
    pub status: ExitStatus,
    pub message: String,
}

impl Refusal {
    pub fn usage(message: impl Into<String>) -> Self {
        Refusal {
            status: ExitStatus::Usage,
            message: message.into(),
        }
    }
    pub fn interrupted(message: impl Into<String>) -> Self {
        Refusal {
            status: ExitStatus::Interrupted,
            message: message.into(),
        }
    }
    pub fn drift(message: impl Into<String>) -> Self {
        Refusal {
            status: ExitStatus::Drift,
            message: message.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// The exit status for an error that reached `main`.
pub fn exit_status_of(err: &anyhow::Error) -> ExitStatus {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Refusal>())
        .map(|r| r.status)
        .unwrap_or(ExitStatus::Failure)
}

/// One line, whatever the error chain held: CI logs and people read the first line only.
pub fn one_line(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first line of a rendered clap error without its `error: ` prefix, with clap's tip
/// appended: `unexpected argument '--bogus' found (tip: to pass '--bogus' as a value, use '-- --bogus')`.
pub fn clap_message(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid command line");
    let first = first.strip_prefix("error: ").unwrap_or(first).to_string();
    match lines.find(|l| l.starts_with("tip:")) {
        Some(tip) => format!("{first} ({tip})"),
        None => first,
    }
}

/// For a permission failure (SQLSTATE 42501: "permission denied for schema arcdb", "must be owner
/// of table t"), what is missing and the statement that grants it, said for `role`.
pub fn permission_hint(message: &str, role: &str) -> Option<String> {
    let words: Vec<&str> = message.split_whitespace().collect();
    let after = |phrase: &[&str]| {
        words
            .windows(phrase.len() + 2)
            .find(|w| w[..phrase.len()] == *phrase)
            .map(|w| {
                let kind = w[phrase.len()];
                let name = w[phrase.len() + 1].trim_end_matches([':', ';', ',', '.']);
                (kind.to_string(), name.trim_matches('"').to_string())
            })
    };
    if let Some((kind, object)) = after(&["permission", "denied", "for"]) {
        let grant = match kind.as_str() {
            "schema" => format!("GRANT USAGE, CREATE ON SCHEMA {object} TO {role};"),
            "table" | "view" | "materialized" => {
                format!("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {object} TO {role};")
            }
            "sequence" => format!("GRANT USAGE, SELECT ON SEQUENCE {object} TO {role};"),
            "function" | "procedure" => format!("GRANT EXECUTE ON FUNCTION {object} TO {role};"),
            "database" => format!("GRANT CONNECT, CREATE ON DATABASE {object} TO {role};"),
            _ => return Some(format!(
                "role {role} lacks a privilege on {kind} {object}: grant it as the object's owner, or run arcdb as a role that has it"
            )),
        };
        return Some(format!(
            "role {role} lacks the privilege on {kind} {object}; as its owner or a superuser run: {grant} (or connect as the role that owns the schema)"
        ));
    }
    if let Some((kind, object)) = after(&["must", "be", "owner", "of"]) {
        return Some(format!(
            "role {role} does not own {kind} {object}: run arcdb as its owner (the role that ran the migrations), or ALTER {} {object} OWNER TO {role};",
            kind.to_uppercase()
        ));
    }
    if message.contains("42501") {
        return Some(format!(
            "role {role} lacks a privilege (SQLSTATE 42501): run arcdb as the role that owns the schema, or grant the missing privilege to {role}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_name_role_object_and_grant() {
        let hint = permission_hint(
            "db error: ERROR: permission denied for schema arcdb (SQLSTATE 42501)",
            "app_ro",
        )
        .unwrap();
        assert!(
            hint.contains("role app_ro") && hint.contains("schema arcdb"),
            "{hint}"
        );
        assert!(
            hint.contains("GRANT USAGE, CREATE ON SCHEMA arcdb TO app_ro;"),
            "{hint}"
        );
        let owner = permission_hint("must be owner of table tasks", "app").unwrap();
        assert!(owner.contains("ALTER TABLE tasks OWNER TO app;"), "{owner}");
        let table = permission_hint("permission denied for table organizations", "x").unwrap();
        assert!(table.contains("ON TABLE organizations TO x"), "{table}");
        assert_eq!(permission_hint("syntax error at or near", "x"), None);
    }

    #[test]
    fn clap_errors_become_one_line() {
        let rendered = "error: unexpected argument '--bogus' found\n\n  tip: to pass '--bogus' as a value, use '-- --bogus'\n\nUsage: arcdb up [OPTIONS]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            clap_message(rendered),
            "unexpected argument '--bogus' found (tip: to pass '--bogus' as a value, use '-- --bogus')"
        );
        assert_eq!(
            clap_message("error: a value is required for '--to <VERSION>' but none was supplied\n\nFor more information, try '--help'.\n"),
            "a value is required for '--to <VERSION>' but none was supplied"
        );
    }
}
