//! `arcdb::local` against real PostgreSQL servers: throwaway clusters and the local default server.
//! Needs PostgreSQL server binaries (`ARCDB_PG_BIN` or discovered).

use crate::support;

use arcdb::local::{
    run_local_on, Cluster, ClusterSpec, Ensured, LocalAction, LocalServer, LocalState, PgBinaries,
    StopMode,
};
use arcdb::output::Report;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use support::{free_port, test_binaries, TestCluster};

/// A temporary directory the postgres OS user can get through (0755 whatever the umask).
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("arcdb-local-test-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    dir
}

/// psql -X -A -t over `dsn`; Err(stderr) on failure.
fn psql(bins: &PgBinaries, dsn: &str, sql: &str) -> Result<String, String> {
    let output = Command::new(bins.tool("psql"))
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            dsn,
            "-c",
            sql,
        ])
        .env_remove("PGPASSWORD")
        .output()
        .expect("run psql");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// Stops a cluster when dropped, so a failing assertion does not leave a server behind.
struct StopOnDrop<'a>(&'a Cluster);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.stop(StopMode::Immediate);
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn test_cluster_starts_answers_stops_and_restarts() {
    let pg = TestCluster::start();
    assert!(pg.cluster().is_running());
    assert_eq!(pg.psql("postgres", "SELECT 1 + 1"), "2");
    assert_eq!(
        pg.psql("postgres", "SHOW fsync; SHOW listen_addresses"),
        "off\n127.0.0.1"
    );

    // TCP with the password (scram); a wrong password is refused.
    assert_eq!(
        psql(pg.bins(), &pg.tcp_dsn("postgres"), "SELECT current_user").unwrap(),
        "postgres"
    );
    let wrong = pg.cluster().tcp_dsn("postgres", "not-the-password");
    let err = psql(pg.bins(), &wrong, "SELECT 1").unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(pg.password().starts_with("arcdb-test-pw-"));
    // The password file initdb read is gone.
    assert!(!pg.root().join("pg/.initdb-pwfile").exists());

    // Databases: created once, idempotent.
    let dsn = pg.create_db("app");
    assert!(dsn.contains("dbname=app"), "{dsn}");
    assert!(
        !pg.cluster().create_database("app").unwrap(),
        "second create reports existing"
    );
    assert_eq!(pg.psql("app", "SELECT current_database()"), "app");
    assert!(pg
        .try_psql("app", "SELECT * FROM no_such_table")
        .unwrap_err()
        .contains("no_such_table"));

    // Stop, start, restart.
    let pid = pg.cluster().pid().expect("pid while running");
    pg.stop();
    assert!(!pg.cluster().is_running());
    assert!(pg.try_psql("postgres", "SELECT 1").is_err());
    pg.start_again();
    pg.restart();
    assert!(pg.cluster().is_running());
    assert_ne!(pg.cluster().pid(), Some(pid));
    assert_eq!(pg.psql("app", "SELECT 42"), "42");

    let schema = pg.pg_dump_schema("app");
    assert!(!schema.contains("-- Dumped from"), "{schema}");
    assert!(!schema.contains("\\restrict"), "{schema}");
}

#[test]
fn test_clusters_are_cleaned_up_on_drop() {
    let (root, data) = {
        let pg = TestCluster::start();
        pg.psql("postgres", "CREATE TABLE t (id int)");
        (pg.root().to_path_buf(), pg.cluster().data_dir())
    };
    assert!(!data.exists(), "data dir removed");
    assert!(!root.exists(), "root removed");
}

#[test]
fn socket_only_durable_cluster() {
    let dir = open_tempdir();
    let bins = test_binaries();
    let spec = ClusterSpec::new(dir.path().join("c"), free_port());
    let cluster = Cluster::init(bins.clone(), spec).expect("init");
    assert!(cluster.is_initialized());
    assert!(!cluster.is_running());
    if is_root() {
        let owner = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        let meta = std::fs::metadata(cluster.data_dir()).unwrap();
        assert_eq!(
            meta.uid(),
            owner.uid.as_raw(),
            "data dir belongs to postgres"
        );
    }

    cluster.start().expect("start");
    let _guard = StopOnDrop(&cluster);
    {
        let dsn = cluster.socket_dsn("postgres");
        assert!(dsn.starts_with(&format!(
            "host={} port={}",
            cluster.socket_dir().display(),
            cluster.port()
        )));
        assert_eq!(psql(&bins, &dsn, "SHOW fsync").unwrap(), "on");
        assert_eq!(psql(&bins, &dsn, "SHOW full_page_writes").unwrap(), "on");
        assert_eq!(psql(&bins, &dsn, "SHOW listen_addresses").unwrap(), "");
        let socket_mode = std::fs::metadata(cluster.socket_dir()).unwrap().mode() & 0o777;
        assert_eq!(socket_mode, 0o700, "socket dir private");
        // Starting a running cluster is a no-op.
        cluster.start().expect("second start");
    }
    cluster.stop(StopMode::Immediate).expect("stop");
    assert!(!cluster.is_running());
    cluster
        .stop(StopMode::Fast)
        .expect("stopping a stopped cluster is a no-op");
}

#[test]
fn local_server_lifecycle() {
    let dir = open_tempdir();
    let root = dir.path().join("local");
    let server = LocalServer::new(&root, free_port(), test_binaries());
    // Stops the server even when an assertion fails.
    let _guard = StopOnDrop(server.cluster());
    let bins = server.cluster().bins().clone();

    assert_eq!(server.status(), LocalState::Absent);
    assert_eq!(
        server.ensure_running().expect("first ensure_running"),
        Ensured::Initialized
    );
    let LocalState::Running { pid } = server.status() else {
        panic!("running after ensure_running")
    };
    assert_eq!(
        psql(&bins, &server.dsn(), "SELECT current_database()").unwrap(),
        "arcdesk"
    );
    assert!(server.dsn().ends_with("dbname=arcdesk"), "{}", server.dsn());

    assert_eq!(server.ensure_running().unwrap(), Ensured::AlreadyRunning);
    assert_eq!(server.status(), LocalState::Running { pid });

    // The report `arcdb local status` emits.
    let report = run_local_on(&server, LocalAction::Status, no_destroy).unwrap();
    assert!(report.initialized && report.running);
    assert_eq!(report.pid, Some(pid));
    assert_eq!(report.dsn, server.dsn());
    assert!(report
        .postgres_version
        .as_deref()
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())));
    let table = report.render_table();
    assert!(
        table.contains(&server.dsn()) && table.contains("running"),
        "{table}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["action"], "status");
    assert_eq!(json["running"], true);
    assert_eq!(json["pid"], pid);
    assert_eq!(
        run_local_on(&server, LocalAction::Dsn, no_destroy)
            .unwrap()
            .render_table(),
        server.dsn()
    );

    // Stop, then ensure_running starts it again (the database is kept).
    assert!(server.stop().unwrap());
    assert_eq!(server.status(), LocalState::Stopped);
    assert!(
        !server.stop().unwrap(),
        "stopping twice reports not running"
    );
    assert!(psql(&bins, &server.dsn(), "SELECT 1").is_err());
    assert_eq!(server.ensure_running().unwrap(), Ensured::Started);
    psql(&bins, &server.dsn(), "CREATE TABLE kept (id int)").unwrap();
    let report = run_local_on(&server, LocalAction::Stop, no_destroy).unwrap();
    assert!(!report.running && report.pid.is_none());
    assert_eq!(
        run_local_on(&server, LocalAction::Start, no_destroy)
            .unwrap()
            .summary,
        "started"
    );
    assert_eq!(
        psql(&bins, &server.dsn(), "SELECT count(*) FROM kept").unwrap(),
        "0"
    );

    // Destroy stops it and removes the directory, after asking.
    assert!(
        root.join(".arcdb-cluster").is_file(),
        "marker written at init"
    );
    let refused = server.destroy(|_| Ok(false)).unwrap_err();
    assert!(format!("{refused:#}").contains("cancelled"), "{refused:#}");
    assert!(
        server.cluster().is_running(),
        "a refused destroy touches nothing"
    );
    let mut asked = None;
    let removed = server
        .destroy(|plan| {
            asked = Some(plan.clone());
            Ok(true)
        })
        .unwrap();
    let plan = asked.expect("destroy asks first");
    assert!(
        plan.running && !plan.legacy && plan.data_bytes > 0,
        "{plan:?}"
    );
    assert_eq!(plan.paths[0], server.cluster().data_dir());
    assert!(
        removed.contains(&server.cluster().data_dir()),
        "{removed:?}"
    );
    assert!(removed.contains(&root), "{removed:?}");
    assert!(!root.exists(), "root removed");
    assert_eq!(server.status(), LocalState::Absent);
    assert!(
        server
            .destroy(|_| panic!("nothing to confirm"))
            .unwrap()
            .is_empty(),
        "nothing left to destroy"
    );
}

/// Nothing to destroy: accept without asking (no test expects a question).
fn no_destroy(_: &arcdb::local::DestroyPlan) -> anyhow::Result<bool> {
    panic!("only destroy asks for confirmation")
}

/// `arcdb local <args>` on the local server in `dir` (stdin closed: not a terminal).
fn arcdb_local(dir: &Path, port: u16, args: &[&str]) -> support::Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
    cmd.env("ARCDB_LOCAL_DIR", dir)
        .env("ARCDB_PG_BIN", test_binaries().dir())
        .env("ARCDB_LOCAL_PORT", port.to_string())
        .env_remove("DATABASE_URL")
        .arg("local")
        .args(args)
        .stdin(std::process::Stdio::null());
    support::run(cmd)
}

#[test]
fn destroy_where_no_cluster_lives_removes_nothing() {
    // The data-loss report of issue 17: a project directory with run/ and a postgres.log.
    let dir = open_tempdir();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(proj.join("run")).unwrap();
    std::fs::write(proj.join("run/deploy.sh"), "x").unwrap();
    std::fs::write(proj.join("postgres.log"), "mine").unwrap();
    let run = arcdb_local(&proj, free_port(), &["destroy", "--yes"]).ok("local destroy");
    assert!(run.stdout.contains("nothing to destroy"), "{}", run.stdout);
    assert!(!run.stdout.contains("removed /"), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(proj.join("run/deploy.sh")).unwrap(),
        "x"
    );
    assert_eq!(
        std::fs::read_to_string(proj.join("postgres.log")).unwrap(),
        "mine"
    );
    assert!(
        !proj.join(".arcdb-local.lock").exists(),
        "not even a lock file"
    );
}

#[test]
fn destroy_asks_or_needs_yes_and_keeps_what_is_not_arcdbs() {
    let dir = open_tempdir();
    let root = dir.path().join("local");
    let port = free_port();
    let start = arcdb_local(&root, port, &["start"]).ok("local start");
    assert!(start.stdout.contains("initialized"), "{}", start.stdout);
    let server = LocalServer::new(&root, port, test_binaries());
    let _guard = StopOnDrop(server.cluster());
    std::fs::write(root.join("run/deploy.sh"), "x").unwrap();

    // Not a terminal, no --yes: one line, exit 2, nothing touched.
    let refused = arcdb_local(&root, port, &["destroy"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_eq!(refused.error_lines().len(), 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(server.cluster().is_running() && server.cluster().is_initialized());

    let run =
        arcdb_local(&root, port, &["destroy", "--yes", "--format", "json"]).ok("destroy --yes");
    let removed: Vec<String> = run.json()["removed"]
        .as_array()
        .expect("removed listed")
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let data = server.cluster().data_dir().display().to_string();
    assert!(removed.contains(&data), "{removed:?}");
    assert!(!server.cluster().data_dir().exists());
    assert!(!server.cluster().log_path().exists());
    assert!(!root.join(".arcdb-cluster").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("run/deploy.sh")).unwrap(),
        "x"
    );
    assert!(!removed.iter().any(|p| p.ends_with("/run")), "{removed:?}");
}

#[test]
fn destroy_refuses_a_cluster_arcdb_did_not_create_and_recognises_older_ones() {
    let dir = open_tempdir();
    // An earlier arcdb: a cluster with arcdb's pg_hba.conf and no marker.
    let legacy_root = dir.path().join("legacy");
    Cluster::init(test_binaries(), ClusterSpec::new(&legacy_root, free_port())).expect("init");
    let legacy = LocalServer::new(&legacy_root, free_port(), test_binaries());
    assert_eq!(legacy.ownership(), arcdb::local::Ownership::Legacy);
    let removed = legacy
        .destroy(|plan| {
            assert!(plan.legacy);
            Ok(true)
        })
        .unwrap();
    assert!(
        removed.contains(&legacy.cluster().data_dir()),
        "{removed:?}"
    );
    assert!(!legacy_root.exists());

    // Someone else's cluster in the directory: refused, exit 2, kept.
    let foreign_root = dir.path().join("foreign");
    let foreign = Cluster::init(
        test_binaries(),
        ClusterSpec::new(&foreign_root, free_port()),
    )
    .expect("init");
    let hba = foreign.data_dir().join("pg_hba.conf");
    std::fs::write(&hba, "local all all peer\n").unwrap();
    let run = arcdb_local(&foreign_root, free_port(), &["destroy", "--yes"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("did not create"), "{}", run.stderr);
    assert_eq!(run.error_lines().len(), 1, "{}", run.stderr);
    assert!(foreign.is_initialized() && hba.is_file());
}

#[test]
fn destroy_keeps_files_arcdb_did_not_create() {
    let dir = open_tempdir();
    let root = dir.path().join("local");
    let server = LocalServer::new(&root, free_port(), test_binaries());
    let _guard = StopOnDrop(server.cluster());
    server.ensure_running().expect("ensure_running");
    std::fs::write(root.join("notes.txt"), "mine").unwrap();
    assert!(!server.destroy(|_| Ok(true)).unwrap().is_empty());
    assert!(!server.cluster().data_dir().exists());
    assert!(!server.cluster().is_running());
    assert_eq!(
        std::fs::read_to_string(root.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn missing_bin_dir_is_a_one_line_error_naming_it() {
    let err = PgBinaries::discover(Some(Path::new("/nonexistent/pg/bin"))).unwrap_err();
    let text = format!("{err:#}");
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.contains("/nonexistent/pg/bin") && text.contains("--pg-bin"),
        "{text}"
    );

    let empty = tempfile::tempdir().unwrap();
    let text = format!(
        "{:#}",
        PgBinaries::discover(Some(empty.path())).unwrap_err()
    );
    assert!(
        text.contains(&empty.path().display().to_string()) && text.contains("no initdb"),
        "{text}"
    );
}

#[test]
fn binaries_report_their_version() {
    let bins = test_binaries();
    let version = bins.version().unwrap();
    let major = bins.major().unwrap();
    assert!(
        version.starts_with(&major.to_string()),
        "{version} vs {major}"
    );
    assert!(bins.tool("pg_ctl").is_file());
}

#[test]
fn cluster_from_another_major_version_is_refused_clearly() {
    let dir = open_tempdir();
    let bins = test_binaries();
    let data = dir.path().join("old/data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("PG_VERSION"), "9\n").unwrap();
    let cluster = Cluster::open(bins, ClusterSpec::new(dir.path().join("old"), free_port()));
    let text = format!("{:#}", cluster.start().unwrap_err());
    assert!(
        text.contains("PostgreSQL 9") && text.contains("--pg-bin"),
        "{text}"
    );
}

#[test]
fn unreachable_directory_is_refused_when_root() {
    if !is_root() {
        return; // only root hands clusters to the postgres user
    }
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let spec = ClusterSpec::new(private.path().join("c"), free_port());
    let text = format!("{:#}", Cluster::init(test_binaries(), spec).unwrap_err());
    assert!(
        text.contains("cannot reach") && text.contains(&private.path().display().to_string()),
        "{text}"
    );
}

#[test]
fn empty_database_url_is_bad_input_not_the_local_server() {
    let dir = open_tempdir();
    let local = dir.path().join("local");
    for args in [&["up"][..], &["verify-rls"][..]] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
        cmd.env("ARCDB_LOCAL_DIR", &local)
            .env("ARCDB_PG_BIN", test_binaries().dir())
            .env("DATABASE_URL", "")
            .env_remove("ARCDB_PROFILE")
            .env_remove("ARCDB_CONFIG")
            .current_dir(dir.path())
            .args(args);
        let run = support::run(cmd);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.error_lines().len(), 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("DATABASE_URL is set but empty"),
            "{}",
            run.stderr
        );
        assert!(!local.exists(), "no local server created for {args:?}");
    }
}
