//! Parse the command line, run it, map the outcome to an exit code. Nothing else.

use arcdb::error::ExitStatus;
use arcdb::output::{emit_error, Format};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match arcdb::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    let format = cli.global.format;
    // One thread: arcdb's concurrent tasks (a connection, the lock-wait watcher, probes) wait on
    // I/O, and the CPU work that overlaps them (reading a migration set, generating seed rows)
    // has threads of its own. A multi-threaded runtime only added worker start-up, a wake-up on
    // another thread per round trip and a shutdown that joins the workers: about 2 ms of a
    // no-op `up` on two cores (bench/PEERS.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let message = format!("cannot start the async runtime: {e}");
            emit_error(&message, ExitStatus::Failure, format);
            return ExitCode::from(ExitStatus::Failure.code());
        }
    };
    match runtime.block_on(arcdb::run(cli)) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            let status = arcdb::error::exit_status_of(&err);
            emit_error(&arcdb::error::one_line(&err), status, format);
            ExitCode::from(status.code())
        }
    }
}

/// clap's errors as arcdb's: one line (and one hint line) on stderr, exit 2, JSON on stdout with
/// `--format json`. Help and version requests print as clap renders them and exit 0.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        let code = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitStatus::Usage
        } else {
            ExitStatus::Ok
        };
        return ExitCode::from(code.code());
    }
    let rendered = err.render().to_string();
    let message = arcdb::error::clap_message(&rendered);
    // The parse failed, so --format is read from the raw arguments.
    let args: Vec<String> = std::env::args().collect();
    let json = args
        .windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json");
    let format = if json { Format::Json } else { Format::Table };
    emit_error(&message, ExitStatus::Usage, format);
    // The subcommand path the arguments name (`local destroy`), values and flags skipped.
    let mut command = <arcdb::cli::Cli as clap::CommandFactory>::command();
    let mut path = String::from("arcdb ");
    for arg in args.iter().skip(1) {
        let Some(sub) = command.find_subcommand(arg).cloned() else {
            continue;
        };
        path.push_str(arg);
        path.push(' ');
        command = sub;
    }
    eprintln!("hint: {path}--help shows the usage");
    ExitCode::from(ExitStatus::Usage.code())
}
