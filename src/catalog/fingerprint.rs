//! The catalog's fingerprint: a hash that stays the same while nothing [`read`](super::read)
//! would return can have changed, computed by the server in one query that reads row headers,
//! not deparsed text (so its cost is a scan of the catalogs, whatever the number of objects).
//!
//! Why row versions are enough: every transactional change to a catalog row (CREATE, ALTER,
//! DROP, COMMENT, GRANT, ...) writes a new row version, with a new `xmin` and a new `ctid`, or
//! removes one; a row lock changes only `xmax`; an aborted change is invisible to the snapshot;
//! VACUUM removes dead versions without moving live ones. So per catalog, the row count and an
//! XOR of a hash of each live version's (ctid, xmin) change whenever a row does. What PostgreSQL
//! updates *in place* (no new version) is either a column the reader does not read (relpages,
//! reltuples, relfrozenxid, relhasindex, ...) or hashed here by value: pg_index's validity
//! flags (CREATE/DROP/REINDEX INDEX CONCURRENTLY). Role names are hashed by value too: owners,
//! grants and policy roles deparse to them, and renaming a role rewrites pg_authid (which no
//! ordinary role may read), not the rows that name it. And the server version, since deparsed
//! text may differ between releases.
//!
//! Whole catalogs, not only arcdb's schemas: an object elsewhere (a type, an operator class, a
//! function) shows in the deparsed text of ours. The fingerprint errs one way only: a change
//! anywhere in the database (a temporary table, DDL in another schema, VACUUM FULL of a catalog)
//! changes it too, which costs the next check a comparison object by object, never a wrong
//! "matches".

use tokio_postgres::GenericClient;

/// The form of the fingerprint, its prefix: a fingerprint an earlier form stored never matches.
const FORM: &str = "rv1";

/// Every catalog the reader's queries and the server's deparse functions (pg_get_viewdef,
/// pg_get_indexdef, format_type, ...) read, by row version; but materialized views' pg_class
/// rows (see [`BY_VALUE`]) and the temporary schemas.
const CATALOGS: [&str; 24] = [
    "pg_am",
    "pg_attrdef",
    "pg_attribute",
    "pg_cast",
    "pg_class WHERE relkind <> 'm'",
    "pg_collation",
    "pg_constraint",
    "pg_depend",
    "pg_description",
    "pg_enum",
    "pg_extension",
    "pg_index",
    "pg_language",
    // A session's first temporary table (REFRESH ... CONCURRENTLY makes one) creates its
    // backend's temporary schemas, once per database and backend slot; no object arcdb reads
    // can live there or name them.
    "pg_namespace WHERE nspname !~ '^pg_(toast_)?temp_'",
    "pg_opclass",
    "pg_operator",
    "pg_policy",
    "pg_proc",
    "pg_rewrite",
    "pg_sequence",
    "pg_trigger",
    "pg_ts_config",
    "pg_ts_dict",
    "pg_type",
];

/// Rows hashed by value: (text of one row, relation).
const BY_VALUE: [(&str, &str); 3] = [
    (
        "indexrelid::text || ':' || indisvalid::text || indisready::text || indislive::text",
        "pg_index",
    ),
    ("oid::text || ':' || rolname::text", "pg_roles"),
    // Every REFRESH MATERIALIZED VIEW rewrites the view's pg_class row (it sets relispopulated,
    // to the same value when concurrent), so `arcdb refresh` would defeat the fingerprint: these
    // rows count by their values, without the storage and statistics columns a refresh, VACUUM
    // or ANALYZE changes (no key is an error: relallfrozen is PostgreSQL 18's).
    (
        "(to_jsonb(c) - ARRAY['relfilenode', 'relpages', 'reltuples', 'relallvisible',
                              'relallfrozen', 'relfrozenxid', 'relminmxid'])::text",
        "pg_class c WHERE relkind = 'm'",
    ),
];

fn query() -> String {
    let row_versions = CATALOGS.iter().map(|catalog| {
        format!(
            "(SELECT count(*) || '/' || coalesce(bit_xor(pg_catalog.hashtidextended(ctid, xmin::text::int8)), 0)
                FROM pg_catalog.{catalog})"
        )
    });
    let values = BY_VALUE.iter().map(|(row, relation)| {
        format!(
            "(SELECT coalesce(bit_xor(pg_catalog.hashtextextended({row}, 0)), 0) FROM pg_catalog.{relation})"
        )
    });
    let parts: Vec<String> = std::iter::once("current_setting('server_version_num')".to_string())
        .chain(row_versions)
        .chain(values)
        .collect();
    format!(
        "SELECT '{FORM}:' || pg_catalog.md5(concat_ws(',', {}))",
        parts.join(", ")
    )
}

/// The fingerprint of the catalog as the current snapshot sees it: equal fingerprints (in one
/// database, as the same role) mean [`read`](super::read) would return the same schema.
pub async fn fingerprint(client: &impl GenericClient) -> anyhow::Result<String> {
    Ok(client.query_typed_one(&query(), &[]).await?.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_its_form_and_every_catalog_once() {
        let sql = query();
        assert!(sql.starts_with("SELECT 'rv1:' ||"), "{sql}");
        for catalog in CATALOGS {
            // Once by row version, and once more for each value hashed from the same relation.
            let by_value = BY_VALUE.iter().filter(|(_, from)| *from == catalog).count();
            assert_eq!(
                sql.matches(&format!("FROM pg_catalog.{catalog})")).count(),
                1 + by_value,
                "{catalog}"
            );
        }
        for (_, from) in BY_VALUE {
            assert!(sql.contains(&format!("FROM pg_catalog.{from})")), "{from}");
        }
    }
}
