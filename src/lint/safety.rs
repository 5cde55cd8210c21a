//! Safety lint for PostgreSQL: the locking and compatibility hazards squawk checks, on arcdb's
//! own statement splitter. (The `squawk-linter` crate was the first choice; its current
//! release needs rustc 1.99 and the older ones pull a family of squawk crates whose caret
//! requirements resolve to that release again unless each is pinned, and would raise arcdb's
//! MSRV from 1.82 to 1.90: so the key rules are written here, on tokens, named as squawk names
//! them.)
//!
//! A hazard is about a table that already holds data and traffic: statements on a table the
//! same script creates are not flagged.

use crate::migrate::catalog::Script;
use crate::migrate::statements::{split_tokens, Token, TokenKind};
use serde::Serialize;

/// Migrations up to this version were released before the safety lint existed and are applied
/// in production; `arcdb lint` checks the ones after it (`--all` for every one).
pub const RELEASED_BEFORE_SAFETY_LINT: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks reads or writes on a busy table (a long lock or a rewrite): `up --strict` refuses.
    Error,
    /// Breaks the application version still running during the deploy.
    Warning,
}

/// One hazard: the rule, where, what happens and the safe form.
#[derive(Debug, Clone, Serialize)]
pub struct Hazard {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub statement: String,
    /// The table it is about, normalized (`schema.name`, or `name` in public).
    pub table: String,
    pub message: &'static str,
    pub help: &'static str,
    /// The reason the file gives for accepting this rule (`-- arcdb:safety-accept`).
    pub accepted: Option<String>,
}

/// The rules a script accepts, with the reason its author gives: every comment line
/// `-- arcdb:safety-accept <rule>: <reason>`. A directive without a reason accepts nothing.
pub fn accepted_rules(sql: &str) -> Vec<(String, String)> {
    sql.lines()
        .filter_map(|line| line.trim().strip_prefix("--"))
        .filter_map(|comment| comment.trim().strip_prefix("arcdb:safety-accept"))
        .filter_map(|rest| {
            let (rule, reason) = rest.split_once(':')?;
            let (rule, reason) = (rule.trim(), reason.trim());
            (!rule.is_empty() && !reason.is_empty()).then(|| (rule.to_string(), reason.to_string()))
        })
        .collect()
}

struct RuleText {
    rule: &'static str,
    severity: Severity,
    message: &'static str,
    help: &'static str,
}

const CONCURRENT_INDEX: RuleText = RuleText {
    rule: "require-concurrent-index-creation",
    severity: Severity::Error,
    message: "CREATE INDEX without CONCURRENTLY on an existing table blocks every write to it until the index is built",
    help: "CREATE INDEX CONCURRENTLY in a migration whose first line is `-- arcdb:no-transaction`",
};
const REQUIRED_FIELD: RuleText = RuleText {
    rule: "adding-required-field",
    severity: Severity::Error,
    message: "a NOT NULL column without a DEFAULT fails on a table with rows, and breaks the running application's inserts",
    help: "add it nullable (or with a constant DEFAULT), backfill, then add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, and SET NOT NULL",
};
const COLUMN_TYPE: RuleText = RuleText {
    rule: "changing-column-type",
    severity: Severity::Error,
    message: "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock (reads and writes wait) and can break the running application",
    help: "add a new column, write both from the application, backfill in batches, then switch reads and drop the old column",
};
const NOT_VALID: RuleText = RuleText {
    rule: "constraint-missing-not-valid",
    severity: Severity::Error,
    message: "adding a FOREIGN KEY or CHECK constraint validates every row while holding a lock that blocks writes",
    help: "ADD CONSTRAINT … NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT … in a later migration (it only takes SHARE UPDATE EXCLUSIVE)",
};
const UNIQUE_CONSTRAINT: RuleText = RuleText {
    rule: "disallowed-unique-constraint",
    severity: Severity::Error,
    message: "adding a UNIQUE or PRIMARY KEY constraint builds its index under an ACCESS EXCLUSIVE lock",
    help: "CREATE UNIQUE INDEX CONCURRENTLY (no-transaction migration), then ADD CONSTRAINT … UNIQUE USING INDEX …",
};
const SET_NOT_NULL: RuleText = RuleText {
    rule: "setting-not-nullable-field",
    severity: Severity::Error,
    message: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
    help: "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT c, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop c",
};
const RENAME: RuleText = RuleText {
    rule: "renaming-column-or-table",
    severity: Severity::Warning,
    message: "a rename breaks the application version still running, which uses the old name",
    help: "add the new name (column, or a view for a table), move the application over, drop the old one in a later migration",
};
const DROP_COLUMN: RuleText = RuleText {
    rule: "ban-drop-column",
    severity: Severity::Warning,
    message:
        "dropping a column breaks the application version still running if it selects or inserts it",
    help:
        "stop using the column in the application first, deploy, then drop it in a later migration",
};

/// The hazards of one script, in line order.
pub fn check(script: &Script) -> Vec<Hazard> {
    let sql = script.sql.as_str();
    let statements = split_tokens(sql);
    let created: Vec<String> = statements
        .iter()
        .filter_map(|(_, tokens)| created_table(sql, tokens))
        .collect();
    let accepted = accepted_rules(sql);
    let mut out = Vec::new();
    for (statement, tokens) in &statements {
        let mut flag = |rule: &RuleText, line: usize, table: &str| {
            out.push(Hazard {
                table: table.to_string(),
                rule: rule.rule,
                severity: rule.severity,
                file: script.file.clone(),
                line,
                statement: first_words(&statement.text),
                message: rule.message,
                help: rule.help,
                accepted: accepted
                    .iter()
                    .find(|(name, _)| name == rule.rule)
                    .map(|(_, reason)| reason.clone()),
            })
        };
        let w = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is_word(sql, word));
        // CREATE [UNIQUE] INDEX [IF NOT EXISTS] [name] ON [ONLY] table
        if w(0, "CREATE") && (w(1, "INDEX") || (w(1, "UNIQUE") && w(2, "INDEX"))) {
            let after_index = if w(1, "INDEX") { 2 } else { 3 };
            if !w(after_index, "CONCURRENTLY") {
                if let Some(on) = (after_index..tokens.len()).find(|&i| w(i, "ON")) {
                    let at = if w(on + 1, "ONLY") { on + 2 } else { on + 1 };
                    if let Some(table) = qualified_name(sql, tokens, at) {
                        if !created.contains(&table) {
                            flag(&CONCURRENT_INDEX, statement.line, &table);
                        }
                    }
                }
            }
            continue;
        }
        // ALTER TABLE [IF EXISTS] [ONLY] table action [, action …]
        if !(w(0, "ALTER") && w(1, "TABLE")) {
            continue;
        }
        let mut at = 2;
        if w(at, "IF") && w(at + 1, "EXISTS") {
            at += 2;
        }
        if w(at, "ONLY") {
            at += 1;
        }
        let Some(table) = qualified_name(sql, tokens, at) else {
            continue;
        };
        if created.contains(&table) {
            continue;
        }
        for action in actions(sql, &tokens[at..]) {
            let has = |word: &str| action.iter().any(|t| t.is_word(sql, word));
            let starts = |words: &[&str]| {
                words.len() <= action.len()
                    && words.iter().zip(action).all(|(w, t)| t.is_word(sql, w))
            };
            let line = action.first().map(|t| t.line).unwrap_or(statement.line);
            if starts(&["RENAME"]) {
                flag(&RENAME, line, &table);
            } else if starts(&["DROP", "COLUMN"]) {
                flag(&DROP_COLUMN, line, &table);
            } else if starts(&["ALTER"]) && has("TYPE") {
                flag(&COLUMN_TYPE, line, &table);
            } else if starts(&["ALTER"]) && has("SET") && has("NOT") && has("NULL") {
                flag(&SET_NOT_NULL, line, &table);
            } else if starts(&["ADD"]) {
                let constraint = starts(&["ADD", "CONSTRAINT"])
                    || starts(&["ADD", "FOREIGN"])
                    || starts(&["ADD", "CHECK"])
                    || starts(&["ADD", "UNIQUE"])
                    || starts(&["ADD", "PRIMARY"]);
                if constraint {
                    if (has("FOREIGN") || has("CHECK")) && !(has("NOT") && has("VALID")) {
                        flag(&NOT_VALID, line, &table);
                    } else if (has("UNIQUE") || has("PRIMARY")) && !has("USING") {
                        flag(&UNIQUE_CONSTRAINT, line, &table);
                    }
                } else if not_null_without_default(sql, action) {
                    flag(&REQUIRED_FIELD, line, &table);
                }
            }
        }
    }
    out.sort_by_key(|h| h.line);
    out
}

/// `CREATE [UNLOGGED|TEMP…] TABLE [IF NOT EXISTS] name`: the name, normalized.
fn created_table(sql: &str, tokens: &[Token]) -> Option<String> {
    if !tokens.first()?.is_word(sql, "CREATE") {
        return None;
    }
    // CREATE [UNLOGGED|TEMP] TABLE … / CREATE MATERIALIZED VIEW …: both can carry indexes.
    let table = tokens
        .iter()
        .take(4)
        .position(|t| t.is_word(sql, "TABLE") || t.is_word(sql, "VIEW"))?;
    let mut at = table + 1;
    if tokens.get(at).is_some_and(|t| t.is_word(sql, "IF")) {
        at += 3;
    }
    qualified_name(sql, tokens, at)
}

/// `name` or `schema.name` at `at`, normalized (unquoted folded to lower case, `public.`
/// dropped) so that `Tasks` and `public.tasks` are one table.
fn qualified_name(sql: &str, tokens: &[Token], at: usize) -> Option<String> {
    let part = |t: &Token| match t.kind {
        TokenKind::Word => Some(t.text(sql).to_lowercase()),
        TokenKind::QuotedIdent => t.ident(sql).map(str::to_string),
        _ => None,
    };
    let first = part(tokens.get(at)?)?;
    let dotted = tokens.get(at + 1).map(|t| &t.kind) == Some(&TokenKind::Punct('.'));
    match (dotted, tokens.get(at + 2).and_then(part)) {
        (true, Some(name)) if first == "public" => Some(name),
        (true, Some(name)) => Some(format!("{first}.{name}")),
        _ => Some(first),
    }
}

/// The comma-separated actions after the table name (commas inside parentheses don't split).
fn actions<'t>(sql: &str, tokens: &'t [Token]) -> Vec<&'t [Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    // Skip the table name (and a schema qualifier).
    let mut start = 1;
    if tokens.get(1).map(|t| &t.kind) == Some(&TokenKind::Punct('.')) {
        start = 3;
    }
    let mut begin = start.min(tokens.len());
    for (i, t) in tokens.iter().enumerate().skip(begin) {
        match t.kind {
            TokenKind::Punct('(') => depth += 1,
            TokenKind::Punct(')') => depth -= 1,
            TokenKind::Punct(',') if depth == 0 => {
                out.push(&tokens[begin..i]);
                begin = i + 1;
            }
            _ => {}
        }
    }
    let _ = sql;
    out.push(&tokens[begin..]);
    out.into_iter().filter(|a| !a.is_empty()).collect()
}

/// `ADD [COLUMN] [IF NOT EXISTS] col type … NOT NULL …` without DEFAULT (and not GENERATED).
fn not_null_without_default(sql: &str, action: &[Token]) -> bool {
    let has = |word: &str| action.iter().any(|t| t.is_word(sql, word));
    let not_null = action
        .windows(2)
        .any(|p| p[0].is_word(sql, "NOT") && p[1].is_word(sql, "NULL"));
    not_null && !has("DEFAULT") && !has("GENERATED")
}

/// The severity of a rule of this module (None: not one of them).
pub fn severity_of(rule: &str) -> Option<Severity> {
    [
        CONCURRENT_INDEX,
        REQUIRED_FIELD,
        COLUMN_TYPE,
        NOT_VALID,
        UNIQUE_CONSTRAINT,
        SET_NOT_NULL,
        RENAME,
        DROP_COLUMN,
    ]
    .iter()
    .find(|r| r.rule == rule)
    .map(|r| r.severity)
}

fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(8).collect();
    let mut out = words.join(" ");
    if text.split_whitespace().count() > words.len() {
        out.push_str(" …");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str) -> Vec<(&'static str, usize)> {
        check(&Script {
            file: "m/0007_x/up.sql".into(),
            sql: sql.into(),
        })
        .into_iter()
        .map(|h| (h.rule, h.line))
        .collect()
    }

    #[test]
    fn each_hazard_is_found_at_its_line() {
        let sql = "CREATE INDEX tasks_a ON tasks (a);\n\
                   ALTER TABLE tasks ADD COLUMN b int NOT NULL;\n\
                   ALTER TABLE public.tasks ALTER COLUMN c TYPE bigint;\n\
                   ALTER TABLE tasks ADD CONSTRAINT f FOREIGN KEY (d) REFERENCES desks (id);\n\
                   ALTER TABLE tasks ADD CONSTRAINT k CHECK (e > 0);\n\
                   ALTER TABLE tasks RENAME COLUMN f TO g;\n\
                   ALTER TABLE tasks ALTER COLUMN h SET NOT NULL,\n  DROP COLUMN i;\n\
                   ALTER TABLE tasks ADD CONSTRAINT u UNIQUE (j);\n";
        assert_eq!(
            rules(sql),
            vec![
                ("require-concurrent-index-creation", 1),
                ("adding-required-field", 2),
                ("changing-column-type", 3),
                ("constraint-missing-not-valid", 4),
                ("constraint-missing-not-valid", 5),
                ("renaming-column-or-table", 6),
                ("setting-not-nullable-field", 7),
                ("ban-drop-column", 8),
                ("disallowed-unique-constraint", 9),
            ]
        );
    }

    #[test]
    fn the_safe_forms_and_new_tables_pass() {
        let sql = "CREATE TABLE IF NOT EXISTS fresh (id int);\n\
                   CREATE INDEX fresh_id ON fresh (id);\n\
                   ALTER TABLE fresh ADD COLUMN x int NOT NULL;\n\
                   CREATE INDEX CONCURRENTLY tasks_a ON tasks (a);\n\
                   ALTER TABLE tasks ADD COLUMN b int NOT NULL DEFAULT 0, ADD COLUMN c text;\n\
                   ALTER TABLE tasks ADD CONSTRAINT f FOREIGN KEY (d) REFERENCES desks (id) NOT VALID;\n\
                   ALTER TABLE tasks VALIDATE CONSTRAINT f;\n\
                   ALTER TABLE tasks ADD CONSTRAINT u UNIQUE USING INDEX tasks_u;\n\
                   SELECT 'ALTER TABLE tasks RENAME TO x';\n";
        assert_eq!(rules(sql), vec![]);
    }

    #[test]
    fn an_index_on_a_materialized_view_of_the_same_script_passes() {
        let sql = "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS a;\n\
                   CREATE UNIQUE INDEX mv_a ON mv (a);\n";
        assert_eq!(rules(sql), vec![]);
    }

    #[test]
    fn an_accepted_rule_is_reported_with_its_reason_and_only_that_rule() {
        let sql =
            "-- arcdb:safety-accept require-concurrent-index-creation: runs once, in a window\n\
                   -- arcdb:safety-accept changing-column-type:\n\
                   CREATE INDEX tasks_a ON tasks (a);\n\
                   ALTER TABLE tasks ALTER COLUMN c TYPE bigint;\n";
        let hazards = check(&Script {
            file: "m/0007_x/up.sql".into(),
            sql: sql.into(),
        });
        let seen: Vec<(&str, Option<&str>)> = hazards
            .iter()
            .map(|h| (h.rule, h.accepted.as_deref()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (
                    "require-concurrent-index-creation",
                    Some("runs once, in a window")
                ),
                // a directive without a reason accepts nothing
                ("changing-column-type", None),
            ]
        );
    }
}
