//! Throwaway PostgreSQL clusters for the integration tests. Every test gets a fresh cluster of its
//! own (never a server somebody started by hand), stopped and deleted on drop, also on panic.
//!
//! Use with `mod support;` and `let pg = support::TestCluster::start();`.
#![allow(dead_code)]

use arcdb::local::{Cluster, ClusterSpec, LocalServer, PgBinaries, StopMode};
use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// How often `start` tries another port when the one it picked was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// A fresh cluster in a temporary directory: TCP on 127.0.0.1 (scram, random superuser password)
/// plus its own unix socket (trust), fsync off.
pub struct TestCluster {
    cluster: Cluster,
    password: String,
    // Dropped last (after `Drop::drop` stopped the servers): removes the directory.
    root: tempfile::TempDir,
}

impl TestCluster {
    /// Init and start a new cluster; panics with the reason when that fails.
    pub fn start() -> TestCluster {
        let bins = test_binaries();
        let root = tempfile::Builder::new()
            .prefix("arcdb-test-")
            .tempdir_in(std::env::temp_dir())
            .unwrap_or_else(|err| {
                panic!("could not create a temporary directory for a test cluster: {err}")
            });
        // 0755 whatever the umask: the postgres OS user (when the tests run as root) must get through.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|err| panic!("could not open up {}: {err}", root.path().display()));
        let password = format!("arcdb-test-pw-{:016x}", rand::random::<u64>());
        let spec = ClusterSpec {
            root: root.path().join("pg"),
            port: free_port(),
            tcp_password: Some(password.clone()),
            durable: false,
        };
        let cluster = Cluster::init(bins.clone(), spec.clone())
            .unwrap_or_else(|err| panic!("could not initialize a test cluster: {err:#}"));
        let mut test = TestCluster {
            cluster,
            password,
            root,
        };
        let mut attempt = 1;
        loop {
            match test.cluster.start() {
                Ok(()) => return test,
                Err(err)
                    if attempt < PORT_ATTEMPTS && format!("{err:#}").contains("already in use") =>
                {
                    attempt += 1;
                    let spec = ClusterSpec {
                        port: free_port(),
                        ..spec.clone()
                    };
                    test.cluster = Cluster::open(bins.clone(), spec);
                }
                Err(err) => panic!("could not start a test cluster: {err:#}"),
            }
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
    pub fn bins(&self) -> &PgBinaries {
        self.cluster.bins()
    }
    pub fn port(&self) -> u16 {
        self.cluster.port()
    }
    /// The temporary directory holding everything of this test (removed on drop).
    pub fn root(&self) -> &Path {
        self.root.path()
    }
    /// `ARCDB_LOCAL_DIR` for the `arcdb` commands of this test.
    pub fn local_dir(&self) -> PathBuf {
        self.root.path().join("local")
    }

    /// Superuser DSN over the unix socket (key=value form).
    pub fn dsn(&self, db: &str) -> String {
        self.cluster.socket_dsn(db)
    }
    /// Superuser DSN over TCP with the password (URL form).
    pub fn tcp_dsn(&self, db: &str) -> String {
        self.cluster.tcp_dsn(db, &self.password)
    }
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Create database `name` (idempotent) and return its socket DSN.
    pub fn create_db(&self, name: &str) -> String {
        self.cluster
            .create_database(name)
            .unwrap_or_else(|err| panic!("could not create database {name}: {err:#}"));
        self.dsn(name)
    }

    /// Run `sql` (any number of statements) with psql `-X -A -t -q -v ON_ERROR_STOP=1`; returns
    /// the output without the trailing newline. Panics with psql's stderr on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql)
            .unwrap_or_else(|err| panic!("psql failed on {db}: {err}\nSQL:\n{sql}"))
    }

    /// Like [`TestCluster::psql`], returning psql's stderr as the error.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(self.bins().tool("psql"));
        cmd.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.dsn(db))
            .args(["-f", "-"]);
        let output = run_with_input(&mut cmd, sql);
        if output.status.success() {
            let text = String::from_utf8_lossy(&output.stdout);
            Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }

    /// The first line psql prints for `sql`, trimmed (a single value).
    pub fn scalar(&self, db: &str, sql: &str) -> String {
        self.psql(db, sql).trim().to_string()
    }

    /// `pg_dump --schema-only` of `db`, without the lines that change from run to run
    /// (`-- Dumped from/by …`, `\restrict` / `\unrestrict` keys).
    pub fn pg_dump_schema(&self, db: &str) -> String {
        self.schema_dump(db, &[])
    }

    /// [`TestCluster::pg_dump_schema`] without schema `arcdb`, whose history has timestamps:
    /// the application schema alone, comparable across runs.
    pub fn pg_dump_app_schema(&self, db: &str) -> String {
        self.schema_dump(db, &["--exclude-schema=arcdb"])
    }

    fn schema_dump(&self, db: &str, extra: &[&str]) -> String {
        let mut cmd = Command::new(self.bins().tool("pg_dump"));
        cmd.arg("--schema-only")
            .args(extra)
            .arg("-d")
            .arg(self.dsn(db));
        let output = run_with_input(&mut cmd, "");
        assert!(
            output.status.success(),
            "pg_dump of {db} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| {
                !(line.starts_with("-- Dumped from")
                    || line.starts_with("-- Dumped by")
                    || line.starts_with("\\restrict")
                    || line.starts_with("\\unrestrict"))
            })
            .map(|line| format!("{line}\n"))
            .collect()
    }

    /// Everything user-made in database `db` and the cluster, one line per catalog entry (with
    /// owners and ACLs where they exist), outside `pg_catalog`, `information_schema`, `pg_toast`
    /// and arcdb's own schema `arcdb`: what `rollback --to 0` must give back.
    pub fn user_objects(&self, db: &str) -> String {
        self.psql(db, USER_OBJECTS_SQL)
    }

    pub fn restart(&self) {
        self.cluster
            .restart()
            .unwrap_or_else(|err| panic!("could not restart the test cluster: {err:#}"));
    }
    pub fn stop(&self) {
        self.cluster
            .stop(StopMode::Fast)
            .unwrap_or_else(|err| panic!("could not stop the test cluster: {err:#}"));
    }
    /// Start again after [`TestCluster::stop`].
    pub fn start_again(&self) {
        self.cluster
            .start()
            .unwrap_or_else(|err| panic!("could not start the test cluster again: {err:#}"));
    }

    /// The `arcdb` binary under test, isolated from the environment: no `DATABASE_URL`,
    /// `ARCDB_PROFILE`, `PGPASSWORD` (nor other PG* connection variables); `ARCDB_LOCAL_DIR` inside
    /// this test's directory, so it never touches a real local server; `ARCDB_PG_BIN` set to the
    /// binaries this cluster runs on.
    pub fn arcdb(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arcdb"));
        for var in [
            "DATABASE_URL",
            "ARCDB_PROFILE",
            "ARCDB_CONFIG",
            "ARCDB_LOCAL_PORT",
            "PGPASSWORD",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSERVICE",
            "PGOPTIONS",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("ARCDB_LOCAL_DIR", self.local_dir());
        // Never pick up a developer's arcdb.toml from the working directory or ~/.config.
        cmd.current_dir(self.root());
        cmd.env("XDG_CONFIG_HOME", self.root().join("xdg-config"));
        cmd.env("ARCDB_PG_BIN", self.bins().dir());
        cmd
    }

    /// [`TestCluster::arcdb`] with `--dsn <dsn> <args…>`, not started yet.
    pub fn arcdb_at(&self, dsn: &str, args: &[&str]) -> Command {
        let mut cmd = self.arcdb();
        cmd.arg("--dsn").arg(dsn).args(args);
        cmd
    }
}

/// See [`TestCluster::user_objects`].
const USER_OBJECTS_SQL: &str = "WITH ns AS (
   SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'arcdb')
     AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%')
 SELECT 'namespace ' || nspname || ' owner=' || pg_get_userbyid(nspowner)
        || ' acl=' || coalesce(nspacl::text, '-') FROM pg_namespace
   WHERE oid IN (SELECT oid FROM ns)
 UNION ALL SELECT 'class ' || ns.nspname || '.' || c.relname || ' kind=' || c.relkind::text
   FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
 UNION ALL SELECT 'type ' || ns.nspname || '.' || t.typname
   FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
 UNION ALL SELECT 'proc ' || ns.nspname || '.' || p.oid::regprocedure::text
   FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
 UNION ALL SELECT 'operator ' || ns.nspname || '.' || o.oid::regoperator::text
   FROM pg_operator o JOIN ns ON ns.oid = o.oprnamespace
 UNION ALL SELECT 'collation ' || ns.nspname || '.' || co.collname
   FROM pg_collation co JOIN ns ON ns.oid = co.collnamespace
 UNION ALL SELECT 'policy ' || pol.polrelid::regclass::text || '.' || pol.polname
   FROM pg_policy pol
 UNION ALL SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
 UNION ALL SELECT 'cast ' || format_type(castsource, NULL) || '->' || format_type(casttarget, NULL)
   FROM pg_cast WHERE oid >= 16384
 UNION ALL SELECT 'event trigger ' || evtname FROM pg_event_trigger
 UNION ALL SELECT 'default acl ' || defaclrole::regrole::text || ' ' || defaclobjtype::text
   FROM pg_default_acl
 UNION ALL SELECT 'role ' || rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'
 UNION ALL SELECT 'setting ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
 ORDER BY 1";

/// What a finished `arcdb` process said.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Stdout as JSON; panics with both streams when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    /// The non-empty lines written to stderr.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Self, after asserting exit 0 (`what` names the command in the failure).
    pub fn ok(self, what: &str) -> Run {
        assert_eq!(
            self.code, 0,
            "{what} failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Run `cmd` to completion (stdin closed) and keep what it said.
pub fn run(mut cmd: Command) -> Run {
    cmd.output().expect("arcdb runs").into()
}

/// The repository's `migrations/` (the binary embeds the same directory).
pub fn repo_migrations() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

/// A writable copy of the repository's migrations in `dir/<name>`, to edit for drift and
/// failure cases (`arcdb up --source`).
pub fn migrations_copy(dir: &Path, name: &str) -> PathBuf {
    let target = dir.join(name);
    for entry in std::fs::read_dir(repo_migrations()).unwrap().flatten() {
        if !entry.path().is_dir() {
            continue;
        }
        let sub = target.join(entry.file_name());
        std::fs::create_dir_all(&sub).unwrap();
        for file in std::fs::read_dir(entry.path()).unwrap().flatten() {
            std::fs::copy(file.path(), sub.join(file.file_name())).unwrap();
        }
    }
    target
}

/// Write migration directory `dir` (`up.sql`, `down.sql`) into the migrations at `source`.
pub fn write_migration(source: &Path, dir: &str, up: &str, down: &str) {
    let path = source.join(dir);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("up.sql"), up).unwrap();
    std::fs::write(path.join("down.sql"), down).unwrap();
}

/// The number of migrations in the repository: the latest version.
pub fn latest_version() -> u32 {
    std::fs::read_dir(repo_migrations())
        .expect("read migrations/")
        .flatten()
        .filter(|entry| entry.path().join("up.sql").is_file())
        .count() as u32
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Err(err) = self.cluster.stop(StopMode::Immediate) {
            eprintln!(
                "warning: could not stop the test cluster in {}: {err:#}",
                self.root().display()
            );
        }
        // A local server an `arcdb` command of this test may have started.
        let local = LocalServer::new(
            self.local_dir(),
            LocalServer::DEFAULT_PORT,
            self.bins().clone(),
        );
        if let Err(err) = local.cluster().stop(StopMode::Immediate) {
            eprintln!(
                "warning: could not stop the local server in {}: {err:#}",
                self.local_dir().display()
            );
        }
        // `root` (TempDir) removes the directory when it is dropped after this.
    }
}

/// `ARCDB_PG_BIN` if set, else discovered; panics with the reason.
pub fn test_binaries() -> PgBinaries {
    let explicit = std::env::var_os("ARCDB_PG_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    PgBinaries::discover(explicit.as_deref()).unwrap_or_else(|err| {
        panic!("the integration tests need PostgreSQL server binaries: {err:#}")
    })
}

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local address of the probe socket")
        .port()
}

fn run_with_input(cmd: &mut Command, input: &str) -> std::process::Output {
    for var in ["PGPASSWORD", "PGOPTIONS", "PGSERVICE"] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|err| {
        panic!(
            "could not run {}: {err}",
            cmd.get_program().to_string_lossy()
        )
    });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.as_bytes().to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .expect("wait for the child process");
    let _ = writer.join();
    output
}
