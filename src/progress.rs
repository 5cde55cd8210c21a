//! Progress of long work (seed --scale now; adopt, verify-rls and refresh can use the same): one
//! bar per phase on a terminal, one line per phase and a final line elsewhere (CI logs), nothing
//! with `--quiet`. Always on stderr: stdout carries the report.

use crate::output::{notice, verbosity, Verbosity};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// The progress of one command (`what`, e.g. "seed --scale") through its phases.
pub struct Progress {
    what: String,
    bar: ProgressBar,
    terminal: bool,
    started: Instant,
    phase_started: Instant,
    phase: String,
}

impl Progress {
    /// Progress on stderr: a bar when it is a terminal, lines otherwise, nothing when quiet.
    pub fn new(what: &str) -> Progress {
        let quiet = verbosity() == Verbosity::Quiet;
        Progress::with_terminal(what, !quiet && std::io::stderr().is_terminal())
    }

    fn with_terminal(what: &str, terminal: bool) -> Progress {
        let bar = if terminal {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        Progress {
            what: what.to_string(),
            bar,
            terminal,
            started: Instant::now(),
            phase_started: Instant::now(),
            phase: String::new(),
        }
    }

    /// Start phase `name` of `length` units (`unit`: "rows", "statements"); 0 = unknown (a
    /// spinner).
    pub fn phase(&mut self, name: &str, length: u64, unit: &str) {
        self.end_phase();
        self.phase = name.to_string();
        self.phase_started = Instant::now();
        if self.terminal {
            let template = if length == 0 {
                "{spinner} {prefix}: {msg} {elapsed}".to_string()
            } else {
                format!(
                    "{{spinner}} {{prefix}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit}, {{per_sec}}, {{elapsed}} {{msg}}"
                )
            };
            let style = ProgressStyle::with_template(&template)
                .expect("valid progress template")
                .progress_chars("=> ");
            self.bar.reset();
            self.bar.set_style(style);
            self.bar.set_length(length);
            self.bar.set_position(0);
            self.bar.set_prefix(name.to_string());
            self.bar.set_message("");
            self.bar
                .enable_steady_tick(std::time::Duration::from_millis(200));
        } else {
            notice(format!("{}: {name}…", self.what));
        }
    }

    /// Advance the current phase by `n` units.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Correct the current phase's length (an estimate turned out different).
    pub fn set_length(&self, length: u64) {
        self.bar.set_length(length);
    }

    pub fn length(&self) -> u64 {
        self.bar.length().unwrap_or(0)
    }

    /// What the current phase is doing now (a table, a statement), shown next to the bar.
    pub fn detail(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    fn end_phase(&mut self) {
        if self.phase.is_empty() {
            return;
        }
        let seconds = self.phase_started.elapsed().as_secs_f64();
        if self.terminal {
            self.bar.finish_and_clear();
            // The bar disappears; a line remains of each finished phase.
            notice(format!(
                "{}: {} done in {seconds:.1} s",
                self.what, self.phase
            ));
        }
        self.phase.clear();
    }

    /// The final line: `summary` (e.g. "loaded 1.2M rows") and the total time.
    pub fn finish(mut self, summary: &str) {
        self.end_phase();
        notice(format!(
            "{}: {summary} in {:.1} s",
            self.what,
            self.started.elapsed().as_secs_f64()
        ));
    }

    /// The phase in progress ("" before the first), for a message on interruption.
    pub fn current_phase(&self) -> &str {
        &self.phase
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
