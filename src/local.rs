//! PostgreSQL clusters arcdb runs itself: throwaway clusters for tests and the embedded default
//! database (`LocalServer`) used when no DSN is given anywhere.
//!
//! Everything here is synchronous `std::process` code: the commands are short-lived and the async
//! callers use it directly. When arcdb runs as root, every `initdb`/`pg_ctl`/`postgres` command runs
//! as the `postgres` OS user (`runuser -u postgres --`), because PostgreSQL refuses to run as root;
//! the cluster directory is then owned by `postgres`. Client tools (`psql`, `pg_dump`) run as the
//! current user over the cluster's own unix socket.
//!
//! Layout of a cluster root directory:
//! - `data/`: the data directory (`PGDATA`)
//! - `run/`: the unix socket directory (mode 0700: `local … trust` must not be reachable by
//!   other OS users)
//! - `postgres.log`: the server log (`pg_ctl -l`)
//! - `.arcdb-cluster`: written when `LocalServer` creates the cluster; `arcdb local destroy`
//!   removes nothing where it is missing (unless an earlier arcdb's pg_hba.conf shows the cluster
//!   is arcdb's), so it never deletes a directory arcdb did not fill

use crate::output::{table, Report};
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The OS user PostgreSQL runs as when arcdb itself runs as root.
const POSTGRES_OS_USER: &str = "postgres";
/// The database superuser of every cluster arcdb creates.
const SUPERUSER: &str = "postgres";
/// Longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;
/// The marker `LocalServer` writes in a cluster root it created.
const MARKER: &str = ".arcdb-cluster";
/// First line of every pg_hba.conf arcdb writes (also before the marker existed).
const HBA_SIGNATURE: &str = "# Written by arcdb.";
/// Environment variables that would change what the PostgreSQL tools do behind our back.
const PG_ENV: &[&str] = &[
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGTARGETSESSIONATTRS",
    "PGCONNECT_TIMEOUT",
];

fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

// ---------------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------------

/// The directory holding `initdb`, `pg_ctl`, `postgres`, `psql` and `pg_dump`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    dir: PathBuf,
}

impl PgBinaries {
    /// Find the PostgreSQL binaries: `explicit` (from `--pg-bin` / `ARCDB_PG_BIN`, resolved by the
    /// caller), else the highest `/usr/lib/postgresql/*/bin` holding `initdb`, else
    /// `pg_config --bindir`, else `initdb` on `PATH`.
    pub fn discover(explicit: Option<&Path>) -> Result<PgBinaries> {
        if let Some(dir) = explicit {
            // A directory the user named that is wrong is bad input (exit 2), not a failure.
            return PgBinaries::at(dir)
                .map_err(|e| crate::error::Refusal::usage(format!("{e:#}")).into());
        }
        if let Some(dir) = highest_debian_bindir(Path::new("/usr/lib/postgresql")) {
            return Ok(PgBinaries { dir });
        }
        if let Some(dir) = pg_config_bindir() {
            return Ok(PgBinaries { dir });
        }
        if let Some(dir) = initdb_on_path() {
            return Ok(PgBinaries { dir });
        }
        bail!(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin, \
             via pg_config or on PATH; install them (apt-get install postgresql) or pass --pg-bin <dir> \
             (env ARCDB_PG_BIN)"
        )
    }

    /// Use exactly `dir`, which must hold `initdb`.
    pub fn at(dir: &Path) -> Result<PgBinaries> {
        if !dir.is_dir() {
            bail!(
                "PostgreSQL bin directory {} does not exist; pass --pg-bin (env ARCDB_PG_BIN) the \
                 directory that holds initdb and pg_ctl, or install PostgreSQL (apt-get install postgresql)",
                dir.display()
            );
        }
        if !dir.join("initdb").is_file() {
            bail!(
                "PostgreSQL bin directory {} has no initdb; pass --pg-bin (env ARCDB_PG_BIN) the \
                 directory that holds initdb and pg_ctl (e.g. /usr/lib/postgresql/<version>/bin)",
                dir.display()
            );
        }
        Ok(PgBinaries {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of one tool in the bin directory (`initdb`, `psql`, …).
    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The server version, e.g. "15.18" (from `postgres --version`).
    pub fn version(&self) -> Result<String> {
        let output = run(
            self.server_command("postgres").arg("--version"),
            "postgres --version",
        )?;
        let text = String::from_utf8_lossy(&output.stdout);
        parse_version(&text).ok_or_else(|| {
            anyhow!(
                "could not read the PostgreSQL version from `{} --version` (it printed {:?})",
                self.tool("postgres").display(),
                text.trim()
            )
        })
    }

    /// The major version, e.g. 15 (9 for 9.6).
    pub fn major(&self) -> Result<u32> {
        let version = self.version()?;
        major_of(&version).ok_or_else(|| anyhow!("unexpected PostgreSQL version {version:?}"))
    }

    /// A command for a server-side tool (`initdb`, `pg_ctl`, `postgres`): run as the `postgres` OS
    /// user when arcdb runs as root. Working directory `/` (reachable by everybody), PG* variables
    /// removed.
    fn server_command(&self, name: &str) -> Command {
        let mut cmd = if running_as_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", POSTGRES_OS_USER, "--"])
                .arg(self.tool(name));
            cmd
        } else {
            Command::new(self.tool(name))
        };
        hermetic(&mut cmd);
        cmd
    }

    /// A command for a client tool (`psql`, `pg_dump`), run as the current user.
    pub(crate) fn client_command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.tool(name));
        hermetic(&mut cmd);
        cmd
    }
}

fn hermetic(cmd: &mut Command) {
    cmd.current_dir("/").stdin(Stdio::null());
    for var in PG_ENV {
        cmd.env_remove(var);
    }
}

fn highest_debian_bindir(base: &Path) -> Option<PathBuf> {
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for entry in fs::read_dir(base).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(key) = version_key(&name) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if !bin.join("initdb").is_file() {
            continue;
        }
        let better = match &best {
            Some((best_key, _)) => key > *best_key,
            None => true,
        };
        if better {
            best = Some((key, bin));
        }
    }
    best.map(|(_, dir)| dir)
}

/// "15" → [15], "9.6" → [9, 6]; names that are not versions → None.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    dir.join("initdb").is_file().then_some(dir)
}

fn initdb_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        let initdb = dir.join("initdb");
        if !initdb.is_file() {
            continue;
        }
        // A symlink such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb: the other
        // tools live next to the real file.
        if let Ok(real) = fs::canonicalize(&initdb) {
            if let Some(real_dir) = real.parent() {
                if real_dir.join("pg_ctl").is_file() {
                    return Some(real_dir.to_path_buf());
                }
            }
        }
        return Some(dir);
    }
    None
}

/// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15.18".
fn parse_version(text: &str) -> Option<String> {
    let rest = match text.find("(PostgreSQL)") {
        Some(at) => &text[at + "(PostgreSQL)".len()..],
        None => text,
    };
    rest.split_whitespace()
        .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

fn major_of(version: &str) -> Option<u32> {
    let digits: String = version.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// Run `cmd` to completion; a non-zero exit becomes a one-line error naming `what` with the last
/// lines the command printed.
fn run(cmd: &mut Command, what: &str) -> Result<Output> {
    let output = cmd.output().map_err(|err| {
        let program = cmd.get_program().to_string_lossy().into_owned();
        if program == "runuser" && err.kind() == std::io::ErrorKind::NotFound {
            anyhow!("{what} failed: runuser not found (arcdb runs PostgreSQL as the postgres user when run as root; install util-linux)")
        } else {
            anyhow!("{what} failed: could not run {program}: {err}")
        }
    })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        if text.trim().is_empty() {
            text = String::from_utf8_lossy(&output.stdout).into_owned();
        }
        let detail = last_lines(&text, 3);
        let status = describe_status(&output.status);
        if detail.is_empty() {
            bail!("{what} failed ({status})");
        }
        bail!("{what} failed ({status}): {detail}");
    }
    Ok(output)
}

fn describe_status(status: &std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_string(),
    }
}

/// The last `n` non-empty lines of `text`, joined with " | ".
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

// ---------------------------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------------------------

/// How to create and run a cluster.
#[derive(Clone)]
pub struct ClusterSpec {
    /// Directory holding `data/`, `run/` (socket) and `postgres.log`. Created if missing.
    pub root: PathBuf,
    /// Port of the unix socket (and of TCP when enabled).
    pub port: u16,
    /// `Some(password)`: also listen on 127.0.0.1 with `scram-sha-256` for user `postgres` with this
    /// password (set at init). `None`: unix socket only.
    pub tcp_password: Option<String>,
    /// `true`: fsync, synchronous_commit and full_page_writes on (a database people keep);
    /// `false`: all three off (throwaway test clusters).
    pub durable: bool,
}

impl ClusterSpec {
    /// A socket-only, durable cluster in `root`.
    pub fn new(root: impl Into<PathBuf>, port: u16) -> ClusterSpec {
        ClusterSpec {
            root: root.into(),
            port,
            tcp_password: None,
            durable: true,
        }
    }
}

impl fmt::Debug for ClusterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterSpec")
            .field("root", &self.root)
            .field("port", &self.port)
            .field("tcp", &self.tcp_password.as_ref().map(|_| "<password>"))
            .field("durable", &self.durable)
            .finish()
    }
}

/// How `pg_ctl stop` shuts the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Disconnect clients, checkpoint, stop.
    Fast,
    /// Kill everything; crash recovery on the next start. For throwaway clusters.
    Immediate,
}

impl StopMode {
    fn as_arg(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// A data directory plus how to reach it.
#[derive(Debug, Clone)]
pub struct Cluster {
    bins: PgBinaries,
    spec: ClusterSpec,
}

impl Cluster {
    /// A handle on a cluster that may or may not exist yet (nothing is run).
    pub fn open(bins: PgBinaries, spec: ClusterSpec) -> Cluster {
        Cluster { bins, spec }
    }

    /// Create the cluster with `initdb` (the data directory must not exist or be empty).
    pub fn init(bins: PgBinaries, spec: ClusterSpec) -> Result<Cluster> {
        let cluster = Cluster::open(bins, spec);
        cluster.initdb()?;
        Ok(cluster)
    }

    pub fn bins(&self) -> &PgBinaries {
        &self.bins
    }
    pub fn root(&self) -> &Path {
        &self.spec.root
    }
    pub fn data_dir(&self) -> PathBuf {
        self.spec.root.join("data")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.spec.root.join("run")
    }
    pub fn log_path(&self) -> PathBuf {
        self.spec.root.join("postgres.log")
    }
    pub fn port(&self) -> u16 {
        self.spec.port
    }
    pub fn has_tcp(&self) -> bool {
        self.spec.tcp_password.is_some()
    }

    /// Whether `initdb` has run here (the data directory holds `PG_VERSION`).
    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    fn initdb(&self) -> Result<()> {
        let data = self.data_dir();
        if self.is_initialized() {
            bail!(
                "cannot initialize a cluster in {}: it already holds one (remove it first)",
                data.display()
            );
        }
        if dir_has_entries(&data) {
            bail!(
                "cannot initialize a cluster in {}: the directory is not empty; use a new directory",
                data.display()
            );
        }
        let owner = prepare_root(&self.spec.root)?;
        self.check_socket_path()?;

        let mut cmd = self.bins.server_command("initdb");
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C"]);
        cmd.arg("--auth-local=trust");
        if !self.spec.durable {
            cmd.arg("-N");
        }
        let pwfile = match &self.spec.tcp_password {
            Some(password) => {
                let pwfile = SecretFile::write(
                    &self.spec.root.join(".initdb-pwfile"),
                    password,
                    owner.as_ref(),
                )?;
                cmd.arg("--auth-host=scram-sha-256")
                    .arg(format!("--pwfile={}", pwfile.path.display()));
                Some(pwfile)
            }
            None => {
                cmd.arg("--auth-host=reject");
                None
            }
        };
        run(&mut cmd, &format!("initdb in {}", data.display()))?;
        drop(pwfile); // deleted right after initdb read it

        let mut hba = format!(
            "{HBA_SIGNATURE} TYPE DATABASE USER ADDRESS METHOD\n\
             local all all trust\n",
        );
        if self.has_tcp() {
            hba.push_str("host all all 127.0.0.1/32 scram-sha-256\n");
        }
        let hba_path = data.join("pg_hba.conf");
        fs::write(&hba_path, hba)
            .with_context(|| format!("could not write {}", hba_path.display()))?;
        if let Some(owner) = &owner {
            owner.chown(&hba_path)?;
        }
        Ok(())
    }

    /// Start the server (`pg_ctl -w start`) and wait until it accepts connections. Nothing happens
    /// when it is already running.
    pub fn start(&self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        if !self.is_initialized() {
            bail!(
                "cannot start PostgreSQL: {} holds no cluster (initialize it first)",
                self.data_dir().display()
            );
        }
        self.check_major_version()?;
        self.check_socket_path()?;
        let owner = postgres_owner()?;
        ensure_dir(&self.socket_dir(), 0o700, owner.as_ref())?;

        let tcp = if self.has_tcp() { "127.0.0.1" } else { "" };
        let on_off = if self.spec.durable { "on" } else { "off" };
        let settings = [
            format!("port={}", self.spec.port),
            format!(
                "unix_socket_directories={}",
                guc_list_item(&self.socket_dir())
            ),
            "unix_socket_permissions=0700".to_string(),
            format!("listen_addresses={tcp}"),
            format!("fsync={on_off}"),
            format!("synchronous_commit={on_off}"),
            format!("full_page_writes={on_off}"),
        ];
        // pg_ctl hands -o to /bin/sh: quote every word.
        let options = settings
            .iter()
            .map(|s| format!("-c {}", shell_quote(s)))
            .collect::<Vec<_>>()
            .join(" ");

        let mut cmd = self.bins.server_command("pg_ctl");
        cmd.args(["-w", "-t", "60", "start", "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .arg("-o")
            .arg(options);
        if let Err(err) = run(&mut cmd, "pg_ctl start") {
            let problem = self.log_problem();
            let hint = if problem.contains("Address already in use") {
                format!(
                    "port {} is taken by another server; choose another port",
                    self.spec.port
                )
            } else {
                format!("see {}", self.log_path().display())
            };
            let detail = if problem.is_empty() {
                format!("{err:#}")
            } else {
                problem
            };
            bail!(
                "could not start PostgreSQL in {}: {detail}; {hint}",
                self.data_dir().display()
            );
        }
        Ok(())
    }

    /// Stop the server (`pg_ctl -w stop`). Nothing happens when it is not running.
    pub fn stop(&self, mode: StopMode) -> Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let mut cmd = self.bins.server_command("pg_ctl");
        cmd.args(["-w", "-t", "60", "stop", "-m", mode.as_arg(), "-D"])
            .arg(self.data_dir());
        run(&mut cmd, &format!("pg_ctl stop -m {}", mode.as_arg())).with_context(|| {
            format!("could not stop PostgreSQL in {}", self.data_dir().display())
        })?;
        Ok(())
    }

    /// Stop (fast) and start again.
    pub fn restart(&self) -> Result<()> {
        self.stop(StopMode::Fast)?;
        self.start()
    }

    /// Whether a postmaster is alive for this data directory.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// The postmaster's process id, from `postmaster.pid`, if that process is alive.
    pub fn pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        if pid <= 0 {
            return None;
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) | Err(nix::errno::Errno::EPERM) => {}
            Err(_) => return None,
        }
        // A stale pid file after a reboot may name a recycled pid: check it is a postgres process.
        if let Ok(comm) = fs::read_to_string(format!("/proc/{pid}/comm")) {
            if !comm.trim().starts_with("postgres") && !comm.trim().starts_with("postmaster") {
                return None;
            }
        }
        Some(pid as u32)
    }

    /// Connection string over the unix socket, key=value form:
    /// `host=<socket dir> port=<port> user=postgres dbname=<db>`.
    pub fn socket_dsn(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            conninfo_value(&self.socket_dir().to_string_lossy()),
            self.spec.port,
            SUPERUSER,
            conninfo_value(dbname)
        )
    }

    /// Connection URL over TCP: `postgresql://postgres:<pw>@127.0.0.1:<port>/<db>`.
    pub fn tcp_dsn(&self, dbname: &str, password: &str) -> String {
        format!(
            "postgresql://{}:{}@127.0.0.1:{}/{}",
            SUPERUSER,
            percent_encode(password),
            self.spec.port,
            percent_encode(dbname)
        )
    }

    /// Create database `name` unless it exists. Returns whether it was created.
    pub fn create_database(&self, name: &str) -> Result<bool> {
        let exists = self.psql(
            "postgres",
            &[("dbname", name)],
            "SELECT 1 FROM pg_database WHERE datname = :'dbname';\n",
        )?;
        if exists.trim() == "1" {
            return Ok(false);
        }
        let created = self.psql(
            "postgres",
            &[("dbname", name)],
            "SELECT format('CREATE DATABASE %I', :'dbname') \
             WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname') \\gexec\n",
        );
        match created {
            Ok(_) => Ok(true),
            // Another process created it between the check and the CREATE.
            Err(err) if err.to_string().contains("already exists") => Ok(false),
            Err(err) => Err(err.context(format!("could not create database {name:?}"))),
        }
    }

    /// Run `script` with psql over the socket (`-X -q -A -t -v ON_ERROR_STOP=1`), with psql
    /// variables `vars`; returns stdout.
    fn psql(&self, dbname: &str, vars: &[(&str, &str)], script: &str) -> Result<String> {
        let mut cmd = self.bins.client_command("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
        for (key, value) in vars {
            cmd.arg("-v").arg(format!("{key}={value}"));
        }
        cmd.arg("-d").arg(self.socket_dsn(dbname)).args(["-f", "-"]);
        let output = run_with_stdin(&mut cmd, script.as_bytes(), "psql")?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The last `lines` non-empty lines of the server log without their timestamp/pid prefix,
    /// joined with " | " (empty when there is no log).
    pub fn log_tail(&self, lines: usize) -> String {
        let stripped = self.log_lines(lines);
        stripped.join(" | ")
    }

    /// What went wrong according to the end of the log: its FATAL/PANIC/ERROR lines (and the
    /// "already in use" line that explains a taken port), else the last lines.
    fn log_problem(&self) -> String {
        let recent = self.log_lines(12);
        let important: Vec<&String> = recent
            .iter()
            .filter(|l| {
                l.starts_with("FATAL")
                    || l.starts_with("PANIC")
                    || l.starts_with("ERROR")
                    || l.contains("already in use")
            })
            .collect();
        if important.is_empty() {
            recent[recent.len().saturating_sub(3)..].join(" | ")
        } else {
            important
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        }
    }

    fn log_lines(&self, lines: usize) -> Vec<String> {
        let text = fs::read(self.log_path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        all[all.len().saturating_sub(lines)..]
            .iter()
            .map(|line| {
                strip_log_prefix(line)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn check_socket_path(&self) -> Result<()> {
        let socket = self
            .socket_dir()
            .join(format!(".s.PGSQL.{}", self.spec.port));
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            bail!(
                "the unix socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH} the system allows; \
                 use a shorter cluster directory (e.g. set ARCDB_LOCAL_DIR)",
                socket.display()
            );
        }
        Ok(())
    }

    fn check_major_version(&self) -> Result<()> {
        let Ok(text) = fs::read_to_string(self.data_dir().join("PG_VERSION")) else {
            return Ok(());
        };
        let cluster_major = text.trim();
        let version = self.bins.version()?;
        if !same_major(cluster_major, &version) {
            bail!(
                "the cluster in {} was created by PostgreSQL {cluster_major} but the binaries in {} are \
                 PostgreSQL {version}; pass --pg-bin (env ARCDB_PG_BIN) a PostgreSQL {cluster_major} bin directory",
                self.data_dir().display(),
                self.bins.dir().display()
            );
        }
        Ok(())
    }
}

/// Whether server `version` ("15.18", "9.6.24", "17beta1") can run a cluster whose `PG_VERSION`
/// file says `cluster_major` ("15", "9.6").
fn same_major(cluster_major: &str, version: &str) -> bool {
    !cluster_major.is_empty()
        && version
            .strip_prefix(cluster_major)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// "2026-01-02 03:04:05.678 UTC [123] FATAL:  x" → "FATAL:  x" (the default log_line_prefix).
fn strip_log_prefix(line: &str) -> &str {
    if line.starts_with(|c: char| c.is_ascii_digit()) {
        if let Some(at) = line.find("] ") {
            return &line[at + 2..];
        }
    }
    line
}

fn run_with_stdin(cmd: &mut Command, input: &[u8], what: &str) -> Result<Output> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .map_err(|err| anyhow!("{what} failed: could not run {program}: {err}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Write from another thread so a chatty child cannot deadlock us on a full stdout pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .with_context(|| format!("{what} failed"))?;
    let _ = writer.join();
    if !output.status.success() {
        let detail = last_lines(&String::from_utf8_lossy(&output.stderr), 3);
        bail!(
            "{what} failed ({}): {detail}",
            describe_status(&output.status)
        );
    }
    Ok(output)
}

/// Quote for /bin/sh.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A directory as one item of a list-valued setting (unix_socket_directories).
fn guc_list_item(path: &Path) -> String {
    let s = path.to_string_lossy();
    if s.contains([' ', ',', '"', '\t']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// A value in a libpq key=value connection string.
fn conninfo_value(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return s.to_string();
    }
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Bytes in the files under `dir` (0 when it cannot be read).
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn dir_has_entries(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Ownership (running as root)
// ---------------------------------------------------------------------------------------------

/// The `postgres` OS user, when files must be handed to it (arcdb runs as root).
#[derive(Debug, Clone)]
struct Owner {
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
}

impl Owner {
    fn chown(&self, path: &Path) -> Result<()> {
        nix::unistd::chown(path, Some(self.uid), Some(self.gid)).with_context(|| {
            format!(
                "could not hand {} to the {POSTGRES_OS_USER} user",
                path.display()
            )
        })
    }

    /// Whether this user may enter `dir` (search permission).
    fn can_enter(&self, meta: &fs::Metadata) -> bool {
        let mode = meta.mode();
        if meta.uid() == self.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == self.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    }
}

/// `Some(postgres)` when running as root, `None` otherwise.
fn postgres_owner() -> Result<Option<Owner>> {
    if !running_as_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name(POSTGRES_OS_USER)
        .ok()
        .flatten()
        .ok_or_else(|| {
            anyhow!(
                "arcdb runs PostgreSQL as the OS user {POSTGRES_OS_USER} when run as root, and there is none; \
                 install PostgreSQL (apt-get install postgresql creates it) or run arcdb as a regular user"
            )
        })?;
    Ok(Some(Owner {
        uid: user.uid,
        gid: user.gid,
    }))
}

/// Create the cluster root (0755; owned by `postgres` when root) and check that the `postgres` user
/// can reach it. Returns the owner files must be handed to.
fn prepare_root(root: &Path) -> Result<Option<Owner>> {
    let owner = postgres_owner()?;
    let created = !root.exists();
    // Directories this creates are 0755 whatever the umask (the postgres user must get through).
    let missing: Vec<PathBuf> = root
        .ancestors()
        .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        .map(Path::to_path_buf)
        .collect();
    fs::create_dir_all(root).with_context(|| format!("could not create {}", root.display()))?;
    for dir in &missing {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("could not set the permissions of {}", dir.display()))?;
    }
    if let Some(owner) = &owner {
        if created || !dir_has_entries(root) {
            fs::set_permissions(root, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("could not set the permissions of {}", root.display()))?;
            owner.chown(root)?;
        }
        let absolute = fs::canonicalize(root)
            .with_context(|| format!("could not resolve {}", root.display()))?;
        for dir in absolute.ancestors().skip(1) {
            let meta = fs::metadata(dir)
                .with_context(|| format!("could not inspect {}", dir.display()))?;
            if !owner.can_enter(&meta) {
                bail!(
                    "the {POSTGRES_OS_USER} user cannot reach {} because {} has mode {:04o}; put the cluster \
                     outside private directories such as /root (e.g. ARCDB_LOCAL_DIR=/var/lib/arcdb/local)",
                    root.display(),
                    dir.display(),
                    meta.mode() & 0o7777
                );
            }
        }
    }
    Ok(owner)
}

/// Create `dir` (if missing) with `mode`, owned by `owner` when given.
fn ensure_dir(dir: &Path, mode: u32, owner: Option<&Owner>) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("could not set the permissions of {}", dir.display()))?;
    if let Some(owner) = owner {
        owner.chown(dir)?;
    }
    Ok(())
}

/// A 0600 file holding a secret, removed when dropped.
struct SecretFile {
    path: PathBuf,
}

impl SecretFile {
    fn write(path: &Path, secret: &str, owner: Option<&Owner>) -> Result<SecretFile> {
        let _ = fs::remove_file(path);
        let file = SecretFile {
            path: path.to_path_buf(),
        };
        let mut handle = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("could not create {}", path.display()))?;
        writeln!(handle, "{secret}")
            .with_context(|| format!("could not write {}", path.display()))?;
        if let Some(owner) = owner {
            owner.chown(path)?;
        }
        Ok(file)
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// LocalServer
// ---------------------------------------------------------------------------------------------

/// Where the local server is, as far as `status` can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LocalState {
    /// No cluster in the data directory yet.
    Absent,
    /// Initialized, not running.
    Stopped,
    /// Running with this postmaster pid.
    Running { pid: u32 },
}

/// What `ensure_running` had to do (so the caller can say so on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ensured {
    /// It was running already.
    AlreadyRunning,
    /// It was stopped and has been started.
    Started,
    /// There was no cluster: it has been initialized and started.
    Initialized,
}

/// Who created the cluster in a local server's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// No cluster there.
    Absent,
    /// arcdb created it and left its marker.
    Marked,
    /// An arcdb version before the marker created it (its pg_hba.conf says so).
    Legacy,
    /// Something else lives there: arcdb does not touch it.
    Foreign,
}

/// What `arcdb local destroy` is about to remove, shown to the person who confirms it.
#[derive(Debug, Clone)]
pub struct DestroyPlan {
    pub root: PathBuf,
    /// Existing paths arcdb created and will remove (the data directory first).
    pub paths: Vec<PathBuf>,
    /// Whether the server runs now (it is stopped first).
    pub running: bool,
    /// Created by an arcdb before the marker file existed.
    pub legacy: bool,
    /// Size of the data directory.
    pub data_bytes: u64,
}

/// arcdb's embedded default database: a socket-only cluster in a directory of its own with the
/// database `arcdesk`.
#[derive(Debug, Clone)]
pub struct LocalServer {
    cluster: Cluster,
}

impl LocalServer {
    pub const DEFAULT_PORT: u16 = 54329;
    pub const DATABASE: &'static str = "arcdesk";

    /// A local server in `root` on `port` (socket only, durable).
    pub fn new(root: impl Into<PathBuf>, port: u16, bins: PgBinaries) -> LocalServer {
        LocalServer {
            cluster: Cluster::open(bins, ClusterSpec::new(root, port)),
        }
    }

    /// The local server as configured by the environment: root `ARCDB_LOCAL_DIR` (else
    /// [`LocalServer::default_root`]), port `ARCDB_LOCAL_PORT` (else 54329), binaries from
    /// `bin_override` (the caller resolves `--pg-bin` / `ARCDB_PG_BIN`) or discovered.
    pub fn from_env(bin_override: Option<&Path>) -> Result<LocalServer> {
        let root = match std::env::var_os("ARCDB_LOCAL_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => LocalServer::default_root()?,
        };
        let port = match std::env::var("ARCDB_LOCAL_PORT") {
            Ok(text) if !text.trim().is_empty() => match text.trim().parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => {
                    return Err(crate::error::Refusal::usage(format!(
                        "ARCDB_LOCAL_PORT={text:?} is not a port number (1-65535)"
                    ))
                    .into())
                }
            },
            _ => LocalServer::DEFAULT_PORT,
        };
        let bins = PgBinaries::discover(bin_override)?;
        Ok(LocalServer::new(root, port, bins))
    }

    /// `/var/lib/arcdb/local` when root, else `$XDG_DATA_HOME/arcdb/local` or
    /// `~/.local/share/arcdb/local`.
    pub fn default_root() -> Result<PathBuf> {
        if running_as_root() {
            return Ok(PathBuf::from("/var/lib/arcdb/local"));
        }
        if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| Path::new(d).is_absolute())
        {
            return Ok(PathBuf::from(data).join("arcdb/local"));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".local/share/arcdb/local")),
            None => bail!("cannot place the local database: HOME is not set; set ARCDB_LOCAL_DIR"),
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
    pub fn root(&self) -> &Path {
        self.cluster.root()
    }

    /// Initialize on first use, start when stopped, create the database `arcdesk`.
    pub fn ensure_running(&self) -> Result<Ensured> {
        let _lock = self.lock()?;
        let ensured = if !self.cluster.is_initialized() {
            self.cluster
                .initdb()
                .context("could not initialize the local PostgreSQL server")?;
            self.write_marker()?;
            self.cluster.start()?;
            Ensured::Initialized
        } else if !self.cluster.is_running() {
            self.cluster.start()?;
            Ensured::Started
        } else {
            Ensured::AlreadyRunning
        };
        self.cluster.create_database(Self::DATABASE)?;
        Ok(ensured)
    }

    /// Same as [`LocalServer::ensure_running`].
    pub fn start(&self) -> Result<Ensured> {
        self.ensure_running()
    }

    /// Stop the server (fast). Returns whether it was running.
    pub fn stop(&self) -> Result<bool> {
        if !self.cluster.is_initialized() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        let was_running = self.cluster.is_running();
        self.cluster.stop(StopMode::Fast)?;
        Ok(was_running)
    }

    pub fn status(&self) -> LocalState {
        if !self.cluster.is_initialized() {
            return LocalState::Absent;
        }
        match self.cluster.pid() {
            Some(pid) => LocalState::Running { pid },
            None => LocalState::Stopped,
        }
    }

    /// The socket DSN of the `arcdesk` database.
    pub fn dsn(&self) -> String {
        self.cluster.socket_dsn(Self::DATABASE)
    }

    /// Who created the cluster in this root, as far as the files tell.
    pub fn ownership(&self) -> Ownership {
        let root = self.cluster.root();
        if root.join(MARKER).is_file() {
            return Ownership::Marked;
        }
        let data = self.cluster.data_dir();
        if self.cluster.is_initialized() {
            // Clusters of arcdb versions before the marker: arcdb wrote their pg_hba.conf.
            let hba = fs::read_to_string(data.join("pg_hba.conf")).unwrap_or_default();
            return if hba.starts_with(HBA_SIGNATURE) {
                Ownership::Legacy
            } else {
                Ownership::Foreign
            };
        }
        if dir_has_entries(&data) {
            Ownership::Foreign
        } else {
            Ownership::Absent
        }
    }

    /// What `destroy` would remove: only what arcdb created here. `None` when there is no
    /// cluster; a refusal (exit 2, nothing touched) when the directory holds one arcdb did not
    /// create.
    pub fn destroy_plan(&self) -> Result<Option<DestroyPlan>> {
        let root = self.cluster.root();
        let data = self.cluster.data_dir();
        let ownership = self.ownership();
        match ownership {
            Ownership::Absent => return Ok(None),
            Ownership::Foreign => {
                let what = if self.cluster.is_initialized() {
                    "a PostgreSQL cluster that arcdb did not create"
                } else {
                    "files that are not a PostgreSQL data directory (no PG_VERSION)"
                };
                return Err(crate::error::Refusal::usage(format!(
                    "refusing to destroy {}: it holds {what} (no {MARKER} in {}); arcdb leaves it alone, remove it yourself if it is not needed",
                    data.display(),
                    root.display()
                ))
                .into());
            }
            Ownership::Marked | Ownership::Legacy => {}
        }
        if data.exists() && !self.cluster.is_initialized() && dir_has_entries(&data) {
            return Err(crate::error::Refusal::usage(format!(
                "refusing to destroy {}: it is not a PostgreSQL data directory (no PG_VERSION); remove it yourself",
                data.display()
            ))
            .into());
        }
        let socket_dir = self.cluster.socket_dir();
        let socket = format!(".s.PGSQL.{}", self.cluster.port());
        let mut paths: Vec<PathBuf> = vec![data.clone()];
        // The server's own files in run/ only: anything else there is not arcdb's.
        for name in [socket.clone(), format!("{socket}.lock")] {
            paths.push(socket_dir.join(name));
        }
        paths.push(self.cluster.log_path());
        paths.push(root.join(MARKER));
        paths.retain(|p| p.symlink_metadata().is_ok());
        Ok(Some(DestroyPlan {
            root: root.to_path_buf(),
            paths,
            running: self.cluster.is_running(),
            legacy: ownership == Ownership::Legacy,
            data_bytes: dir_size(&data),
        }))
    }

    /// Stop the server and remove what arcdb created in its directory (see
    /// [`LocalServer::destroy_plan`]), after `confirm` agreed. The `run/` directory and the root
    /// are removed only when nothing else is left in them. Returns the paths removed (empty when
    /// there was no cluster).
    pub fn destroy(
        &self,
        confirm: impl FnOnce(&DestroyPlan) -> Result<bool>,
    ) -> Result<Vec<PathBuf>> {
        let Some(plan) = self.destroy_plan()? else {
            return Ok(Vec::new());
        };
        if !confirm(&plan)? {
            return Err(
                crate::error::Refusal::usage("destroy cancelled; nothing was removed").into(),
            );
        }
        let root = plan.root.clone();
        let mut removed = Vec::new();
        {
            let _lock = self.lock()?;
            if self.cluster.is_running() {
                self.cluster.stop(StopMode::Fast)?;
            }
            for path in &plan.paths {
                let result = if path.is_dir() {
                    fs::remove_dir_all(path)
                } else {
                    fs::remove_file(path)
                };
                match result {
                    Ok(()) => removed.push(path.clone()),
                    // The server removes its socket files itself when it stops.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(anyhow!("could not remove {}: {e}", path.display()))
                            .context(format!("removed so far: {}", display_paths(&removed)))
                    }
                }
            }
            let socket_dir = self.cluster.socket_dir();
            if fs::remove_dir(&socket_dir).is_ok() {
                removed.push(socket_dir); // only when empty
            }
            let _ = fs::remove_file(self.lock_path());
        }
        if fs::remove_dir(&root).is_ok() {
            removed.push(root); // only when empty
        }
        Ok(removed)
    }

    /// The report `arcdb local …` emits, describing the server now.
    pub fn report(&self, action: LocalAction, summary: impl Into<String>) -> LocalReport {
        let state = self.status();
        LocalReport {
            action,
            summary: summary.into(),
            data_dir: self.cluster.data_dir().display().to_string(),
            initialized: state != LocalState::Absent,
            running: matches!(state, LocalState::Running { .. }),
            pid: match state {
                LocalState::Running { pid } => Some(pid),
                _ => None,
            },
            port: self.cluster.port(),
            postgres_version: self.cluster.bins().version().ok(),
            dsn: self.dsn(),
            removed: Vec::new(),
        }
    }

    /// The login role `local dsn|psql --tenant` connects as: a member of arcdesk_tenant.
    pub const DEV_TENANT_ROLE: &'static str = "arcdesk_dev_tenant";

    /// A DSN for a session as tenant `org` (its id or slug): the role [`Self::DEV_TENANT_ROLE`]
    /// (created on first use) with `app.current_org_id` set, so queries see what that tenant
    /// sees. The server must run and hold the schema (`arcdb up`).
    pub fn tenant_dsn(&self, org: &str) -> Result<String> {
        let out = self
            .cluster
            .psql(
                Self::DATABASE,
                &[("role", Self::DEV_TENANT_ROLE), ("org", org)],
                include_str!("local_tenant.sql"),
            )
            .context("could not prepare the tenant session")?;
        if out.lines().any(|l| l.trim() == "NO_TENANT_ROLE") {
            return Err(crate::error::Refusal::usage(
                "the local database has no arcdesk_tenant role yet: run `arcdb up` first",
            )
            .into());
        }
        let orgs: Vec<&str> = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix("ORG "))
            .collect();
        let [found] = orgs[..] else {
            return Err(crate::error::Refusal::usage(format!(
                "--tenant {org}: no organization with that id or slug in the local database (`arcdb seed` loads the samples, e.g. acme-corporation)"
            ))
            .into());
        };
        let id = found.split_whitespace().next().unwrap_or_default();
        Ok(format!(
            "host={} port={} user={} dbname={} options={}",
            conninfo_value(&self.cluster.socket_dir().to_string_lossy()),
            self.cluster.port(),
            Self::DEV_TENANT_ROLE,
            Self::DATABASE,
            conninfo_value(&format!("-c app.current_org_id={id}"))
        ))
    }

    /// Replace this process with `psql` on `dsn` (interactive; `args` are passed on). Returns only
    /// when psql cannot be started.
    pub fn exec_psql(&self, dsn: &str, args: &[String]) -> Result<std::convert::Infallible> {
        use std::os::unix::process::CommandExt;
        let mut cmd = self.cluster.bins().client_command("psql");
        cmd.stdin(Stdio::inherit())
            .current_dir(std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")))
            .arg("-d")
            .arg(dsn)
            .args(args);
        let err = cmd.exec();
        Err(anyhow!(
            "could not run {}: {err}",
            self.cluster.bins().tool("psql").display()
        ))
    }

    fn write_marker(&self) -> Result<()> {
        let path = self.cluster.root().join(MARKER);
        fs::write(
            &path,
            format!(
                "arcdb {} created this PostgreSQL cluster; `arcdb local destroy` removes it.\n",
                env!("CARGO_PKG_VERSION")
            ),
        )
        .with_context(|| format!("could not write {}", path.display()))
    }

    fn lock_path(&self) -> PathBuf {
        self.cluster.root().join(".arcdb-local.lock")
    }

    /// Serialize init/start/stop/destroy between arcdb processes.
    fn lock(&self) -> Result<nix::fcntl::Flock<fs::File>> {
        prepare_root(self.cluster.root())?;
        let path = self.lock_path();
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("could not open {}", path.display()))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| anyhow!("could not lock {}: {errno}", path.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// `arcdb local …`
// ---------------------------------------------------------------------------------------------

/// The subcommands of `arcdb local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalAction {
    /// Initialize (first use) and start; create the database.
    Start,
    /// Stop (fast shutdown).
    Stop,
    /// Describe, change nothing.
    Status,
    /// Print the DSN (change nothing).
    Dsn,
    /// Stop and delete the data.
    Destroy,
}

/// What `arcdb local …` reports.
#[derive(Debug, Clone, Serialize)]
pub struct LocalReport {
    pub action: LocalAction,
    /// What happened, for people ("started", "already running", …).
    pub summary: String,
    pub data_dir: String,
    pub initialized: bool,
    pub running: bool,
    pub pid: Option<u32>,
    pub port: u16,
    /// Version of the PostgreSQL binaries arcdb uses (None when they cannot be run).
    pub postgres_version: Option<String>,
    pub dsn: String,
    /// Paths `destroy` removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl Report for LocalReport {
    fn render_table(&self) -> String {
        if self.action == LocalAction::Dsn {
            // Just the DSN, so `psql "$(arcdb local dsn)"` works.
            return self.dsn.clone();
        }
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        let rows = vec![
            vec!["data dir".to_string(), self.data_dir.clone()],
            vec!["initialized".to_string(), yes_no(self.initialized)],
            vec!["running".to_string(), yes_no(self.running)],
            vec![
                "pid".to_string(),
                self.pid
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
            ],
            vec!["port".to_string(), self.port.to_string()],
            vec![
                "PostgreSQL".to_string(),
                self.postgres_version
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            ],
            vec!["DSN".to_string(), self.dsn.clone()],
        ];
        let removed: String = self
            .removed
            .iter()
            .map(|p| format!("removed {p}\n"))
            .collect();
        format!(
            "{}\n{removed}Local PostgreSQL server: {}\n",
            table(&["local server", ""], rows),
            self.summary
        )
    }
}

/// Run `arcdb local <action>` with binaries from `bin` (`--pg-bin` / `ARCDB_PG_BIN`) or discovered.
/// `confirm` is asked before `destroy` removes anything.
pub fn run_local(
    action: LocalAction,
    bin: Option<&Path>,
    confirm: impl FnOnce(&DestroyPlan) -> Result<bool>,
) -> Result<LocalReport> {
    let server = LocalServer::from_env(bin)?;
    run_local_on(&server, action, confirm)
}

/// [`run_local`] on a given server.
pub fn run_local_on(
    server: &LocalServer,
    action: LocalAction,
    confirm: impl FnOnce(&DestroyPlan) -> Result<bool>,
) -> Result<LocalReport> {
    let mut removed = Vec::new();
    let summary = match action {
        LocalAction::Start => match server.ensure_running()? {
            Ensured::Initialized => format!(
                "initialized a new cluster and started it; created database {}",
                LocalServer::DATABASE
            ),
            Ensured::Started => "started".to_string(),
            Ensured::AlreadyRunning => "already running".to_string(),
        },
        LocalAction::Stop => {
            if server.stop()? {
                "stopped".to_string()
            } else {
                "not running".to_string()
            }
        }
        LocalAction::Status | LocalAction::Dsn => match server.status() {
            LocalState::Absent => "not initialized (`arcdb local start` creates it)".to_string(),
            LocalState::Stopped => "stopped".to_string(),
            LocalState::Running { .. } => "running".to_string(),
        },
        LocalAction::Destroy => {
            removed = server.destroy(confirm)?;
            if removed.is_empty() {
                format!(
                    "nothing to destroy: no cluster in {}; nothing was removed",
                    server.root().display()
                )
            } else {
                "destroyed (data deleted)".to_string()
            }
        }
    };
    let mut report = server.report(action, summary);
    report.removed = removed.iter().map(|p| p.display().to_string()).collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 17beta1").as_deref(),
            Some("17beta1")
        );
        assert_eq!(major_of("15.18"), Some(15));
        assert_eq!(major_of("17beta1"), Some(17));
        assert_eq!(major_of("9.6.24"), Some(9));
        assert_eq!(version_key("9.6"), Some(vec![9, 6]));
        assert_eq!(version_key("common"), None);
        assert!(same_major("15", "15.18"));
        assert!(same_major("17", "17beta1"));
        assert!(same_major("9.6", "9.6.24"));
        assert!(!same_major("9.5", "9.6.24"));
        assert!(!same_major("1", "15.18"));
        assert!(!same_major("16", "15.18"));
        assert!(!same_major("", "15.18"));
    }

    #[test]
    fn quotes() {
        assert_eq!(shell_quote("listen_addresses="), "'listen_addresses='");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(conninfo_value("/tmp/x"), "/tmp/x");
        assert_eq!(conninfo_value("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(conninfo_value(""), "''");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
        assert_eq!(guc_list_item(Path::new("/a b")), "\"/a b\"");
        assert_eq!(
            strip_log_prefix("2026-11-23 09:10:07.030 UTC [10916] FATAL:  x"),
            "FATAL:  x"
        );
        assert_eq!(strip_log_prefix("waiting for server"), "waiting for server");
    }

    #[test]
    fn spec_debug_hides_the_password() {
        let spec = ClusterSpec {
            tcp_password: Some("hunter2".into()),
            ..ClusterSpec::new("/x", 1)
        };
        assert!(!format!("{spec:?}").contains("hunter2"));
    }
}
