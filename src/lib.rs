//! arcdb: the ArcDesk database tool. `run` is the whole path of every subcommand:
//! CLI → config → connection → capability → report → renderer.

pub mod adopt;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod embedded;
pub mod engine;
pub mod error;
pub mod lint;
pub mod local;
pub mod lock;
pub mod manpages;
pub mod migrate;
pub mod output;
pub mod progress;
pub mod rls;
pub mod seed;
pub mod views;
// The live schema as the truth (issue 18): drift, baseline, repair, refinery.
pub mod baseline;
pub mod drift;
pub mod refinery_adopt;
pub mod refinery_files;
pub mod repair;

use cli::{Cli, Command, GlobalArgs};
use config::Target;
use db::{Db, Dsn};
use error::{ExitStatus, Refusal};
use output::{emit, notice};
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

/// The role the command connected as, for permission errors (set once connected).
static CONNECTED_ROLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Run one parsed command line; the returned status is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    run_command(cli).await.map_err(|err| {
        let Some(role) = CONNECTED_ROLE.get() else {
            return err;
        };
        let text = error::one_line(&err);
        match error::permission_hint(&text, role) {
            // Permission failures are runtime failures (exit 1): the hint replaces nothing.
            Some(hint) if error::exit_status_of(&err) == ExitStatus::Failure => {
                anyhow::anyhow!("{text}; {hint}")
            }
            _ => err,
        }
    })
}

async fn run_command(cli: Cli) -> anyhow::Result<ExitStatus> {
    let format = cli.global.format;
    output::set_verbosity(if cli.global.quiet {
        output::Verbosity::Quiet
    } else if cli.global.verbose {
        output::Verbosity::Verbose
    } else {
        output::Verbosity::Normal
    });
    // JUnit exists only for reports made of test cases: refuse before doing anything.
    if format == output::Format::Junit
        && !matches!(cli.command, Command::VerifyRls(_) | Command::Lint(_))
    {
        return Err(Refusal::usage(
            "--format junit is only for verify-rls and lint (reports made of test cases); use table or json here",
        )
        .into());
    }
    match cli.command {
        Command::Man { dir } => emit(&manpages::write_man_pages(&dir)?, format),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "arcdb", &mut std::io::stdout());
            Ok(ExitStatus::Ok)
        }
        Command::Local(cli::LocalArgs {
            action: cli::LocalCommand::Psql { tenant, args },
        }) => {
            let server = local::LocalServer::from_env(cli.global.pg_bin.as_deref())?;
            server.ensure_running()?;
            let dsn = match tenant {
                Some(org) => server.tenant_dsn(&org)?,
                None => server.dsn(),
            };
            match server.exec_psql(&dsn, &args)? {}
        }
        Command::Local(cli::LocalArgs {
            action: cli::LocalCommand::Dsn { tenant: Some(org) },
        }) => {
            let server = local::LocalServer::from_env(cli.global.pg_bin.as_deref())?;
            server.ensure_running()?;
            let dsn = server.tenant_dsn(&org)?;
            let mut report = server.report(local::LocalAction::Dsn, format!("tenant {org}"));
            report.dsn = dsn;
            emit(&report, format)
        }
        Command::Local(args) => {
            let yes = matches!(args.action, cli::LocalCommand::Destroy { yes: true });
            let report =
                local::run_local(args.action.into(), cli.global.pg_bin.as_deref(), |plan| {
                    confirm_destroy(plan, yes)
                })?;
            emit(&report, format)
        }
        Command::Status(args) => {
            let (db, config, set) = connect_reading(&cli.global, &args.source.source).await?;
            let report = drift::status(&db, set, args.no_live).await?;
            emit(&config::WithConfig { report, config }, format)
        }
        Command::Up(args) => {
            let (mut db, _, set) = connect_reading(&cli.global, &args.source.source).await?;
            let opts = migrate::UpOptions {
                to: args.to,
                dry_run: args.dry_run,
                lock_wait: Duration::from_secs(args.lock_timeout),
                set,
                live: (&args.live).into(),
                lock: args.live.lock,
                strict: args.strict,
                before_apply: (!args.allow_drift).then_some(drift::refuse_drift as _),
            };
            emit(&migrate::up(&mut db, opts).await?, format)
        }
        Command::Rollback(args) => {
            let mut db = connect(&cli.global).await?;
            let yes = args.yes;
            let opts = migrate::RollbackOptions {
                to: args.to,
                dry_run: args.dry_run,
                lock_wait: Duration::from_secs(args.lock_timeout),
                source: args.source.source,
                live: (&args.live).into(),
                lock: args.live.lock,
            };
            let report =
                migrate::rollback(&mut db, opts, |plan| confirm_rollback(plan, yes)).await?;
            emit(&report, format)
        }
        Command::New(args) => emit(
            &migrate::new::new_migration(&args.name, args.source.as_deref())?,
            format,
        ),
        Command::Refresh(args) => {
            // Bad timeouts are refused before connecting: nothing is touched.
            let opts = views::RefreshOptions {
                lock_timeout: views::Timeout::parse("--lock-timeout", &args.lock_timeout)?,
                statement_timeout: views::Timeout::parse(
                    "--statement-timeout",
                    &args.statement_timeout,
                )?,
                views: args.views,
                dry_run: args.dry_run,
                progress: std::io::stderr().is_terminal(),
            };
            let mut db = connect(&cli.global).await?;
            emit(&views::refresh(&mut db, opts).await?, format)
        }
        Command::Views => {
            let db = connect(&cli.global).await?;
            emit(&views::views(&db).await?, format)
        }
        Command::Seed(args) => {
            let mut db = connect(&cli.global).await?;
            if args.scale {
                let opts = seed::ScaleOptions {
                    orgs: args.orgs,
                    tasks: args.tasks,
                    seed: args.seed,
                    skew: args.skew,
                    append: args.append,
                    copy_format: args.copy_format,
                    keep_indexes: args.keep_indexes,
                };
                emit(&seed::scale(&mut db, opts).await?, format)
            } else {
                emit(&seed::sample(&mut db).await?, format)
            }
        }
        Command::Lint(args) => {
            let opts = lint::LintOptions {
                engine: args.engine.into(),
                version: args.engine_version,
                source: args.source.source,
                all: args.all,
            };
            emit(&lint::lint(opts)?, format)
        }
        Command::Adopt(args) if matches!(args.from, cli::AdoptFrom::Refinery) => {
            let mut db = connect(&cli.global).await?;
            let opts = refinery_adopt::RefineryAdoptOptions {
                table: args.refinery_table,
                dry_run: args.dry_run,
                lock_wait: Duration::from_secs(args.lock_timeout),
                source: args.source.source,
            };
            emit(&refinery_adopt::adopt(&mut db, opts).await?, format)
        }
        Command::Adopt(args) => {
            let mut db = connect(&cli.global).await?;
            let opts = adopt::AdoptOptions {
                dry_run: args.dry_run,
                lock_timeout: Duration::from_secs(args.lock_timeout),
                source: args.source.source,
            };
            emit(&adopt::adopt(&mut db, opts).await?, format)
        }
        Command::VerifyRls(args) => {
            let defaults = rls::VerifyOptions::default();
            // Flags, then [verify_rls] of arcdb.toml, then ArcDesk's names.
            let file = config::verify_rls(&cli.global)?;
            let tenancy = rls::Tenancy::parse(
                args.model.as_deref().or(file.model.as_deref()),
                args.membership.as_deref().or(file.membership.as_deref()),
            )?;
            let mut schemas = if !args.schemas.is_empty() {
                args.schemas
            } else {
                file.schemas.unwrap_or(defaults.schemas.clone())
            };
            let root = args
                .root_table
                .or(file.root_table)
                .unwrap_or(defaults.root_table.clone());
            // `--root-table schema.table`: that schema holds tenant rows too.
            let root_table = match root.split_once('.') {
                Some((schema, table)) => {
                    if !schemas.iter().any(|s| s == schema) {
                        schemas.push(schema.to_string());
                    }
                    table.to_string()
                }
                None => root,
            };
            let opts = rls::VerifyOptions {
                tenant_role: args
                    .tenant_role
                    .or(file.tenant_role)
                    .or(tenancy.default_tenant_role().map(str::to_string))
                    .unwrap_or(defaults.tenant_role),
                setting: args
                    .setting
                    .or(file.setting)
                    .or(tenancy.default_setting().map(str::to_string))
                    .unwrap_or(defaults.setting),
                schemas,
                tenant_column: args
                    .tenant_column
                    .or(file.tenant_column)
                    .unwrap_or(defaults.tenant_column),
                root_table,
                root_key: args.root_key.or(file.root_key).unwrap_or(defaults.root_key),
                max_orgs: args.max_orgs as usize,
                cases_dir: args.cases,
                static_only: args.static_only,
                fail_on: match args.fail_on {
                    cli::FailOn::Error => rls::Severity::Error,
                    cli::FailOn::Warning => rls::Severity::Warning,
                    cli::FailOn::Info => rls::Severity::Info,
                },
                tenancy,
            };
            let db = connect(&cli.global).await?;
            // Its notes go to stderr through `Report::notes` (JSON keeps them in `notes`).
            emit(&rls::verify(&db, &opts).await?, format)
        }
        Command::Baseline(args) => {
            let mut db = connect(&cli.global).await?;
            let opts = baseline::BaselineOptions {
                to: args.to,
                dry_run: args.dry_run,
                lock_wait: Duration::from_secs(args.lock_timeout),
                source: args.source.source,
            };
            emit(&baseline::baseline(&mut db, opts).await?, format)
        }
        Command::Repair(args) => {
            let mut db = connect(&cli.global).await?;
            let yes = args.yes;
            let opts = repair::RepairOptions {
                dry_run: args.dry_run,
                lock_wait: Duration::from_secs(args.lock_timeout),
                source: args.source.source,
            };
            let report = repair::repair(&mut db, opts, |d| confirm_repair(d, yes)).await?;
            emit(&report, format)
        }
        Command::Export(args) => match args.layout {
            cli::ExportLayout::Refinery => emit(
                &refinery_files::export(args.source.source.as_deref(), &args.dir)?,
                format,
            ),
        },
    }
}

/// Ask before re-recording checksums: on a terminal, a typed "yes"; elsewhere `--yes`.
fn confirm_repair(drifted: &[repair::Rechecksum], yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Refusal::usage(
            "repair re-records applied migrations' checksums: pass --yes to confirm when not on a terminal (or --dry-run to see which); nothing was changed",
        )
        .into());
    }
    let names: Vec<String> = drifted
        .iter()
        .map(|d| format!("{:04}_{}", d.version, d.name))
        .collect();
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "The live schema matches the current files. About to record the current checksums of: {}",
        names.join(", ")
    )?;
    write!(err, "Type 'yes' to continue: ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Resolve the target (starting the local server when no database is named) and connect.
async fn connect(global: &GlobalArgs) -> anyhow::Result<Db> {
    Ok(connect_reporting(global).await?.0)
}

/// [`connect_reporting`], with the migration set of `--source` (or the embedded one) being
/// read on other threads from before the connection is set up (see [`ReadingSet`]). Only the
/// up scripts are read: `up` and `status`, its callers, never run a down script. A failed
/// connection is reported first, as when the set was read after it.
///
/// [`ReadingSet`]: migrate::catalog::ReadingSet
async fn connect_reading(
    global: &GlobalArgs,
    source: &Option<std::path::PathBuf>,
) -> anyhow::Result<(Db, config::ConfigUsed, migrate::catalog::ReadingSet)> {
    let set = migrate::catalog::ReadingSet::start(source.clone());
    let (db, used) = connect_reporting(global).await?;
    Ok((db, used, set))
}

/// [`connect`], also saying which configuration file and profile were used.
async fn connect_reporting(global: &GlobalArgs) -> anyhow::Result<(Db, config::ConfigUsed)> {
    let (target, used) = config::resolve(global)?;
    let db: Db = match target {
        Target::Remote {
            dsn,
            connect_timeout,
            ..
        } => db::connect(&dsn, connect_timeout).await,
        Target::Local { connect_timeout } => {
            let server = local::LocalServer::from_env(global.pg_bin.as_deref())?;
            let ensured = server.ensure_running()?;
            let what = match ensured {
                local::Ensured::AlreadyRunning => "using",
                local::Ensured::Started => "started",
                local::Ensured::Initialized => "created and started",
            };
            let message = format!(
                "no database named (--dsn, DATABASE_URL or a profile): {what} the local PostgreSQL in {}",
                server.root().display()
            );
            // Said once, when arcdb created the server; routine afterwards (--verbose).
            if ensured == local::Ensured::Initialized {
                notice(message);
            } else {
                output::detail(message);
            }
            let dsn = Dsn::parse(&server.dsn())?;
            db::connect(&dsn, connect_timeout).await
        }
    }?;
    let _ = CONNECTED_ROLE.set(db.dsn().user().unwrap_or("postgres").to_string());
    Ok((db, used))
}

/// Ask before dropping data: on a terminal, a typed "yes"; elsewhere `--yes` is required.
fn confirm_rollback(plan: &migrate::RollbackPlan, yes: bool) -> anyhow::Result<bool> {
    let names: Vec<String> = plan.migrations.iter().map(|m| m.label()).collect();
    confirm(
        yes,
        "rollback drops schema objects and their data: pass --yes to confirm when not on a terminal (or --dry-run to see the plan)",
        || {
            let total: i64 = plan.dropped_tables.iter().map(|(_, n)| n).sum();
            let tables: Vec<String> = plan
                .dropped_tables
                .iter()
                .map(|(t, n)| format!("{t} ({n} rows)"))
                .collect();
            format!(
                "About to undo {} on {}:\n  {}\n{}",
                if names.len() == 1 {
                    "1 migration".to_string()
                } else {
                    format!("{} migrations", names.len())
                },
                plan.target,
                names.join(", "),
                if tables.is_empty() {
                    "No table is dropped.".to_string()
                } else {
                    format!(
                        "Dropped with their data, {total} rows in all (counted now): {}",
                        tables.join(", ")
                    )
                }
            )
        },
    )
}

/// Ask before `arcdb local destroy` deletes a cluster, listing what goes.
fn confirm_destroy(plan: &local::DestroyPlan, yes: bool) -> anyhow::Result<bool> {
    confirm(
        yes,
        &format!(
            "local destroy deletes the local PostgreSQL cluster in {} and its data: pass --yes to confirm when not on a terminal",
            plan.root.display()
        ),
        || {
            let paths: Vec<String> = plan.paths.iter().map(|p| format!("  {}", p.display())).collect();
            format!(
                "About to {}delete the local PostgreSQL cluster{} ({} MB of data):\n{}",
                if plan.running { "stop and " } else { "" },
                if plan.legacy { " (created by an earlier arcdb)" } else { "" },
                plan.data_bytes.div_ceil(1 << 20),
                paths.join("\n")
            )
        },
    )
}

/// The one confirmation of destructive commands: `yes` (the --yes flag) skips it; on a terminal
/// the `describe`d plan is shown on stderr and a typed "yes" is required; elsewhere the command is
/// refused (exit 2, nothing touched) with `refusal`.
fn confirm(yes: bool, refusal: &str, describe: impl FnOnce() -> String) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Refusal::usage(refusal).into());
    }
    let mut err = std::io::stderr().lock();
    writeln!(err, "{}", describe())?;
    write!(err, "Type 'yes' to continue: ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
