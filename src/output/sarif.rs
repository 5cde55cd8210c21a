//! SARIF 2.1.0 (the static-analysis interchange format GitHub code scanning reads), for every
//! command whose report is a list of findings (`verify-rls`; `lint` can hand its findings to
//! [`render`] the same way). GitHub places a result on a file only with a physical location:
//! results without one carry the object as a logical location and still show in the run.

use serde_json::{json, Value};

/// One rule of the tool (the `rules` of the driver).
pub struct Rule<'a> {
    pub id: &'a str,
    pub description: &'a str,
    /// `error`, `warning` or `note`.
    pub level: &'a str,
}

/// One result.
pub struct Result<'a> {
    pub rule_id: &'a str,
    /// `error`, `warning` or `note`.
    pub level: &'a str,
    pub message: String,
    /// The object it is about (`public.tasks`, `policy p on public.tasks`).
    pub object: &'a str,
    /// (path relative to the repository root, line) when known.
    pub location: Option<(&'a str, Option<u32>)>,
}

/// The SARIF level of an arcdb severity name (`info` is SARIF's `note`).
pub fn level(severity: &str) -> &'static str {
    match severity {
        "error" => "error",
        "warning" => "warning",
        _ => "note",
    }
}

/// A SARIF 2.1.0 log with one run of `tool`.
pub fn render(tool: &str, rules: &[Rule<'_>], results: &[Result<'_>]) -> String {
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": { "text": r.description },
                "defaultConfiguration": { "level": r.level },
            })
        })
        .collect();
    let results: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut location = json!({
                "logicalLocations": [{ "fullyQualifiedName": r.object }],
            });
            if let Some((path, line)) = r.location {
                let mut physical = json!({ "artifactLocation": { "uri": path } });
                if let Some(line) = line {
                    physical["region"] = json!({ "startLine": line });
                }
                location["physicalLocation"] = physical;
            }
            json!({
                "ruleId": r.rule_id,
                "level": r.level,
                "message": { "text": r.message },
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
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_with_a_file_gets_a_physical_location_and_one_without_a_logical_one() {
        let text = render(
            "arcdb verify-rls",
            &[Rule {
                id: "rls-disabled",
                description: "RLS off",
                level: "error",
            }],
            &[
                Result {
                    rule_id: "rls-disabled",
                    level: "error",
                    message: "anyone reads it".into(),
                    object: "public.tasks",
                    location: Some(("migrations/0002_core_schema/up.sql", Some(205))),
                },
                Result {
                    rule_id: "rls-disabled",
                    level: level("info"),
                    message: "m".into(),
                    object: "role x",
                    location: None,
                },
            ],
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let results = &v["runs"][0]["results"];
        let first = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(
            first["artifactLocation"]["uri"],
            "migrations/0002_core_schema/up.sql"
        );
        assert_eq!(first["region"]["startLine"], 205);
        assert_eq!(results[1]["level"], "note");
        assert!(results[1]["locations"][0].get("physicalLocation").is_none());
        assert_eq!(
            results[1]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "role x"
        );
        assert_eq!(
            v["runs"][0]["tool"]["driver"]["rules"][0]["id"],
            "rls-disabled"
        );
    }
}
