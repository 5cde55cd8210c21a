//! Live drift: the schema in the database compared with what the recorded version must contain.
//!
//! The expected schema of a version is the one its migrations build on an empty database
//! (`catalog::scratch`, a temporary database on the same server), read back by the same catalog
//! reader as the live one, so both compare value for value. Building it costs a scratch database
//! and the migrations' run time; it only depends on the catalog reader, the server major, the
//! connecting role (owners) and the applied migrations' checksums, so it is cached under that key
//! in `arcdb.expected_schema` (best effort: a role that cannot write there builds it each time).
//!
//! `status` (with [`status`]), `up` ([`refuse_drift`]), `baseline` and `repair` use it.

use crate::catalog::{self, Difference, Schema};
use crate::db::Db;
use crate::engine::EngineKind;
use crate::error::{ExitStatus, Refusal};
use crate::migrate::catalog::{ReadingSet, Resolved};
use crate::migrate::plan::{self, AppliedRecord, State};
use crate::migrate::{self, history, StatusReport};
use crate::output::{table, Report};
use futures_util::future::{try_join, try_join3, try_join4, BoxFuture};
use futures_util::TryFutureExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Instant;
use tokio_postgres::GenericClient;

/// The schemas the migrations own and drift is checked in.
pub const SCHEMAS: &[&str] = &["public"];

/// `arcdb.expected_schema` and `arcdb.live_fingerprint`: created by the first command that
/// may ([`Cache::ReadWrite`]), not by `up`.
const CACHE_TABLE: &str = include_str!("drift_cache.sql");

/// What the cache key must change with besides the migrations: the catalog reader itself (a
/// reader that reads more would otherwise compare against a stale expected schema).
const READER_SOURCE: [&str; 2] = [
    include_str!("catalog/read.rs"),
    include_str!("catalog/mod.rs"),
];

/// Whether a freshly built expected schema (and the catalog's fingerprint) may be written to
/// arcdb's cache tables, and whether they may be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Read and store, creating the cache tables when missing (status, repair).
    ReadWrite,
    /// Read, and store only where the cache tables exist: `up` checks for drift before it
    /// applies anything, and leaves a database it does not change as it was.
    Existing,
    /// Read only: the command promises to touch nothing unless it succeeds (baseline, adopt).
    ReadOnly,
}

/// Where the expected schema came from, and what it cost.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// `cache` or `scratch database`.
    pub from: &'static str,
    /// Time to obtain it (cache read, or scratch build and read).
    pub took_ms: u64,
    /// Why a freshly built schema could not be cached (the next run builds it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_cached: Option<String>,
}

/// How the live schema was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compared {
    /// Its catalog fingerprint equals the one of the last clean comparison with this version.
    Fingerprint,
    /// Read and compared object by object with the expected schema.
    ObjectByObject,
}

/// The live schema compared with one version's.
#[derive(Debug, Clone, Serialize)]
pub struct LiveCheck {
    /// The version whose schema the live one was compared with.
    pub version: u32,
    pub differences: Vec<Difference>,
    /// How: by the catalog's fingerprint, or object by object.
    pub compared: Compared,
    /// The expected schema (absent when the fingerprint decided).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Provenance>,
    /// Whole check: expected schema, live read and comparison.
    pub took_ms: u64,
}

impl LiveCheck {
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The server's major version and the connecting role: with the migrations, what the expected
/// schema depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Server {
    major: i32,
    role: String,
}

const SERVER: &str =
    "SELECT current_setting('server_version_num')::int / 10000, current_user::text";

impl Server {
    async fn read(client: &impl GenericClient) -> anyhow::Result<Server> {
        let row = client.query_typed_one(SERVER, &[]).await?;
        Ok(Server {
            major: row.get(0),
            role: row.get(1),
        })
    }

    /// The key of the expected schema of `applied` on this server.
    fn key(&self, applied: &[Resolved]) -> String {
        cache_key(self.major, &self.role, applied)
    }
}

/// The expected schema of the migrations `applied` (in order) on `server`, from the cache
/// or built in a scratch database and then cached.
async fn expected_schema(
    db: &Db,
    server: &Server,
    applied: &[Resolved],
    cache: Cache,
) -> anyhow::Result<(Schema, Provenance)> {
    let started = Instant::now();
    let key = server.key(applied);
    let major = server.major;
    if let Some(schema) = cached(db, &key).await {
        return Ok((
            schema,
            Provenance {
                from: "cache",
                took_ms: started.elapsed().as_millis() as u64,
                not_cached: None,
            },
        ));
    }
    let schema = catalog::scratch::from_migrations(db, applied, SCHEMAS).await?;
    let build_ms = started.elapsed().as_millis() as u64;
    let version = applied.last().map(|m| m.version).unwrap_or(0);
    let not_cached = match cache {
        Cache::ReadOnly => Some("this command writes nothing unless it succeeds".into()),
        Cache::ReadWrite | Cache::Existing => {
            store(db, cache, &key, version, major, &schema, build_ms)
                .await
                .err()
                .map(|e| {
                    match e
                        .downcast_ref::<tokio_postgres::Error>()
                        .and_then(|e| e.code())
                    {
                        Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                            "no cache in this database yet: the first `arcdb status` creates it"
                                .into()
                        }
                        _ => crate::error::one_line(&e),
                    }
                })
        }
    };
    Ok((
        schema,
        Provenance {
            from: "scratch database",
            took_ms: build_ms,
            not_cached,
        },
    ))
}

fn cache_key(major: i32, role: &str, applied: &[Resolved]) -> String {
    let mut hasher = Sha256::new();
    for source in READER_SOURCE {
        hasher.update(source.as_bytes());
    }
    hasher.update(format!("\0{major}\0{role}\0").as_bytes());
    for m in applied {
        hasher.update(format!("{} {}\n", m.version, m.checksum).as_bytes());
    }
    crate::migrate::catalog::hex(&hasher.finalize())
}

/// The cached schema for `key`; a missing table, row or an unreadable entry is a miss.
async fn cached(db: &Db, key: &str) -> Option<Schema> {
    let row = db
        .client
        .query_opt(
            "SELECT schema FROM arcdb.expected_schema
              WHERE to_regclass('arcdb.expected_schema') IS NOT NULL AND key = $1",
            &[&key],
        )
        .await
        .ok()??;
    serde_json::from_value(row.get::<_, serde_json::Value>(0)).ok()
}

async fn store(
    db: &Db,
    cache: Cache,
    key: &str,
    version: u32,
    major: i32,
    schema: &Schema,
    build_ms: u64,
) -> anyhow::Result<()> {
    if cache == Cache::ReadWrite {
        db.client.batch_execute(CACHE_TABLE).await?;
    }
    db.client
        .execute(
            "INSERT INTO arcdb.expected_schema (key, version, server_major, schema, build_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
            &[
                &key,
                &(version as i32),
                &major,
                &serde_json::to_value(schema)?,
                &(build_ms as i64),
            ],
        )
        .await?;
    Ok(())
}

/// Compare the live schema with the one the migrations `applied` build.
pub async fn check(db: &Db, applied: &[Resolved], cache: Cache) -> anyhow::Result<LiveCheck> {
    let started = Instant::now();
    let (actual, server) =
        try_join(catalog::read(&db.client, SCHEMAS), Server::read(&db.client)).await?;
    compare(db, &server, applied, actual, cache, started).await
}

/// Compare the live schema with what the migrations the history records build. The history and
/// the live catalog are read in one snapshot, so a migration another run commits meanwhile is
/// either in both or in neither (never reported as drift). `db` must not be in a transaction.
///
/// First the catalog's fingerprint (one query over the catalogs' row versions, see
/// [`catalog::fingerprint`]): when it equals the one stored after the last clean comparison
/// with the same expected schema, no catalog row has changed since, and nothing more is read, so
/// the check costs the same round trips and bytes at 1,000 migrations as at 10. Otherwise object
/// by object, and a clean result stores the fingerprint of the catalog it compared.
pub async fn check_recorded(
    db: &Db,
    resolved: &[Resolved],
    cache: Cache,
) -> anyhow::Result<LiveCheck> {
    let started = Instant::now();
    let first = FirstReads::read(db).await?;
    check_after(db, resolved, first, cache, started).await
}

/// The first snapshot of a live check: the history, the catalog's fingerprint and the ones
/// stored after clean comparisons, and who is asking on which server.
struct FirstReads {
    history: Vec<AppliedRecord>,
    fingerprint: String,
    stored: BTreeMap<String, String>,
    server: Server,
}

impl FirstReads {
    async fn read(db: &Db) -> anyhow::Result<FirstReads> {
        // All four in one flight, the server running them in turn. The two reads that first
        // ask whether their table exists go before the fingerprint: their second queries are
        // then sent while it runs, and no round trip is left after it.
        let (stored, history, fingerprint, server) = snapshot(db, async {
            try_join4(
                stored_fingerprints(&db.client),
                history::load(&db.client),
                catalog::fingerprint(&db.client),
                Server::read(&db.client),
            )
            .await
        })
        .await?;
        Ok(FirstReads {
            history,
            fingerprint,
            stored,
            server,
        })
    }
}

/// [`check_recorded`] from its first snapshot on.
async fn check_after(
    db: &Db,
    resolved: &[Resolved],
    first: FirstReads,
    cache: Cache,
    started: Instant,
) -> anyhow::Result<LiveCheck> {
    let FirstReads {
        history,
        fingerprint,
        stored,
        server,
    } = first;
    let applied = recorded(resolved, &plan::compare(resolved, &history));
    let key = server.key(&applied);
    if stored.get(&key) == Some(&fingerprint) {
        return Ok(LiveCheck {
            version: applied.last().map(|m| m.version).unwrap_or(0),
            differences: Vec::new(),
            compared: Compared::Fingerprint,
            expected: None,
            took_ms: started.elapsed().as_millis() as u64,
        });
    }

    if cache == Cache::ReadWrite {
        // Before the snapshot whose fingerprint is stored, not after it: creating the cache
        // changes the catalog, and a fingerprint taken before would never match again. Best
        // effort (a role that cannot create them gets no cache), like the stores themselves.
        let _ = db.client.batch_execute(CACHE_TABLE).await;
    }
    let (applied, actual, fingerprint) = snapshot(db, async {
        try_join3(
            history::load(&db.client),
            catalog::read(&db.client, SCHEMAS),
            catalog::fingerprint(&db.client),
        )
        .await
    })
    .await?;
    let applied = recorded(resolved, &plan::compare(resolved, &applied));
    let live = compare(db, &server, &applied, actual, cache, started).await?;
    if live.is_clean() && cache == Cache::ReadWrite {
        // Best effort, like the expected schema's cache: without it the next check compares
        // object by object again.
        let _ = store_fingerprint(db, &server.key(&applied), &fingerprint).await;
    }
    Ok(live)
}

/// Run `reads` in one read-only repeatable-read transaction (one snapshot) and end it.
async fn snapshot<T>(
    db: &Db,
    reads: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    // The BEGIN is sent with the first reads, not a round trip before them (the connection
    // sends requests in the order they are first polled, and try_join polls the left first).
    let begin = db.client.batch_execute(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path TO \"$user\", public",
    );
    let outcome = try_join(begin.map_err(anyhow::Error::from), reads)
        .await
        .map(|((), value)| value);
    let end = db
        .client
        .batch_execute(if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })
        .await;
    let value = outcome?;
    end?;
    Ok(value)
}

/// The catalog fingerprints stored after the last clean comparison with each expected schema,
/// by the expected schema's key (a handful of rows: one per server major, role and applied set).
async fn stored_fingerprints(
    client: &impl GenericClient,
) -> anyhow::Result<BTreeMap<String, String>> {
    // Read inside the snapshot, where an error would end it: a missing table, or one this role
    // may not read, is no fingerprint at all.
    let readable: bool = client
        .query_typed_one(
            "SELECT coalesce(pg_catalog.has_table_privilege(
                 pg_catalog.to_regclass('arcdb.live_fingerprint'), 'SELECT'), false)",
            &[],
        )
        .await?
        .get(0);
    if !readable {
        return Ok(BTreeMap::new());
    }
    let rows = client
        .query_typed("SELECT key, fingerprint FROM arcdb.live_fingerprint", &[])
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Only after a [`Cache::ReadWrite`] comparison, which created the table before its snapshot.
async fn store_fingerprint(db: &Db, key: &str, fingerprint: &str) -> anyhow::Result<()> {
    db.client
        .execute(
            "INSERT INTO arcdb.live_fingerprint (key, fingerprint) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, checked_at = now()",
            &[&key, &fingerprint],
        )
        .await?;
    Ok(())
}

async fn compare(
    db: &Db,
    server: &Server,
    applied: &[Resolved],
    actual: Schema,
    cache: Cache,
    started: Instant,
) -> anyhow::Result<LiveCheck> {
    let (expected, provenance) = expected_schema(db, server, applied, cache)
        .await
        .map_err(|e| e.context(ExpectedUnavailable))?;
    Ok(LiveCheck {
        version: applied.last().map(|m| m.version).unwrap_or(0),
        differences: catalog::diff(&expected, &without_other_runners(actual))
            .into_iter()
            .filter(|d| !same_privileges(d))
            .collect(),
        compared: Compared::ObjectByObject,
        expected: Some(provenance),
        took_ms: started.elapsed().as_millis() as u64,
    })
}

/// A grants difference between the default privileges (no ACL: "") and the same written out
/// (the owner's own grant, PUBLIC's EXECUTE on functions), as a REVOKE/GRANT cycle leaves
/// them: the same privileges, not drift.
fn same_privileges(d: &Difference) -> bool {
    if d.attribute.as_deref() != Some("grants") {
        return false;
    }
    let written_out_default = |acl: &str| {
        acl.split(',').all(|item| match item.split_once('=') {
            Some(("", rest)) => rest.starts_with("X/"),
            Some((grantee, rest)) => rest
                .rsplit_once('/')
                .is_some_and(|(_, grantor)| grantor == grantee),
            None => false,
        })
    };
    match (d.expected.as_deref(), d.actual.as_deref()) {
        (Some(""), Some(acl)) | (Some(acl), Some("")) => written_out_default(acl),
        _ => false,
    }
}

/// The expected schema could not be built (no CREATEDB, a migration that fails on an empty
/// database): `status` says the live schema was not compared, rather than failing.
#[derive(Debug)]
struct ExpectedUnavailable;

impl std::fmt::Display for ExpectedUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot build the expected schema to compare the live one with (`status --no-live` and `up --allow-drift` do without it)")
    }
}

impl std::error::Error for ExpectedUnavailable {}

/// Other runners' history tables: theirs, left as they are when arcdb takes a database over
/// (`adopt`), so neither part of the schema nor drift.
pub const OTHER_RUNNERS_TABLES: &[&str] =
    &["public.refinery_schema_history", "public.alembic_version"];

fn without_other_runners(mut s: Schema) -> Schema {
    let theirs = |table: &str| OTHER_RUNNERS_TABLES.contains(&table);
    s.tables.retain(|t| !theirs(&t.name));
    s.columns.retain(|c| !theirs(&c.table));
    s.constraints.retain(|c| !theirs(&c.table));
    s.indexes.retain(|i| !theirs(&i.table));
    s.triggers.retain(|t| !theirs(&t.table));
    s.policies.retain(|p| !theirs(&p.table));
    s
}

/// The migrations of `resolved` that the history records as run (applied or drifted), in order:
/// what the live schema must contain.
pub fn recorded(resolved: &[Resolved], entries: &[plan::Entry]) -> Vec<Resolved> {
    resolved
        .iter()
        .filter(|m| {
            entries.iter().any(|e| {
                e.version == m.version && matches!(e.state, State::Applied | State::Drifted)
            })
        })
        .cloned()
        .collect()
}

/// Refuse `command` (baseline, adopt, repair), before anything changes, on an engine whose
/// live schema arcdb cannot read: they record a schema they must first compare.
pub fn require_comparable_engine(db: &Db, command: &str) -> anyhow::Result<()> {
    if db.engine.kind != EngineKind::Postgres {
        return Err(Refusal::usage(format!(
            "{command} compares the live schema, which arcdb reads on PostgreSQL only, not on {}; nothing was changed",
            db.engine.describe()
        ))
        .into());
    }
    Ok(())
}

/// Why the live schema was not compared, when it was not.
fn not_comparable(db: &Db, current_version: u32) -> Option<String> {
    if db.engine.kind != EngineKind::Postgres {
        return Some(format!(
            "the live schema is compared on PostgreSQL only, not on {}",
            db.engine.describe()
        ));
    }
    if current_version == 0 {
        return Some(
            "no migration recorded: nothing to compare (a database built without arcdb is taken in with `arcdb baseline --to N`)"
                .into(),
        );
    }
    None
}

/// A migration under way or interrupted (engines without transactional DDL) has part of its
/// objects in place: that is its state, which `up` resumes, not drift.
fn incomplete(entries: &[plan::Entry]) -> Option<String> {
    let names: Vec<String> = entries
        .iter()
        .filter(|e| e.state == State::Incomplete)
        .map(|e| format!("{:04}_{}", e.version, e.name))
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "{} is incomplete (part of its objects are in place): `arcdb up` resumes it, then the live schema is compared",
            names.join(", ")
        )
    })
}

/// `status`: the history report, plus the live schema compared with the recorded version's.
#[derive(Debug, Serialize)]
pub struct StatusWithDrift {
    #[serde(flatten)]
    pub status: StatusReport,
    /// Absent with `--no-live`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveCheck>,
    /// Why the live schema was not compared (engine, empty history, `--no-live`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_skipped: Option<String>,
}

impl Report for StatusWithDrift {
    fn render_table(&self) -> String {
        let mut out = self.status.render_table();
        match (&self.live, &self.live_skipped) {
            (Some(live), _) if live.is_clean() => out.push_str(&format!(
                "\nlive schema: matches version {} ({}; {} ms)",
                live.version,
                match &live.expected {
                    Some(expected) => format!(
                        "compared object by object, expected schema from {}",
                        expected.from
                    ),
                    None => "catalog fingerprint unchanged since the last clean comparison".into(),
                },
                live.took_ms
            )),
            (Some(live), _) => {
                out.push('\n');
                out.push_str(&differences_table(&live.differences));
                out.push_str(&format!(
                    "\nlive schema: {} difference(s) from what version {} must contain — `arcdb up` refuses to apply on top of them (--allow-drift overrides); restore the objects, or record the change as a new migration",
                    live.differences.len(),
                    live.version
                ));
            }
            (None, Some(why)) => out.push_str(&format!("\nlive schema: not compared: {why}")),
            (None, None) => {}
        }
        out
    }

    fn exit_status(&self) -> ExitStatus {
        let history = self.status.exit_status();
        if history == ExitStatus::Drift || self.live.as_ref().is_some_and(|l| !l.is_clean()) {
            ExitStatus::Drift
        } else {
            history
        }
    }
}

/// The differences as a table: object, what differs, expected, actual (long values shortened;
/// `--format json` has them whole).
pub fn differences_table(differences: &[Difference]) -> String {
    let short = |v: &Option<String>| -> String {
        let text = v
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("(none)")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.chars().count() > 60 {
            format!("{}…", text.chars().take(59).collect::<String>())
        } else {
            text
        }
    };
    let rows = differences.iter().map(|d| {
        let what = match d.change {
            catalog::Change::Missing => "missing".to_string(),
            catalog::Change::Extra => "not expected".to_string(),
            catalog::Change::Changed => d.attribute.clone().unwrap_or_default(),
        };
        vec![
            format!("{} {}", d.object_kind, d.object),
            what,
            short(&d.expected),
            short(&d.actual),
        ]
    });
    table(&["object", "difference", "expected", "actual"], rows)
}

/// `arcdb status`: history, then (unless `no_live`) the live schema.
pub async fn status(db: &Db, set: ReadingSet, no_live: bool) -> anyhow::Result<StatusWithDrift> {
    if no_live || db.engine.kind != EngineKind::Postgres {
        let status = migrate::status(db, set).await?;
        let live_skipped = if no_live {
            Some("--no-live".into())
        } else {
            not_comparable(db, status.current_version)
        };
        return Ok(StatusWithDrift {
            status,
            live: None,
            live_skipped,
        });
    }
    // The report's history is the live check's: one snapshot reads both (and the fingerprint)
    // in one flight, and a migration committed meanwhile is in both or in neither. The set is
    // read meanwhile: at a thousand migrations that takes about as long as the snapshot.
    let started = Instant::now();
    let (first, set) = set.finish_alongside(FirstReads::read(db)).await?;
    let resolved = set.resolve(&db.engine);
    let mut report = StatusWithDrift {
        status: migrate::status_of(db, &resolved, &first.history),
        live: None,
        live_skipped: None,
    };
    if let Some(why) = not_comparable(db, report.status.current_version)
        .or_else(|| incomplete(&report.status.migrations))
    {
        report.live_skipped = Some(why);
        return Ok(report);
    }
    match check_after(db, &resolved, first, Cache::ReadWrite, started).await {
        Ok(live) => report.live = Some(live),
        Err(e) if e.downcast_ref::<ExpectedUnavailable>().is_some() => {
            report.live_skipped = Some(crate::error::one_line(&e));
        }
        Err(e) => return Err(e),
    }
    Ok(report)
}

/// Before `up` applies anything (its [`migrate::BeforeApply`], under its migration lock):
/// refuse (exit 4, nothing changed) when the live schema differs from the recorded version's,
/// naming the differences. An empty history or another engine: nothing to check.
pub fn refuse_drift<'a>(
    db: &'a Db,
    resolved: &'a [Resolved],
    entries: &'a [plan::Entry],
) -> BoxFuture<'a, anyhow::Result<()>> {
    Box::pin(async move {
        if not_comparable(db, plan::current_version(entries)).is_some()
            || incomplete(entries).is_some()
        {
            return Ok(());
        }
        let live = check_recorded(db, resolved, Cache::Existing).await?;
        if live.is_clean() {
            return Ok(());
        }
        Err(Refusal::drift(format!(
            "the live schema differs from what version {} must contain ({}): nothing was applied; restore the objects (`arcdb status` lists every difference), or pass --allow-drift to apply on top of them",
            live.version,
            summarize(&live.differences)
        ))
        .into())
    })
}

/// The first differences in one line: "index public.x is missing; …; and 3 more".
pub fn summarize(differences: &[Difference]) -> String {
    const SHOWN: usize = 3;
    let mut text: Vec<String> = differences
        .iter()
        .take(SHOWN)
        .map(|d| d.to_string())
        .collect();
    if differences.len() > SHOWN {
        text.push(format!("and {} more", differences.len() - SHOWN));
    }
    text.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Change, ObjectKind};

    fn resolved(version: u32, checksum: &str) -> Resolved {
        let script = crate::migrate::catalog::Script {
            file: format!("{version}/up.sql"),
            sql: String::new(),
        };
        Resolved {
            version,
            name: format!("m{version}"),
            up: script.clone(),
            down: Some(script),
            checksum: checksum.into(),
        }
    }

    #[test]
    fn cache_key_changes_with_major_role_and_every_checksum() {
        let set = [resolved(1, "a"), resolved(2, "b")];
        let key = cache_key(15, "app", &set);
        assert_eq!(key, cache_key(15, "app", &set));
        assert_ne!(key, cache_key(16, "app", &set));
        assert_ne!(key, cache_key(15, "other", &set));
        assert_ne!(
            key,
            cache_key(15, "app", &[resolved(1, "a"), resolved(2, "c")])
        );
        assert_ne!(key, cache_key(15, "app", &set[..1]));
    }

    #[test]
    fn default_privileges_written_out_are_not_drift_but_other_grants_are() {
        let grants = |expected: &str, actual: &str| Difference {
            object_kind: ObjectKind::Table,
            object: "public.t".into(),
            change: Change::Changed,
            attribute: Some("grants".into()),
            expected: Some(expected.into()),
            actual: Some(actual.into()),
        };
        assert!(same_privileges(&grants("", "postgres=arwdDxt/postgres")));
        assert!(same_privileges(&grants("=X/app,app=X/app", "")));
        assert!(!same_privileges(&grants(
            "",
            "arcdesk_tenant=r/postgres,postgres=arwdDxt/postgres"
        )));
        assert!(!same_privileges(&grants(
            "postgres=arwdDxt/postgres",
            "postgres=r/postgres"
        )));
    }

    #[test]
    fn summary_names_three_differences_and_counts_the_rest() {
        let d = |name: &str| Difference {
            object_kind: ObjectKind::Index,
            object: name.into(),
            change: Change::Missing,
            attribute: None,
            expected: Some("CREATE INDEX …".into()),
            actual: None,
        };
        let all: Vec<Difference> = ["a", "b", "c", "d", "e"].iter().map(|n| d(n)).collect();
        assert_eq!(
            summarize(&all),
            "index a is missing; index b is missing; index c is missing; and 2 more"
        );
        assert_eq!(summarize(&all[..1]), "index a is missing");
    }
}
