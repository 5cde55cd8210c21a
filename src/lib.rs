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
pub mod migrate;
pub mod output;
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

/// Run one parsed command line; the returned status is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let format = cli.global.format;
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "arcdb", &mut std::io::stdout());
            Ok(ExitStatus::Ok)
        }
        Command::Local(args) => {
            let report = local::run_local(args.action.into(), cli.global.pg_bin.as_deref())?;
            emit(&report, format)
        }
        Command::Status(args) => {
            let db = connect(&cli.global).await?;
            let source = args.source.source.as_deref();
            emit(&drift::status(&db, source, args.no_live).await?, format)
        }
        Command::Up(args) => {
            let mut db = connect(&cli.global).await?;
            if !args.allow_drift && !args.dry_run {
                drift::refuse_drift(
                    &db,
                    args.source.source.as_deref(),
                    Duration::from_secs(args.lock_timeout),
                )
                .await?;
            }
            let opts = migrate::UpOptions {
                to: args.to,
                dry_run: args.dry_run,
                lock_wait: Duration::from_secs(args.lock_timeout),
                source: args.source.source,
                live: (&args.live).into(),
                lock: args.live.lock,
                strict: args.strict,
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
            let mut db = connect(&cli.global).await?;
            emit(&views::views(&mut db).await?, format)
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
                    .unwrap_or(defaults.tenant_role),
                setting: args.setting.or(file.setting).unwrap_or(defaults.setting),
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
            };
            let db = connect(&cli.global).await?;
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
    match config::resolve(global)? {
        Target::Remote {
            dsn,
            connect_timeout,
            ..
        } => db::connect(&dsn, connect_timeout).await,
        Target::Local { connect_timeout } => {
            let server = local::LocalServer::from_env(global.pg_bin.as_deref())?;
            let what = match server.ensure_running()? {
                local::Ensured::AlreadyRunning => "using",
                local::Ensured::Started => "started",
                local::Ensured::Initialized => "created and started",
            };
            notice(format!(
                "no database named (--dsn, DATABASE_URL or a profile): {what} the local PostgreSQL in {}",
                server.root().display()
            ));
            let dsn = Dsn::parse(&server.dsn())?;
            db::connect(&dsn, connect_timeout).await
        }
    }
}

/// Ask before dropping data: on a terminal, a typed "yes"; elsewhere `--yes` is required.
fn confirm_rollback(plan: &migrate::RollbackPlan, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Refusal::usage(
            "rollback drops schema objects and their data: pass --yes to confirm when not on a terminal (or --dry-run to see the plan)",
        )
        .into());
    }
    let names: Vec<String> = plan.migrations.iter().map(|m| m.label()).collect();
    let mut err = std::io::stderr().lock();
    let total: i64 = plan.dropped_tables.iter().map(|(_, n)| n).sum();
    let tables: Vec<String> = plan
        .dropped_tables
        .iter()
        .map(|(t, n)| format!("{t} ({n} rows)"))
        .collect();
    writeln!(
        err,
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
    )?;
    write!(err, "Type 'yes' to continue: ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
