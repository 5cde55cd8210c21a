//! How each view is refreshed (concurrently or not, and why), and in which order.

use super::catalog::MatView;
use crate::engine::Engine;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `REFRESH MATERIALIZED VIEW CONCURRENTLY`: readers keep reading the old contents.
    Concurrent,
    /// `REFRESH MATERIALIZED VIEW`: readers wait until it commits.
    Plain,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Concurrent => "concurrent",
            Mode::Plain => "plain",
        }
    }
}

/// How a view would be refreshed now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub mode: Mode,
    pub reason: String,
    /// Whether the refresh runs in an explicit transaction (with SET LOCAL timeouts).
    pub in_transaction: bool,
}

/// CONCURRENTLY when the engine honours it, the view is populated and a unique index is usable;
/// plain otherwise, saying why.
pub fn decide(engine: &Engine, mv: &MatView) -> Decision {
    if !engine.supports_concurrent_refresh() {
        return Decision {
            mode: Mode::Plain,
            reason: format!(
                "{} ignores CONCURRENTLY and cannot refresh inside a transaction: plain refresh, outside a transaction",
                engine.describe()
            ),
            in_transaction: false,
        };
    }
    let usable = mv
        .unique_indexes
        .iter()
        .find(|ix| ix.unusable_because().is_none());
    let no_index = || {
        if mv.unique_indexes.is_empty() {
            "no unique index".to_string()
        } else {
            let why: Vec<String> = mv
                .unique_indexes
                .iter()
                .map(|ix| format!("{} {}", ix.name, ix.unusable_because().unwrap_or("")))
                .collect();
            format!("no usable unique index ({})", why.join("; "))
        }
    };
    let (mode, reason) = match (mv.populated, usable) {
        (true, Some(ix)) => (
            Mode::Concurrent,
            format!("populated, unique index {}", ix.name),
        ),
        (false, Some(_)) => (
            Mode::Plain,
            "not populated yet: CONCURRENTLY needs a populated view (this first refresh is plain)"
                .to_string(),
        ),
        (false, None) => (
            Mode::Plain,
            format!(
                "not populated yet, and {}: CONCURRENTLY needs both",
                no_index()
            ),
        ),
        (true, None) => (
            Mode::Plain,
            format!(
                "{}: CONCURRENTLY needs a unique index on plain columns without WHERE",
                no_index()
            ),
        ),
    };
    Decision {
        mode,
        reason,
        in_transaction: true,
    }
}

/// `views` in an order where a view comes after the materialized views it reads, by name
/// otherwise.
pub(super) fn refresh_order(mut views: Vec<MatView>) -> Vec<MatView> {
    views.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let selected: BTreeSet<i64> = views.iter().map(|v| v.oid).collect();
    let mut done: BTreeSet<i64> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(views.len());
    while !views.is_empty() {
        let ready = views
            .iter()
            .position(|v| {
                v.reads_matviews
                    .iter()
                    .all(|dep| *dep == v.oid || !selected.contains(dep) || done.contains(dep))
            })
            // A cycle cannot exist between materialized views; keep going whatever happens.
            .unwrap_or(0);
        let v = views.remove(ready);
        done.insert(v.oid);
        ordered.push(v);
    }
    ordered
}
