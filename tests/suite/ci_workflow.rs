//! docs/ci/github-actions.yml, exercised: its `arcdb` run steps, in the file's order, against a
//! throwaway cluster standing in for the workflow's PostgreSQL service (DATABASE_URL over TCP
//! with a password, as there).

use crate::support;

use support::{run, TestCluster};

/// The `run:` steps of the workflow that call arcdb, in order.
fn arcdb_steps(workflow: &str) -> Vec<String> {
    workflow
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: "))
        .map(str::trim)
        .filter(|cmd| cmd.starts_with("arcdb "))
        .map(String::from)
        .collect()
}

#[test]
fn the_example_workflow_runs_against_a_throwaway_cluster() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ci/github-actions.yml");
    let workflow = std::fs::read_to_string(&path).unwrap();
    let steps = arcdb_steps(&workflow);
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        names,
        ["up", "status", "lint", "seed", "verify-rls", "verify-rls"],
        "{steps:?}"
    );
    assert!(workflow.contains("services:") && workflow.contains("upload-sarif"));

    let pg = TestCluster::start();
    pg.create_db("arcdesk");
    let out = tempfile::tempdir().unwrap();
    for step in &steps {
        let (command, redirect) = match step.split_once(" > ") {
            Some((c, file)) => (c, Some(file.trim())),
            None => (step.as_str(), None),
        };
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let mut cmd = pg.arcdb();
        cmd.env("DATABASE_URL", pg.tcp_dsn("arcdesk")).args(&args);
        let result = run(cmd);
        assert_eq!(result.code, 0, "{step}: {}{}", result.stdout, result.stderr);
        if let Some(file) = redirect {
            std::fs::write(out.path().join(file), &result.stdout).unwrap();
            if file.ends_with(".xml") {
                assert!(
                    result.stdout.starts_with("<?xml"),
                    "{step}: {}",
                    result.stdout
                );
            } else {
                let doc = serde_json::from_str::<serde_json::Value>(&result.stdout)
                    .unwrap_or_else(|e| panic!("{step}: not JSON/SARIF: {e}"));
                if file.ends_with(".sarif") {
                    assert_eq!(doc["version"], "2.1.0", "{step}: {}", result.stdout);
                }
            }
        }
    }
    let rls = std::fs::read_to_string(out.path().join("rls.xml")).unwrap();
    assert!(rls.contains("<testcase"), "{rls}");
    assert!(!rls.contains("<failure"), "tenant isolation holds: {rls}");
}
