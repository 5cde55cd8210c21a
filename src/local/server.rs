//! `LocalServer`: the embedded default database used when no DSN is given anywhere.

use super::binaries::PgBinaries;

use super::cluster::{
    conninfo_value, dir_has_entries, dir_size, display_paths, Cluster, ClusterSpec, StopMode,
};
use super::ownership::prepare_root;
use super::{running_as_root, LocalAction, LocalReport, HBA_SIGNATURE, MARKER};
use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

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
