//! The Citus rules a token pattern cannot express (`Scope::Set` in the rule table): they need
//! a statement's column lists, or what other statements of the set defined.
//!
//! Every tenant table is to be distributed by `organization_id`, `organizations` by its `id`
//! (the tenant itself), colocated: the layout measured in docs/citus.md.

use super::{first_words, Finding, Rule};
use crate::engine::Version;
use crate::migrate::catalog::Script;
use crate::migrate::statements::{split_tokens, Token, TokenKind};
use std::collections::BTreeSet;

/// The PostgreSQL whose scripts Citus runs, for choosing migration variants (Citus 13.2.2 was
/// measured on PostgreSQL 15.20).
pub(super) const POSTGRES: Version = Version::new(15, 0, 0);

/// The column a table is distributed by.
fn distribution_column(table: &str) -> &'static str {
    if table.eq_ignore_ascii_case("organizations") {
        "id"
    } else {
        "organization_id"
    }
}

/// One statement of one script, tokenized.
struct Stmt<'a> {
    script: &'a Script,
    text: String,
    tokens: Vec<Token>,
}

impl Stmt<'_> {
    fn sql(&self) -> &str {
        &self.script.sql
    }
    fn word(&self, i: usize, word: &str) -> bool {
        self.tokens
            .get(i)
            .is_some_and(|t| t.is_word(self.sql(), word))
    }
    /// The (unqualified, as written) name at token `i`, skipping `schema.`; and the index after.
    fn name_at(&self, i: usize) -> Option<(String, usize)> {
        let mut i = i;
        let mut name = self.tokens.get(i)?.ident(self.sql())?.to_string();
        while self.punct(i + 1, '.') {
            name = self.tokens.get(i + 2)?.ident(self.sql())?.to_string();
            i += 2;
        }
        Some((name.to_ascii_lowercase(), i + 1))
    }
    fn punct(&self, i: usize, c: char) -> bool {
        self.tokens
            .get(i)
            .is_some_and(|t| t.kind == TokenKind::Punct(c))
    }
    /// Skip the words given, in order, where they appear (optional words).
    fn skip_words(&self, mut i: usize, words: &[&str]) -> usize {
        for w in words {
            if self.word(i, w) {
                i += 1;
            }
        }
        i
    }
    /// Index of the token closing the parenthesis that opens at `open`.
    fn closing(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.tokens.iter().enumerate().skip(open) {
            match t.kind {
                TokenKind::Punct('(') => depth += 1,
                TokenKind::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }
    /// The lower-cased identifiers inside the parenthesis opening at `open`.
    fn idents_in(&self, open: usize) -> Vec<String> {
        let close = self.closing(open).unwrap_or(self.tokens.len());
        self.tokens[open..close]
            .iter()
            .filter_map(|t| t.ident(self.sql()))
            .map(str::to_ascii_lowercase)
            .collect()
    }
    /// The comma-separated elements at the top level of the parenthesis opening at `open`:
    /// token index ranges.
    fn elements(&self, open: usize) -> Vec<std::ops::Range<usize>> {
        let close = self.closing(open).unwrap_or(self.tokens.len());
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut start = open + 1;
        for i in open + 1..close {
            match self.tokens[i].kind {
                TokenKind::Punct('(') => depth += 1,
                TokenKind::Punct(')') => depth = depth.saturating_sub(1),
                TokenKind::Punct(',') if depth == 0 => {
                    out.push(start..i);
                    start = i + 1;
                }
                _ => {}
            }
        }
        if start < close {
            out.push(start..close);
        }
        out
    }
}

fn statements<'a>(scripts: &[&'a Script]) -> Vec<Vec<Stmt<'a>>> {
    scripts
        .iter()
        .map(|script| {
            split_tokens(&script.sql)
                .into_iter()
                .map(|(statement, tokens)| Stmt {
                    script,
                    text: statement.text,
                    tokens,
                })
                .collect()
        })
        .collect()
}

/// Findings of the `Scope::Set` rules given (those of the table that apply).
pub(super) fn check_set(scripts: &[&Script], rules: &[&Rule]) -> Vec<Finding> {
    let by_script = statements(scripts);
    let all: Vec<&Stmt> = by_script.iter().flatten().collect();
    let matviews = materialized_views(&all);
    let mut findings = Vec::new();
    for rule in rules {
        let hits: Vec<(&Stmt, usize)> = match rule.id {
            "citus-unique-without-tenant" => unique_without_tenant(&all, &matviews),
            "citus-policy-sql-function-params" => policy_sql_function_params(&all),
            "citus-multi-statement-ddl" => by_script
                .iter()
                .filter_map(|script| multi_statement_ddl(script, &matviews))
                .collect(),
            other => unreachable!("no set check for rule {other}"),
        };
        for (stmt, line) in hits {
            findings.push(Finding {
                file: stmt.script.file.clone(),
                line,
                statement: first_words(&stmt.text),
                rule: rule.id,
                kind: rule.kind,
                reason: rule.reason,
                source: rule.source,
            });
        }
    }
    findings
}

/// The materialized views the set creates: Citus does not distribute them.
fn materialized_views(all: &[&Stmt]) -> BTreeSet<String> {
    all.iter()
        .filter(|s| s.word(0, "CREATE") && s.word(1, "MATERIALIZED") && s.word(2, "VIEW"))
        .filter_map(|s| s.name_at(s.skip_words(3, &["IF", "NOT", "EXISTS"])))
        .map(|(name, _)| name)
        .collect()
}

/// The table of `CREATE [UNIQUE] INDEX … ON [ONLY] table`, if the statement is one.
fn indexed_table(s: &Stmt) -> Option<String> {
    if !(s.word(0, "CREATE") && s.word(s.skip_words(1, &["UNIQUE"]), "INDEX")) {
        return None;
    }
    let on = (2..s.tokens.len()).find(|&j| s.word(j, "ON"))?;
    s.name_at(s.skip_words(on + 1, &["ONLY"]))
        .map(|(name, _)| name)
}

/// UNIQUE and PRIMARY KEY constraints, and unique indexes, of tables (not materialized views)
/// whose columns lack the table's distribution column.
fn unique_without_tenant<'a>(
    all: &[&'a Stmt<'a>],
    matviews: &BTreeSet<String>,
) -> Vec<(&'a Stmt<'a>, usize)> {
    let mut hits = Vec::new();
    for s in all {
        // (table, token of the key word, the key's columns)
        let mut keys: Vec<(String, usize, Vec<String>)> = Vec::new();
        if s.word(0, "CREATE") {
            let i = s.skip_words(1, &["UNLOGGED"]);
            if s.word(i, "TABLE") {
                let Some((table, after)) = s.name_at(s.skip_words(i + 1, &["IF", "NOT", "EXISTS"]))
                else {
                    continue;
                };
                if !s.punct(after, '(') {
                    continue;
                }
                for element in s.elements(after) {
                    if let Some((at, cols)) = table_element_key(s, element) {
                        keys.push((table.clone(), at, cols));
                    }
                }
            } else if s.word(1, "UNIQUE") && s.word(2, "INDEX") {
                let Some(on) = (3..s.tokens.len()).find(|&j| s.word(j, "ON")) else {
                    continue;
                };
                let Some((table, after)) = s.name_at(s.skip_words(on + 1, &["ONLY"])) else {
                    continue;
                };
                let open = if s.word(after, "USING") {
                    after + 2
                } else {
                    after
                };
                if s.punct(open, '(') {
                    keys.push((table, 1, s.idents_in(open)));
                }
            }
        } else if s.word(0, "ALTER") && s.word(1, "TABLE") {
            let start = s.skip_words(2, &["IF", "EXISTS", "ONLY"]);
            let Some((table, after)) = s.name_at(start) else {
                continue;
            };
            for i in after..s.tokens.len() {
                if s.word(i, "ADD") {
                    let j = if s.word(i + 1, "CONSTRAINT") {
                        i + 3
                    } else {
                        i + 1
                    };
                    if let Some((at, cols)) = key_at(s, j) {
                        keys.push((table.clone(), at, cols));
                    }
                }
            }
        }
        for (table, at, cols) in keys {
            if matviews.contains(&table) {
                continue;
            }
            let column = distribution_column(&table);
            if !cols.iter().any(|c| c == column) {
                hits.push((*s, s.tokens[at].line));
            }
        }
    }
    hits
}

/// `PRIMARY KEY (…)` or `UNIQUE [NULLS [NOT] DISTINCT] (…)` at token `i`: the key word's index
/// and its columns (none for `USING INDEX` and the like).
fn key_at(s: &Stmt, i: usize) -> Option<(usize, Vec<String>)> {
    let after = if s.word(i, "PRIMARY") && s.word(i + 1, "KEY") {
        i + 2
    } else if s.word(i, "UNIQUE") {
        s.skip_words(i + 1, &["NULLS", "NOT", "DISTINCT"])
    } else {
        return None;
    };
    let cols = if s.punct(after, '(') {
        s.idents_in(after)
    } else {
        Vec::new()
    };
    Some((i, cols))
}

/// A key declared by one element of CREATE TABLE's list: a table constraint, or a column
/// constraint (`slug citext NOT NULL UNIQUE`: the key is that column).
fn table_element_key(s: &Stmt, element: std::ops::Range<usize>) -> Option<(usize, Vec<String>)> {
    let mut i = element.start;
    if s.word(i, "CONSTRAINT") {
        i += 2;
    }
    if let Some(key) = key_at(s, i) {
        return Some(key);
    }
    if ["CHECK", "FOREIGN", "EXCLUDE", "LIKE"]
        .iter()
        .any(|w| s.word(i, w))
    {
        return None;
    }
    let column = s
        .tokens
        .get(element.start)?
        .ident(s.sql())?
        .to_ascii_lowercase();
    let mut depth = 0usize;
    for j in element.start + 1..element.end {
        match s.tokens[j].kind {
            TokenKind::Punct('(') => depth += 1,
            TokenKind::Punct(')') => depth = depth.saturating_sub(1),
            _ if depth == 0
                && ((s.word(j, "PRIMARY") && s.word(j + 1, "KEY")) || s.word(j, "UNIQUE")) =>
            {
                return Some((j, vec![column]));
            }
            _ => {}
        }
    }
    None
}

/// Policies (CREATE/ALTER POLICY) that call a LANGUAGE sql function taking parameters.
fn policy_sql_function_params<'a>(all: &[&'a Stmt<'a>]) -> Vec<(&'a Stmt<'a>, usize)> {
    let mut functions: BTreeSet<String> = BTreeSet::new();
    for s in all {
        if !s.word(0, "CREATE") {
            continue;
        }
        let i = s.skip_words(1, &["OR", "REPLACE"]);
        if !s.word(i, "FUNCTION") {
            continue;
        }
        let Some((name, open)) = s.name_at(i + 1) else {
            continue;
        };
        let takes_parameters = s.punct(open, '(') && !s.punct(open + 1, ')');
        let language_sql = s.tokens.windows(2).any(|w| {
            w[0].is_word(s.sql(), "LANGUAGE")
                && w[1]
                    .text(s.sql())
                    .trim_matches(|c| c == '\'' || c == '"')
                    .eq_ignore_ascii_case("sql")
        });
        if takes_parameters && language_sql {
            functions.insert(name);
        }
    }
    let mut hits = Vec::new();
    for s in all {
        let is_policy = (s.word(0, "CREATE") || s.word(0, "ALTER")) && s.word(1, "POLICY");
        if !is_policy {
            continue;
        }
        for j in 2..s.tokens.len() {
            let called = s.tokens[j]
                .ident(s.sql())
                .is_some_and(|n| functions.contains(&n.to_ascii_lowercase()))
                && s.punct(j + 1, '(');
            if called {
                hits.push((*s, s.tokens[j].line));
            }
        }
    }
    hits
}

/// The first statement of DDL on a table in a script of more than one statement.
fn multi_statement_ddl<'a>(
    script: &'a [Stmt<'a>],
    matviews: &BTreeSet<String>,
) -> Option<(&'a Stmt<'a>, usize)> {
    if script.len() < 2 {
        return None;
    }
    script
        .iter()
        .find(|s| {
            let create_index = indexed_table(s).is_some_and(|t| !matviews.contains(&t));
            let on_table = (s.word(0, "ALTER") && s.word(1, "TABLE"))
                || (s.word(0, "DROP") && s.word(1, "INDEX"));
            let policy_or_trigger = ["CREATE", "ALTER", "DROP"].iter().any(|w| s.word(0, w))
                && (s.word(1, "POLICY")
                    || s.word(1, "TRIGGER")
                    || s.word(s.skip_words(1, &["OR", "REPLACE", "CONSTRAINT"]), "TRIGGER"));
            create_index || on_table || policy_or_trigger
        })
        .map(|s| (s, s.tokens[0].line))
}

#[cfg(test)]
mod tests {
    use super::super::{lint_script, LintReport, Rule, Scope, Target, CITUS_MEASURED, RULES};
    use crate::migrate::catalog::Script;

    /// (file, line, rule) of every Citus finding in the scripts given as (file, sql).
    fn citus_findings(files: &[(&str, &str)]) -> Vec<(String, usize, &'static str)> {
        let rules: Vec<&Rule> = RULES
            .iter()
            .filter(|r| r.applies_to(Target::Citus, CITUS_MEASURED))
            .collect();
        let scripts: Vec<Script> = files
            .iter()
            .map(|(file, sql)| Script {
                file: file.to_string(),
                sql: sql.to_string(),
            })
            .collect();
        let mut report = LintReport::empty(Target::Citus, String::new(), String::new(), 0);
        for script in &scripts {
            lint_script(script, &rules, &mut report);
        }
        let set: Vec<&Rule> = rules
            .iter()
            .copied()
            .filter(|r| r.scope == Scope::Set)
            .collect();
        let refs: Vec<&Script> = scripts.iter().collect();
        report.findings.extend(super::check_set(&refs, &set));
        let mut out: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.file.clone(), f.line, f.rule))
            .collect();
        out.sort();
        out
    }

    fn one(sql: &str) -> Vec<(usize, &'static str)> {
        citus_findings(&[("x.sql", sql)])
            .into_iter()
            .map(|(_, line, rule)| (line, rule))
            .collect()
    }

    #[test]
    fn unique_keys_need_the_distribution_column() {
        let sql = "CREATE TABLE organizations (\n  id uuid PRIMARY KEY,\n  slug text NOT NULL UNIQUE\n);\n\
                   CREATE TABLE api_keys (\n  organization_id uuid NOT NULL,\n  id uuid NOT NULL,\n  key_hash text,\n  CONSTRAINT api_keys_pkey PRIMARY KEY (organization_id, id),\n  CONSTRAINT k UNIQUE (key_hash),\n  CHECK (id IS NOT NULL)\n);\n\
                   ALTER TABLE ONLY public.api_keys ADD CONSTRAINT h UNIQUE (key_hash);\n\
                   ALTER TABLE api_keys ADD CONSTRAINT ok UNIQUE (organization_id, key_hash);\n\
                   CREATE UNIQUE INDEX i1 ON api_keys (lower(key_hash));\n\
                   CREATE UNIQUE INDEX i2 ON api_keys USING btree (organization_id, key_hash) WHERE key_hash IS NOT NULL;\n\
                   CREATE MATERIALIZED VIEW mv AS SELECT 1 AS k;\nCREATE UNIQUE INDEX mv_key ON mv (k);";
        let found: Vec<(usize, &str)> = one(sql)
            .into_iter()
            .filter(|(_, r)| *r == "citus-unique-without-tenant")
            .collect();
        // organizations' id is its distribution column; slug (line 3) is not. api_keys: the
        // constraint k (line 10), the ALTER (13) and the expression index (15) lack it.
        assert_eq!(
            found,
            vec![
                (3, "citus-unique-without-tenant"),
                (10, "citus-unique-without-tenant"),
                (13, "citus-unique-without-tenant"),
                (15, "citus-unique-without-tenant"),
            ]
        );
    }

    #[test]
    fn policies_sublinks_restrictive_and_sql_functions_with_parameters() {
        let sql = "CREATE FUNCTION visible(p uuid) RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT true $$;\n\
                   CREATE FUNCTION org() RETURNS uuid LANGUAGE sql AS $$ SELECT NULL::uuid $$;\n\
                   CREATE FUNCTION plain(p uuid) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN true; END $$;\n\
                   CREATE POLICY a ON t USING (organization_id = org());\n\
                   CREATE POLICY b ON t AS RESTRICTIVE USING (plain(id));\n\
                   ALTER POLICY c ON t USING (organization_id = (SELECT org()));\n\
                   ALTER POLICY d ON t\n  USING (public.visible(session_id));";
        let found: Vec<(usize, &str)> = one(sql)
            .into_iter()
            .filter(|(_, r)| *r != "citus-multi-statement-ddl")
            .collect();
        assert_eq!(
            found,
            vec![
                (5, "citus-policy-restrictive"),
                (6, "citus-policy-sublink"),
                (8, "citus-policy-sql-function-params"),
            ]
        );
    }

    #[test]
    fn triggers_settings_and_roles() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION f();\n\
                   CREATE OR REPLACE TRIGGER u AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f();";
        assert_eq!(
            citus_findings(&[("t.sql", sql)])
                .into_iter()
                .map(|(_, l, r)| (l, r))
                .collect::<Vec<_>>(),
            vec![
                (1, "citus-multi-statement-ddl"),
                (1, "citus-trigger"),
                (2, "citus-trigger"),
            ]
        );
        let set = "SET app.current_org_id = 'x';\nSET LOCAL app.current_org_id = 'x';\nSET ROLE arcdesk_tenant;\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nSELECT set_config('app.current_org_id', 'x', true);\nSELECT 'set_config(' AS not_a_call;";
        assert_eq!(
            one(set),
            vec![
                (1, "citus-plain-set"),
                (3, "citus-set-role"),
                (5, "citus-set-config"),
            ]
        );
    }

    #[test]
    fn multi_statement_ddl_is_one_finding_per_script_and_single_statements_pass() {
        let found = citus_findings(&[
            ("a.sql", "CREATE TABLE x (organization_id uuid);\nALTER TABLE x ADD COLUMN y int;\nALTER TABLE x ADD COLUMN z int;"),
            ("b.sql", "ALTER TABLE x ADD COLUMN w int;"),
            ("c.sql", "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS k;\nCREATE UNIQUE INDEX mv_k ON mv (k);"),
        ]);
        assert_eq!(
            found,
            vec![("a.sql".to_string(), 2, "citus-multi-statement-ddl")]
        );
    }
}
