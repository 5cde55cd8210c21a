//! `arcdb new NAME`: the next `NNNN_name/` directory with `up.sql` and `down.sql` templates,
//! in `--source` or `./migrations`. Plain files; no database.

use crate::error::Refusal;
use crate::output::Report;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct NewReport {
    pub version: u32,
    pub dir: String,
    pub files: Vec<String>,
}

impl Report for NewReport {
    fn render_table(&self) -> String {
        format!(
            "created {} ({}); `arcdb up --source {}` applies it (the binary embeds it at the next build)",
            self.dir,
            self.files.join(", "),
            Path::new(&self.dir)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| ".".into())
        )
    }
}

const UP_TEMPLATE: &str = "-- To run this file outside a transaction (CREATE INDEX CONCURRENTLY, VACUUM, ALTER TYPE … ADD VALUE),
-- replace this line with:  -- arcdb:no-transaction
-- {label}: what it changes and why.
-- Runs in one transaction; every statement waits at most --ddl-lock-timeout for its locks.

";

const DOWN_TEMPLATE: &str = "-- {label}: undo up.sql, newest change first.

";

/// Create the next migration directory for `name` in `source` (default `./migrations`).
pub fn new_migration(name: &str, source: Option<&Path>) -> anyhow::Result<NewReport> {
    let valid = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(Refusal::usage(format!(
            "migration name `{name}`: use lower-case letters, digits and underscores, starting with a letter (e.g. add_task_labels); nothing was created"
        ))
        .into());
    }
    let root: PathBuf = source
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("migrations"));
    let latest = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| {
                let dir = e.file_name().to_string_lossy().into_owned();
                let (number, _) = dir.split_once('_')?;
                (number.len() == 4).then(|| number.parse::<u32>().ok())?
            })
            .max()
            .unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && source.is_none() => 0,
        Err(e) => {
            return Err(Refusal::usage(format!(
                "cannot read migrations directory {}: {e}; nothing was created",
                root.display()
            ))
            .into())
        }
    };
    let version = latest + 1;
    if version > 9999 {
        return Err(Refusal::usage("version 9999 is the last: nothing was created").into());
    }
    let label = format!("{version:04}_{name}");
    let dir = root.join(&label);
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for (file, template) in [("up.sql", UP_TEMPLATE), ("down.sql", DOWN_TEMPLATE)] {
        let path = dir.join(file);
        std::fs::write(&path, template.replace("{label}", &label))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        files.push(file.to_string());
    }
    Ok(NewReport {
        version,
        dir: dir.display().to_string(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_the_next_version_with_templates() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("0006_rls_fast_path")).unwrap();
        std::fs::create_dir_all(tmp.path().join("notes")).unwrap();
        let report = new_migration("add_labels", Some(tmp.path())).unwrap();
        assert_eq!(report.version, 7);
        let up = std::fs::read_to_string(tmp.path().join("0007_add_labels/up.sql")).unwrap();
        assert!(up.contains("-- arcdb:no-transaction"));
        assert!(!super::super::txmode::has_no_transaction_directive(&up));
        assert!(tmp.path().join("0007_add_labels/down.sql").is_file());
        assert!(new_migration("Bad-Name", Some(tmp.path())).is_err());
        assert!(new_migration("x", Some(&tmp.path().join("missing"))).is_err());
    }
}
