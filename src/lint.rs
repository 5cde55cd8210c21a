//! `arcdb lint`: the statements of a migration set that a target engine's documentation says it
//! does not support, with file and line. No database connection: the set is resolved for the
//! target exactly as `up` would resolve it (engine variants included), split into statements,
//! and every statement (and every PL/pgSQL body) is matched against the rules in [`RULES`].
//!
//! The rules are data: a token pattern, the engine and versions it applies to, why, and the
//! documentation it comes from. Patterns are matched on tokens, so nothing inside a string
//! literal or a comment matches; PL/pgSQL bodies (dollar-quoted) are tokenized on their own.

pub mod safety;

use crate::engine::{Engine, EngineKind, Version};

mod citus;
use crate::error::{ExitStatus, Refusal};
use crate::migrate::catalog::{MigrationSet, Script};
use crate::migrate::statements::{split_tokens, tokenize_range, Token, TokenKind};
use crate::output::{table, Report};
use serde::Serialize;
use std::path::PathBuf;

/// The newest versions whose documentation the rules were written from: the default target.
pub const NEWEST_COCKROACHDB: Version = Version::new(26, 2, 0);
pub const NEWEST_POSTGRES: Version = Version::new(18, 0, 0);

/// What `arcdb lint` checks a migration set for: an engine arcdb connects to, or PostgreSQL
/// whose tables are to be distributed by tenant with Citus (the PostgreSQL scripts, checked
/// for what Citus refuses or changes; `--engine-version` is then the Citus version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Postgres,
    Cockroachdb,
    Citus,
}

impl Target {
    /// The engine whose migration variants the target runs.
    fn engine(self) -> EngineKind {
        match self {
            Target::Postgres | Target::Citus => EngineKind::Postgres,
            Target::Cockroachdb => EngineKind::Cockroachdb,
        }
    }
}

/// The Citus version the `citus-*` rules were measured on (docs/citus.md).
pub const CITUS_MEASURED: Version = Version::new(13, 2, 2);

/// Where in a statement a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The statement's own tokens (function bodies are one opaque token there).
    Statement,
    /// The tokens of PL/pgSQL bodies (`CREATE FUNCTION … LANGUAGE plpgsql AS $$…$$`, `DO $$…$$`).
    PlpgsqlBody,
    /// Both: the statement and the bodies of any function or DO block in it.
    Everywhere,
    /// Not a pattern: checked by code across the whole set (`lint/citus.rs`), the rule's
    /// `pattern` naming what the check looks for.
    Set,
}

/// What the engine does with the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The engine rejects it (an error when the migration runs).
    Unsupported,
    /// Accepted, but it does nothing there.
    Ignored,
    /// Runs, but behaves differently than on PostgreSQL.
    Differs,
    /// Runs; the documentation advises against it.
    Advice,
}

/// One rule of the table.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub engine: Target,
    /// Applies from this engine version on (None: from the first).
    pub since: Option<Version>,
    /// Applies below this version, the one that brought support (None: every version).
    pub until: Option<Version>,
    pub scope: Scope,
    /// Token pattern: words match case-insensitively (`a|b` alternatives), `_` any token,
    /// `...` any tokens, `x?` optional, `-a|b` one token that is none of these, `~a|b` the
    /// previous token is none of these, `$n` a `$1` parameter, `^` at the statement's start.
    pub pattern: &'static str,
    pub kind: Kind,
    pub reason: &'static str,
    /// The documentation (and its version) the rule comes from.
    pub source: &'static str,
}

impl Rule {
    pub fn applies_to(&self, engine: Target, version: Version) -> bool {
        self.engine == engine
            && self.since.is_none_or(|s| version >= s)
            && self.until.is_none_or(|u| version < u)
    }
}

const fn v(major: u32, minor: u32) -> Option<Version> {
    Some(Version::new(major, minor, 0))
}

use Kind::{Advice, Differs, Ignored, Unsupported};
use Scope::{Everywhere, PlpgsqlBody, Set, Statement as Stmt};
use Target::{Citus as CITUS, Cockroachdb as CRDB, Postgres as PG};

const ROUTINE: &str = "^CREATE OR? REPLACE? FUNCTION|PROCEDURE";

/// Every rule arcdb knows. CockroachDB facts: docs v26.2 and release notes as named (see
/// docs/cockroachdb.md); PostgreSQL facts: the PostgreSQL release notes of the version named.
pub static RULES: &[Rule] = &[
    // ----- CockroachDB: extensions -----------------------------------------------------------
    Rule {
        id: "crdb-extension-citext",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE EXTENSION IF? NOT? EXISTS? citext",
        kind: Unsupported,
        reason: "CREATE EXTENSION citext is an error: CITEXT is a built-in type from 25.3 (drop the statement in the CockroachDB variant)",
        source: "docs v26.2 citext.md",
    },
    Rule {
        id: "crdb-extension-unavailable",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE EXTENSION IF? NOT? EXISTS? btree_gist|btree_gin|ltree|hstore|unaccent|pg_stat_statements",
        kind: Unsupported,
        reason: "this extension does not exist in CockroachDB: CREATE EXTENSION fails",
        source: "docs v26.2 postgresql-compatibility (extensions)",
    },
    Rule {
        id: "crdb-extension-undocumented",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE EXTENSION IF? NOT? EXISTS? -citext|btree_gist|btree_gin|ltree|hstore|unaccent|pg_stat_statements|pgcrypto|uuid-ossp|pg_trgm|vector|fuzzystrmatch|postgis|IF|NOT|EXISTS",
        kind: Unsupported,
        reason: "only pgcrypto, uuid-ossp, pg_trgm, vector, fuzzystrmatch and postgis are accepted (as no-ops, their functions being built in)",
        source: "docs v26.2 postgresql-compatibility (extensions)",
    },
    // ----- CockroachDB: constraints, types, indexes ------------------------------------------
    Rule {
        id: "crdb-exclusion-constraint",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "EXCLUDE USING|(",
        kind: Unsupported,
        reason: "exclusion constraints do not exist in CockroachDB",
        source: "docs v26.2 postgresql-compatibility (unsupported features)",
    },
    Rule {
        id: "crdb-deferrable",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "~NOT DEFERRABLE|DEFERRED",
        kind: Unsupported,
        reason: "DEFERRABLE constraints do not exist: every constraint is checked at the end of its statement",
        source: "docs v26.2 postgresql-compatibility (unsupported features)",
    },
    Rule {
        id: "crdb-jsonb-path-ops",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "jsonb_path_ops",
        kind: Unsupported,
        reason: "GIN indexes take jsonb_ops and array_ops only",
        source: "docs v26.2 inverted-indexes.md",
    },
    Rule {
        id: "crdb-btree-opclass",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "text_pattern_ops|varchar_pattern_ops|bpchar_pattern_ops",
        kind: Unsupported,
        reason: "operator classes are only allowed on the last column of an inverted index (a plain index already serves LIKE 'prefix%')",
        source: "docs v26.2 create-index.md; cockroach error \"operator classes are only allowed for the last column of an inverted index\"",
    },
    Rule {
        id: "crdb-index-concurrently",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE UNIQUE? INDEX CONCURRENTLY",
        kind: Ignored,
        reason: "CONCURRENTLY is no-op syntax: every index is built online",
        source: "docs v26.2 create-index.md",
    },
    Rule {
        id: "crdb-serial",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "~(|, SERIAL|BIGSERIAL|SMALLSERIAL|SERIAL2|SERIAL4|SERIAL8",
        kind: Differs,
        reason: "SERIAL is unique_rowid() (not consecutive, not a sequence); use UUID keys (gen_random_uuid())",
        source: "docs v26.2 serial.md",
    },
    Rule {
        id: "crdb-sequence",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE TEMP? TEMPORARY? SEQUENCE",
        kind: Advice,
        reason: "sequences exist but every nextval is a distributed write (slow, contended); prefer UUID keys",
        source: "docs v26.2 create-sequence.md",
    },
    Rule {
        id: "crdb-enum",
        engine: CRDB,
        since: None,
        until: v(20, 2),
        scope: Stmt,
        pattern: "^CREATE TYPE ... AS ENUM",
        kind: Unsupported,
        reason: "enum types arrived in CockroachDB 20.2",
        source: "release notes v20.2.0",
    },
    Rule {
        id: "crdb-citext-type",
        engine: CRDB,
        since: None,
        until: v(25, 3),
        scope: Stmt,
        pattern: "~EXTENSION|EXISTS CITEXT",
        kind: Unsupported,
        reason: "the CITEXT type arrived in CockroachDB 25.3",
        source: "docs v26.2 citext.md",
    },
    // ----- CockroachDB: views ----------------------------------------------------------------
    Rule {
        id: "crdb-materialized-view",
        engine: CRDB,
        since: None,
        until: v(20, 2),
        scope: Stmt,
        pattern: "^CREATE MATERIALIZED VIEW",
        kind: Unsupported,
        reason: "materialized views arrived in CockroachDB 20.2",
        source: "release notes v20.2.0",
    },
    Rule {
        id: "crdb-refresh-concurrently",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^REFRESH MATERIALIZED VIEW CONCURRENTLY",
        kind: Ignored,
        reason: "CONCURRENTLY is accepted and ignored, and REFRESH cannot run inside an explicit transaction",
        source: "docs v26.2 refresh.md",
    },
    Rule {
        id: "crdb-view-with-data",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE MATERIALIZED VIEW ... WITH NO? DATA",
        kind: Unsupported,
        reason: "WITH [NO] DATA is not in CockroachDB's CREATE MATERIALIZED VIEW (the view is always filled)",
        source: "docs v26.2 create-view.md",
    },
    Rule {
        id: "crdb-view-option",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? TEMP? TEMPORARY? RECURSIVE? VIEW ... WITH ( -security_invoker",
        kind: Unsupported,
        reason: "security_invoker is the only documented view option (no security_barrier, check_option)",
        source: "docs v26.2 create-view.md",
    },
    Rule {
        id: "crdb-view-star",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? MATERIALIZED? VIEW ... SELECT|. *",
        kind: Unsupported,
        reason: "a view cannot select * (name the columns)",
        source: "docs v26.2 create-view.md",
    },
    Rule {
        id: "crdb-comment-on-view",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^COMMENT ON MATERIALIZED? VIEW|POLICY|TRIGGER|ROLE|SEQUENCE|EXTENSION",
        kind: Unsupported,
        reason: "COMMENT ON covers databases, schemas, tables, columns, indexes, constraints, types and functions only",
        source: "docs v26.2 comment-on.md; cockroach catalog comment types",
    },
    Rule {
        id: "crdb-merge",
        engine: CRDB,
        since: None,
        until: None,
        scope: Everywhere,
        pattern: "^MERGE INTO",
        kind: Unsupported,
        reason: "MERGE is not supported: use UPSERT or INSERT … ON CONFLICT",
        source: "docs v26.2 sql-statements.md (no MERGE); cockroach issue 5436",
    },
    // ----- CockroachDB: notifications, locks, session variables ------------------------------
    Rule {
        id: "crdb-listen-notify",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^LISTEN|NOTIFY|UNLISTEN",
        kind: Unsupported,
        reason: "LISTEN/NOTIFY do not exist in CockroachDB (use changefeeds)",
        source: "docs v26.2 postgresql-compatibility (unsupported features)",
    },
    Rule {
        id: "crdb-pg-notify",
        engine: CRDB,
        since: None,
        until: None,
        scope: Everywhere,
        pattern: "pg_notify (",
        kind: Unsupported,
        reason: "pg_notify() does not exist in CockroachDB (no LISTEN/NOTIFY)",
        source: "docs v26.2 postgresql-compatibility (unsupported features)",
    },
    Rule {
        id: "crdb-advisory-lock",
        engine: CRDB,
        since: None,
        until: None,
        scope: Everywhere,
        pattern: "pg_advisory_lock|pg_advisory_lock_shared|pg_advisory_xact_lock|pg_advisory_xact_lock_shared|pg_try_advisory_lock|pg_try_advisory_lock_shared|pg_try_advisory_xact_lock|pg_try_advisory_xact_lock_shared|pg_advisory_unlock|pg_advisory_unlock_shared|pg_advisory_unlock_all (",
        kind: Unsupported,
        reason: "advisory locks lock nothing: pg_advisory_lock does not exist, the try/unlock forms are stubs that always succeed",
        source: "cockroach issue 13546 (open in 26.2); transaction-scoped ones merged after 26.2 (PR 168353)",
    },
    Rule {
        id: "crdb-session-variables",
        engine: CRDB,
        since: None,
        until: v(22, 1),
        scope: Everywhere,
        pattern: "current_setting|set_config (",
        kind: Unsupported,
        reason: "custom session variables (app.current_org_id) arrived in CockroachDB 22.1",
        source: "docs v26.2 set-vars.md; release notes v22.1.0",
    },
    // ----- CockroachDB: functions and PL/pgSQL -----------------------------------------------
    Rule {
        id: "crdb-functions",
        engine: CRDB,
        since: None,
        until: v(22, 2),
        scope: Stmt,
        pattern: ROUTINE,
        kind: Unsupported,
        reason: "user-defined functions arrived in CockroachDB 22.2",
        source: "docs v26.2 user-defined-functions.md; release notes v22.2.0",
    },
    Rule {
        id: "crdb-plpgsql",
        engine: CRDB,
        since: v(22, 2),
        until: v(23, 2),
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? FUNCTION|PROCEDURE ... LANGUAGE plpgsql",
        kind: Unsupported,
        reason: "PL/pgSQL arrived in CockroachDB 23.2",
        source: "docs v26.2 plpgsql.md; release notes v23.2.0-alpha.1",
    },
    Rule {
        id: "crdb-do-block",
        engine: CRDB,
        since: None,
        until: v(25, 1),
        scope: Stmt,
        pattern: "^DO",
        kind: Unsupported,
        reason: "DO blocks arrived in CockroachDB 25.1",
        source: "docs v26.2 do.md; release notes v25.1.0",
    },
    Rule {
        id: "crdb-routine-set-option",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? FUNCTION|PROCEDURE ... SET _ =|TO",
        kind: Unsupported,
        reason: "CREATE FUNCTION has no SET option (names in the body are resolved when the function is created)",
        source: "docs v26.2 create-function.md; cockroach tree.ValidateRoutineOptions",
    },
    Rule {
        id: "crdb-routine-sql-body",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? FUNCTION|PROCEDURE ... BEGIN ATOMIC",
        kind: Unsupported,
        reason: "SQL-standard bodies (BEGIN ATOMIC) are unimplemented: use AS $$…$$",
        source: "cockroach optbuilder create_function.go (\"CREATE FUNCTION...sql_body unimplemented\")",
    },
    Rule {
        id: "crdb-plpgsql-type-copy",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "% TYPE|ROWTYPE",
        kind: Unsupported,
        reason: "PL/pgSQL declarations cannot copy a type with %TYPE or %ROWTYPE",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#114676)",
    },
    Rule {
        id: "crdb-plpgsql-perform",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "PERFORM",
        kind: Unsupported,
        reason: "PERFORM is not supported in PL/pgSQL (use SELECT … INTO a variable)",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#117744)",
    },
    Rule {
        id: "crdb-plpgsql-execute",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "EXECUTE",
        kind: Unsupported,
        reason: "dynamic SQL (EXECUTE) is not supported in PL/pgSQL",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#117744)",
    },
    Rule {
        id: "crdb-plpgsql-get-diagnostics",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "GET CURRENT|STACKED? DIAGNOSTICS",
        kind: Unsupported,
        reason: "GET DIAGNOSTICS is not supported in PL/pgSQL",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#117744)",
    },
    Rule {
        id: "crdb-plpgsql-found",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "FOUND",
        kind: Unsupported,
        reason: "the FOUND variable does not exist in PL/pgSQL (test the INTO target for NULL instead)",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#122306)",
    },
    Rule {
        id: "crdb-plpgsql-query-loop",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "FOR _ IN SELECT|EXECUTE|WITH|VALUES|(",
        kind: Unsupported,
        reason: "FOR query loops are not supported in PL/pgSQL (integer FOR loops are)",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#105246)",
    },
    Rule {
        id: "crdb-plpgsql-foreach",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "FOREACH",
        kind: Unsupported,
        reason: "FOREACH loops are not supported in PL/pgSQL",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#105246)",
    },
    Rule {
        id: "crdb-plpgsql-case-statement",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "END CASE",
        kind: Unsupported,
        reason: "the PL/pgSQL CASE statement is not supported (CASE expressions are; use IF … ELSIF)",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#117744)",
    },
    Rule {
        id: "crdb-plpgsql-assert",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "~. ASSERT",
        kind: Unsupported,
        reason: "ASSERT is not supported in PL/pgSQL",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#117744)",
    },
    Rule {
        id: "crdb-plpgsql-ordinal-parameter",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "$n",
        kind: Unsupported,
        reason: "PL/pgSQL arguments cannot be referenced as $1, $2 (name them)",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#114701)",
    },
    Rule {
        id: "crdb-plpgsql-record-variable",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "_ RECORD ;",
        kind: Unsupported,
        reason: "RECORD variables are not supported in PL/pgSQL routines (declare scalar variables)",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#105713)",
    },
    Rule {
        id: "crdb-plpgsql-not-null-variable",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "NOT NULL :|DEFAULT",
        kind: Unsupported,
        reason: "NOT NULL variable declarations are not supported in PL/pgSQL",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#105243)",
    },
    Rule {
        id: "crdb-plpgsql-raise-object-option",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "COLUMN|CONSTRAINT|DATATYPE|TABLE|SCHEMA =",
        kind: Unsupported,
        reason: "RAISE cannot name a COLUMN, CONSTRAINT, DATATYPE, TABLE or SCHEMA",
        source: "docs v26.2 known-limitations/plpgsql-limitations.md (#106237)",
    },
    Rule {
        id: "crdb-composite-field-access",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "~;|BEGIN|THEN|ELSE|LOOP|DECLARE NEW|OLD . _",
        kind: Unsupported,
        reason: "fields of NEW/OLD are read as (NEW).col: composite members without parentheses are not supported (assigning NEW.col := … is)",
        source: "docs v26.2 triggers.md; known-limitations/plpgsql-limitations.md (#114687)",
    },
    Rule {
        id: "crdb-plpgsql-tg-argv",
        engine: CRDB,
        since: None,
        until: None,
        scope: PlpgsqlBody,
        pattern: "TG_ARGV [",
        kind: Differs,
        reason: "TG_ARGV is indexed from 1, not 0",
        source: "docs v26.2 known-limitations/trigger-limitations.md (#135311)",
    },
    // ----- CockroachDB: triggers -------------------------------------------------------------
    Rule {
        id: "crdb-triggers",
        engine: CRDB,
        since: None,
        until: v(24, 3),
        scope: Stmt,
        pattern: "^CREATE|DROP OR? REPLACE? CONSTRAINT? TRIGGER",
        kind: Unsupported,
        reason: "triggers arrived in CockroachDB 24.3 (preview; GA in 26.2)",
        source: "docs v26.2 triggers.md; release notes v24.3.0-beta.1",
    },
    Rule {
        id: "crdb-trigger-when-field-access",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER ... NEW|OLD . _",
        kind: Unsupported,
        reason: "in WHEN, OLD and NEW must be wrapped in parentheses to read a column: (OLD).col",
        source: "docs v26.2 triggers.md",
    },
    Rule {
        id: "crdb-trigger-statement-level",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER ... FOR EACH? STATEMENT",
        kind: Unsupported,
        reason: "statement-level triggers are not supported (FOR EACH ROW only)",
        source: "docs v26.2 known-limitations/trigger-limitations.md (#126362)",
    },
    Rule {
        id: "crdb-trigger-instead-of",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER ... INSTEAD OF",
        kind: Unsupported,
        reason: "INSTEAD OF triggers are not supported",
        source: "docs v26.2 known-limitations/trigger-limitations.md (#126363)",
    },
    Rule {
        id: "crdb-trigger-update-of",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER ... UPDATE OF",
        kind: Unsupported,
        reason: "UPDATE OF column lists are not supported: fire on every UPDATE and compare (OLD) and (NEW) in the function",
        source: "docs v26.2 known-limitations/trigger-limitations.md (#135656)",
    },
    Rule {
        id: "crdb-trigger-referencing",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER ... REFERENCING",
        kind: Unsupported,
        reason: "the REFERENCING clause (transition tables) is not supported",
        source: "docs v26.2 known-limitations/trigger-limitations.md (#135655)",
    },
    Rule {
        id: "crdb-trigger-truncate",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER ... TRUNCATE",
        kind: Unsupported,
        reason: "TRUNCATE triggers are not supported",
        source: "docs v26.2 known-limitations/trigger-limitations.md (#135657)",
    },
    Rule {
        id: "crdb-constraint-trigger",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE CONSTRAINT TRIGGER",
        kind: Unsupported,
        reason: "constraint triggers are not supported (row-level BEFORE/AFTER triggers only)",
        source: "docs v26.2 triggers.md",
    },
    Rule {
        id: "crdb-drop-trigger-cascade",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^DROP TRIGGER ... CASCADE",
        kind: Unsupported,
        reason: "DROP TRIGGER … CASCADE is not supported",
        source: "docs v26.2 known-limitations/drop-trigger-limitations.md (#128151)",
    },
    // ----- CockroachDB: row-level security and privileges ------------------------------------
    Rule {
        id: "crdb-policies",
        engine: CRDB,
        since: None,
        until: v(25, 2),
        scope: Stmt,
        pattern: "^CREATE|ALTER|DROP POLICY",
        kind: Unsupported,
        reason: "row-level security policies arrived in CockroachDB 25.2",
        source: "docs v26.2 row-level-security.md; release notes v25.2.0",
    },
    Rule {
        id: "crdb-row-level-security",
        engine: CRDB,
        since: None,
        until: v(25, 2),
        scope: Stmt,
        pattern: "ROW LEVEL SECURITY",
        kind: Unsupported,
        reason: "ENABLE/FORCE ROW LEVEL SECURITY arrived in CockroachDB 25.2",
        source: "docs v26.2 row-level-security.md; release notes v25.2.0",
    },
    Rule {
        id: "crdb-bypassrls",
        engine: CRDB,
        since: None,
        until: v(25, 2),
        scope: Everywhere,
        pattern: "BYPASSRLS|NOBYPASSRLS",
        kind: Unsupported,
        reason: "the BYPASSRLS role option arrived in CockroachDB 25.2",
        source: "docs v26.2 row-level-security.md; release notes v25.2.0",
    },
    Rule {
        id: "crdb-policy-subquery",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE|ALTER POLICY ... ( SELECT|WITH|VALUES",
        kind: Unsupported,
        reason: "USING and WITH CHECK expressions cannot contain a subquery (call the function directly)",
        source: "docs v26.2 create-policy.md",
    },
    Rule {
        id: "crdb-column-privileges",
        engine: CRDB,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^GRANT|REVOKE ... SELECT|INSERT|UPDATE|REFERENCES (",
        kind: Unsupported,
        reason: "column-level privileges are not supported: GRANT on the table (and guard the columns otherwise)",
        source: "docs v26.2 grant.md; cockroach issue 72766 (open)",
    },
    // ----- PostgreSQL: features newer than the oldest supported version (14) -----------------
    Rule {
        id: "pg-security-invoker",
        engine: PG,
        since: None,
        until: v(15, 0),
        scope: Stmt,
        pattern: "security_invoker",
        kind: Unsupported,
        reason: "views WITH (security_invoker) arrived in PostgreSQL 15",
        source: "PostgreSQL 15 release notes (E.x: CREATE VIEW security_invoker)",
    },
    Rule {
        id: "pg-nulls-not-distinct",
        engine: PG,
        since: None,
        until: v(15, 0),
        scope: Stmt,
        pattern: "NULLS NOT DISTINCT",
        kind: Unsupported,
        reason: "UNIQUE NULLS NOT DISTINCT arrived in PostgreSQL 15",
        source: "PostgreSQL 15 release notes",
    },
    Rule {
        id: "pg-merge",
        engine: PG,
        since: None,
        until: v(15, 0),
        scope: Everywhere,
        pattern: "^MERGE INTO",
        kind: Unsupported,
        reason: "MERGE arrived in PostgreSQL 15",
        source: "PostgreSQL 15 release notes",
    },
    Rule {
        id: "pg-fk-set-column-list",
        engine: PG,
        since: None,
        until: v(15, 0),
        scope: Stmt,
        pattern: "ON DELETE SET NULL|DEFAULT (",
        kind: Unsupported,
        reason: "ON DELETE SET NULL/SET DEFAULT (column list) arrived in PostgreSQL 15",
        source: "PostgreSQL 15 release notes",
    },
    Rule {
        id: "pg-create-or-replace-trigger",
        engine: PG,
        since: None,
        until: v(14, 0),
        scope: Stmt,
        pattern: "^CREATE OR REPLACE CONSTRAINT? TRIGGER",
        kind: Unsupported,
        reason: "CREATE OR REPLACE TRIGGER arrived in PostgreSQL 14",
        source: "PostgreSQL 14 release notes",
    },
    Rule {
        id: "pg-begin-atomic",
        engine: PG,
        since: None,
        until: v(14, 0),
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? FUNCTION|PROCEDURE ... BEGIN ATOMIC",
        kind: Unsupported,
        reason: "SQL-standard function bodies (BEGIN ATOMIC) arrived in PostgreSQL 14",
        source: "PostgreSQL 14 release notes",
    },
    Rule {
        id: "pg-multirange",
        engine: PG,
        since: None,
        until: v(14, 0),
        scope: Everywhere,
        pattern: "int4multirange|int8multirange|nummultirange|datemultirange|tsmultirange|tstzmultirange|range_agg|date_bin|string_to_table|trim_array|bit_count",
        kind: Unsupported,
        reason: "multirange types and these functions arrived in PostgreSQL 14",
        source: "PostgreSQL 14 release notes",
    },
    Rule {
        id: "pg-column-compression",
        engine: PG,
        since: None,
        until: v(14, 0),
        scope: Stmt,
        pattern: "COMPRESSION lz4|pglz",
        kind: Unsupported,
        reason: "per-column COMPRESSION arrived in PostgreSQL 14",
        source: "PostgreSQL 14 release notes",
    },
    Rule {
        id: "pg-sql-json-constructors",
        engine: PG,
        since: None,
        until: v(16, 0),
        scope: Everywhere,
        pattern: "JSON_ARRAY|JSON_OBJECT|JSON_ARRAYAGG|JSON_OBJECTAGG|any_value (",
        kind: Unsupported,
        reason: "SQL/JSON constructors and any_value() arrived in PostgreSQL 16",
        source: "PostgreSQL 16 release notes",
    },
    Rule {
        id: "pg-is-json",
        engine: PG,
        since: None,
        until: v(16, 0),
        scope: Everywhere,
        pattern: "IS NOT? JSON",
        kind: Unsupported,
        reason: "IS JSON arrived in PostgreSQL 16",
        source: "PostgreSQL 16 release notes",
    },
    Rule {
        id: "pg-sql-json-query",
        engine: PG,
        since: None,
        until: v(17, 0),
        scope: Everywhere,
        pattern: "JSON_TABLE|JSON_EXISTS|JSON_QUERY|JSON_VALUE (",
        kind: Unsupported,
        reason: "JSON_TABLE and the SQL/JSON query functions arrived in PostgreSQL 17",
        source: "PostgreSQL 17 release notes",
    },
    Rule {
        id: "pg-maintain-privilege",
        engine: PG,
        since: None,
        until: v(17, 0),
        scope: Stmt,
        pattern: "^GRANT|REVOKE ... MAINTAIN",
        kind: Unsupported,
        reason: "the MAINTAIN privilege arrived in PostgreSQL 17",
        source: "PostgreSQL 17 release notes",
    },
    Rule {
        id: "pg-uuidv7",
        engine: PG,
        since: None,
        until: v(18, 0),
        scope: Everywhere,
        pattern: "uuidv7 (",
        kind: Unsupported,
        reason: "uuidv7() arrived in PostgreSQL 18",
        source: "PostgreSQL 18 release notes",
    },
    Rule {
        id: "pg-no-transaction-block",
        engine: PG,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE|DROP|REINDEX UNIQUE? INDEX|TABLE|SCHEMA|DATABASE? CONCURRENTLY",
        kind: Unsupported,
        reason: "… CONCURRENTLY cannot run inside a transaction block, and arcdb runs each PostgreSQL migration in one transaction",
        source: "PostgreSQL docs: CREATE INDEX, DROP INDEX, REINDEX",
    },
    Rule {
        id: "pg-vacuum",
        engine: PG,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^VACUUM",
        kind: Unsupported,
        reason: "VACUUM cannot run inside a transaction block, and arcdb runs each PostgreSQL migration in one transaction",
        source: "PostgreSQL docs: VACUUM",
    },
    Rule {
        id: "pg-database-ddl",
        engine: PG,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE|DROP DATABASE|TABLESPACE",
        kind: Unsupported,
        reason: "CREATE/DROP DATABASE and TABLESPACE cannot run inside a transaction block, and arcdb runs each PostgreSQL migration in one transaction",
        source: "PostgreSQL docs: CREATE DATABASE, CREATE TABLESPACE",
    },
    // ----- Citus: distributing every tenant table by organization ------------------------------
    // Facts: Citus 13.2.2 on PostgreSQL 15.20, a coordinator and two workers, 32 shards per
    // table, as reported in issue 19 (docs/citus.md). The fix is in the reason.
    Rule {
        id: "citus-trigger",
        engine: CITUS,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE OR? REPLACE? CONSTRAINT? TRIGGER",
        kind: Unsupported,
        reason: "create_distributed_table refuses a table with triggers (`cannot distribute relation … because it has triggers`): set citus.enable_unsafe_triggers = on before distributing (all 14 tables then distributed), or move the trigger's work into the application",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-unique-without-tenant",
        engine: CITUS,
        since: None,
        until: None,
        scope: Set,
        pattern: "UNIQUE|PRIMARY KEY or CREATE UNIQUE INDEX whose columns lack the distribution column",
        kind: Unsupported,
        reason: "a distributed table cannot have a UNIQUE or PRIMARY KEY constraint without the distribution column (organization_id; id for organizations): add the column to the key, or move the platform-wide key out of the distributed tables",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-policy-sublink",
        engine: CITUS,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE|ALTER POLICY ... SELECT",
        kind: Unsupported,
        reason: "`Subqueries are not supported in policies on distributed tables`: write the policy without a sublink (compare organization_id with the setting or an inlinable function directly)",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-policy-restrictive",
        engine: CITUS,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^CREATE POLICY ... AS RESTRICTIVE",
        kind: Differs,
        reason: "Citus recreates the policy on the shards without AS RESTRICTIVE: there it is permissive, OR-ed with the others, and a tenant read and updated every organization's rows (a cross-tenant leak the coordinator's catalog does not show): fold the condition into the permissive policies (AND it into their USING and WITH CHECK) and drop the restrictive one",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-policy-sql-function-params",
        engine: CITUS,
        since: None,
        until: None,
        scope: Set,
        pattern: "a policy calling a LANGUAGE sql function that takes parameters",
        kind: Unsupported,
        reason: "a SQL function with parameters called from a policy cannot be planned on distributed tables (`parameters in SQL functions … not supported`): write its condition into the policy, or use a function without parameters",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-multi-statement-ddl",
        engine: CITUS,
        since: None,
        until: None,
        scope: Set,
        pattern: "a script of several statements with DDL on tables (ALTER TABLE, CREATE/DROP INDEX, TRIGGER, POLICY)",
        kind: Unsupported,
        reason: "Citus forwards DDL on distributed tables to the shards, and refused it from a multi-statement script (`cannot insert multiple commands into a prepared statement`): send each such statement as its own query (one statement per migration, or statement by statement)",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-plain-set",
        engine: CITUS,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^SET -LOCAL|ROLE|SESSION|CONSTRAINTS|TRANSACTION",
        kind: Differs,
        reason: "a plain SET does not reach the workers (queries there see the setting unset: 0 rows, fails closed): use SET LOCAL inside the transaction, with citus.propagate_set_commands = 'local'",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-set-config",
        engine: CITUS,
        since: None,
        until: None,
        scope: Everywhere,
        pattern: "set_config (",
        kind: Differs,
        reason: "set_config(…, true) does not reach the workers (0 rows, fails closed): use SET LOCAL with citus.propagate_set_commands = 'local'",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "citus-set-role",
        engine: CITUS,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^SET SESSION|LOCAL? ROLE",
        kind: Differs,
        reason: "Citus connects to the workers as the current role: a NOLOGIN role fails (`role … is not permitted to log in`); grant the tenant role LOGIN on every node (or connect as a login member of it)",
        source: "Citus 13.2.2, measured (docs/citus.md)",
    },
    Rule {
        id: "pg-alter-system",
        engine: PG,
        since: None,
        until: None,
        scope: Stmt,
        pattern: "^ALTER SYSTEM",
        kind: Unsupported,
        reason: "ALTER SYSTEM cannot run inside a transaction block (and changes the whole server)",
        source: "PostgreSQL docs: ALTER SYSTEM",
    },
];

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    /// One token equal to one of these (words case-insensitively, or one punctuation char).
    Any(Vec<String>),
    /// One token equal to none of these.
    NoneOf(Vec<String>),
    /// Any one token.
    Wild,
    /// A `$n` parameter.
    Param,
    /// Any number of tokens.
    Gap,
    /// The previous token is none of these (consumes nothing).
    NotAfter(Vec<String>),
    Optional(Box<Elem>),
}

#[derive(Debug, Clone)]
struct Pattern {
    anchored: bool,
    elems: Vec<Elem>,
}

fn alternatives(text: &str) -> Vec<String> {
    text.split('|').map(str::to_string).collect()
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        let mut anchored = false;
        let mut elems = Vec::new();
        for word in text.split_whitespace() {
            if let Some(rest) = word.strip_prefix('^') {
                anchored = true;
                if rest.is_empty() {
                    continue;
                }
                elems.push(Self::elem(rest));
            } else {
                elems.push(Self::elem(word));
            }
        }
        Pattern { anchored, elems }
    }

    fn elem(word: &str) -> Elem {
        if word == "..." {
            return Elem::Gap;
        }
        if let Some(inner) = word.strip_suffix('?').filter(|i| !i.is_empty()) {
            return Elem::Optional(Box::new(Self::elem(inner)));
        }
        match word {
            "_" => Elem::Wild,
            "$n" => Elem::Param,
            _ => {
                if let Some(rest) = word.strip_prefix('~').filter(|r| !r.is_empty()) {
                    Elem::NotAfter(alternatives(rest))
                } else if let Some(rest) = word.strip_prefix('-').filter(|r| !r.is_empty()) {
                    Elem::NoneOf(alternatives(rest))
                } else {
                    Elem::Any(alternatives(word))
                }
            }
        }
    }
}

fn token_is(sql: &str, token: &Token, alt: &str) -> bool {
    match &token.kind {
        TokenKind::Punct(c) => alt.chars().count() == 1 && alt.starts_with(*c),
        TokenKind::Word | TokenKind::QuotedIdent => token
            .ident(sql)
            .is_some_and(|name| name.eq_ignore_ascii_case(alt)),
        _ => false,
    }
}

fn any_of(sql: &str, token: &Token, alts: &[String]) -> bool {
    alts.iter().any(|a| token_is(sql, token, a))
}

/// Match `elems` against `tokens` from `pos`; on success, the index of the token to report
/// (the first one consumed after the last gap).
fn match_at(
    sql: &str,
    tokens: &[Token],
    elems: &[Elem],
    pos: usize,
    mark: Option<usize>,
) -> Option<usize> {
    let Some((elem, rest)) = elems.split_first() else {
        return Some(mark.unwrap_or(pos.saturating_sub(1)));
    };
    let one = |ok: bool| -> Option<usize> {
        if ok {
            match_at(sql, tokens, rest, pos + 1, Some(mark.unwrap_or(pos)))
        } else {
            None
        }
    };
    match elem {
        Elem::Any(alts) => tokens.get(pos).and_then(|t| one(any_of(sql, t, alts))),
        Elem::NoneOf(alts) => tokens.get(pos).and_then(|t| one(!any_of(sql, t, alts))),
        Elem::Wild => tokens.get(pos).and_then(|_| one(true)),
        Elem::Param => tokens
            .get(pos)
            .and_then(|t| one(t.kind == TokenKind::Param)),
        Elem::NotAfter(alts) => {
            let blocked = pos
                .checked_sub(1)
                .and_then(|p| tokens.get(p))
                .is_some_and(|t| any_of(sql, t, alts));
            if blocked {
                None
            } else {
                match_at(sql, tokens, rest, pos, mark)
            }
        }
        Elem::Optional(inner) => {
            let mut with = vec![(**inner).clone()];
            with.extend_from_slice(rest);
            match_at(sql, tokens, &with, pos, mark)
                .or_else(|| match_at(sql, tokens, rest, pos, mark))
        }
        Elem::Gap => (pos..=tokens.len()).find_map(|p| match_at(sql, tokens, rest, p, None)),
    }
}

/// Token indexes where `pattern` matches in `tokens` (each occurrence once).
fn find_all(sql: &str, tokens: &[Token], pattern: &Pattern) -> Vec<usize> {
    if pattern.anchored {
        return match_at(sql, tokens, &pattern.elems, 0, None)
            .into_iter()
            .collect();
    }
    let mut hits: Vec<usize> = Vec::new();
    for start in 0..tokens.len() {
        if let Some(at) = match_at(sql, tokens, &pattern.elems, start, None) {
            if hits.last() != Some(&at) {
                hits.push(at);
            }
        }
    }
    hits
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/// One statement a rule flags.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    /// The statement's first words.
    pub statement: String,
    pub rule: &'static str,
    pub kind: Kind,
    pub reason: &'static str,
    pub source: &'static str,
}

#[derive(Debug, Serialize)]
pub struct LintReport {
    pub engine: Target,
    pub engine_version: String,
    /// `embedded` or the `--source` directory.
    pub source: String,
    /// The scripts checked (the files this engine would run, variants included).
    pub files: Vec<String>,
    pub statements: usize,
    pub rules: usize,
    pub findings: Vec<Finding>,
    /// Safety hazards a migration accepts (`-- arcdb:safety-accept`): listed, not failing.
    pub accepted: Vec<Accepted>,
}

/// The hazards of one rule that one file accepts, with its author's reason.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub file: String,
    pub rule: &'static str,
    /// The lines of the accepted statements.
    pub lines: Vec<usize>,
    pub reason: String,
}

impl LintReport {
    fn target(&self) -> String {
        format!(
            "{} {}",
            match self.engine {
                Target::Postgres => "PostgreSQL",
                Target::Cockroachdb => "CockroachDB",
                Target::Citus => "Citus",
            },
            self.engine_version
        )
    }
}

impl Report for LintReport {
    fn render_table(&self) -> String {
        let summary = format!(
            "{}: {} statement(s) in {} file(s) checked against {} rule(s) for {}: {}",
            self.source,
            self.statements,
            self.files.len(),
            self.rules,
            self.target(),
            if self.findings.is_empty() {
                "no finding".to_string()
            } else {
                format!("{} finding(s)", self.findings.len())
            }
        );
        let accepted: String = self
            .accepted
            .iter()
            .map(|a| {
                format!(
                    "\naccepted: {} [{}]: {} statement(s) — {}",
                    a.file,
                    a.rule,
                    a.lines.len(),
                    a.reason
                )
            })
            .collect();
        let summary = format!("{summary}{accepted}");
        if self.findings.is_empty() {
            return summary;
        }
        let rows = self.findings.iter().map(|f| {
            vec![
                format!("{}:{}", f.file, f.line),
                f.statement.clone(),
                format!("{}\n{}", f.reason, f.source),
                f.rule.to_string(),
            ]
        });
        format!(
            "{}\n{summary}",
            table(&["where", "statement", "why (source)", "rule"], rows)
        )
    }

    fn render_junit(&self) -> Option<String> {
        use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
        let mut junit = Junit::new("arcdb lint");
        let mut suite = TestSuite::new(format!("lint {}", self.target()));
        for file in &self.files {
            let here: Vec<&Finding> = self.findings.iter().filter(|f| &f.file == file).collect();
            let status = if here.is_empty() {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "{} statement(s) {} does not support",
                    here.len(),
                    self.target()
                ));
                s.set_type("lint");
                s.set_description(
                    here.iter()
                        .map(|f| {
                            format!(
                                "{}:{}: {} [{}]: {} ({})",
                                f.file, f.line, f.statement, f.rule, f.reason, f.source
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                s
            };
            let mut case = TestCase::new(file.clone(), status);
            case.set_classname("arcdb.lint");
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
        junit.to_string().ok()
    }

    fn render_sarif(&self) -> Option<String> {
        use crate::output::sarif::{render, Finding as Sarif, Level};
        let findings: Vec<Sarif> = self
            .findings
            .iter()
            .map(|f| Sarif {
                rule: f.rule.to_string(),
                severity: match (safety::severity_of(f.rule), f.kind) {
                    (Some(safety::Severity::Error), _) | (None, Kind::Unsupported) => Level::Error,
                    (Some(safety::Severity::Warning), _)
                    | (None, Kind::Ignored | Kind::Differs) => Level::Warning,
                    (None, _) => Level::Note,
                },
                file: f.file.clone(),
                line: f.line,
                message: format!("{}: {}", f.statement, f.reason),
                help: f.source.to_string(),
            })
            .collect();
        Some(render("arcdb lint", &findings))
    }

    fn exit_status(&self) -> ExitStatus {
        if self.findings.is_empty() {
            ExitStatus::Ok
        } else {
            ExitStatus::Findings
        }
    }
}

pub struct LintOptions {
    pub engine: Target,
    /// Default: PostgreSQL's oldest supported major (a migration must run on all of them);
    /// CockroachDB's newest documented version (older ones are refused on connect anyway).
    pub version: Option<String>,
    pub source: Option<PathBuf>,
    /// Safety rules on every migration, also those released before the safety lint.
    pub all: bool,
}

/// Lint the migration set for a target engine.
pub fn lint(opts: LintOptions) -> anyhow::Result<LintReport> {
    let version = match &opts.version {
        None => match opts.engine {
            Target::Postgres => crate::engine::MIN_POSTGRES,
            Target::Cockroachdb => NEWEST_COCKROACHDB,
            Target::Citus => CITUS_MEASURED,
        },
        Some(text) => Version::parse(text).ok_or_else(|| {
            Refusal::usage(format!(
                "--engine-version {text}: expected a version like 25.3 or 15"
            ))
        })?,
    };
    let engine = Engine {
        kind: opts.engine.engine(),
        // Citus runs the PostgreSQL scripts; its version is not PostgreSQL's.
        version: if opts.engine == Target::Citus {
            citus::POSTGRES
        } else {
            version
        },
        banner: String::new(),
    };
    let set = MigrationSet::load(opts.source.as_deref())?;
    let rules: Vec<&Rule> = RULES
        .iter()
        .filter(|r| r.applies_to(opts.engine, version))
        .collect();
    let mut report = LintReport {
        engine: opts.engine,
        engine_version: format!("{}.{}", version.major, version.minor),
        source: opts
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "embedded".into()),
        files: Vec::new(),
        statements: 0,
        rules: rules.len(),
        findings: Vec::new(),
        accepted: Vec::new(),
    };
    let resolved = set.resolve(&engine);
    for migration in &resolved {
        for script in [&migration.up, &migration.down] {
            report.files.push(script.file.clone());
            lint_script(script, &rules, &mut report);
            no_transaction_findings(script, &mut report);
            if opts.engine == Target::Postgres
                && (opts.all || migration.version > safety::RELEASED_BEFORE_SAFETY_LINT)
                && std::ptr::eq(script, &migration.up)
            {
                safety_findings(script, &mut report);
            }
        }
    }
    let set_rules: Vec<&Rule> = rules
        .iter()
        .copied()
        .filter(|r| r.scope == Scope::Set)
        .collect();
    if !set_rules.is_empty() {
        let scripts: Vec<&Script> = resolved.iter().flat_map(|m| [&m.up, &m.down]).collect();
        report
            .findings
            .extend(citus::check_set(&scripts, &set_rules));
        // Findings in file order, each file's by line, as for the pattern rules.
        let order: Vec<&String> = report.files.iter().collect();
        report
            .findings
            .sort_by_key(|f| (order.iter().position(|file| **file == f.file), f.line));
    }
    Ok(report)
}

/// The locking and compatibility hazards of an up script (PostgreSQL; [`safety`]).
fn safety_findings(script: &Script, report: &mut LintReport) {
    for hazard in safety::check(script) {
        if let Some(reason) = hazard.accepted {
            match report
                .accepted
                .iter_mut()
                .find(|a| a.file == hazard.file && a.rule == hazard.rule)
            {
                Some(entry) => entry.lines.push(hazard.line),
                None => report.accepted.push(Accepted {
                    file: hazard.file,
                    rule: hazard.rule,
                    lines: vec![hazard.line],
                    reason,
                }),
            }
            continue;
        }
        report.findings.push(Finding {
            file: hazard.file,
            line: hazard.line,
            statement: hazard.statement,
            rule: hazard.rule,
            kind: Kind::Advice,
            reason: hazard.message,
            source: hazard.help,
        });
    }
}

/// Statements of a `-- arcdb:no-transaction` file that do not need it (any engine).
fn no_transaction_findings(script: &Script, report: &mut LintReport) {
    for (line, statement) in crate::migrate::txmode::needless_outside_a_transaction(script) {
        report.findings.push(Finding {
            file: script.file.clone(),
            line,
            statement: first_words(&statement),
            rule: "no-transaction-needless",
            kind: Kind::Advice,
            reason: "a `-- arcdb:no-transaction` file runs each statement on its own, so a failure leaves the ones before it applied: keep in it only statements that cannot run in a transaction (CREATE/DROP/REINDEX INDEX CONCURRENTLY, VACUUM, ALTER TYPE … ADD VALUE, ALTER SYSTEM, CREATE/DROP DATABASE, SET) and move this one to a transactional migration",
            source: "arcdb README, Running migrations on a live database",
        });
    }
}

/// The statement's first words, for people: "CREATE TRIGGER desks_set_hierarchy BEFORE …".
fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(6).collect();
    let mut out = words.join(" ");
    if out.chars().count() > 60 {
        out = out.chars().take(59).collect::<String>() + "…";
    } else if text.split_whitespace().count() > words.len() {
        out.push_str(" …");
    }
    out
}

fn lint_script(script: &Script, rules: &[&Rule], report: &mut LintReport) {
    let sql = script.sql.as_str();
    let first = report.findings.len();
    for (statement, tokens) in split_tokens(sql) {
        report.statements += 1;
        let bodies = routine_bodies(sql, &tokens);
        let mut seen: Vec<(&'static str, usize)> = Vec::new();
        for rule in rules {
            let pattern = Pattern::parse(rule.pattern);
            let mut lines: Vec<usize> = Vec::new();
            if matches!(rule.scope, Scope::Statement | Scope::Everywhere) {
                lines.extend(
                    find_all(sql, &tokens, &pattern)
                        .into_iter()
                        .map(|i| tokens[i].line),
                );
            }
            for (body, plpgsql) in &bodies {
                let wanted = match rule.scope {
                    Scope::Statement | Scope::Set => false,
                    Scope::PlpgsqlBody => *plpgsql,
                    Scope::Everywhere => true,
                };
                if wanted {
                    lines.extend(
                        find_all(sql, body, &pattern)
                            .into_iter()
                            .map(|i| body[i].line),
                    );
                }
            }
            for line in lines {
                if seen.contains(&(rule.id, line)) {
                    continue;
                }
                seen.push((rule.id, line));
                report.findings.push(Finding {
                    file: script.file.clone(),
                    line,
                    statement: first_words(&statement.text),
                    rule: rule.id,
                    kind: rule.kind,
                    reason: rule.reason,
                    source: rule.source,
                });
            }
        }
    }
    report.findings[first..].sort_by_key(|f| f.line);
}

/// The dollar-quoted bodies of a CREATE FUNCTION/PROCEDURE or DO statement, tokenized, each
/// with whether it is PL/pgSQL.
fn routine_bodies(sql: &str, tokens: &[Token]) -> Vec<(Vec<Token>, bool)> {
    let first = |i: usize| tokens.get(i).map(|t| t.text(sql).to_ascii_uppercase());
    let is_do = first(0).as_deref() == Some("DO");
    let is_routine = first(0).as_deref() == Some("CREATE")
        && tokens
            .iter()
            .take(4)
            .any(|t| t.is_word(sql, "FUNCTION") || t.is_word(sql, "PROCEDURE"));
    if !is_do && !is_routine {
        return Vec::new();
    }
    let language = tokens
        .windows(2)
        .find(|w| w[0].is_word(sql, "LANGUAGE"))
        .map(|w| {
            let t = w[1].text(sql);
            t.trim_matches(|c| c == '\'' || c == '"')
                .to_ascii_lowercase()
        });
    let plpgsql = match language.as_deref() {
        Some(lang) => lang == "plpgsql",
        None => is_do,
    };
    tokens
        .iter()
        .filter_map(|t| match &t.kind {
            TokenKind::DollarString { body } => {
                let line = t.line + sql[t.span.start..body.start].matches('\n').count();
                Some((tokenize_range(sql, body.clone(), line), plpgsql))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> MigrationSet {
        MigrationSet::from_files(
            "m",
            files.iter().map(|(p, c)| (p.to_string(), c.to_string())),
        )
        .unwrap()
    }

    fn lint_text(engine: Target, version: &str, up: &str) -> Vec<(usize, &'static str)> {
        let version = Version::parse(version).unwrap();
        let rules: Vec<&Rule> = RULES
            .iter()
            .filter(|r| r.applies_to(engine, version))
            .collect();
        let mut report = LintReport {
            engine,
            engine_version: String::new(),
            source: String::new(),
            files: Vec::new(),
            statements: 0,
            rules: 0,
            findings: Vec::new(),
            accepted: Vec::new(),
        };
        let script = Script {
            file: "x.sql".into(),
            sql: up.into(),
        };
        lint_script(&script, &rules, &mut report);
        report.findings.iter().map(|f| (f.line, f.rule)).collect()
    }

    #[test]
    fn every_rule_pattern_parses_and_ids_are_unique() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "duplicate rule id");
        for rule in RULES {
            let p = Pattern::parse(rule.pattern);
            assert!(!p.elems.is_empty(), "{}", rule.id);
            assert!(
                rule.since.zip(rule.until).is_none_or(|(s, u)| s < u),
                "{}",
                rule.id
            );
            let prefix = match rule.engine {
                Target::Postgres => "pg-",
                Target::Cockroachdb => "crdb-",
                Target::Citus => "citus-",
            };
            assert!(rule.id.starts_with(prefix), "{}", rule.id);
        }
    }

    #[test]
    fn patterns_match_tokens_not_text() {
        let found = lint_text(
            Target::Cockroachdb,
            "26.2",
            "-- LISTEN here is a comment\nSELECT 'NOTIFY x; LISTEN y';\nCOMMENT ON TABLE t IS 'DEFERRABLE';\nNOTIFY jobs;",
        );
        assert_eq!(found, vec![(4, "crdb-listen-notify")]);
    }

    #[test]
    fn version_windows_apply() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION f();";
        assert_eq!(
            lint_text(Target::Cockroachdb, "24.1", sql),
            vec![(1, "crdb-triggers")]
        );
        assert!(lint_text(Target::Cockroachdb, "24.3", sql).is_empty());
        let pg = "ALTER TABLE t ADD CONSTRAINT k UNIQUE NULLS NOT DISTINCT (a);";
        assert_eq!(
            lint_text(Target::Postgres, "13", pg),
            vec![(1, "pg-nulls-not-distinct")]
        );
        assert!(lint_text(Target::Postgres, "15", pg).is_empty());
    }

    #[test]
    fn plpgsql_bodies_are_linted_with_their_own_lines() {
        let sql = "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nDECLARE\n  x public.t.c%TYPE;\nBEGIN\n  PERFORM 1;\n  IF NOT FOUND THEN\n    NEW.a := (NEW).b;\n  END IF;\n  IF NEW.c > 0 THEN RETURN NULL; END IF;\n  RETURN NEW;\nEND $$;\nCREATE FUNCTION g() RETURNS int LANGUAGE sql AS $$ SELECT 1 WHERE NOT FOUND $$;";
        assert_eq!(
            lint_text(Target::Cockroachdb, "26.2", sql),
            vec![
                (3, "crdb-plpgsql-type-copy"),
                (5, "crdb-plpgsql-perform"),
                (6, "crdb-plpgsql-found"),
                (9, "crdb-composite-field-access"),
            ]
        );
    }

    #[test]
    fn negative_and_lookbehind_elements() {
        let ok = "CREATE TABLE t (a int REFERENCES u NOT DEFERRABLE);\nCREATE EXTENSION IF NOT EXISTS pgcrypto;";
        assert!(lint_text(Target::Cockroachdb, "26.2", ok).is_empty());
        let bad = "CREATE TABLE t (a int REFERENCES u DEFERRABLE INITIALLY DEFERRED);\nCREATE EXTENSION IF NOT EXISTS \"postgres_fdw\";";
        assert_eq!(
            lint_text(Target::Cockroachdb, "26.2", bad),
            vec![(1, "crdb-deferrable"), (2, "crdb-extension-undocumented")]
        );
    }

    #[test]
    fn variants_are_selected_like_up_does() {
        let s = set(&[
            ("0001_a/up.sql", "CREATE EXTENSION citext;"),
            ("0001_a/down.sql", "DROP EXTENSION citext;"),
            ("0001_a/up.cockroachdb.sql", "SELECT 1;"),
        ]);
        let engine = Engine {
            kind: EngineKind::Cockroachdb,
            version: NEWEST_COCKROACHDB,
            banner: String::new(),
        };
        let resolved = s.resolve(&engine);
        assert!(resolved[0].up.file.ends_with("up.cockroachdb.sql"));
    }

    #[test]
    fn report_renders_and_sets_the_exit_status() {
        let report = LintReport {
            engine: Target::Cockroachdb,
            engine_version: "26.2".into(),
            source: "embedded".into(),
            files: vec!["m/0001_a/up.sql".into(), "m/0001_a/down.sql".into()],
            statements: 2,
            rules: 3,
            findings: vec![Finding {
                file: "m/0001_a/up.sql".into(),
                line: 7,
                statement: "CREATE EXTENSION citext".into(),
                rule: "crdb-extension-citext",
                kind: Kind::Unsupported,
                reason: "r",
                source: "s",
            }],
            accepted: Vec::new(),
        };
        assert_eq!(report.exit_status(), ExitStatus::Findings);
        assert!(report.render_table().contains("m/0001_a/up.sql:7"));
        let xml = report.render_junit().unwrap();
        assert!(
            xml.contains("<failure") && xml.contains("m/0001_a/up.sql:7"),
            "{xml}"
        );
        assert!(xml.contains("tests=\"2\""), "{xml}");
    }
}
