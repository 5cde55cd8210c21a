//! Rendering of reports. Every command computes a report value; this module alone writes it.

pub mod sarif;

use crate::error::ExitStatus;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Aligned table for people.
    #[default]
    Table,
    /// One JSON document on stdout.
    Json,
    /// JUnit XML for CI test reporters: verify-rls and lint only (elsewhere refused, exit 2).
    Junit,
    /// SARIF 2.1.0 (GitHub code scanning) for reports made of findings; others render as JSON.
    Sarif,
}

/// What every command returns. `render_table` is for people; JSON comes from `Serialize`.
pub trait Report: Serialize {
    /// Human-readable rendering (tables and a summary line).
    fn render_table(&self) -> String;

    /// JUnit rendering, for reports that are made of pass/fail cases.
    fn render_junit(&self) -> Option<String> {
        None
    }

    /// Remarks for people that are not the report: on stderr, whatever the format.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// SARIF rendering, for reports that are made of findings.
    fn render_sarif(&self) -> Option<String> {
        None
    }

    /// The exit status this report implies (findings, pending migrations…).
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Ok
    }
}

/// Write `report` to stdout in `format` and return the exit status it implies.
pub fn emit<R: Report>(report: &R, format: Format) -> anyhow::Result<ExitStatus> {
    let text = match format {
        Format::Table => report.render_table(),
        Format::Json => serde_json::to_string_pretty(report)?,
        Format::Junit => match report.render_junit() {
            Some(xml) => xml,
            None => serde_json::to_string_pretty(report)?,
        },
        Format::Sarif => match report.render_sarif() {
            Some(sarif) => sarif,
            None => serde_json::to_string_pretty(report)?,
        },
    };
    for note in report.notes() {
        notice(format!("note: {note}"));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(report.exit_status())
}

/// An error as `--format json` callers read it: `{"error": {"message", "kind"}, "exit_code"}`
/// on stdout (the one line on stderr is written as well, by `main`).
pub fn error_json(message: &str, status: ExitStatus) -> String {
    serde_json::json!({
        "error": { "message": message, "kind": status },
        "exit_code": status.code(),
    })
    .to_string()
}

/// Write an error that ended the command: one line on stderr, and with `--format json` also
/// the JSON object on stdout, so a pipeline reading stdout never sees nothing.
pub fn emit_error(message: &str, status: ExitStatus, format: Format) {
    eprintln!("error: {message}");
    if format == Format::Json {
        // stdout may be the closed pipe that caused the error: nothing more to say there.
        let _ = writeln!(std::io::stdout(), "{}", error_json(message, status));
    }
}

/// A table with a header row, in arcdb's one style.
pub fn table<R, I, S>(header: &[&str], rows: R) -> String
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut builder = tabled::builder::Builder::default();
    builder.push_record(header.iter().map(|h| h.to_string()));
    for row in rows {
        builder.push_record(row.into_iter().map(Into::into));
    }
    let mut table = builder.build();
    table.with(tabled::settings::Style::sharp());
    table.to_string()
}

/// How much arcdb says on stderr besides the report and errors (`--quiet` / `--verbose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only (and confirmations, which need an answer).
    Quiet = 0,
    /// Notices: waits, what a command is about to do, progress.
    Normal = 1,
    /// Also what is routine (which local server is used).
    Verbose = 2,
}

static VERBOSITY: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(Verbosity::Normal as u8);

/// Set once by `run` from the global flags; read by every notice.
pub fn set_verbosity(verbosity: Verbosity) {
    VERBOSITY.store(verbosity as u8, std::sync::atomic::Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(std::sync::atomic::Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// A notice for people, on stderr (never mixed into stdout, which carries the report);
/// silenced by `--quiet`.
pub fn notice(message: impl AsRef<str>) {
    if verbosity() >= Verbosity::Normal {
        eprintln!("arcdb: {}", message.as_ref());
    }
}

/// A notice about something routine: only with `--verbose`.
pub fn detail(message: impl AsRef<str>) {
    if verbosity() >= Verbosity::Verbose {
        eprintln!("arcdb: {}", message.as_ref());
    }
}
