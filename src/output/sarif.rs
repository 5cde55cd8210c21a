//! SARIF 2.1.0, for GitHub code scanning: one run of one tool, one result per finding. Any
//! report made of findings with a file and line (lint, verify-rls) maps them to [`Finding`].

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// A finding as SARIF sees it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: String,
    pub severity: Level,
    /// A path relative to the repository root, or as the report names it.
    pub file: String,
    /// 1-based; 0 = the whole file.
    pub line: usize,
    pub message: String,
    /// How to fix it (the safe form).
    pub help: String,
}

/// The SARIF log for `findings` of `tool` (e.g. "arcdb lint").
pub fn render(tool: &str, findings: &[Finding]) -> String {
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort();
    rules.dedup();
    let rule_entries: Vec<Value> = rules
        .iter()
        .map(|id| {
            let first = findings.iter().find(|f| f.rule == *id).expect("listed");
            json!({
                "id": id,
                "shortDescription": { "text": first.message },
                "help": { "text": first.help },
                "defaultConfiguration": { "level": first.severity.as_str() },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut location = json!({
                "physicalLocation": { "artifactLocation": { "uri": f.file } }
            });
            if f.line > 0 {
                location["physicalLocation"]["region"] = json!({ "startLine": f.line });
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": rules.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": f.severity.as_str(),
                "message": { "text": if f.help.is_empty() { f.message.clone() } else { format!("{} Safe form: {}", f.message, f.help) } },
                "locations": [location],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": tool,
                "informationUri": "https://github.com/arcdesk/arcdb",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_entries,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rules_results_and_locations() {
        let findings = vec![
            Finding {
                rule: "b-rule".into(),
                severity: Level::Error,
                file: "migrations/0007_x/up.sql".into(),
                line: 3,
                message: "blocks writes.".into(),
                help: "do it concurrently".into(),
            },
            Finding {
                rule: "a-rule".into(),
                severity: Level::Warning,
                file: "x.sql".into(),
                line: 0,
                message: "m".into(),
                help: String::new(),
            },
        ];
        let log: Value = serde_json::from_str(&render("arcdb lint", &findings)).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "a-rule");
        assert_eq!(run["results"][0]["ruleIndex"], 1);
        assert_eq!(run["results"][0]["level"], "error");
        assert_eq!(
            run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert!(run["results"][1]["locations"][0]["physicalLocation"]
            .get("region")
            .is_none());
    }
}
