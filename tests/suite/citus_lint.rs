//! docs/citus.md stays true to `arcdb lint --engine citus`: its rule table and its list of the
//! embedded set's findings are what the code says, between the `<!-- generated: … -->` markers.
//! After changing a rule or a migration: `ARCDB_BLESS=1 cargo test --test citus_lint` rewrites
//! both blocks (then read the diff).

use arcdb::lint::{lint, LintOptions, Target, RULES};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/citus.md")
}

fn rules_block() -> String {
    let mut out = String::from("| rule | kind | flags | why, and the fix |\n|---|---|---|---|\n");
    for rule in RULES.iter().filter(|r| r.engine == Target::Citus) {
        let kind = serde_json::to_value(rule.kind).unwrap();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            rule.id,
            kind.as_str().unwrap(),
            rule.pattern.replace('|', "\\|"),
            rule.reason.replace('|', "\\|")
        ));
    }
    out
}

fn findings_block() -> String {
    let report = lint(LintOptions {
        engine: Target::Citus,
        version: None,
        source: None,
        all: false,
    })
    .unwrap();
    // rule → file → lines, in the report's order of files.
    let mut by_rule: BTreeMap<&str, Vec<(String, Vec<usize>)>> = BTreeMap::new();
    for f in &report.findings {
        let files = by_rule.entry(f.rule).or_default();
        match files.iter_mut().find(|(file, _)| *file == f.file) {
            Some((_, lines)) => lines.push(f.line),
            None => files.push((f.file.clone(), vec![f.line])),
        }
    }
    let mut out = format!(
        "`arcdb lint --engine citus` on the embedded set: {} finding(s) in {} statement(s).\n\n| rule | file | lines |\n|---|---|---|\n",
        report.findings.len(),
        report.statements
    );
    for rule in RULES.iter().filter(|r| r.engine == Target::Citus) {
        match by_rule.get(rule.id) {
            None => out.push_str(&format!("| `{}` | none | |\n", rule.id)),
            Some(files) => {
                for (file, lines) in files {
                    let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
                    out.push_str(&format!(
                        "| `{}` | {file} | {} |\n",
                        rule.id,
                        lines.join(", ")
                    ));
                }
            }
        }
    }
    out
}

/// The text between `<!-- generated: NAME -->` and `<!-- end: NAME -->`.
fn block(doc: &str, name: &str) -> (usize, usize) {
    let begin = format!("<!-- generated: {name} -->\n");
    let end = format!("<!-- end: {name} -->");
    let start = doc
        .find(&begin)
        .unwrap_or_else(|| panic!("docs/citus.md lacks {begin:?}"))
        + begin.len();
    let stop = doc[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("docs/citus.md lacks {end:?}"))
        + start;
    (start, stop)
}

#[test]
fn docs_citus_lists_every_rule_and_the_embedded_sets_findings() {
    let path = doc_path();
    let mut doc = std::fs::read_to_string(&path).unwrap();
    let bless = std::env::var_os("ARCDB_BLESS").is_some();
    for (name, want) in [("rules", rules_block()), ("findings", findings_block())] {
        let (start, stop) = block(&doc, name);
        if doc[start..stop] != want {
            if bless {
                doc.replace_range(start..stop, &want);
            } else {
                panic!(
                    "docs/citus.md's {name} block is out of date: run ARCDB_BLESS=1 cargo test --test citus_lint\n--- expected ---\n{want}"
                );
            }
        }
    }
    if bless {
        std::fs::write(&path, doc).unwrap();
    }
}
