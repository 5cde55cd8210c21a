//! Command-line definitions only: no logic lives here.

use crate::output::Format;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Which database: --dsn, else DATABASE_URL, else the profile named by --profile/ARCDB_PROFILE
(or `default_profile`) in arcdb.toml, else a local PostgreSQL that arcdb manages itself
(see `arcdb local --help`).

Exit codes: 0 ok · 1 failure · 2 bad input (nothing touched) · 3 migrations pending (status)
· 4 drift: an applied migration differs or is unknown · 5 findings (verify-rls, lint, refresh)
· 6 verify-rls inconclusive (not everything could be verified).

Examples:
  arcdb up                                   # local database, whole schema
  arcdb --dsn postgresql://app@db:5432/arcdesk?sslmode=verify-full status --format json
  arcdb --profile staging rollback --to 3 --dry-run
  arcdb verify-rls --format junit > rls.xml";

/// arcdb — migrations, tenant-isolation proofs and analytics views for the ArcDesk database.
///
/// arcdb embeds ArcDesk's versioned SQL migrations (extensions, schema, triggers, row-level
/// security, materialized views) and applies them to any PostgreSQL 14–18 (the supported
/// majors, tested) or CockroachDB database, or to a local PostgreSQL it manages when no database
/// is named.
#[derive(Debug, Parser)]
#[command(name = "arcdb", version, after_long_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The heading of the options every subcommand accepts, listed after its own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Connection string, URL (postgresql://user@host:5432/db?sslmode=require) or key=value
    /// (host=db user=app dbname=arcdesk). Takes precedence over DATABASE_URL and profiles.
    /// Prefer DATABASE_URL or a profile for passwords: command lines are visible to other users.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "DSN")]
    pub dsn: Option<String>,

    /// Profile of the configuration file to use (see config.example.toml).
    #[arg(long, global = true, help_heading = GLOBAL, env = "ARCDB_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Configuration file with connection profiles [default: arcdb.toml in the current
    /// directory or the nearest parent, else $XDG_CONFIG_HOME/arcdb/arcdb.toml
    /// (~/.config/arcdb/arcdb.toml)].
    #[arg(long, global = true, help_heading = GLOBAL, env = "ARCDB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Seconds to wait for a connection (TCP, TLS and authentication together); 0 waits
    /// without limit, like libpq's connect_timeout=0. Default: the connection string's
    /// connect_timeout, else the profile's, else 10.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "SECS")]
    pub connect_timeout: Option<u64>,

    /// Output format of the report on stdout.
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Directory with the PostgreSQL server binaries (initdb, pg_ctl) for the local default
    /// database; found automatically when omitted.
    #[arg(long, global = true, help_heading = GLOBAL, env = "ARCDB_PG_BIN", value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,

    /// Print nothing on stderr but errors (no notices, no progress).
    #[arg(long, short = 'q', global = true, help_heading = GLOBAL, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also say what is routine (e.g. which local server a command uses).
    #[arg(long, short = 'v', global = true, help_heading = GLOBAL)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, oldest first, each in its own transaction.
    ///
    /// Concurrent runs against one database are serialized by a lock: each version is applied
    /// exactly once and the other runs wait, then find nothing to do. Refuses (exit 4) when an
    /// applied migration's checksum differs from the embedded one or an applied version is
    /// unknown to this binary.
    #[command(
        after_help = "Examples:\n  arcdb up                          # the local database\n  DATABASE_URL=postgresql://migrator@db/arcdesk arcdb up\n  arcdb up --to 3 --dry-run          # what would run, change nothing\n  arcdb up --source ./migrations     # a migration under development"
    )]
    Up(UpArgs),

    /// List every migration with its state (applied, pending, drifted or unknown) and compare
    /// the live schema with what the recorded version must contain.
    ///
    /// Exit code: 0 up to date, 3 migrations pending, 4 drift (a changed or unknown migration,
    /// or a live schema that differs: each difference is listed).
    #[command(
        after_help = "Examples:\n  arcdb status\n  arcdb status --no-live\n  arcdb --profile staging status --format json"
    )]
    Status(StatusArgs),

    /// Undo migrations newest first down to a version (0 removes the whole schema).
    ///
    /// Each down script runs in one transaction together with the removal of its history
    /// record. Dropping tables destroys data: arcdb asks on a terminal and requires --yes
    /// otherwise.
    #[command(
        after_help = "Examples:\n  arcdb rollback --to 4 --dry-run    # what would be undone\n  arcdb rollback --to 4              # asks on a terminal\n  arcdb rollback --to 0 --yes        # in a script: the whole schema"
    )]
    Rollback(RollbackArgs),

    /// Create the next migration directory (NNNN_name/ with up.sql and down.sql templates) in
    /// --source or ./migrations.
    New(NewArgs),

    /// Load the sample organizations (idempotent), or generate volume with --scale.
    #[command(
        after_help = "Examples:\n  arcdb seed                         # the sample organizations\n  arcdb seed --scale --orgs 1000 --tasks 1000000 --seed 7"
    )]
    Seed(SeedArgs),

    /// Prove that no tenant can read or write another tenant's rows (exit 5 on any finding).
    #[command(name = "verify-rls")]
    #[command(
        after_help = "Examples:\n  arcdb verify-rls\n  arcdb verify-rls --format junit > rls.xml   # for CI test reporters\n  arcdb verify-rls --static-only              # the catalog audit only"
    )]
    VerifyRls(VerifyRlsArgs),

    /// Refresh the analytics materialized views, concurrently where possible.
    ///
    /// Each view is refreshed in its own transaction: CONCURRENTLY (readers never wait) when it
    /// is populated and has a usable unique index, plainly otherwise, saying why. In the same
    /// transaction its tenant tables (comment tag arcdb:refreshed-from) are brought up to date
    /// by applying the difference (readers of them never wait either). Every attempt is
    /// recorded in arcdb.refresh_log. Exit code: 0 all refreshed, 5 some view failed (the
    /// others are still refreshed), 2 bad view name or timeout (nothing refreshed).
    #[command(
        after_help = "Examples:\n  arcdb refresh --dry-run\n  arcdb refresh org_cost_summary_mv --lock-timeout 5 --statement-timeout 600"
    )]
    Refresh(RefreshArgs),

    /// List the managed materialized views with size, rows and last refresh.
    ///
    /// Managed views are the materialized views in schema public. For each: rows (counted when
    /// small, else estimated), size, whether it is populated and can be refreshed concurrently,
    /// the latest refresh recorded in arcdb.refresh_log and its age, and the tenant tables (or
    /// views) that tenants read it through.
    #[command(after_help = "Examples:\n  arcdb views\n  arcdb views --format json")]
    Views,

    /// Report statements a target engine does not support, with file and line.
    #[command(
        after_help = "Examples:\n  arcdb lint --engine cockroachdb\n  arcdb lint --engine postgres --source ./migrations --format junit > lint.xml"
    )]
    Lint(LintArgs),

    /// Take over the ArcDesk database deployed by Alembic revision 001_multi_tenant.
    ///
    /// Recognizes it by its catalog, lists every difference (columns and indexes added by hand
    /// are kept), checks every row, then converts it to arcdb's latest schema in one
    /// transaction keeping every row. Exit code: 0 adopted (or, with --dry-run, adoptable),
    /// 2 refused: a difference adopt cannot carry over, or rows to fix first (nothing changed),
    /// 5 (--dry-run) rows to fix first. Run it on a copy first (README).
    ///
    /// `--from refinery` instead takes over a database refinery migrated from the files of
    /// `arcdb export --layout refinery`: checks refinery_schema_history's checksums and the live
    /// schema, then records arcdb's history (exit 4 and nothing changed when they differ).
    Adopt(AdoptArgs),

    /// Manage the local PostgreSQL that arcdb uses when no database is named.
    #[command(
        after_help = "Environment:\n  ARCDB_LOCAL_DIR   directory of the local cluster (default /var/lib/arcdb/local as root,\n                    else $XDG_DATA_HOME/arcdb/local or ~/.local/share/arcdb/local)\n  ARCDB_LOCAL_PORT  port of its unix socket (default 54329)\n  ARCDB_PG_BIN      PostgreSQL server binaries (same as --pg-bin)\n\nExamples:\n  arcdb local start\n  psql \"$(arcdb local dsn)\"\n  arcdb local psql --tenant acme     # a session as tenant acme sees the data\n  arcdb local destroy --yes"
    )]
    Local(LocalArgs),

    /// Record the history of a database whose schema is version N's but that has no arcdb
    /// history (restored from a dump, built by hand or by another runner).
    ///
    /// The live schema is compared with what migrations 1..N build (in a scratch database on
    /// the same server); the history is recorded only when they match. Otherwise every
    /// difference is listed (exit 4) and nothing is touched.
    Baseline(BaselineArgs),

    /// After an applied migration's file changed: re-record its checksum if the live schema
    /// still matches what the current files build, else list what differs (exit 4).
    Repair(RepairArgs),

    /// Write the migration set in another tool's layout (refinery: V{n}__{name}.sql).
    Export(ExportArgs),

    /// Write the man pages (arcdb.1 and one per subcommand) into a directory.
    #[command(after_help = "Example:\n  arcdb man /usr/local/share/man/man1 && man arcdb-up")]
    Man {
        /// Directory to write the pages into (created if missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },

    /// Print a shell completion script.
    #[command(
        after_help = "Examples (install):\n  bash: arcdb completions bash > ~/.local/share/bash-completion/completions/arcdb\n  zsh:  arcdb completions zsh > ~/.zfunc/_arcdb   (fpath+=~/.zfunc; autoload -U compinit; compinit)\n  fish: arcdb completions fish > ~/.config/fish/completions/arcdb.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where the migrations come from.
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// Read migrations from this directory instead of the ones embedded in the binary
    /// (layout: NNNN_name/up.sql + down.sql). For developing new migrations.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stop after this version instead of applying everything.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u32>,

    /// Show what would be applied, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds to wait for another arcdb run holding the migration lock (not the locks the
    /// migration's statements take: see --ddl-lock-timeout).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub lock_timeout: u64,

    /// Apply even when the live schema differs from what the recorded version must contain
    /// (`arcdb status` lists the differences).
    #[arg(long)]
    pub allow_drift: bool,

    /// Refuse to apply migrations with error-level safety findings (locks that block a busy
    /// table) on tables that exist now; without it they are printed on stderr.
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

/// How migration statements behave on a database with traffic (`up` and `rollback`).
#[derive(Debug, Args, Clone)]
pub struct LiveArgs {
    /// Longest any migration statement waits for a table lock (PostgreSQL lock_timeout).
    /// While DDL waits, the application's queries on that table queue behind it, so keep this
    /// short: a migration whose lock is not granted is rolled back and retried (--ddl-retry-for).
    /// E.g. 500ms, 2s.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::migrate::parse_duration)]
    pub ddl_lock_timeout: std::time::Duration,

    /// How long to keep retrying, with backoff, a migration whose locks are not granted, saying
    /// what it waits for; then exit 1 with the migration not applied.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::migrate::parse_duration)]
    pub ddl_retry_for: std::time::Duration,

    /// Longest any migration statement may run (PostgreSQL statement_timeout; 0 = no limit).
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = crate::migrate::parse_duration)]
    pub statement_timeout: std::time::Duration,

    /// The migration lock: advisory (PostgreSQL's default) or lease (CockroachDB's default; use
    /// it behind PgBouncer in transaction mode, where a session advisory lock cannot be held).
    #[arg(
        long,
        value_enum,
        env = "ARCDB_LOCK",
        value_name = "KIND",
        ignore_case = true
    )]
    pub lock: Option<crate::lock::MigrationLock>,
}

impl From<&LiveArgs> for crate::migrate::LiveOptions {
    fn from(args: &LiveArgs) -> Self {
        crate::migrate::LiveOptions {
            ddl_lock_timeout: args.ddl_lock_timeout,
            ddl_retry_for: args.ddl_retry_for,
            statement_timeout: args.statement_timeout,
        }
    }
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The migration's name: lower-case letters, digits, underscores (e.g. add_task_labels).
    pub name: String,

    /// Directory to create it in (default: ./migrations).
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Version to return to: migrations newer than it are undone (0 = nothing left).
    #[arg(long, value_name = "VERSION")]
    pub to: u32,

    /// Show what would be undone, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Seconds to wait for another arcdb run holding the migration lock (not the locks the
    /// migration's statements take: see --ddl-lock-timeout).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Generate volume through COPY instead of loading the sample data. One transaction: a
    /// failed or interrupted load leaves nothing. Refused when the database already holds scale
    /// data, unless --append. Runs as the tables' owner (it bypasses row-level security).
    #[arg(long)]
    pub scale: bool,

    /// Organizations to generate (--scale).
    #[arg(long, value_name = "N", default_value_t = 100, requires = "scale")]
    pub orgs: u32,

    /// Tasks in total, spread over the organizations by --skew (--scale). Every other table is
    /// proportional: users, desks (a hierarchy), sessions and messages, QA reviews, delegations,
    /// costs, audit logs, API keys, knowledge bases and data sources.
    #[arg(long, value_name = "M", default_value_t = 100_000, requires = "scale")]
    pub tasks: u64,

    /// Random seed: the same seed and run generate the same rows (--scale).
    #[arg(long, value_name = "S", default_value_t = 1, requires = "scale")]
    pub seed: u64,

    /// How concentrated the tasks are: organization k gets a share proportional to 1/k^SKEW.
    /// 0 = all the same size; 1 = a few large tenants and many small ones (with 100
    /// organizations the largest holds ~19% of the tasks) (--scale).
    #[arg(long, value_name = "SKEW", default_value_t = 1.0, requires = "scale")]
    pub skew: f64,

    /// Load another run of organizations (new ids and slugs) into a database that already holds
    /// scale data, instead of refusing (--scale).
    #[arg(long, requires = "scale")]
    pub append: bool,

    /// COPY format: binary (default, less parsing on the server) or text (--scale).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = crate::seed::CopyFormat::Binary, requires = "scale")]
    pub copy_format: crate::seed::CopyFormat,

    /// Keep the indexes and foreign keys of the loaded tables during COPY (per-row index
    /// maintenance and checks, like a plain COPY) instead of dropping them and building and
    /// validating them again after it, in the same transaction. Tables that already hold more
    /// than twice the rows being added always keep them (--scale).
    #[arg(long, requires = "scale")]
    pub keep_indexes: bool,
}

#[derive(Debug, Args)]
pub struct VerifyRlsArgs {
    /// The role tenant sessions run as: the probes switch to it with SET LOCAL ROLE, so the
    /// connecting user must be a member (GRANT arcdesk_tenant TO <user>).
    /// Default: [verify_rls] tenant_role in arcdb.toml, else arcdesk_tenant.
    #[arg(long, value_name = "ROLE")]
    pub tenant_role: Option<String>,

    /// The session setting that carries the tenant's organization id.
    /// Default: [verify_rls] setting, else app.current_org_id.
    #[arg(long, value_name = "NAME")]
    pub setting: Option<String>,

    /// A schema holding tenant tables (repeatable; default: [verify_rls] schemas, else public).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,

    /// Probe at most this many organizations; beyond that a deterministic sample, and the
    /// report says so.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_orgs: u32,

    /// Run the declarative cases of this directory (*.toml, see rls-tests/README.md) instead
    /// of the ones built into arcdb.
    #[arg(long = "cases", value_name = "DIR")]
    pub cases: Option<PathBuf>,

    /// Only the catalog audit: no live probes, no cases (needs no tenant role membership).
    /// Never a pass: without findings the run is inconclusive (exit 6).
    #[arg(long)]
    pub static_only: bool,

    /// The tenant key column of tenant tables (default: [verify_rls] tenant_column, else
    /// organization_id).
    #[arg(long, value_name = "COLUMN")]
    pub tenant_column: Option<String>,

    /// The tenant root table, optionally schema-qualified (schema.table); its key is what the
    /// tenant column holds (default: [verify_rls] root_table, else organizations).
    #[arg(long, value_name = "TABLE")]
    pub root_table: Option<String>,

    /// The key column of the root table (default: [verify_rls] root_key, else id).
    #[arg(long, value_name = "COLUMN")]
    pub root_key: Option<String>,

    /// Findings of this severity or above fail the run (exit 5); below it they are reported.
    #[arg(long, value_name = "SEVERITY", default_value = "error")]
    pub fail_on: FailOn,

    /// The tenancy model: column (the setting carries the tenant id), membership (it carries a
    /// user id, --membership maps users to tenants) or supabase (auth.uid() from
    /// request.jwt.claims, roles authenticated and anon). Default: [verify_rls] model, else
    /// column (membership when --membership is given).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// The membership table of the membership and supabase models, as 'TABLE(user_col,
    /// tenant_col)', e.g. 'organization_members(user_id, organization_id)'.
    /// Default: [verify_rls] membership.
    #[arg(long, value_name = "TABLE(USER_COL, TENANT_COL)")]
    pub membership: Option<String>,
}

/// `verify-rls --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Views to refresh (default: every materialized view in schema public, dependencies first).
    #[arg(value_name = "VIEW")]
    pub views: Vec<String>,

    /// Show which views would be refreshed and how (concurrently or plainly, and why), with every
    /// statement it would run (the REFRESH and the tenant tables' DELETE and upsert); change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds each refresh may wait for a lock before it is cancelled (0 = no limit). A plain
    /// refresh waiting for its lock blocks new readers meanwhile, so keep this short.
    #[arg(
        long,
        value_name = "SECS",
        default_value = "30",
        allow_negative_numbers = true
    )]
    pub lock_timeout: String,

    /// Seconds each refresh may run before it is cancelled (0 = no limit).
    #[arg(
        long,
        value_name = "SECS",
        default_value = "0",
        allow_negative_numbers = true
    )]
    pub statement_timeout: String,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool that manages the database now: Alembic (ArcDesk's 001_multi_tenant) or
    /// refinery.
    #[arg(long, value_enum, default_value_t = AdoptFrom::Alembic)]
    pub from: AdoptFrom,

    /// With --from refinery: refinery's history table, if the application renamed it.
    #[arg(long, value_name = "TABLE", default_value = crate::refinery_adopt::DEFAULT_TABLE)]
    pub refinery_table: String,

    /// Show the differences, the rows to fix (with queries and fixes) and the plan (SQL, locks,
    /// estimates); change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds to wait for each lock: the migration lock, then the deployed tables (the
    /// application's sessions hold them); on timeout nothing is changed and the holders named.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Engine whose documentation the statements are checked against.
    #[arg(long, value_enum)]
    pub engine: LintEngine,

    /// Engine version to check for, e.g. 25.3 or 14 (default: PostgreSQL 14, the oldest
    /// of the supported 14–18, so a migration that lints clean runs on every major; CockroachDB 26.2).
    #[arg(long, value_name = "X.Y")]
    pub engine_version: Option<String>,

    /// PostgreSQL safety rules on every migration, also those released before the safety lint
    /// (by default only migrations after 0006 are checked for locking hazards).
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LintEngine {
    Postgres,
    Cockroachdb,
    /// PostgreSQL with every tenant table distributed by organization (Citus 13.2; see
    /// docs/citus.md); --engine-version is the Citus version.
    Citus,
}

impl From<LintEngine> for crate::lint::Target {
    fn from(engine: LintEngine) -> Self {
        match engine {
            LintEngine::Postgres => crate::lint::Target::Postgres,
            LintEngine::Cockroachdb => crate::lint::Target::Cockroachdb,
            LintEngine::Citus => crate::lint::Target::Citus,
        }
    }
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub action: LocalCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum LocalCommand {
    /// Create the local cluster on first use and start it.
    Start,
    /// Stop the local cluster.
    Stop,
    /// Show where the local cluster lives and whether it runs.
    Status,
    /// Print the local database's connection string (with --tenant: a tenant session's).
    Dsn {
        /// A session as this organization (id or slug): the login role arcdesk_dev_tenant, a
        /// member of arcdesk_tenant (created on first use, never a superuser), with
        /// app.current_org_id set, so it sees what that tenant sees.
        #[arg(long, value_name = "ORG")]
        tenant: Option<String>,
    },
    /// Open psql on the local database (with --tenant: as that tenant, see `local dsn`).
    Psql {
        /// A session as this organization (id or slug), as for `local dsn --tenant`.
        #[arg(long, value_name = "ORG")]
        tenant: Option<String>,
        /// Arguments passed on to psql (after --), e.g. -- -c 'SELECT count(*) FROM tasks'.
        #[arg(last = true, value_name = "PSQL_ARGS")]
        args: Vec<String>,
    },
    /// Stop the local cluster and delete what arcdb created: its data directory, log and socket.
    ///
    /// Only a cluster arcdb created is removed (it leaves a .arcdb-cluster marker; clusters of
    /// earlier versions are recognised by arcdb's pg_hba.conf); anything else in the directory
    /// is kept. Asks on a terminal; --yes is required otherwise.
    Destroy {
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

impl From<LocalCommand> for crate::local::LocalAction {
    fn from(command: LocalCommand) -> Self {
        use crate::local::LocalAction;
        match command {
            LocalCommand::Start => LocalAction::Start,
            LocalCommand::Stop => LocalAction::Stop,
            LocalCommand::Status => LocalAction::Status,
            LocalCommand::Dsn { .. } | LocalCommand::Psql { .. } => LocalAction::Dsn,
            LocalCommand::Destroy { .. } => LocalAction::Destroy,
        }
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Check the history only; do not compare the live schema (which needs a scratch database
    /// the first time for each version, then reads a cached copy).
    #[arg(long)]
    pub no_live: bool,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The version the database's schema is at.
    #[arg(long, value_name = "VERSION")]
    pub to: u32,

    /// Compare and show what would be recorded; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds to wait for another arcdb run holding the migration lock.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// Compare and show which checksums would be re-recorded; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Seconds to wait for another arcdb run holding the migration lock.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The layout to write.
    #[arg(long, value_enum)]
    pub layout: ExportLayout,

    /// Directory to write into: created if missing; refused when it holds other files.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub source: SourceArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportLayout {
    /// V{n}__{name}.sql files (up scripts) for refinery::embed_migrations! or refinery_cli.
    Refinery,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AdoptFrom {
    /// The database ArcDesk's Alembic revision 001_multi_tenant deployed.
    Alembic,
    /// A database migrated by refinery from `arcdb export --layout refinery` files.
    Refinery,
}
