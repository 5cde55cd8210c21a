//! Is this the deployed `001_multi_tenant` database? Every difference between the catalog it
//! should have (the embedded fixture built in a scratch database) and the one it has is sorted
//! into what adopt carries over (extra columns and indexes added by hand), what it leaves alone
//! (extensions, the schema's own grants) and what it refuses.

use crate::catalog::{Change, Column, Difference, Index, ObjectKind, Schema};
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Recognition {
    /// Columns added by hand to deployed tables: added to arcdb's table and copied.
    pub kept_columns: Vec<Column>,
    /// Indexes added by hand to deployed tables: created again on arcdb's table.
    pub kept_indexes: Vec<Index>,
    /// Differences that do not concern the tables adopt replaces (left as they are).
    pub left_alone: Vec<Difference>,
    /// Differences adopt does not know how to carry over: it refuses while there is one.
    pub refused: Vec<Difference>,
}

/// Sort `differences` (from `expected` 001 to the `actual` database) into a [`Recognition`].
pub fn recognize(expected: &Schema, actual: &Schema, differences: Vec<Difference>) -> Recognition {
    let mut out = Recognition::default();
    for d in differences {
        match (d.object_kind, d.change) {
            (ObjectKind::Column, Change::Extra) => {
                match actual.columns.iter().find(|c| c.qualified() == d.object) {
                    Some(c) if expected.table(&c.table).is_some() && c.identity.is_empty() => {
                        out.kept_columns.push(c.clone())
                    }
                    _ => out.refused.push(d),
                }
            }
            (ObjectKind::Index, Change::Extra) => {
                match actual.indexes.iter().find(|i| i.name == d.object) {
                    Some(i)
                        if expected.table(&i.table).is_some()
                            && i.constraint.is_none()
                            && i.valid =>
                    {
                        out.kept_indexes.push(i.clone())
                    }
                    _ => out.refused.push(d),
                }
            }
            (ObjectKind::Extension, Change::Extra) | (ObjectKind::Schema, _) => {
                out.left_alone.push(d)
            }
            _ => out.refused.push(d),
        }
    }
    out
}

/// What to do about a refused difference, for the message.
pub fn advice(d: &Difference) -> &'static str {
    match (d.object_kind, d.change) {
        (ObjectKind::Index, Change::Changed) if d.attribute.as_deref() == Some("valid") => {
            "an invalid index (a failed CREATE INDEX CONCURRENTLY): DROP INDEX it or REINDEX it"
        }
        (_, Change::Missing) => "restore it as 001_multi_tenant defines it",
        (_, Change::Extra) => "drop it, or move it out of schema public, before adopting",
        _ => "restore it as 001_multi_tenant defines it",
    }
}
