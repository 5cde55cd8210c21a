//! The catalog queries: one per kind of object, each returning text the server deparsed.
//! Objects that belong to an extension (citext's functions and types) are not read: they are
//! the extension's, compared as the extension itself.

use super::*;
use futures_util::future::try_join_all;
use tokio_postgres::GenericClient;

/// `aclitem[]` → sorted, comma-separated text ("" when NULL: default privileges).
const ACL: &str =
    "coalesce(array_to_string(array(SELECT x::text FROM unnest({}) x ORDER BY 1), ','), '')";

fn acl(column: &str) -> String {
    ACL.replace("{}", column)
}

/// Not a member of an extension.
const NOT_EXTENSION_MEMBER: &str = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep
    WHERE dep.classid = {cls}::regclass AND dep.objid = {oid} AND dep.deptype = 'e')";

fn not_member(cls: &str, oid: &str) -> String {
    NOT_EXTENSION_MEMBER
        .replace("{cls}", &format!("'{cls}'"))
        .replace("{oid}", oid)
}

/// The catalog queries, one per kind of object, in the order [`read`] fills a [`Schema`] from
/// their rows; each takes the schema names as `$1`. Every catalog they (and the deparse
/// functions they call) read is one `super::fingerprint` hashes: a query reading a new catalog
/// adds it there.
fn queries() -> [String; QUERIES] {
    [
        "SELECT e.extname::text, n.nspname::text FROM pg_catalog.pg_extension e
                  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
                 WHERE e.extname <> 'plpgsql' AND $1::text[] IS NOT NULL ORDER BY 1"
        .into(),
        format!(
            "SELECT n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, {}
               FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1) ORDER BY 1",
            acl("n.nspacl")
        ),
        format!(
            "SELECT n.nspname || '.' || t.typname, pg_catalog.pg_get_userbyid(t.typowner)::text,
                    array(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
                           WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
               FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
              WHERE t.typtype = 'e' AND n.nspname = ANY($1) AND {}
              ORDER BY 1",
            not_member("pg_type", "t.oid")
        ),
        format!(
            "SELECT n.nspname || '.' || c.relname, pg_catalog.pg_get_userbyid(c.relowner)::text,
                    c.relrowsecurity, c.relforcerowsecurity, c.relkind::text, c.relpersistence::text,
                    {}, pg_catalog.obj_description(c.oid, 'pg_class')
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND {}
              ORDER BY 1",
            acl("c.relacl"),
            not_member("pg_class", "c.oid")
        ),
        format!(
            "SELECT n.nspname || '.' || c.relname, a.attname::text,
                    pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
                    a.attgenerated::text, a.attnum::int4, pg_catalog.col_description(c.oid, a.attnum)
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY($1) AND a.attnum > 0
                AND NOT a.attisdropped AND {}
              ORDER BY 1, a.attnum",
            not_member("pg_class", "c.oid")
        ),
        "SELECT n.nspname || '.' || c.relname, co.conname::text, co.contype::text,
                    pg_catalog.pg_get_constraintdef(co.oid), co.convalidated,
                    array(SELECT a.attname::text FROM unnest(co.conkey) WITH ORDINALITY k(num, ord)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.num
                           ORDER BY k.ord),
                    CASE WHEN co.contype = 'f' THEN rn.nspname || '.' || rc.relname END,
                    array(SELECT a.attname::text FROM unnest(co.confkey) WITH ORDINALITY k(num, ord)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.num
                           ORDER BY k.ord),
                    pg_catalog.obj_description(co.oid, 'pg_constraint')
               FROM pg_catalog.pg_constraint co
               JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_catalog.pg_class rc ON rc.oid = co.confrelid
               LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
              WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p')
              ORDER BY 1, 2"
        .into(),
        format!(
            "SELECT n.nspname || '.' || ic.relname, n.nspname || '.' || c.relname,
                    pg_catalog.pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisunique,
                    (SELECT co.conname::text FROM pg_catalog.pg_constraint co
                      WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                        AND co.contype IN ('p', 'u', 'x')),
                    pg_catalog.obj_description(ic.oid, 'pg_class')
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'm') AND {}
              ORDER BY 1",
            not_member("pg_class", "c.oid")
        ),
        "SELECT n.nspname || '.' || c.relname, t.tgname::text,
                    pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text
               FROM pg_catalog.pg_trigger t
               JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = ANY($1) AND NOT t.tgisinternal
              ORDER BY 1, 2"
        .into(),
        format!(
            "SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
                    CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_catalog.pg_get_functiondef(p.oid) ELSE '' END,
                    p.prosecdef, pg_catalog.pg_get_userbyid(p.proowner)::text, {},
                    pg_catalog.obj_description(p.oid, 'pg_proc')
               FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = ANY($1) AND {}
              ORDER BY 1",
            acl("p.proacl"),
            not_member("pg_proc", "p.oid")
        ),
        "SELECT schemaname || '.' || tablename, policyname::text, cmd,
                    permissive = 'PERMISSIVE', array(SELECT x::text FROM unnest(roles) x ORDER BY 1),
                    qual, with_check
               FROM pg_catalog.pg_policies WHERE schemaname = ANY($1) ORDER BY 1, 2"
        .into(),
        format!(
            "SELECT n.nspname || '.' || c.relname, c.relkind = 'm', pg_catalog.pg_get_viewdef(c.oid),
                    coalesce(array_to_string(array(SELECT x FROM unnest(c.reloptions) x ORDER BY 1), ','), ''),
                    pg_catalog.pg_get_userbyid(c.relowner)::text, {}, c.relispopulated
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY($1) AND {}
              ORDER BY 1",
            acl("c.relacl"),
            not_member("pg_class", "c.oid")
        ),
        format!(
            "SELECT n.nspname || '.' || c.relname, pg_catalog.format_type(sq.seqtypid, NULL),
                    sq.seqstart, sq.seqincrement, sq.seqmin, sq.seqmax, sq.seqcycle,
                    pg_catalog.pg_get_userbyid(c.relowner)::text, {},
                    (SELECT tn.nspname || '.' || tc.relname || '.' || a.attname
                       FROM pg_catalog.pg_depend d
                       JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid
                       JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                        AND d.refobjsubid > 0 LIMIT 1)
               FROM pg_catalog.pg_sequence sq
               JOIN pg_catalog.pg_class c ON c.oid = sq.seqrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = ANY($1) AND {}
              ORDER BY 1",
            acl("c.relacl"),
            not_member("pg_class", "c.oid")
        ),
    ]
}

const QUERIES: usize = 12;

/// Read the objects of `schemas` (and the database's extensions) into a [`Schema`].
pub async fn read(client: &impl GenericClient, schemas: &[&str]) -> anyhow::Result<Schema> {
    let names: Vec<String> = schemas.iter().map(|s| s.to_string()).collect();
    let p: &[&(dyn tokio_postgres::types::ToSql + Sync)] = &[&names];
    let queries = queries();
    // All queries in one round trip: tokio-postgres pipelines the requests of futures polled
    // together on one connection.
    let mut results = try_join_all(queries.iter().map(|q| client.query(q.as_str(), p)))
        .await?
        .into_iter();
    let mut next = move || results.next().unwrap_or_default();
    let mut s = Schema::default();

    for r in next() {
        s.extensions.push(Extension {
            name: r.get(0),
            schema: r.get(1),
        });
    }

    for r in next() {
        s.schemas.push(SchemaInfo {
            name: r.get(0),
            owner: r.get(1),
            acl: r.get(2),
        });
    }

    for r in next() {
        s.enums.push(EnumType {
            name: r.get(0),
            owner: r.get(1),
            values: r.get(2),
        });
    }

    for r in next() {
        s.tables.push(Table {
            name: r.get(0),
            owner: r.get(1),
            rls_enabled: r.get(2),
            rls_forced: r.get(3),
            relkind: r.get(4),
            persistence: r.get(5),
            acl: r.get(6),
            comment: r.get(7),
        });
    }

    for r in next() {
        s.columns.push(Column {
            table: r.get(0),
            name: r.get(1),
            data_type: r.get(2),
            not_null: r.get(3),
            default: r.get(4),
            identity: r.get(5),
            generated: r.get(6),
            position: r.get(7),
            comment: r.get(8),
        });
    }

    for r in next() {
        let target: Option<String> = r.get(6);
        s.constraints.push(Constraint {
            table: r.get(0),
            name: r.get(1),
            kind: r.get(2),
            definition: r.get(3),
            validated: r.get(4),
            columns: r.get(5),
            references: target.map(|t| (t, r.get(7))),
            comment: r.get(8),
        });
    }

    for r in next() {
        s.indexes.push(Index {
            name: r.get(0),
            table: r.get(1),
            definition: r.get(2),
            valid: r.get(3),
            unique: r.get(4),
            constraint: r.get(5),
            comment: r.get(6),
        });
    }

    for r in next() {
        s.triggers.push(Trigger {
            table: r.get(0),
            name: r.get(1),
            definition: r.get(2),
            enabled: r.get(3),
        });
    }

    for r in next() {
        s.functions.push(Function {
            signature: r.get(0),
            definition: r.get(1),
            security_definer: r.get(2),
            owner: r.get(3),
            acl: r.get(4),
            comment: r.get(5),
        });
    }

    for r in next() {
        s.policies.push(Policy {
            table: r.get(0),
            name: r.get(1),
            command: r.get(2),
            permissive: r.get(3),
            roles: r.get(4),
            using: r.get(5),
            with_check: r.get(6),
        });
    }

    for r in next() {
        s.views.push(View {
            name: r.get(0),
            materialized: r.get(1),
            definition: r.get(2),
            options: r.get(3),
            owner: r.get(4),
            acl: r.get(5),
            populated: r.get(6),
        });
    }

    for r in next() {
        s.sequences.push(Sequence {
            name: r.get(0),
            data_type: r.get(1),
            start: r.get(2),
            increment: r.get(3),
            min: r.get(4),
            max: r.get(5),
            cycle: r.get(6),
            owner: r.get(7),
            acl: r.get(8),
            owned_by: r.get(9),
        });
    }
    Ok(s)
}
