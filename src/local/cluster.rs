//! A PostgreSQL cluster arcdb runs itself: its spec, `initdb`, start, stop, and the clients
//! that connect to it.

use super::binaries::PgBinaries;
use super::ownership::{ensure_dir, postgres_owner, prepare_root, SecretFile};
use super::{describe_status, last_lines, run, HBA_SIGNATURE, MAX_SOCKET_PATH, SUPERUSER};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::{fmt, fs};

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

    pub(super) fn initdb(&self) -> Result<()> {
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
    pub(super) fn psql(&self, dbname: &str, vars: &[(&str, &str)], script: &str) -> Result<String> {
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
pub(super) fn conninfo_value(s: &str) -> String {
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
pub(super) fn dir_size(dir: &Path) -> u64 {
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

pub(super) fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn dir_has_entries(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_compares_the_cluster_major_with_a_server_version() {
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
