//! Running one migration script on a live database. One runner for every mode (one
//! transaction, the script sent in one round trip; `-- arcdb:no-transaction` and CockroachDB,
//! statement by statement), and in each a failure names its statement and a lock wait names
//! its blocker:
//!
//! * every statement runs under `lock_timeout` (`--ddl-lock-timeout`): a DDL statement queued
//!   behind a long reader would otherwise queue every application query behind it. A migration
//!   whose lock is not granted is rolled back and retried with backoff for `--ddl-retry-for`,
//!   saying on stderr what it waits for (a second session samples `pg_blocking_pids`), then
//!   gives up with the database unchanged;
//! * SIGINT/SIGTERM cancel the running statement on the server (`pg_cancel_backend` from the
//!   second session), roll back, and the caller releases the migration lock;
//! * after a transactional script, arcdb checks its transaction is still the one it opened
//!   before it records history, and resets what the script set (search_path, role, any `SET`)
//!   so the next migration starts from the connection's defaults;
//! * a statement-at-a-time migration is recorded incomplete first and complete after its last
//!   statement; before a `CREATE INDEX CONCURRENTLY` an INVALID index of that name (left by a
//!   failed or interrupted build) is dropped so that the re-run builds it again.

use super::catalog::{Resolved, Script};
use super::history;
use super::interrupt::{interrupted, Interrupt};
use super::roles;
use super::statements::{self, Batch, Statement};
use super::txmode::{concurrent_index, ConcurrentIndex, TxMode};
use crate::db::Db;
use crate::engine::EngineKind;
use crate::output::notice;
use anyhow::anyhow;
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::SimpleQueryMessage;

const BLOCKERS: &str = include_str!("blockers.sql");

/// The first row a simple query returned.
fn first_row(messages: &[SimpleQueryMessage]) -> Option<&tokio_postgres::SimpleQueryRow> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    })
}

/// Reset what a migration may have set on the session, keeping what arcdb holds (its session
/// advisory lock, which `DISCARD ALL` would release).
const RESET_SESSION: &str = "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL";
/// The same, then this transaction's commit without waiting for its WAL flush
/// ([`Runner::defer_flush`]).
const RESET_SESSION_DEFER_FLUSH: &str =
    "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL; SET LOCAL synchronous_commit = off";

/// The limits a migration runs under.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// `lock_timeout` of every statement.
    pub ddl_lock_timeout: Duration,
    /// How long a migration whose locks are not granted is retried.
    pub ddl_retry_for: Duration,
    /// `statement_timeout` of every statement; zero = none.
    pub statement_timeout: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            ddl_lock_timeout: Duration::from_secs(2),
            ddl_retry_for: Duration::from_secs(60),
            statement_timeout: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn script(self, m: &Resolved) -> &Script {
        match self {
            Direction::Up => &m.up,
            Direction::Down => m.down_script(),
        }
    }
}

/// A statement whose lock was not granted within the lock timeout.
struct LockWait {
    line: usize,
    what: String,
    blocker: Option<String>,
}

/// Runs the migrations of one `up` or `rollback` on `db`.
pub struct Runner {
    opts: LiveOptions,
    interrupt: Interrupt,
    /// PostgreSQL: a second session that watches the migrating one, whose backend is `pid`
    /// (read again inside each transaction: behind PgBouncer in transaction mode the server
    /// connection can change between transactions).
    monitor: Option<Watcher>,
    pid: AtomicI32,
    postgres: bool,
    /// Commit the next transactional migration without waiting for its WAL flush (see
    /// [`Runner::defer_flush`]).
    defer_flush: AtomicBool,
    /// Whether `arcdb.role_memberships` exists: read at the start, set when a down script of
    /// this run records a membership (nothing else creates it while the run holds the lock).
    memberships_table: AtomicBool,
}

/// The second session, opened only when a run needs it: a statement still running after one
/// sampling period (to say what it waits for), or a cancel that cannot be sent directly. A run
/// whose statements finish sooner never opens it: the backend it forks cost an `up` of ten small
/// migrations about 1–2 ms on two cores. It connects in the background, so a slow or refused
/// connection never delays the migration or a Ctrl-C; the samples start once it is there.
struct Watcher {
    state: tokio::sync::Mutex<WatcherState>,
}

enum WatcherState {
    /// The connection, not started yet.
    Unopened(BoxFuture<'static, anyhow::Result<Db>>),
    Connecting(tokio::task::JoinHandle<anyhow::Result<Db>>),
    Open(Box<Db>),
    /// Could not be opened (said once on stderr): waits are reported without their holders.
    Failed,
}

impl Watcher {
    fn new(db: &Db) -> Watcher {
        Watcher {
            state: tokio::sync::Mutex::new(WatcherState::Unopened(Box::pin(db.reconnect()))),
        }
    }

    /// The session if it is open now; starts connecting it if nobody has yet.
    async fn ready(&self) -> Option<tokio::sync::MappedMutexGuard<'_, Db>> {
        let mut state = self.state.lock().await;
        match &*state {
            WatcherState::Unopened(_) => {
                if let WatcherState::Unopened(connect) =
                    std::mem::replace(&mut *state, WatcherState::Failed)
                {
                    *state = WatcherState::Connecting(tokio::spawn(connect));
                }
                return None;
            }
            WatcherState::Connecting(handle) if !handle.is_finished() => return None,
            _ => {}
        }
        Self::settle(&mut state).await;
        Self::open(state)
    }

    /// The session, connecting it and waiting for that if need be (a cancel's fallback).
    async fn session(&self) -> Option<tokio::sync::MappedMutexGuard<'_, Db>> {
        if let Some(open) = self.ready().await {
            return Some(open);
        }
        let mut state = self.state.lock().await;
        Self::settle(&mut state).await;
        Self::open(state)
    }

    fn open(
        state: tokio::sync::MutexGuard<'_, WatcherState>,
    ) -> Option<tokio::sync::MappedMutexGuard<'_, Db>> {
        tokio::sync::MutexGuard::try_map(state, |state| match state {
            WatcherState::Open(db) => Some(&mut **db),
            _ => None,
        })
        .ok()
    }

    /// Wait for a connection under way and keep its outcome.
    async fn settle(state: &mut WatcherState) {
        if let WatcherState::Connecting(handle) = state {
            let failed = match handle.await {
                Ok(Ok(session)) => {
                    *state = WatcherState::Open(Box::new(session));
                    return;
                }
                Ok(Err(err)) => crate::error::one_line(&err),
                Err(err) => err.to_string(),
            };
            notice(format!(
                "cannot open the second session that watches the migration's lock waits ({failed}): a wait is reported without what holds the lock"
            ));
            *state = WatcherState::Failed;
        }
    }
}

impl Runner {
    pub async fn start(db: &Db, opts: LiveOptions, interrupt: Interrupt) -> anyhow::Result<Runner> {
        let postgres = db.engine.kind == EngineKind::Postgres;
        let (monitor, pid, memberships_table) = if postgres {
            let row = db
                .client
                .query_typed_one(
                    &format!("SELECT pg_backend_pid(), {}", roles::TABLE_EXISTS),
                    &[],
                )
                .await?;
            (Some(Watcher::new(db)), row.get(0), row.get(1))
        } else {
            (None, 0, false)
        };
        Ok(Runner {
            opts,
            interrupt,
            monitor,
            pid: AtomicI32::new(pid),
            postgres,
            defer_flush: AtomicBool::new(false),
            memberships_table: AtomicBool::new(memberships_table),
        })
    }

    /// Whether the next transactional migrations commit with `synchronous_commit = off`: every
    /// one of a run but the last, so that a run of N migrations waits for one WAL flush, not N.
    /// The WAL is flushed in order, so the last commit, made with the server's own setting,
    /// makes every earlier one as durable as itself; each commit is atomic either way. Should
    /// the server crash before that, the database is at an earlier version, consistent, and the
    /// next `up` applies the rest. A run that fails calls [`flush_commits`] before reporting.
    pub fn defer_flush(&self, yes: bool) {
        self.defer_flush
            .store(yes && self.postgres, Ordering::SeqCst);
    }

    /// [`roles::save_dropped`], remembering that the table exists once it recorded one.
    async fn saved_dropped(
        &self,
        client: &tokio_postgres::Client,
        before: &[roles::Membership],
        version: u32,
    ) -> anyhow::Result<()> {
        if roles::save_dropped(client, before, version).await? {
            self.memberships_table.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Run `m` in `direction` and record it (applied / removed). `stays_at` is the version the
    /// database is at if this migration does not complete.
    pub async fn run(
        &self,
        db: &Db,
        m: &Resolved,
        direction: Direction,
        stays_at: u32,
    ) -> anyhow::Result<()> {
        let script = direction.script(m);
        let mode = TxMode::of(script, &db.engine);
        let statements = statements::split(&script.sql);
        let give_up_at = Instant::now() + self.opts.ddl_retry_for;
        let mut backoff = Backoff::default();
        if mode != TxMode::Transaction {
            return self
                .run_stepwise(db, m, direction, &statements, give_up_at, &mut backoff)
                .await;
        }
        let state = format!("nothing of it was applied; the database stays at version {stays_at}");
        loop {
            match self
                .attempt_transaction(db, m, direction, &statements, &state)
                .await?
            {
                None => return Ok(()),
                Some(wait) => {
                    self.wait_before_retry(
                        m,
                        script,
                        &wait,
                        give_up_at,
                        &mut backoff,
                        "rolled back",
                        &state,
                    )
                    .await?
                }
            }
        }
    }

    /// One try of a transactional migration: `Some` when a lock was not granted in time (and
    /// everything was rolled back).
    async fn attempt_transaction(
        &self,
        db: &Db,
        m: &Resolved,
        direction: Direction,
        statements: &[Statement],
        state: &str,
    ) -> anyhow::Result<Option<LockWait>> {
        let client = &db.client;
        let script = direction.script(m);
        let started = Instant::now();
        // One round trip: BEGIN, the limits (SET LOCAL: they end with the transaction, even on
        // a pooled server connection), and the transaction id and backend the script runs in.
        let opened = client
            .simple_query(&format!(
                "BEGIN; {}SELECT txid_current()::text, pg_backend_pid()::text",
                self.limits_sql("SET LOCAL")
            ))
            .await;
        let outcome = async {
            let opened = opened?;
            let (xid, pid) = first_row(&opened)
                .and_then(|row| Some((row.get(0)?, row.get(1)?)))
                .ok_or_else(|| anyhow!("BEGIN returned no transaction id"))?;
            let xid: i64 = xid.parse()?;
            self.pid.store(pid.parse()?, Ordering::SeqCst);
            let members_before = match direction {
                Direction::Down => roles::memberships(client).await?,
                Direction::Up => Vec::new(),
            };
            // The whole script in one round trip: inside the transaction it runs exactly as
            // statement after statement would, and the error still names its statement.
            self.interrupt.check(state)?;
            let batch = Batch::join(statements);
            let (result, blocker) = self.execute(db, &batch.sql).await;
            if let Err((completed, err)) = result {
                if let Some(signal) = self.interrupt.signal() {
                    return Err(interrupted(
                        signal,
                        &format!(
                            "the running statement was cancelled on the server and {} rolled back: {state}",
                            m.label()
                        ),
                    ));
                }
                let (failed, offset) = batch.failed(completed, original_position(&err));
                let Some(statement) = statements.get(failed) else {
                    return Err(anyhow!("{}: {err}; {state}", script.file));
                };
                if is_lock_timeout(&err) {
                    return Ok(Some(lock_wait(statement, blocker)));
                }
                return Err(statement_error(script, statement, &err, offset, state));
            }
            // synchronous_commit is read at COMMIT: set after the reset, which would undo it.
            // The same round trip records an up as applied (as the connecting role, after the
            // reset; only in the transaction arcdb opened) and asks whether the script's
            // transaction is still that one.
            let record = match direction {
                Direction::Up => format!(
                    "{}; ",
                    history::record_statement(
                        m,
                        true,
                        started.elapsed().as_millis() as i64,
                        Some(xid)
                    )
                ),
                Direction::Down => String::new(),
            };
            let reset = client
                .simple_query(&format!(
                    "{}; {record}SELECT txid_current_if_assigned()::text, {}::text",
                    if self.defer_flush.load(Ordering::SeqCst) {
                        RESET_SESSION_DEFER_FLUSH
                    } else {
                        RESET_SESSION
                    },
                    if self.memberships_table.load(Ordering::SeqCst) {
                        "EXISTS (SELECT FROM arcdb.role_memberships)"
                    } else {
                        "false"
                    }
                ))
                .await?;
            let (current, memberships_recorded) = match first_row(&reset) {
                Some(row) => (
                    row.get(0).and_then(|v| v.parse::<i64>().ok()),
                    row.get(1) == Some("true"),
                ),
                None => (None, false),
            };
            if current != Some(xid) {
                return Err(anyhow!(
                    "{}: a statement in it ended the transaction arcdb ran it in, so what ran before that statement may be committed; it is not recorded as applied: compare the schema with the script by hand before running `arcdb up` again",
                    script.file
                ));
            }
            match direction {
                Direction::Up => {
                    // Nothing recorded (the usual case): nothing to grant again.
                    if memberships_recorded {
                        roles::restore(client).await?;
                    }
                }
                Direction::Down => {
                    self.saved_dropped(client, &members_before, m.version)
                        .await?;
                    history::remove(client, m.version).await?
                }
            }
            Ok(None)
        }
        .await;
        match outcome {
            Ok(None) => match client.batch_execute("COMMIT").await {
                Ok(()) => Ok(None),
                Err(err) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(anyhow!(
                        "{}: COMMIT failed: {}; {state}",
                        script.file,
                        crate::db::server_message(&err)
                    ))
                }
            },
            other => {
                // Harmless when the connection broke or the transaction is already gone.
                let _ = client.batch_execute("ROLLBACK").await;
                other
            }
        }
    }

    /// A migration run one statement at a time: recorded incomplete first, complete after the
    /// last statement; a statement whose lock is not granted is retried on its own.
    async fn run_stepwise(
        &self,
        db: &Db,
        m: &Resolved,
        direction: Direction,
        statements: &[Statement],
        give_up_at: Instant,
        backoff: &mut Backoff,
    ) -> anyhow::Result<()> {
        let client = &db.client;
        let script = direction.script(m);
        let started = Instant::now();
        let state = match direction {
            Direction::Up => format!(
                "{} stays recorded as incomplete (the statements before this one were applied); fix the cause and run `arcdb up` again, which re-runs it from its first statement",
                m.label()
            ),
            Direction::Down => format!(
                "{} stays recorded as incomplete (the statements before this one were undone); fix the cause and run the rollback again, or `arcdb up` to re-apply it",
                m.label()
            ),
        };
        history::record(client, m, false, 0).await?;
        let members_before = match (direction, self.postgres) {
            (Direction::Down, true) => roles::memberships(client).await?,
            _ => Vec::new(),
        };
        self.set_limits(db, "SET").await?;
        for statement in statements {
            loop {
                self.interrupt.check(&state)?;
                if self.postgres {
                    if let Some(index) = concurrent_index(statement) {
                        self.drop_invalid_index(db, &index).await?;
                    }
                }
                let (result, blocker) = self.execute(db, &statement.text).await;
                let Err((_, err)) = result else { break };
                if let Some(signal) = self.interrupt.signal() {
                    return Err(interrupted(
                        signal,
                        &format!(
                            "{}, line {}: the running statement was cancelled on the server; {state}",
                            script.file, statement.line
                        ),
                    ));
                }
                if !is_lock_timeout(&err) {
                    return Err(statement_error(script, statement, &err, 0, &state));
                }
                let wait = lock_wait(statement, blocker);
                self.wait_before_retry(
                    m,
                    script,
                    &wait,
                    give_up_at,
                    backoff,
                    "the statements before it stay applied",
                    &state,
                )
                .await?;
            }
        }
        if self.postgres {
            client.batch_execute(RESET_SESSION).await?;
            match direction {
                Direction::Down => {
                    self.saved_dropped(client, &members_before, m.version)
                        .await?
                }
                Direction::Up if self.memberships_table.load(Ordering::SeqCst) => {
                    roles::restore(client).await?
                }
                Direction::Up => {}
            }
        }
        match direction {
            Direction::Up => {
                history::record(client, m, true, started.elapsed().as_millis() as i64).await?
            }
            Direction::Down => history::remove(client, m.version).await?,
        }
        Ok(())
    }

    /// `lock_timeout` and `statement_timeout` for the migration's statements (PostgreSQL; the
    /// reset after each migration puts the connection's defaults back).
    async fn set_limits(&self, db: &Db, set: &str) -> anyhow::Result<()> {
        let sql = self.limits_sql(set);
        if !sql.is_empty() {
            db.client.batch_execute(&sql).await?;
        }
        Ok(())
    }

    /// `{set} lock_timeout = …; {set} statement_timeout = …; ` (empty where the engine has no
    /// such settings).
    fn limits_sql(&self, set: &str) -> String {
        if !self.postgres {
            return String::new();
        }
        format!(
            "{set} lock_timeout = '{}ms'; {set} statement_timeout = '{}ms'; ",
            self.opts.ddl_lock_timeout.as_millis().max(1),
            self.opts.statement_timeout.as_millis()
        )
    }

    /// Run `sql` (one statement, or a [`Batch`]); meanwhile sample what it waits for, and
    /// cancel it on a signal. An error comes with the number of statements completed before it.
    async fn execute(
        &self,
        db: &Db,
        sql: &str,
    ) -> (Result<(), (usize, tokio_postgres::Error)>, Option<String>) {
        let statement = async {
            let messages = db.client.simple_query_raw(sql).await.map_err(|e| (0, e))?;
            tokio::pin!(messages);
            let mut completed = 0;
            while let Some(message) = messages.next().await {
                match message {
                    Ok(SimpleQueryMessage::CommandComplete(_)) => completed += 1,
                    Ok(_) => {}
                    Err(err) => return Err((completed, err)),
                }
            }
            Ok(())
        };
        tokio::pin!(statement);
        let mut blocker = None;
        let mut cancelled = false;
        let mut interrupt = self.interrupt.clone();
        let period = (self.opts.ddl_lock_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_millis(500));
        let mut sample = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                result = &mut statement => return (result, blocker),
                _ = sample.tick(), if self.postgres => {
                    if let Some(found) = self.blockers().await {
                        blocker = Some(found);
                    }
                }
                _ = interrupt.fired(), if !cancelled => {
                    cancelled = true;
                    self.cancel(db).await;
                }
            }
        }
    }

    /// " — it waits for <mode> on <object>, held by pid N (…)" while the statement waits.
    async fn blockers(&self) -> Option<String> {
        let watcher = self.monitor.as_ref()?.ready().await?;
        let pid = &self.pid.load(Ordering::SeqCst);
        let rows = watcher
            .client
            .query_typed(BLOCKERS, &[(pid, tokio_postgres::types::Type::INT4)])
            .await
            .ok()?;
        let first = rows.first()?;
        let wanted: String = first.get("wanted");
        let object: String = first.get("object");
        let holders: Vec<String> = rows
            .iter()
            .map(|r| {
                let pid: i32 = r.get("pid");
                let xact: Option<String> = r.get("xact_start");
                let query_start: Option<String> = r.get("query_start");
                let state: String = r.get("state");
                let query: String = r.get("query");
                let held: Option<String> = r.get("held");
                format!(
                    "pid {pid} ({}{state}, query started {}: `{query}`{})",
                    xact.map(|x| format!("transaction since {x}, "))
                        .unwrap_or_default(),
                    query_start.unwrap_or_else(|| "?".into()),
                    held.map(|h| format!(", holding {h}")).unwrap_or_default()
                )
            })
            .collect();
        Some(format!(
            " — it waits for {wanted} on {object}, held by {}",
            holders.join(" and ")
        ))
    }

    /// Cancel the migrating session's running statement on the server: a cancel request on the
    /// connection's own key (PgBouncer forwards it to the right server connection); if that
    /// cannot be sent (a server that only accepts TLS), `pg_cancel_backend` from the watcher.
    async fn cancel(&self, db: &Db) {
        let direct = db
            .client
            .cancel_token()
            .cancel_query(tokio_postgres::NoTls)
            .await;
        let Err(direct) = direct else { return };
        let watcher = match &self.monitor {
            Some(monitor) => monitor.session().await,
            None => None,
        };
        let fallback = match watcher {
            Some(watcher) => watcher
                .client
                .query_typed_one(
                    "SELECT pg_cancel_backend($1)",
                    &[(
                        &self.pid.load(Ordering::SeqCst),
                        tokio_postgres::types::Type::INT4,
                    )],
                )
                .await
                .map(|_| ()),
            None => Err(direct),
        };
        if let Err(err) = fallback {
            notice(format!(
                "could not cancel the running statement on the server ({}); it ends when the server notices the connection closed",
                crate::db::server_message(&err)
            ));
        }
    }

    /// Say what is waited for, then sleep the next backoff step; an error once `give_up_at`
    /// would be passed (or on a signal).
    #[allow(clippy::too_many_arguments)]
    async fn wait_before_retry(
        &self,
        m: &Resolved,
        script: &Script,
        wait: &LockWait,
        give_up_at: Instant,
        backoff: &mut Backoff,
        undone: &str,
        state: &str,
    ) -> anyhow::Result<()> {
        let delay = backoff.next_delay();
        let where_ = format!("{}, line {} ({})", script.file, wait.line, wait.what);
        let blocker = wait.blocker.as_deref().unwrap_or("");
        let lock_timeout = human(self.opts.ddl_lock_timeout);
        let now = Instant::now();
        if now + delay > give_up_at {
            return Err(anyhow!(
                "{}: gave up after {} attempt(s) over {}: {where_} was not granted its lock within --ddl-lock-timeout {lock_timeout}{blocker}; {state}; run it again when that session has finished, or raise --ddl-retry-for",
                m.label(),
                backoff.attempts,
                human(self.opts.ddl_retry_for)
            ));
        }
        notice(format!(
            "{}: {where_} was not granted its lock within {lock_timeout}{blocker}; {undone}, retrying in {} (giving up in {})",
            m.label(),
            human(delay),
            human(give_up_at.saturating_duration_since(now))
        ));
        let mut interrupt = self.interrupt.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => Ok(()),
            signal = interrupt.fired() => Err(interrupted(signal, state)),
        }
    }

    /// Drop the INVALID index a failed `CREATE INDEX CONCURRENTLY` left, so it is built again.
    async fn drop_invalid_index(&self, db: &Db, index: &ConcurrentIndex) -> anyhow::Result<()> {
        let row = db
            .client
            .query_typed_opt(
                "SELECT format('%I.%I', n.nspname, c.relname)
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE i.indrelid = to_regclass($1) AND c.relname = $2 AND NOT i.indisvalid",
                &[
                    (&index.table, tokio_postgres::types::Type::TEXT),
                    (&unquote(&index.index), tokio_postgres::types::Type::TEXT),
                ],
            )
            .await?;
        let Some(row) = row else { return Ok(()) };
        let name: String = row.get(0);
        notice(format!(
            "{name} is INVALID (a CREATE INDEX CONCURRENTLY failed or was interrupted): dropping it concurrently to build it again"
        ));
        db.client
            .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            .await?;
        Ok(())
    }
}

/// How an identifier as written is stored: quoted as is, unquoted folded to lower case.
/// Make commits made with `synchronous_commit = off` durable: a transaction with an xid commits
/// with the server's setting, which flushes the WAL up to it, and so everything before.
pub async fn flush_commits(db: &Db) -> anyhow::Result<()> {
    db.client
        .batch_execute("BEGIN; SELECT txid_current(); COMMIT")
        .await?;
    Ok(())
}

fn unquote(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => ident.to_lowercase(),
    }
}

fn is_lock_timeout(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

fn lock_wait(statement: &Statement, blocker: Option<String>) -> LockWait {
    LockWait {
        line: statement.line,
        what: first_words(&statement.text),
        blocker,
    }
}

/// "`ALTER TABLE tasks ADD COLUMN …`".
fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(6).collect();
    format!("`{} …`", words.join(" "))
}

/// Doubling delays from 250 ms up to 8 s, with ±20% jitter so that several waiting runs do not
/// retry in step.
#[derive(Default)]
struct Backoff {
    attempts: u32,
}

impl Backoff {
    fn next_delay(&mut self) -> Duration {
        self.attempts += 1;
        let base = 250u64.saturating_mul(1 << self.attempts.min(6).saturating_sub(1));
        let base = base.min(8_000) as f64;
        let jitter = 0.8 + 0.4 * rand::random::<f64>();
        Duration::from_millis((base * jitter) as u64)
    }
}

/// "500ms", "2s", "1.5s", "1m30s".
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = ms as f64 / 1000.0;
        if ms % 1000 == 0 {
            format!("{}s", ms / 1000)
        } else {
            format!("{s:.1}s")
        }
    } else {
        let secs = d.as_secs();
        match secs % 60 {
            0 => format!("{}m", secs / 60),
            rest => format!("{}m{rest}s", secs / 60),
        }
    }
}

/// `500ms`, `2s`, `1.5s`, `2m`, or a bare number of seconds; `0` = none.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a duration: write e.g. 500ms, 2s, 1.5s or 2m"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`: write e.g. 500ms, 2s, 1.5s or 2m"
            ))
        }
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Where in the query sent a server error points, in characters (1-based).
fn original_position(err: &tokio_postgres::Error) -> Option<u32> {
    match err.as_db_error()?.position()? {
        tokio_postgres::error::ErrorPosition::Original(p) => Some(*p),
        _ => None,
    }
}

/// "migrations/0007_x/up.sql, line 3 (`ALTER TABLE …`): <message> (SQLSTATE …); <state>".
/// `offset`: the characters sent before `statement` in the same query (a [`Batch`]).
fn statement_error(
    script: &Script,
    statement: &Statement,
    err: &tokio_postgres::Error,
    offset: usize,
    state: &str,
) -> anyhow::Error {
    let mut at = format!("line {}", statement.line);
    let what = first_words(&statement.text);
    let Some(dberr) = err.as_db_error() else {
        return anyhow!("{}, {at} ({what}) failed: {err}; {state}", script.file);
    };
    if let Some(p) = original_position(err) {
        let p = (p as usize).saturating_sub(offset);
        let (line, mut column) = super::line_column(&statement.text, p);
        if line == 1 {
            // The statement may start mid-line: count the characters before it on its line.
            let first = statement.text.lines().next().unwrap_or("");
            column += script
                .sql
                .lines()
                .nth(statement.line - 1)
                .and_then(|l| l.find(first).map(|i| l[..i].chars().count()))
                .unwrap_or(0);
        }
        at = format!("line {}, column {column}", statement.line + line - 1);
    }
    let context = dberr
        .where_()
        .map(|w| format!(" (in {})", w.lines().next().unwrap_or(w)))
        .unwrap_or_default();
    anyhow!(
        "{}, {at} ({what}): {} (SQLSTATE {}){context}; {state}",
        script.file,
        dberr.message(),
        dberr.code().code()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("2h").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("soon").is_err());
        assert_eq!(human(Duration::from_millis(500)), "500ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(60)), "1m");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        let mut b = Backoff::default();
        let delays: Vec<u128> = (0..9).map(|_| b.next_delay().as_millis()).collect();
        assert!((200..=300).contains(&delays[0]), "{delays:?}");
        assert!((400..=600).contains(&delays[1]), "{delays:?}");
        assert!(delays[8] <= 9_600 && delays[8] >= 6_400, "{delays:?}");
        assert_eq!(b.attempts, 9);
    }

    #[test]
    fn identifiers_fold_like_postgres() {
        assert_eq!(unquote("Tasks_X"), "tasks_x");
        assert_eq!(unquote("\"Ix\"\"y\""), "Ix\"y");
    }
}
