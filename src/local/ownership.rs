//! Ownership when arcdb runs as root: the cluster directory belongs to the `postgres` OS user,
//! and the secrets arcdb writes for it are readable by that user only.

use super::cluster::dir_has_entries;
use super::{running_as_root, POSTGRES_OS_USER};
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The `postgres` OS user, when files must be handed to it (arcdb runs as root).
#[derive(Debug, Clone)]
pub(super) struct Owner {
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
}

impl Owner {
    pub(super) fn chown(&self, path: &Path) -> Result<()> {
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
pub(super) fn postgres_owner() -> Result<Option<Owner>> {
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
pub(super) fn prepare_root(root: &Path) -> Result<Option<Owner>> {
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
pub(super) fn ensure_dir(dir: &Path, mode: u32, owner: Option<&Owner>) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("could not set the permissions of {}", dir.display()))?;
    if let Some(owner) = owner {
        owner.chown(dir)?;
    }
    Ok(())
}

/// A 0600 file holding a secret, removed when dropped.
pub(super) struct SecretFile {
    pub(super) path: PathBuf,
}

impl SecretFile {
    pub(super) fn write(path: &Path, secret: &str, owner: Option<&Owner>) -> Result<SecretFile> {
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
