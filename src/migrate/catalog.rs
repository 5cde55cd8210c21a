//! The migration set: plain values parsed from the embedded files (or a `--source` directory),
//! with the SQL variant each engine runs. No I/O against a database here.
//!
//! Layout: `NNNN_name/up.sql` and `NNNN_name/down.sql`; an engine variant replaces one of them
//! where the SQL must differ: `up.<engine>.sql`, or `up.<engine>-<X.Y>.sql` for that engine
//! version and later (the highest version not above the server's wins).

use crate::embedded::{EmbeddedFile, MIGRATIONS};
use crate::engine::{Engine, Version};
use crate::error::Refusal;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

/// One SQL file and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Display path, e.g. `migrations/0002_core_schema/up.sql`.
    pub file: String,
    pub sql: String,
}

/// A migration as found on disk: its version, name and every file of its directory.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    /// File name → contents (`up.sql`, `down.sql`, `up.cockroachdb.sql`, …); `None` for a down
    /// script listed but not read ([`MigrationSet::load_up_scripts`]).
    files: BTreeMap<String, Option<String>>,
    dir: String,
}

/// A migration with the scripts one engine runs.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub version: u32,
    pub name: String,
    pub up: Script,
    /// `None` only in a set read by [`MigrationSet::load_up_scripts`]: see [`Resolved::down_script`].
    pub down: Option<Script>,
    /// sha256 of the up script the engine runs, hex.
    pub checksum: String,
}

impl Resolved {
    /// The down script. Every command that runs or shows down scripts reads the set with
    /// [`MigrationSet::load`]; only `up` and `status` skip them, and they never ask.
    pub fn down_script(&self) -> &Script {
        self.down
            .as_ref()
            .expect("the down scripts are read by every command that uses them")
    }

    /// `0002_core_schema`.
    pub fn label(&self) -> String {
        format!("{:04}_{}", self.version, self.name)
    }
}

/// The up scripts of a migration set ([`MigrationSet::load_up_scripts`]), read on a blocking
/// thread from before the connection is made: at a thousand migrations the reading takes longer
/// than a TCP connection and its authentication, and `up` and `status` read the history
/// meanwhile.
pub struct ReadingSet(tokio::task::JoinHandle<anyhow::Result<MigrationSet>>);

impl ReadingSet {
    /// Start reading `source` (or the embedded set) in the background.
    pub fn start(source: Option<PathBuf>) -> ReadingSet {
        ReadingSet(tokio::task::spawn_blocking(move || {
            MigrationSet::load_up_scripts(source.as_deref())
        }))
    }

    /// The set, once `reads` (database reads that do not depend on it) have finished too: both
    /// run at once. The set's error comes first: it is the user's input that is wrong, whatever
    /// the database said.
    pub async fn finish_alongside<T>(
        self,
        reads: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<(T, MigrationSet)> {
        let (read, set) = tokio::join!(reads, self.0);
        let set = set.context("reading the migrations")??;
        Ok((read?, set))
    }
}

#[derive(Debug, Clone)]
pub struct MigrationSet {
    pub migrations: Vec<Migration>,
}

impl MigrationSet {
    /// The set compiled into this binary.
    pub fn embedded() -> anyhow::Result<MigrationSet> {
        Self::from_files(
            "migrations",
            MIGRATIONS
                .iter()
                .map(|f: &EmbeddedFile| (f.path.to_string(), f.contents.to_string())),
        )
    }

    /// Either the embedded set, or the one in `dir` (`--source`).
    pub fn load(source: Option<&Path>) -> anyhow::Result<MigrationSet> {
        match source {
            None => Self::embedded(),
            Some(dir) => Self::read_dir(dir, Scripts::All),
        }
    }

    /// [`MigrationSet::load`] for `up` and `status`, which never run a down script: a
    /// `--source` directory's down scripts are listed (each migration must still have one) but
    /// not read, a third of the files of a set.
    pub fn load_up_scripts(source: Option<&Path>) -> anyhow::Result<MigrationSet> {
        match source {
            None => Self::embedded(),
            Some(dir) => Self::read_dir(dir, Scripts::Up),
        }
    }

    pub fn from_dir(dir: &Path) -> anyhow::Result<MigrationSet> {
        Self::read_dir(dir, Scripts::All)
    }

    fn read_dir(dir: &Path, scripts: Scripts) -> anyhow::Result<MigrationSet> {
        let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
            .map_err(|e| {
                Refusal::usage(format!(
                    "cannot read migrations directory {}: {e}",
                    dir.display()
                ))
            })?
            .flatten()
            // .git, editor state
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .collect();
        // Opening a thousand migration directories and their two thousand files is most of a
        // no-op `up`'s own time (~12 ms on one core): they are read on every core.
        let mut files = Vec::new();
        for read in on_every_core(&entries, |entry| read_entry(entry, scripts)) {
            files.extend(read?);
        }
        if files.is_empty() {
            return Err(Refusal::usage(format!(
                "{} holds no migrations (expected NNNN_name/up.sql + down.sql directories)",
                dir.display()
            ))
            .into());
        }
        Self::from_listing(&dir.display().to_string(), files)
    }

    /// Build and validate a set from `(NNNN_name/file.sql, contents)` pairs.
    pub fn from_files(
        root: &str,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<MigrationSet> {
        Self::from_listing(
            root,
            files.into_iter().map(|(path, text)| (path, Some(text))),
        )
    }

    /// [`MigrationSet::from_files`] where a file may be listed without its contents.
    fn from_listing(
        root: &str,
        files: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> anyhow::Result<MigrationSet> {
        let mut by_dir: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
        for (path, contents) in files {
            let Some((dir, file)) = path.split_once('/') else {
                return Err(Refusal::usage(format!(
                    "{root}/{path}: a flat .sql file is not a migration; migrations live in NNNN_name/ directories (up.sql + down.sql)"
                ))
                .into());
            };
            by_dir
                .entry(dir.to_string())
                .or_default()
                .insert(file.to_string(), contents);
        }
        let mut migrations: Vec<Migration> = Vec::new();
        for (dir, files) in by_dir {
            let bad = |why: &str| Refusal::usage(format!("{root}/{dir}: {why}"));
            let (number, name) = dir
                .split_once('_')
                .filter(|(n, rest)| {
                    n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty()
                })
                .ok_or_else(|| {
                    bad("directory must be named NNNN_name (four digits, underscore, name)")
                })?;
            let version: u32 = number.parse().unwrap_or(0);
            if version == 0 {
                return Err(bad("version 0 is reserved for the empty database").into());
            }
            for required in ["up.sql", "down.sql"] {
                if !files.contains_key(required) {
                    return Err(bad(&format!(
                        "{required} is missing (every migration has an up and a down script)"
                    ))
                    .into());
                }
            }
            for file in files.keys() {
                if parse_variant(file).is_none() {
                    return Err(bad(&format!(
                        "unexpected file {file}: allowed are up.sql, down.sql and engine variants like up.cockroachdb.sql or up.cockroachdb-25.2.sql"
                    ))
                    .into());
                }
            }
            if let Some(prev) = migrations.last() {
                if prev.version == version {
                    return Err(bad(&format!("version {version} is used twice")).into());
                }
            }
            migrations.push(Migration {
                version,
                name: name.to_string(),
                files,
                dir: format!("{root}/{dir}"),
            });
        }
        Ok(MigrationSet { migrations })
    }

    /// The scripts `engine` runs, oldest first.
    pub fn resolve(&self, engine: &Engine) -> Vec<Resolved> {
        self.migrations.iter().map(|m| m.resolve(engine)).collect()
    }

    pub fn latest_version(&self) -> u32 {
        self.migrations.last().map(|m| m.version).unwrap_or(0)
    }
}

/// Which scripts of a `--source` directory are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scripts {
    All,
    /// The down scripts are listed, not read.
    Up,
}

/// The `.sql` files of one entry of a migrations directory, as `(NNNN_name/file.sql, text)`;
/// the text of a down script is `None` when only the up scripts are read.
fn read_entry(
    entry: &std::fs::DirEntry,
    scripts: Scripts,
) -> anyhow::Result<Vec<(String, Option<String>)>> {
    let sub = entry.path();
    let dir_name = entry.file_name().to_string_lossy().into_owned();
    // The entry's type comes with the directory listing; only a symlink costs a stat.
    let is_dir = match entry.file_type() {
        Ok(kind) if kind.is_symlink() => sub.is_dir(),
        Ok(kind) => kind.is_dir(),
        Err(_) => sub.is_dir(),
    };
    if !is_dir {
        // Refused by from_files (a flat file), not skipped.
        return Ok(if dir_name.ends_with(".sql") {
            vec![(dir_name, Some(String::new()))]
        } else {
            Vec::new()
        });
    }
    let mut files = Vec::new();
    for file in std::fs::read_dir(&sub)?.flatten() {
        let name = file.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") {
            continue;
        }
        if scripts == Scripts::Up && name.starts_with("down") {
            files.push((format!("{dir_name}/{name}"), None));
            continue;
        }
        let text = std::fs::read_to_string(file.path())
            .with_context(|| format!("cannot read {}", file.path().display()))?;
        // psql accepts a UTF-8 byte-order mark at the start of a file; so do we.
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text);
        files.push((format!("{dir_name}/{name}"), Some(text)));
    }
    if files.is_empty() {
        return Err(Refusal::usage(format!(
            "{}: no up.sql/down.sql in this migration directory; add them or remove the directory",
            sub.display()
        ))
        .into());
    }
    Ok(files)
}

/// `items.iter().map(f)`, in order, spread over the machine's cores in contiguous chunks
/// (one thread below a few dozen items, where starting threads costs more than it saves).
fn on_every_core<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const PER_THREAD_AT_LEAST: usize = 32;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(8).min(items.len() / PER_THREAD_AT_LEAST).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let chunks: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        chunks
            .into_iter()
            .flat_map(|chunk| chunk.join().expect("a migration reader thread panicked"))
            .collect()
    })
}

/// A parsed file name: direction ("up"/"down"), engine tag, minimum engine version.
#[derive(Debug, PartialEq, Eq)]
struct Variant<'a> {
    direction: &'a str,
    engine: Option<&'a str>,
    since: Option<Version>,
}

fn parse_variant(file: &str) -> Option<Variant<'_>> {
    let stem = file.strip_suffix(".sql")?;
    let (direction, rest) = match stem.split_once('.') {
        Some((d, r)) => (d, Some(r)),
        None => (stem, None),
    };
    if direction != "up" && direction != "down" {
        return None;
    }
    let Some(rest) = rest else {
        return Some(Variant {
            direction,
            engine: None,
            since: None,
        });
    };
    let (engine, since) = match rest.split_once('-') {
        Some((engine, version)) => (engine, Some(Version::parse(version)?)),
        None => (rest, None),
    };
    if engine != "postgres" && engine != "cockroachdb" {
        return None;
    }
    Some(Variant {
        direction,
        engine: Some(engine),
        since,
    })
}

impl Migration {
    /// The contents of one file of the migration (`up.sql`, `up.cockroachdb.sql`, …), if it was
    /// read.
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files.get(name).and_then(|text| text.as_deref())
    }

    /// The names of the migration's files, sorted.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Display path of the migration's directory (`migrations/0002_core_schema`).
    pub fn dir(&self) -> &str {
        &self.dir
    }

    fn resolve(&self, engine: &Engine) -> Resolved {
        let up = self
            .script_for("up", engine)
            .expect("the up scripts are always read");
        let down = self.script_for("down", engine);
        let checksum = checksum(&up.sql);
        Resolved {
            version: self.version,
            name: self.name.clone(),
            up,
            down,
            checksum,
        }
    }

    /// The most specific file for this engine: `<dir>.<engine>-<v>.sql` with the highest
    /// v ≤ server version, else `<dir>.<engine>.sql`, else `<dir>.sql`; `None` when that file was
    /// listed but not read.
    fn script_for(&self, direction: &str, engine: &Engine) -> Option<Script> {
        let tag = engine.kind.tag();
        let best = self
            .files
            .keys()
            .filter_map(|f| parse_variant(f).map(|v| (f, v)))
            .filter(|(_, v)| v.direction == direction)
            .filter(|(_, v)| v.engine.is_none_or(|e| e == tag))
            .filter(|(_, v)| v.since.is_none_or(|s| s <= engine.version))
            .max_by_key(|(_, v)| (v.engine.is_some(), v.since))
            .map(|(f, _)| f.clone())
            .expect("up.sql and down.sql are checked when the set is built");
        Some(Script {
            file: format!("{}/{best}", self.dir),
            sql: self.files[&best].clone()?,
        })
    }
}

/// Extensions the up scripts create (`CREATE EXTENSION [IF NOT EXISTS] name`), sorted, so a
/// server lacking one is refused before anything runs.
pub fn required_extensions(resolved: &[Resolved]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in resolved {
        // Most scripts name no extension: they are not split into words at all.
        let names_an_extension =
            m.up.sql
                .as_bytes()
                .windows(b"extension".len())
                .any(|w| w.eq_ignore_ascii_case(b"extension"));
        if !names_an_extension {
            continue;
        }
        let words: Vec<&str> =
            m.up.sql
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .flat_map(|l| l.split_whitespace())
                .map(|w| w.trim_end_matches(';'))
                .collect();
        for (i, pair) in words.windows(2).enumerate() {
            if pair[0].eq_ignore_ascii_case("create") && pair[1].eq_ignore_ascii_case("extension") {
                let mut rest = words[i + 2..].iter();
                let mut name = rest.next();
                if name.is_some_and(|n| n.eq_ignore_ascii_case("if")) {
                    name = rest.nth(2); // skip NOT EXISTS
                }
                if let Some(name) = name {
                    let name = name.trim_matches('"').to_string();
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
        }
    }
    names.sort();
    names
}

pub fn checksum(sql: &str) -> String {
    hex(&Sha256::digest(sql.as_bytes()))
}

/// Lowercase hex of `bytes`, without a `format!` per byte (resolving a thousand migrations
/// hexes a thousand digests).
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for b in bytes {
        text.push(HEX[usize::from(b >> 4)] as char);
        text.push(HEX[usize::from(b & 0xf)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> anyhow::Result<MigrationSet> {
        MigrationSet::from_files(
            "m",
            files.iter().map(|(p, c)| (p.to_string(), c.to_string())),
        )
    }

    #[test]
    fn embedded_set_is_valid_and_contiguous() {
        let set = MigrationSet::embedded().unwrap();
        assert!(!set.migrations.is_empty(), "no migrations embedded");
        for (i, m) in set.migrations.iter().enumerate() {
            assert_eq!(
                m.version as usize,
                i + 1,
                "versions must be 1..n without gaps"
            );
        }
    }

    #[test]
    fn picks_the_most_specific_variant_for_the_engine() {
        let s = set(&[
            ("0001_a/up.sql", "pg"),
            ("0001_a/down.sql", "d"),
            ("0001_a/up.cockroachdb.sql", "crdb"),
            ("0001_a/up.cockroachdb-25.2.sql", "crdb25"),
        ])
        .unwrap();
        let pg = Engine::detect("PostgreSQL 16.2 on x").unwrap();
        let old = Engine::detect("CockroachDB CCL v24.3.1 (x)").unwrap();
        let new = Engine::detect("CockroachDB CCL v25.3.0 (x)").unwrap();
        assert_eq!(s.resolve(&pg)[0].up.sql, "pg");
        assert_eq!(s.resolve(&old)[0].up.sql, "crdb");
        assert_eq!(s.resolve(&new)[0].up.sql, "crdb25");
        assert_eq!(
            s.resolve(&new)[0].up.file,
            "m/0001_a/up.cockroachdb-25.2.sql"
        );
        assert_eq!(s.resolve(&new)[0].down_script().sql, "d");
        assert_ne!(s.resolve(&pg)[0].checksum, s.resolve(&new)[0].checksum);
    }

    #[test]
    fn finds_the_extensions_the_scripts_create() {
        let s = set(&[
            ("0001_a/up.sql", "-- CREATE EXTENSION commented;\nCREATE EXTENSION IF NOT EXISTS citext;\ncreate extension \"pgcrypto\" WITH SCHEMA public;"),
            ("0001_a/down.sql", "DROP EXTENSION citext;"),
        ])
        .unwrap();
        let pg = Engine::detect("PostgreSQL 16.2 on x").unwrap();
        assert_eq!(
            required_extensions(&s.resolve(&pg)),
            vec!["citext", "pgcrypto"]
        );
    }

    #[test]
    fn rejects_malformed_sets() {
        for (files, needle) in [
            (vec![("0001_a/up.sql", "")], "down.sql is missing"),
            (vec![("1_a/up.sql", ""), ("1_a/down.sql", "")], "NNNN_name"),
            (
                vec![
                    ("0001_a/up.sql", ""),
                    ("0001_a/down.sql", ""),
                    ("0001_a/notes.sql", ""),
                ],
                "unexpected file notes.sql",
            ),
            (
                vec![("0000_a/up.sql", ""), ("0000_a/down.sql", "")],
                "version 0",
            ),
            (
                vec![
                    ("0001_a/up.sql", ""),
                    ("0001_a/down.sql", ""),
                    ("0001_b/up.sql", ""),
                    ("0001_b/down.sql", ""),
                ],
                "used twice",
            ),
        ] {
            let err = set(&files).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn up_and_status_list_the_down_scripts_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("0001_a/up.sql", "CREATE TABLE a ();");
        write("0001_a/down.sql", "DROP TABLE a;");
        write("0001_a/down.cockroachdb.sql", "DROP TABLE a CASCADE;");
        let pg = Engine::detect("PostgreSQL 15.4 on x86_64").unwrap();

        let full = MigrationSet::load(Some(dir.path())).unwrap().resolve(&pg);
        assert_eq!(full[0].down_script().sql, "DROP TABLE a;");
        let up_only = MigrationSet::load_up_scripts(Some(dir.path()))
            .unwrap()
            .resolve(&pg);
        assert_eq!(up_only[0].up.sql, "CREATE TABLE a ();");
        assert_eq!(up_only[0].checksum, full[0].checksum);
        assert!(up_only[0].down.is_none());

        // A down script that cannot be read does not stop `up`; `rollback` reads it and says so.
        std::fs::remove_file(dir.path().join("0001_a/down.sql")).unwrap();
        std::fs::create_dir(dir.path().join("0001_a/down.sql")).unwrap();
        assert!(MigrationSet::load_up_scripts(Some(dir.path())).is_ok());
        let err = MigrationSet::load(Some(dir.path())).unwrap_err();
        assert!(format!("{err:#}").contains("down.sql"), "{err:#}");

        // A migration without a down script is still refused.
        std::fs::remove_dir(dir.path().join("0001_a/down.sql")).unwrap();
        std::fs::remove_file(dir.path().join("0001_a/down.cockroachdb.sql")).unwrap();
        let err = MigrationSet::load_up_scripts(Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("down.sql is missing"), "{err}");
    }
}
