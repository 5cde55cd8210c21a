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
use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use std::path::Path;
use std::process::{Command, Output};

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

mod binaries;
mod cluster;
mod ownership;
mod server;

pub use binaries::PgBinaries;
pub use cluster::{Cluster, ClusterSpec, StopMode};
pub use server::{DestroyPlan, Ensured, LocalServer, LocalState, Ownership};

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
