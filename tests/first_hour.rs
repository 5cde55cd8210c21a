//! What a new user meets first (issue 17): errors in JSON, exit codes of bad input, help,
//! configuration discovery, notices. Each against the real binary (and a real cluster when the
//! command needs a database).

mod support;

use support::{run, TestCluster};

#[test]
fn json_errors_are_objects_on_stdout_as_well_as_one_line_on_stderr() {
    let pg = TestCluster::start();
    // A clap usage error: one line plus a hint at most, exit 2.
    let usage = run(pg.arcdb_at(&pg.dsn("postgres"), &["up", "--bogus", "--format", "json"]));
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert!(usage.error_lines().len() <= 2, "{}", usage.stderr);
    assert!(usage.error_lines()[0].starts_with("error: unexpected argument '--bogus'"));
    let json = usage.json();
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["error"]["kind"], "usage");
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--bogus"));

    // The same without --format json: nothing on stdout.
    let plain = run(pg.arcdb_at(&pg.dsn("postgres"), &["verify-rls", "--tenant-role"]));
    assert_eq!(plain.code, 2);
    assert!(plain.stdout.is_empty(), "{}", plain.stdout);
    assert!(plain.error_lines().len() <= 2, "{}", plain.stderr);

    // A runtime failure: exit 1, kind failure.
    let closed = format!(
        "postgresql://nobody@127.0.0.1:{}/x?sslmode=disable",
        support::free_port()
    );
    let failure = run(pg.arcdb_at(&closed, &["status", "--format", "json"]));
    assert_eq!(failure.code, 1, "{}", failure.stderr);
    assert_eq!(failure.error_lines().len(), 1, "{}", failure.stderr);
    let json = failure.json();
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["error"]["kind"], "failure");
    assert_eq!(
        format!("error: {}", json["error"]["message"].as_str().unwrap()),
        failure.error_lines()[0]
    );
}

#[test]
fn bad_verify_rls_input_exits_2() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("app");
    run(pg.arcdb_at(&dsn, &["up"])).ok("up");
    for (args, needle) in [
        (
            &["--tenant-role", "nosuch"][..],
            "tenant role nosuch does not exist",
        ),
        (&["--schema", "nosuch"][..], "--schema nosuch"),
        (&["--setting", "nodot"][..], "--setting"),
    ] {
        let mut all = vec!["verify-rls"];
        all.extend_from_slice(args);
        let run = run(pg.arcdb_at(&dsn, &all));
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.error_lines().len(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
}

#[test]
fn supported_postgres_versions_are_stated_once_the_same_way() {
    let pg = TestCluster::start();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let help = run({
        let mut cmd = pg.arcdb();
        cmd.arg("--help");
        cmd
    })
    .ok("--help");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let majors = std::fs::read_to_string(root.join("docs/postgres-majors.md")).unwrap();
    for (what, text) in [
        ("--help", &help.stdout),
        ("README", &readme),
        ("majors", &majors),
    ] {
        assert!(text.contains("PostgreSQL 14–18"), "{what} states 14–18");
        assert!(!text.contains("PostgreSQL 13+"), "{what} still says 13+");
    }
    let mut lint = pg.arcdb();
    lint.args(["lint", "--engine", "postgres", "--format", "json"]);
    let lint = run(lint).ok("lint");
    assert_eq!(
        lint.json()["engine_version"],
        "14.0",
        "lint's default is the oldest supported"
    );
}

#[test]
fn readme_prerequisites_name_every_package_ci_installs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let install = readme
        .lines()
        .find(|l| l.starts_with("apt-get install"))
        .expect("README has an apt-get install line");
    let mut packages = Vec::new();
    for line in ci.lines() {
        if let Some((_, rest)) = line.split_once("need_apt+=(") {
            packages.extend(
                rest.trim_end_matches(')')
                    .split_whitespace()
                    .map(String::from),
            );
        }
    }
    assert!(packages.contains(&"libssl-dev".to_string()), "{packages:?}");
    for package in packages {
        if package == "util-linux" {
            continue; // essential on Debian: always installed
        }
        assert!(
            install.split_whitespace().any(|w| w == package),
            "README's apt-get line lacks {package}: {install}"
        );
    }
}
