//! arcdb's migrations in refinery's layout: `V{n}__{name}.sql` files, refinery's checksum of
//! each (computed by the `refinery` crate itself, so it is the one `refinery_schema_history`
//! holds), and `arcdb export --layout refinery DIR` for applications that embed migrations with
//! `refinery::embed_migrations!`.
//!
//! refinery runs up scripts only, one per version, the same on every database: down scripts
//! and engine variants (CockroachDB's `up.cockroachdb.sql`, …) have no place there; the export
//! says so rather than dropping them silently.

use crate::error::Refusal;
use crate::migrate::catalog::{Migration, MigrationSet};
use crate::output::{table, Report};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// refinery's file name of a migration: `V2__core_schema.sql`.
pub fn file_name(version: u32, name: &str) -> String {
    format!("V{version}__{name}.sql")
}

/// The checksum refinery records for the file `V{version}__{name}.sql` holding `sql` (its
/// SipHash-1-3 of name, version and text, as refinery computes it), in decimal as in
/// `refinery_schema_history.checksum`.
pub fn checksum(version: u32, name: &str, sql: &str) -> anyhow::Result<String> {
    let stem = format!("V{version}__{name}");
    let migration = refinery::Migration::unapplied(&stem, sql).map_err(|e| {
        Refusal::usage(format!(
            "{stem}: refinery cannot use this migration name ({e}); names must be letters, digits and underscores"
        ))
    })?;
    Ok(migration.checksum().to_string())
}

/// The SQL refinery runs for a migration: its plain `up.sql`, whatever engine variants it has.
pub fn up_sql(m: &Migration) -> &str {
    m.file("up.sql")
        .expect("a migration set always has up.sql (checked when loaded)")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Written,
    /// Already there with the same contents (a repeated export).
    Unchanged,
}

#[derive(Debug, Serialize)]
pub struct ExportedFile {
    pub version: u32,
    pub file: String,
    /// refinery's checksum of it.
    pub refinery_checksum: String,
    pub state: FileState,
}

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub layout: &'static str,
    pub dir: String,
    pub files: Vec<ExportedFile>,
    /// What does not carry over into this layout.
    pub warnings: Vec<String>,
}

impl Report for ExportReport {
    fn render_table(&self) -> String {
        let rows = self.files.iter().map(|f| {
            vec![
                format!("{:04}", f.version),
                f.file.clone(),
                format!("{:?}", f.state).to_lowercase(),
                f.refinery_checksum.clone(),
            ]
        });
        let written = self
            .files
            .iter()
            .filter(|f| f.state == FileState::Written)
            .count();
        let mut out = format!(
            "{}\n{}: {} migration(s) in {} layout, {written} written, {} unchanged",
            table(&["version", "file", "state", "refinery checksum"], rows),
            self.dir,
            self.files.len(),
            self.layout,
            self.files.len() - written
        );
        for w in &self.warnings {
            out.push_str(&format!("\nwarning: {w}"));
        }
        out
    }
}

/// Write the set (`source`, else the embedded one) into `dir` as refinery files. Refused, with
/// nothing written, when `dir` holds any other file or a file of the same name with other
/// contents.
pub fn export(source: Option<&Path>, dir: &Path) -> anyhow::Result<ExportReport> {
    let set = MigrationSet::load(source)?;
    let planned: Vec<(u32, String, &str)> = set
        .migrations
        .iter()
        .map(|m| (m.version, file_name(m.version, &m.name), up_sql(m)))
        .collect();
    check_target(dir, &planned)?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Refusal::usage(format!(
            "cannot create {}: {e}; nothing was written",
            dir.display()
        ))
    })?;
    let mut files = Vec::new();
    for (version, file, sql) in &planned {
        let path = dir.join(file);
        let state = if path.exists() {
            FileState::Unchanged
        } else {
            write_new(&path, sql)?;
            FileState::Written
        };
        let name = &set
            .migrations
            .iter()
            .find(|m| m.version == *version)
            .expect("planned from the set")
            .name;
        files.push(ExportedFile {
            version: *version,
            file: file.clone(),
            refinery_checksum: checksum(*version, name, sql)?,
            state,
        });
    }
    Ok(ExportReport {
        layout: "refinery",
        dir: dir.display().to_string(),
        files,
        warnings: warnings(&set),
    })
}

/// Every problem with `dir` before anything is written: other files, or ours with other text.
fn check_target(dir: &Path, planned: &[(u32, String, &str)]) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Refusal::usage(format!(
                "cannot read {}: {e}; nothing was written",
                dir.display()
            ))
            .into())
        }
    };
    let mut foreign = Vec::new();
    let mut different = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        match planned.iter().find(|(_, file, _)| *file == name) {
            None => foreign.push(name),
            Some((_, _, sql)) => {
                let existing = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if existing != *sql {
                    different.push(name);
                }
            }
        }
    }
    foreign.sort();
    different.sort();
    if !foreign.is_empty() {
        return Err(Refusal::usage(format!(
            "{} holds other files ({}): export into an empty directory or one holding a previous export; nothing was written",
            dir.display(),
            foreign.join(", ")
        ))
        .into());
    }
    if !different.is_empty() {
        return Err(Refusal::usage(format!(
            "{} already holds {} with other contents: arcdb never overwrites a migration file (an application may have applied it); export into a new directory; nothing was written",
            dir.display(),
            different.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// Create `path` (never replacing a file that appeared meanwhile).
fn write_new(path: &PathBuf, sql: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(sql.as_bytes())?;
    Ok(())
}

fn warnings(set: &MigrationSet) -> Vec<String> {
    let mut out = vec![format!(
        "down scripts do not carry over ({} of them): refinery has no down migrations; roll back with arcdb, or write a new forward migration",
        set.migrations.len()
    )];
    let variants: Vec<String> = set
        .migrations
        .iter()
        .flat_map(|m| {
            m.file_names()
                .filter(|f| f.starts_with("up.") && *f != "up.sql")
                .map(move |f| format!("{:04}_{}/{f}", m.version, m.name))
        })
        .collect();
    if !variants.is_empty() {
        out.push(format!(
            "engine variants do not carry over: {} — the files hold the PostgreSQL up.sql, which refinery runs on every database (use arcdb itself on CockroachDB)",
            variants.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_refinerys_and_depends_on_name_version_and_text() {
        let a = checksum(1, "init", "CREATE TABLE t (id int);").unwrap();
        assert_eq!(
            a,
            refinery::Migration::unapplied("V1__init", "CREATE TABLE t (id int);")
                .unwrap()
                .checksum()
                .to_string()
        );
        assert_ne!(a, checksum(2, "init", "CREATE TABLE t (id int);").unwrap());
        assert_ne!(a, checksum(1, "other", "CREATE TABLE t (id int);").unwrap());
        assert_ne!(
            a,
            checksum(1, "init", "CREATE TABLE t (id bigint);").unwrap()
        );
    }

    #[test]
    fn export_writes_every_up_script_once_and_refuses_foreign_or_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("refinery");
        let report = export(None, &out).unwrap();
        let set = MigrationSet::embedded().unwrap();
        assert_eq!(report.files.len(), set.migrations.len());
        let first = &set.migrations[0];
        let path = out.join(file_name(first.version, &first.name));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), up_sql(first));
        assert!(report.warnings.iter().any(|w| w.contains("down scripts")));
        assert!(report
            .warnings
            .iter()
            .any(|w| w.contains("up.cockroachdb.sql")));

        let again = export(None, &out).unwrap();
        assert!(again.files.iter().all(|f| f.state == FileState::Unchanged));

        std::fs::write(&path, "-- edited\n").unwrap();
        let err = export(None, &out).unwrap_err().to_string();
        assert!(err.contains("other contents"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "-- edited\n");

        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("README"), "mine").unwrap();
        let err = export(None, &foreign).unwrap_err().to_string();
        assert!(err.contains("holds other files (README)"), "{err}");
        assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    }
}
