//! Pure planning: compare the embedded migrations with the database's history and decide what
//! `status` shows, what `up` applies and what `rollback` undoes. No I/O, so every rule is
//! unit-tested without a server.

use super::catalog::Resolved;
use crate::error::Refusal;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A row of `arcdb.schema_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRecord {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    /// `false` while a non-atomic (CockroachDB) migration is under way or was interrupted.
    pub complete: bool,
    pub applied_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but the embedded script differs from what ran.
    Drifted,
    /// Applied, but this binary has no such version.
    Unknown,
    /// Started and not finished (only where DDL is not transactional); `up` resumes it.
    Incomplete,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub version: u32,
    pub name: String,
    pub state: State,
    pub applied_at: Option<DateTime<Utc>>,
    /// Checksum of the embedded up script (absent for unknown versions).
    pub checksum: Option<String>,
    /// Checksum recorded when it was applied.
    pub applied_checksum: Option<String>,
}

/// Every version known to either side, oldest first, with its state.
pub fn compare(embedded: &[Resolved], applied: &[AppliedRecord]) -> Vec<Entry> {
    // By version, so that a long history compares in linear time.
    let by_version: std::collections::HashMap<u32, &AppliedRecord> =
        applied.iter().map(|a| (a.version, a)).collect();
    let known: std::collections::HashSet<u32> = embedded.iter().map(|m| m.version).collect();
    let mut entries: Vec<Entry> = embedded
        .iter()
        .map(|m| {
            let record = by_version.get(&m.version).copied();
            let state = match record {
                None => State::Pending,
                // An interrupted non-atomic migration is re-run from its first statement, so a
                // script fixed since then is what should run: not drift.
                Some(a) if !a.complete => State::Incomplete,
                Some(a) if a.checksum != m.checksum => State::Drifted,
                Some(_) => State::Applied,
            };
            Entry {
                version: m.version,
                name: m.name.clone(),
                state,
                applied_at: record.map(|a| a.applied_at),
                checksum: Some(m.checksum.clone()),
                applied_checksum: record.map(|a| a.checksum.clone()),
            }
        })
        .collect();
    for a in applied {
        if !known.contains(&a.version) {
            entries.push(Entry {
                version: a.version,
                name: a.name.clone(),
                state: State::Unknown,
                applied_at: Some(a.applied_at),
                checksum: None,
                applied_checksum: Some(a.checksum.clone()),
            });
        }
    }
    entries.sort_by_key(|e| e.version);
    entries
}

/// The highest version whose migration is in the database (0 when none).
pub fn current_version(entries: &[Entry]) -> u32 {
    entries
        .iter()
        .filter(|e| e.state != State::Pending)
        .map(|e| e.version)
        .max()
        .unwrap_or(0)
}

/// Refuse when the history and the binary disagree, naming every offending version.
pub fn check_drift(entries: &[Entry]) -> Result<(), Refusal> {
    let describe = |state: State| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.state == state)
            .map(|e| format!("{:04}_{}", e.version, e.name))
            .collect()
    };
    let drifted = describe(State::Drifted);
    let unknown = describe(State::Unknown);
    let mut problems = Vec::new();
    if !drifted.is_empty() {
        problems.push(format!(
            "applied migrations differ from this binary's: {} (someone edited an applied migration: put the file back as it was applied, from version control or the arcdb release that applied it; if only its text changed and the schema is the same, `arcdb repair` re-records the checksum; `up` and `rollback` both refuse until then. To change an applied migration, write a new one: `arcdb new NAME`)",
            drifted.join(", ")
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "the database has versions this binary does not know: {} (use the arcdb that applied them)",
            unknown.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Refusal::drift(format!(
            "refusing to run: {}",
            problems.join("; ")
        )))
    }
}

/// Versions `up` applies, oldest first: the pending and incomplete ones up to `to`.
pub fn plan_up(entries: &[Entry], to: Option<u32>) -> Result<Vec<u32>, Refusal> {
    check_drift(entries)?;
    let latest = entries.iter().map(|e| e.version).max().unwrap_or(0);
    let current = current_version(entries);
    if let Some(to) = to {
        if !entries.iter().any(|e| e.version == to) {
            return Err(Refusal::usage(format!(
                "--to {to}: no such migration (known versions: 1..{latest})"
            )));
        }
        if to < current {
            return Err(Refusal::usage(format!(
                "--to {to}: the database is already at version {current}; use `arcdb rollback --to {to}` to go back"
            )));
        }
    }
    let target = to.unwrap_or(latest);
    let todo: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.state, State::Pending | State::Incomplete) && e.version <= target)
        .collect();
    if let Some(gap) = todo
        .iter()
        .find(|e| e.state == State::Pending && e.version < current)
    {
        return Err(Refusal::drift(format!(
            "migration {:04}_{} is pending but version {current} is already applied: a migration was added below the applied ones; renumber it above {current}",
            gap.version, gap.name
        )));
    }
    Ok(todo.into_iter().map(|e| e.version).collect())
}

/// Versions `rollback --to` undoes, newest first.
pub fn plan_rollback(entries: &[Entry], to: u32) -> Result<Vec<u32>, Refusal> {
    check_drift(entries)?;
    let current = current_version(entries);
    if to > current {
        return Err(Refusal::usage(format!(
            "--to {to}: the database is at version {current}; rollback only goes back (use `arcdb up --to {to}`)"
        )));
    }
    let mut versions: Vec<u32> = entries
        .iter()
        .filter(|e| e.state != State::Pending && e.version > to)
        .map(|e| e.version)
        .collect();
    versions.reverse();
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::catalog::Script;

    fn resolved(version: u32, sql: &str) -> Resolved {
        let script = Script {
            file: format!("m/{version:04}_m{version}/up.sql"),
            sql: sql.into(),
        };
        Resolved {
            version,
            name: format!("m{version}"),
            up: script.clone(),
            down: Some(script),
            checksum: crate::migrate::catalog::checksum(sql),
        }
    }

    fn applied(version: u32, sql: &str) -> AppliedRecord {
        AppliedRecord {
            version,
            name: format!("m{version}"),
            checksum: crate::migrate::catalog::checksum(sql),
            complete: true,
            applied_at: Utc::now(),
        }
    }

    fn states(entries: &[Entry]) -> Vec<(u32, State)> {
        entries.iter().map(|e| (e.version, e.state)).collect()
    }

    #[test]
    fn compare_finds_every_state() {
        let embedded = [
            resolved(1, "a"),
            resolved(2, "b"),
            resolved(3, "c"),
            resolved(4, "d"),
        ];
        let mut incomplete = applied(3, "c (fixed since)");
        incomplete.complete = false;
        let history = [
            applied(1, "a"),
            applied(2, "B!"),
            incomplete,
            applied(9, "z"),
        ];
        let entries = compare(&embedded, &history);
        assert_eq!(
            states(&entries),
            vec![
                (1, State::Applied),
                (2, State::Drifted),
                (3, State::Incomplete),
                (4, State::Pending),
                (9, State::Unknown)
            ]
        );
        let err = plan_up(&entries, None).unwrap_err();
        assert_eq!(err.status, crate::error::ExitStatus::Drift);
        assert!(
            err.message.contains("0002_m2") && err.message.contains("0009_m9"),
            "{}",
            err.message
        );
    }

    #[test]
    fn up_plans_pending_versions_up_to_the_target() {
        let embedded = [resolved(1, "a"), resolved(2, "b"), resolved(3, "c")];
        let entries = compare(&embedded, &[applied(1, "a")]);
        assert_eq!(plan_up(&entries, None).unwrap(), vec![2, 3]);
        assert_eq!(plan_up(&entries, Some(2)).unwrap(), vec![2]);
        assert!(plan_up(&entries, Some(7))
            .unwrap_err()
            .message
            .contains("no such migration"));
        let done = compare(
            &embedded,
            &[applied(1, "a"), applied(2, "b"), applied(3, "c")],
        );
        assert!(plan_up(&done, None).unwrap().is_empty());
        assert!(plan_up(&done, Some(1))
            .unwrap_err()
            .message
            .contains("rollback"));
    }

    #[test]
    fn up_refuses_a_migration_added_below_applied_ones() {
        let embedded = [resolved(1, "a"), resolved(2, "b"), resolved(3, "c")];
        let entries = compare(&embedded, &[applied(1, "a"), applied(3, "c")]);
        let err = plan_up(&entries, None).unwrap_err();
        assert!(
            err.message.contains("0002_m2 is pending but version 3"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rollback_plans_newest_first_and_only_backwards() {
        let embedded = [resolved(1, "a"), resolved(2, "b"), resolved(3, "c")];
        let entries = compare(&embedded, &[applied(1, "a"), applied(2, "b")]);
        assert_eq!(plan_rollback(&entries, 0).unwrap(), vec![2, 1]);
        assert_eq!(plan_rollback(&entries, 1).unwrap(), vec![2]);
        assert!(plan_rollback(&entries, 2).unwrap().is_empty());
        assert!(plan_rollback(&entries, 3)
            .unwrap_err()
            .message
            .contains("only goes back"));
    }
}
