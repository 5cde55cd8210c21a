//! Finding the PostgreSQL binaries (`initdb`, `pg_ctl`, `postgres`, `psql`) and their version.

use super::{run, running_as_root, PG_ENV, POSTGRES_OS_USER};
use anyhow::{anyhow, bail, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    pub(super) fn server_command(&self, name: &str) -> Command {
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
    }
}
