//! What a new user meets first (issue 17): errors in JSON, exit codes of bad input, help,
//! configuration discovery, notices. Each against the real binary (and a real cluster when the
//! command needs a database).

use crate::support;

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
        // (An unknown --tenant-role is not bad input but the report's root cause, exit 5:
        // rls_verdict.rs.)
        (&["--schema", "nosuch"][..], "schema nosuch does not exist"),
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

#[test]
fn source_refuses_flat_files_and_empty_directories_and_accepts_a_bom() {
    let pg = TestCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let lint = |source: &std::path::Path| {
        let mut cmd = pg.arcdb();
        cmd.args(["lint", "--engine", "postgres", "--source"])
            .arg(source);
        run(cmd)
    };
    let flat = support::migrations_copy(dir.path(), "flat");
    std::fs::write(flat.join("0007_new.sql"), "SELECT 1;").unwrap();
    let run_flat = lint(&flat);
    assert_eq!(run_flat.code, 2, "{}", run_flat.stderr);
    assert!(run_flat.stderr.contains("0007_new.sql") && run_flat.stderr.contains("flat"));

    let empty = support::migrations_copy(dir.path(), "empty");
    std::fs::create_dir(empty.join("0007_todo")).unwrap();
    let run_empty = lint(&empty);
    assert_eq!(run_empty.code, 2, "{}", run_empty.stderr);
    assert!(
        run_empty.stderr.contains("0007_todo"),
        "{}",
        run_empty.stderr
    );
    let nothing = dir.path().join("nothing");
    std::fs::create_dir(&nothing).unwrap();
    let run_nothing = lint(&nothing);
    assert_eq!(run_nothing.code, 2, "{}", run_nothing.stderr);
    assert!(run_nothing.stderr.contains("holds no migrations"));

    // A BOM at the start of a file (Windows editors) is stripped, as psql does.
    let bom = support::migrations_copy(dir.path(), "bom");
    let next = format!("{:04}_bom", support::latest_version() + 1);
    support::write_migration(
        &bom,
        &next,
        "\u{feff}CREATE TABLE bom_ok (id int);",
        "\u{feff}DROP TABLE bom_ok;",
    );
    let dsn = pg.create_db("app");
    let mut up = pg.arcdb_at(&dsn, &["up", "--source"]);
    up.arg(&bom);
    run(up).ok("up --source with a BOM");
    assert_eq!(pg.scalar("app", "SELECT count(*) FROM bom_ok"), "0");
}

#[test]
fn arcdb_toml_is_found_from_a_subdirectory_and_status_says_which() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("app");
    let repo = pg.root().join("repo");
    std::fs::create_dir_all(repo.join("src/deep")).unwrap();
    std::fs::write(
        repo.join("arcdb.toml"),
        format!("default_profile = \"dev\"\n[profiles.dev]\ndsn = \"{dsn}\"\n"),
    )
    .unwrap();
    let mut cmd = pg.arcdb();
    cmd.current_dir(repo.join("src/deep"))
        .args(["status", "--format", "json"]);
    let status = run(cmd);
    // Pending (3): the profile's empty database, not the local server.
    assert_eq!(status.code, 3, "{}", status.stderr);
    let json = status.json();
    assert_eq!(json["config"]["profile"], "dev");
    assert_eq!(
        json["config"]["file"],
        repo.join("arcdb.toml").display().to_string()
    );
    assert!(!pg.local_dir().exists(), "the local server was not used");
    let mut table = pg.arcdb();
    table.current_dir(repo.join("src")).arg("status");
    let table = run(table);
    assert!(table.stdout.contains("profile: dev"), "{}", table.stdout);
}

#[test]
fn notices_follow_quiet_and_verbose_and_the_local_notice_is_said_once() {
    let pg = TestCluster::start();
    let local = |args: &[&str]| {
        let mut cmd = pg.arcdb();
        cmd.env("ARCDB_LOCAL_PORT", support::free_port().to_string());
        cmd.args(args);
        cmd
    };
    let port = support::free_port().to_string();
    let at = |args: &[&str]| {
        let mut cmd = local(args);
        cmd.env("ARCDB_LOCAL_PORT", &port);
        run(cmd)
    };
    let first = at(&["up"]).ok("up");
    assert!(
        first
            .stderr
            .contains("created and started the local PostgreSQL"),
        "{}",
        first.stderr
    );
    let again = at(&["status"]).ok("status");
    assert!(
        !again.stderr.contains("local PostgreSQL"),
        "{}",
        again.stderr
    );
    let verbose = at(&["--verbose", "status"]).ok("status --verbose");
    assert!(
        verbose.stderr.contains("using the local PostgreSQL"),
        "{}",
        verbose.stderr
    );
    // verify-rls's remark on the setting goes to stderr; --quiet silences it.
    let rls = at(&["verify-rls"]).ok("verify-rls");
    assert!(!rls.stdout.contains("note:"), "{}", rls.stdout);
    assert!(rls.stderr.contains("note:"), "{}", rls.stderr);
    let quiet = at(&["-q", "verify-rls", "--format", "json"]).ok("verify-rls -q");
    assert!(quiet.stderr.trim().is_empty(), "{}", quiet.stderr);
    assert!(quiet.json()["notes"]
        .as_array()
        .is_some_and(|n| !n.is_empty()));
    let conflict = at(&["--quiet", "--verbose", "status"]);
    assert_eq!(conflict.code, 2);
    // No colour escapes off a terminal or with NO_COLOR.
    let mut help = local(&["--help"]);
    help.env("NO_COLOR", "1");
    let help = run(help).ok("--help");
    assert!(!help.stdout.contains('\u{1b}'));
    assert!(!rls.stdout.contains('\u{1b}') && !rls.stderr.contains('\u{1b}'));
    drop(pg);
}

/// The binary with no database named anywhere and a private local directory (for commands that
/// never connect).
fn offline(dir: &std::path::Path, args: &[&str]) -> support::Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_arcdb"));
    for var in ["DATABASE_URL", "ARCDB_PROFILE", "ARCDB_CONFIG", "NO_COLOR"] {
        cmd.env_remove(var);
    }
    cmd.env("ARCDB_LOCAL_DIR", dir.join("local"))
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .current_dir(dir)
        .args(args);
    run(cmd)
}

#[test]
fn help_lists_own_options_first_with_examples_and_junit_only_where_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    let subcommands = [
        "up",
        "status",
        "rollback",
        "seed",
        "verify-rls",
        "refresh",
        "views",
        "lint",
        "local",
        "man",
        "completions",
    ];
    for sub in subcommands {
        let help = offline(dir.path(), &[sub, "--help"]).ok(sub);
        let text = &help.stdout;
        let global = text
            .find("Global options:")
            .unwrap_or_else(|| panic!("{sub}: {text}"));
        let dsn = text.find("--dsn").unwrap();
        assert!(dsn > global, "{sub}: --dsn is listed among its own options");
        assert!(
            text.contains("Example"),
            "{sub} --help has no examples: {text}"
        );
    }
    let up = offline(dir.path(), &["up", "--help"]).stdout;
    assert!(up.find("--dry-run").unwrap() < up.find("Global options:").unwrap());
    let local = offline(dir.path(), &["local", "--help"]).stdout;
    assert!(
        local.contains("ARCDB_LOCAL_DIR") && local.contains("ARCDB_LOCAL_PORT"),
        "{local}"
    );

    // --format junit where no JUnit rendering exists: exit 2 before anything runs.
    let junit = offline(dir.path(), &["status", "--format", "junit"]);
    assert_eq!(junit.code, 2, "{}", junit.stderr);
    assert!(junit.stderr.contains("only for verify-rls and lint"));
    assert!(!dir.path().join("local").exists(), "nothing started");
    let lint = offline(
        dir.path(),
        &["lint", "--engine", "postgres", "--format", "junit"],
    );
    assert_eq!(lint.code, 0, "{}", lint.stderr);
    assert!(lint.stdout.starts_with("<?xml"), "{}", lint.stdout);

    // Man pages from the same definitions.
    let man = dir.path().join("man");
    offline(dir.path(), &["man", man.to_str().unwrap()]).ok("man");
    for page in [
        "arcdb.1",
        "arcdb-up.1",
        "arcdb-local-destroy.1",
        "arcdb-verify-rls.1",
    ] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_else(|_| panic!("{page}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    assert!(std::fs::read_to_string(man.join("arcdb-up.1"))
        .unwrap()
        .contains("dry\\-run"));
}

#[test]
fn permission_errors_name_the_role_the_object_and_the_grant() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("app");
    run(pg.arcdb_at(&dsn, &["up"])).ok("up");
    pg.psql("app", "CREATE ROLE app_ro LOGIN");
    let as_ro = dsn.replace("user=postgres", "user=app_ro");
    assert!(as_ro.contains("user=app_ro"), "{as_ro}");
    let status = run(pg.arcdb_at(&as_ro, &["status"]));
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert_eq!(status.error_lines().len(), 1, "{}", status.stderr);
    let line = status.error_lines()[0];
    assert!(line.contains("role app_ro"), "{line}");
    assert!(line.contains("schema arcdb"), "{line}");
    assert!(
        line.contains("GRANT USAGE, CREATE ON SCHEMA arcdb TO app_ro;"),
        "{line}"
    );
}

#[test]
fn local_tenant_sessions_see_only_their_organization() {
    let pg = TestCluster::start();
    let port = support::free_port().to_string();
    let at = |args: &[&str]| {
        let mut cmd = pg.arcdb();
        cmd.env("ARCDB_LOCAL_PORT", &port).args(args);
        run(cmd)
    };
    // Before the schema exists: a clear refusal.
    at(&["local", "start"]).ok("local start");
    let early = at(&["local", "dsn", "--tenant", "acme-corporation"]);
    assert_eq!(early.code, 2, "{}", early.stderr);
    assert!(early.stderr.contains("arcdb up"), "{}", early.stderr);
    at(&["up"]).ok("up");
    at(&["seed"]).ok("seed");
    let owner_orgs = at(&[
        "local",
        "psql",
        "--",
        "-XAtc",
        "SELECT count(DISTINCT organization_id) > 1 FROM tasks",
    ])
    .ok("local psql");
    assert_eq!(owner_orgs.stdout.trim(), "t", "the owner sees every tenant");

    let dsn = at(&["local", "dsn", "--tenant", "acme-corporation"]).ok("local dsn --tenant");
    let dsn = dsn.stdout.trim();
    assert!(dsn.contains("user=arcdesk_dev_tenant"), "{dsn}");
    let sql = "SELECT current_user, (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user), \
               (SELECT count(DISTINCT organization_id) FROM tasks), \
               (SELECT string_agg(DISTINCT slug::text, ',') FROM organizations)";
    let seen = std::process::Command::new(pg.bins().tool("psql"))
        .args(["-XAt", "-F", " ", "-d", dsn, "-c", sql])
        .output()
        .unwrap();
    assert!(
        seen.status.success(),
        "{}",
        String::from_utf8_lossy(&seen.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout).trim(),
        "arcdesk_dev_tenant f 1 acme-corporation"
    );
    // The same through `local psql --tenant` (by id), and again (the role is kept, not re-made).
    for _ in 0..2 {
        let via = at(&[
            "local",
            "psql",
            "--tenant",
            "10000000-0000-4000-8000-000000000001",
            "--",
            "-XAtc",
            "SELECT string_agg(DISTINCT slug::text, ',') FROM organizations",
        ])
        .ok("local psql --tenant");
        assert_eq!(via.stdout.trim(), "acme-corporation");
    }
    let unknown = at(&["local", "dsn", "--tenant", "nosuch"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("--tenant nosuch"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn views_table_fits_100_columns() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("app");
    run(pg.arcdb_at(&dsn, &["up"])).ok("up");
    run(pg.arcdb_at(&dsn, &["seed"])).ok("seed");
    run(pg.arcdb_at(&dsn, &["refresh"])).ok("refresh");
    let views = run(pg.arcdb_at(&dsn, &["views"])).ok("views");
    let widest = views
        .stdout
        .lines()
        .filter(|l| l.starts_with(['│', '┌', '├', '└']))
        .map(|l| l.chars().count())
        .max()
        .expect("a table");
    assert!(widest <= 100, "{widest} columns:\n{}", views.stdout);
    assert!(views.stdout.contains("data age"), "{}", views.stdout);
}

#[test]
fn seed_scale_reports_every_phase_off_a_terminal_and_ctrl_c_leaves_nothing() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("app");
    run(pg.arcdb_at(&dsn, &["up"])).ok("up");
    let seed = run(pg.arcdb_at(&dsn, &["seed", "--scale", "--orgs", "3", "--tasks", "300"]))
        .ok("seed --scale");
    let mut phases = Vec::new();
    for phase in [
        "COPY",
        "rebuilding keys, indexes and foreign keys",
        "COMMIT",
        "ANALYZE",
        "loaded",
    ] {
        let at = seed
            .stderr
            .find(&format!("seed --scale: {phase}"))
            .unwrap_or_else(|| panic!("no {phase} line: {}", seed.stderr));
        phases.push(at);
    }
    assert!(phases.windows(2).all(|w| w[0] < w[1]), "{}", seed.stderr);
    let quiet = run(pg.arcdb_at(
        &dsn,
        &[
            "-q", "seed", "--scale", "--append", "--orgs", "1", "--tasks", "10",
        ],
    ))
    .ok("seed -q");
    assert!(quiet.stderr.trim().is_empty(), "{}", quiet.stderr);

    // Ctrl-C in the middle of a load: a clean message, exit 130, nothing of it kept.
    let fresh = pg.create_db("fresh");
    run(pg.arcdb_at(&fresh, &["up"])).ok("up fresh");
    let mut child = pg
        .arcdb_at(
            &fresh,
            &["seed", "--scale", "--orgs", "50", "--tasks", "3000000"],
        )
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    use std::io::BufRead;
    while !seen.contains("seed --scale: COPY") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("interrupted (Ctrl-C)"), "{rest}");
    assert!(rest.contains("nothing was loaded"), "{rest}");
    assert_eq!(
        pg.scalar("fresh", "SELECT count(*) FROM organizations"),
        "0"
    );
}

#[test]
fn usage_hints_name_the_subcommand_and_a_wrong_pg_bin_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bad = offline(dir.path(), &["local", "destroy", "--bogus"]);
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.error_lines(),
        [
            "error: unexpected argument '--bogus' found",
            "hint: arcdb local destroy --help shows the usage"
        ]
    );
    let shell = offline(dir.path(), &["completions", "nosh"]);
    assert_eq!(shell.code, 2);
    assert_eq!(
        shell.error_lines()[1],
        "hint: arcdb completions --help shows the usage"
    );
    let pg_bin = offline(
        dir.path(),
        &["--pg-bin", "/nonexistent/bin", "local", "status"],
    );
    assert_eq!(pg_bin.code, 2, "{}", pg_bin.stderr);
    assert!(
        pg_bin.stderr.contains("/nonexistent/bin"),
        "{}",
        pg_bin.stderr
    );
}
