//! How a script runs, decided from its text before anything runs: in one transaction, or one
//! statement at a time (a `-- arcdb:no-transaction` first line, or an engine whose DDL is not
//! transactional); the transaction-control statements no script may contain; the concurrent
//! index builds a re-run must repair first.

use super::catalog::Script;
use super::statements::{self, Statement, Token};
use crate::engine::Engine;
use crate::error::Refusal;
use serde::Serialize;

/// The first-line marker of a script that cannot run inside a transaction.
pub const NO_TRANSACTION: &str = "-- arcdb:no-transaction";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxMode {
    /// One transaction: all of it or nothing.
    Transaction,
    /// `-- arcdb:no-transaction`: statement by statement, each committed on its own.
    NoTransaction,
    /// The engine cannot run DDL in a transaction (CockroachDB): statement by statement.
    Stepwise,
}

impl TxMode {
    pub fn of(script: &Script, engine: &Engine) -> TxMode {
        if engine.runs_stepwise() {
            TxMode::Stepwise
        } else if has_no_transaction_directive(&script.sql) {
            TxMode::NoTransaction
        } else {
            TxMode::Transaction
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            TxMode::Transaction => "in one transaction",
            TxMode::NoTransaction => {
                "outside a transaction (-- arcdb:no-transaction), one statement at a time"
            }
            TxMode::Stepwise => "one statement at a time (this engine's DDL is not transactional)",
        }
    }
}

/// Whether the first non-blank line is the directive (case and spacing as written, after trim).
pub fn has_no_transaction_directive(sql: &str) -> bool {
    sql.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.eq_ignore_ascii_case(NO_TRANSACTION))
}

/// Statements that begin, end or split a transaction. arcdb owns the transaction a migration
/// runs in; one of these would commit half of it, or undo half of it and let it be recorded.
const TRANSACTION_CONTROL: &[&[&str]] = &[
    &["BEGIN"],
    &["START", "TRANSACTION"],
    &["COMMIT"],
    &["END"],
    &["ROLLBACK"],
    &["ABORT"],
    &["SAVEPOINT"],
    &["RELEASE"],
    &["PREPARE", "TRANSACTION"],
];

/// The first top-level transaction-control statement of `script`: its line and its keywords.
pub fn transaction_control(script: &Script) -> Option<(usize, String)> {
    let sql = &script.sql;
    statements::split_tokens(sql)
        .into_iter()
        .find_map(|(statement, tokens)| {
            TRANSACTION_CONTROL
                .iter()
                .find(|words| starts_with(sql, &tokens, words))
                .map(|words| (statement.line, words.join(" ")))
        })
}

fn starts_with(sql: &str, tokens: &[Token], words: &[&str]) -> bool {
    tokens.len() >= words.len() && words.iter().zip(tokens).all(|(w, t)| t.is_word(sql, w))
}

/// Refuse, before anything runs, a script with transaction control at top level.
pub fn refuse_transaction_control(script: &Script) -> anyhow::Result<()> {
    match transaction_control(script) {
        Some((line, what)) => Err(Refusal::usage(format!(
            "{}, line {line}: {what} at the top level of a migration: arcdb runs each migration in its own transaction (or, with `{NO_TRANSACTION}` as the first line, each statement on its own); remove it; nothing was changed",
            script.file
        ))
        .into()),
        None => Ok(()),
    }
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table …`: the index and
/// table names as written (the index is created in the table's schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrentIndex {
    pub index: String,
    pub table: String,
}

pub fn concurrent_index(statement: &Statement) -> Option<ConcurrentIndex> {
    let sql = &statement.text;
    let tokens = statements::tokenize(sql);
    let mut i = 0;
    let word = |w: &str, i: &mut usize| -> bool {
        let hit = tokens.get(*i).is_some_and(|t| t.is_word(sql, w));
        if hit {
            *i += 1;
        }
        hit
    };
    if !word("CREATE", &mut i) {
        return None;
    }
    word("UNIQUE", &mut i);
    if !(word("INDEX", &mut i) && word("CONCURRENTLY", &mut i)) {
        return None;
    }
    if word("IF", &mut i) && !(word("NOT", &mut i) && word("EXISTS", &mut i)) {
        return None;
    }
    let index = tokens.get(i)?;
    if index.is_word(sql, "ON") {
        return None; // unnamed: PostgreSQL picks the name, nothing to find again
    }
    let index = index.text(sql).to_string();
    i += 1;
    if !word("ON", &mut i) {
        return None;
    }
    word("ONLY", &mut i);
    // The table, possibly schema-qualified: name [. name].
    let is_name = |t: &Token| {
        matches!(
            t.kind,
            statements::TokenKind::Word | statements::TokenKind::QuotedIdent
        )
    };
    let mut table = String::new();
    while let Some(name) = tokens.get(i).filter(|t| is_name(t)) {
        table.push_str(name.text(sql));
        i += 1;
        if tokens.get(i).map(|t| &t.kind) != Some(&statements::TokenKind::Punct('.')) {
            break;
        }
        table.push('.');
        i += 1;
    }
    (!table.is_empty()).then_some(ConcurrentIndex { index, table })
}

/// Whether a statement cannot run inside a transaction block (or, for `ALTER TYPE … ADD
/// VALUE`, its new value cannot be used in the transaction that added it) — what a
/// no-transaction file is for. `SET`/`RESET` pass too: they only tune the session for the
/// statements after them (`SET maintenance_work_mem` before an index build).
pub fn needs_no_transaction(sql: &str, tokens: &[Token]) -> bool {
    let has = |w: &str| tokens.iter().any(|t| t.is_word(sql, w));
    let starts = |words: &[&str]| starts_with(sql, tokens, words);
    (starts(&["CREATE"]) || starts(&["DROP"]) || starts(&["REINDEX"]))
        && has("CONCURRENTLY")
        && (has("INDEX") || starts(&["REINDEX"]))
        || starts(&["ALTER", "TABLE"]) && has("DETACH") && has("CONCURRENTLY")
        || starts(&["ALTER", "TYPE"]) && has("ADD") && has("VALUE")
        || starts(&["VACUUM"])
        || starts(&["ALTER", "SYSTEM"])
        || starts(&["CREATE", "DATABASE"])
        || starts(&["DROP", "DATABASE"])
        || starts(&["CREATE", "TABLESPACE"])
        || starts(&["DROP", "TABLESPACE"])
        || starts(&["SET"])
        || starts(&["RESET"])
}

/// The statements of a no-transaction script that do not need it: line and first words. They
/// belong in a transactional migration, where a failure undoes them.
pub fn needless_outside_a_transaction(script: &Script) -> Vec<(usize, String)> {
    if !has_no_transaction_directive(&script.sql) {
        return Vec::new();
    }
    let sql = &script.sql;
    statements::split_tokens(sql)
        .into_iter()
        .filter(|(_, tokens)| !needs_no_transaction(sql, tokens))
        .map(|(statement, _)| {
            let words: Vec<&str> = statement.text.split_whitespace().take(6).collect();
            (statement.line, words.join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(sql: &str) -> Script {
        Script {
            file: "m/0007_x/up.sql".into(),
            sql: sql.into(),
        }
    }

    #[test]
    fn the_directive_is_the_first_non_blank_line() {
        assert!(has_no_transaction_directive(
            "\n  -- arcdb:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);"
        ));
        assert!(!has_no_transaction_directive(
            "-- header\n-- arcdb:no-transaction\nSELECT 1;"
        ));
        assert!(!has_no_transaction_directive(
            "SELECT 1; -- arcdb:no-transaction"
        ));
    }

    #[test]
    fn transaction_control_is_found_with_its_line() {
        let cases = [
            (
                "CREATE TABLE a (x int);\nCOMMIT;\nCREATE TABLE b ();",
                2,
                "COMMIT",
            ),
            ("begin;\nSELECT 1;", 1, "BEGIN"),
            ("SELECT 1;\n\n  ROLLBACK ;", 3, "ROLLBACK"),
            ("SELECT 1; END;", 1, "END"),
            ("SELECT 1;\nSAVEPOINT s;", 2, "SAVEPOINT"),
            ("SELECT 1;\nRELEASE SAVEPOINT s;", 2, "RELEASE"),
            ("START TRANSACTION;", 1, "START TRANSACTION"),
            ("/* x */ ABORT;", 1, "ABORT"),
            ("PREPARE TRANSACTION 'x';", 1, "PREPARE TRANSACTION"),
        ];
        for (sql, line, what) in cases {
            assert_eq!(
                transaction_control(&script(sql)),
                Some((line, what.to_string())),
                "{sql}"
            );
        }
    }

    #[test]
    fn bodies_strings_and_comments_are_not_transaction_control() {
        for sql in [
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;",
            "DO $$ BEGIN PERFORM 1; END $$;",
            "SELECT 'COMMIT;';\n-- ROLLBACK;\nCREATE TABLE commit_log (x int);",
            "PREPARE q AS SELECT 1;",
        ] {
            assert_eq!(transaction_control(&script(sql)), None, "{sql}");
        }
        let refused = refuse_transaction_control(&script("SELECT 1;\nCOMMIT;")).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("m/0007_x/up.sql, line 2: COMMIT"),
            "{refused}"
        );
    }

    #[test]
    fn concurrent_index_builds_name_index_and_table() {
        let one = |sql: &str| {
            concurrent_index(&Statement {
                text: sql.into(),
                line: 1,
            })
        };
        let want = |index: &str, table: &str| {
            Some(ConcurrentIndex {
                index: index.into(),
                table: table.into(),
            })
        };
        assert_eq!(
            one("CREATE INDEX CONCURRENTLY tasks_x_idx ON tasks (x)"),
            want("tasks_x_idx", "tasks")
        );
        assert_eq!(
            one("create unique index concurrently if not exists \"Ix\" on only public.\"T\" using btree (x)"),
            want("\"Ix\"", "public.\"T\"")
        );
        assert_eq!(one("CREATE INDEX CONCURRENTLY ON tasks (x)"), None);
        assert_eq!(one("CREATE INDEX tasks_x_idx ON tasks (x)"), None);
    }

    #[test]
    fn a_no_transaction_file_holds_only_what_needs_it() {
        let sql = "-- arcdb:no-transaction\nSET maintenance_work_mem = '256MB';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (x);\nDROP INDEX CONCURRENTLY j;\nREINDEX INDEX CONCURRENTLY k;\nALTER TYPE e ADD VALUE 'z';\nVACUUM t;\nCREATE TABLE u (x int);\nCREATE INDEX l ON t (y);\n";
        assert_eq!(
            needless_outside_a_transaction(&script(sql)),
            vec![
                (8, "CREATE TABLE u (x int)".to_string()),
                (9, "CREATE INDEX l ON t (y)".to_string())
            ]
        );
        assert!(needless_outside_a_transaction(&script("CREATE TABLE u (x int);")).is_empty());
    }
}
