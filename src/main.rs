//! Parse the command line, run it, map the outcome to an exit code. Nothing else.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = arcdb::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(arcdb::error::ExitStatus::Failure.code());
        }
    };
    match runtime.block_on(arcdb::run(cli)) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            eprintln!("error: {}", arcdb::error::one_line(&err));
            ExitCode::from(arcdb::error::exit_status_of(&err).code())
        }
    }
}
