//! The live schema as the truth, against throwaway clusters: `status` compares the live catalog
//! with what the recorded version must contain (each kind of hand-made change detected, a clean
//! database reports none, the expected schema cached), `up` refuses on top of drift, `baseline`
//! takes in a database without history, `repair` re-records changed checksums.

use crate::support;

use serde_json::Value;
use std::time::Instant;
use support::{latest_version, migrations_copy, run, Run, TestCluster};

fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    run(pg.arcdb_at(dsn, args))
}

fn differences(status: &Run) -> Vec<Value> {
    status.json()["live"]["differences"]
        .as_array()
        .unwrap_or_else(|| panic!("no live differences in {}", status.stdout))
        .clone()
}

/// The difference on `object` (and `attribute` for a change), panicking with the whole list.
fn find<'a>(diffs: &'a [Value], object: &str, attribute: Option<&str>) -> &'a Value {
    diffs
        .iter()
        .find(|d| d["object"] == object && attribute.is_none_or(|a| d["attribute"] == a))
        .unwrap_or_else(|| {
            panic!(
                "no difference on {object} {attribute:?} in:\n{}",
                serde_json::to_string_pretty(diffs).unwrap()
            )
        })
}

/// Rows of arcdb's history, or "none" when the table does not exist.
fn history_count(pg: &TestCluster, db: &str) -> String {
    if pg.scalar(db, "SELECT to_regclass('arcdb.schema_history') IS NULL") == "t" {
        return "none".into();
    }
    pg.scalar(db, "SELECT count(*) FROM arcdb.schema_history")
}

#[test]
fn a_clean_database_reports_no_drift_and_the_expected_schema_is_cached() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("clean");
    arcdb(&pg, &dsn, &["up"]).ok("up");

    let started = Instant::now();
    let cold = arcdb(&pg, &dsn, &["status", "--format", "json"]).ok("first status");
    let cold_ms = started.elapsed().as_millis();
    let report = cold.json();
    assert_eq!(report["live"]["version"], latest_version());
    assert_eq!(report["live"]["differences"], Value::Array(vec![]));
    assert_eq!(report["live"]["compared"], "object_by_object");
    assert_eq!(report["live"]["expected"]["from"], "scratch database");
    assert!(
        report["live"]["expected"].get("not_cached").is_none(),
        "{report}"
    );

    // Median of five runs each: cached live check, and history only.
    let mut warm_ms = Vec::new();
    let mut warm_check_ms = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let warm = arcdb(&pg, &dsn, &["status", "--format", "json"]).ok("cached status");
        warm_ms.push(started.elapsed().as_millis());
        // Unchanged since the clean comparison: the catalog fingerprint decides, no expected
        // schema is read.
        assert_eq!(warm.json()["live"]["compared"], "fingerprint");
        assert!(
            warm.json()["live"].get("expected").is_none(),
            "{}",
            warm.stdout
        );
        assert_eq!(warm.json()["live"]["differences"], Value::Array(vec![]));
        warm_check_ms.push(warm.json()["live"]["took_ms"].as_u64().unwrap() as u128);
    }
    // Any object changed by hand defeats the fingerprint: compared object by object, from the
    // cached expected schema.
    let restore = pg.scalar(
        "clean",
        "SELECT format('COMMENT ON TABLE tasks IS %L', obj_description('tasks'::regclass, 'pg_class'))",
    );
    pg.psql("clean", "COMMENT ON TABLE tasks IS 'changed by hand'");
    let changed = arcdb(&pg, &dsn, &["status", "--format", "json"]);
    assert_eq!(changed.code, 4, "{}", changed.stdout);
    assert_eq!(changed.json()["live"]["compared"], "object_by_object");
    assert_eq!(changed.json()["live"]["expected"]["from"], "cache");
    let started = Instant::now();
    let _ = arcdb(&pg, &dsn, &["status", "--format", "json"]);
    let object_by_object_ms = started.elapsed().as_millis();
    // Restored: the catalog's rows are new versions, so compared object by object once, clean,
    // and from then on the fingerprint decides again.
    pg.psql("clean", &restore);
    let restored = arcdb(&pg, &dsn, &["status", "--format", "json"]).ok("restored");
    assert_eq!(restored.json()["live"]["compared"], "object_by_object");
    assert_eq!(restored.json()["live"]["differences"], Value::Array(vec![]));
    let again = arcdb(&pg, &dsn, &["status", "--format", "json"]).ok("restored, again");
    assert_eq!(again.json()["live"]["compared"], "fingerprint");
    let mut no_live_ms = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let history_only =
            arcdb(&pg, &dsn, &["status", "--no-live", "--format", "json"]).ok("--no-live");
        no_live_ms.push(started.elapsed().as_millis());
        assert!(history_only.json().get("live").is_none());
        assert_eq!(history_only.json()["live_skipped"], "--no-live");
    }
    let median = |v: &mut Vec<u128>| {
        v.sort();
        v[v.len() / 2]
    };
    eprintln!(
        "status wall time (whole process, incl. connect): first {cold_ms} ms (live check {} ms, expected schema built in a scratch database in {} ms); unchanged (fingerprint): median {} ms (live check {} ms); changed (object by object, cached expected schema): {object_by_object_ms} ms; --no-live: median {} ms",
        report["live"]["took_ms"],
        report["live"]["expected"]["took_ms"],
        median(&mut warm_ms),
        median(&mut warm_check_ms),
        median(&mut no_live_ms)
    );

    let table = arcdb(&pg, &dsn, &["status"]).ok("status table");
    assert!(
        table.stdout.contains(&format!(
            "live schema: matches version {}",
            latest_version()
        )),
        "{}",
        table.stdout
    );
    // No scratch database is left behind.
    assert_eq!(
        pg.scalar(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'arcdb_scratch%'"
        ),
        "0"
    );
}

#[test]
fn every_kind_of_hand_made_change_is_reported_with_expected_and_actual() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("drifted");
    arcdb(&pg, &dsn, &["up"]).ok("up");
    // Warm the cache on the clean schema, so the check below also proves the cache is keyed on
    // the migrations, not on the live schema.
    arcdb(&pg, &dsn, &["status"]).ok("clean status");
    pg.psql(
        "drifted",
        "DROP INDEX tasks_org_assigned_open_idx;
         ALTER POLICY tasks_tenant_isolation ON tasks USING (true);
         ALTER TABLE api_keys DISABLE ROW LEVEL SECURITY;
         ALTER TABLE desks ADD COLUMN nickname text;
         ALTER TABLE tasks ALTER COLUMN priority SET DEFAULT 'high';
         GRANT DELETE ON audit_logs TO arcdesk_tenant;
         ALTER TABLE tasks ALTER COLUMN title TYPE varchar(999);
         ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
         ALTER TABLE tasks DISABLE TRIGGER ALL;
         CREATE OR REPLACE FUNCTION extra_helper() RETURNS int LANGUAGE sql AS 'SELECT 1';
         ALTER MATERIALIZED VIEW desk_performance_mv SET (fillfactor = 70);",
    );
    let status = arcdb(&pg, &dsn, &["status", "--format", "json"]);
    assert_eq!(
        status.code, 4,
        "drift exits 4:\n{}\n{}",
        status.stdout, status.stderr
    );
    let diffs = differences(&status);

    let index = find(&diffs, "public.tasks_org_assigned_open_idx", None);
    assert_eq!(index["change"], "missing");
    assert!(index["expected"].as_str().unwrap().contains("CREATE INDEX"));

    let policy = find(&diffs, "public.tasks.tasks_tenant_isolation", Some("using"));
    assert_eq!(policy["actual"], "true");

    let rls = find(&diffs, "public.api_keys", Some("row level security"));
    assert_eq!(
        (rls["expected"].as_str(), rls["actual"].as_str()),
        (Some("true"), Some("false"))
    );

    assert_eq!(
        find(&diffs, "public.desks.nickname", None)["change"],
        "extra"
    );

    let default = find(&diffs, "public.tasks.priority", Some("default"));
    assert!(
        default["actual"].as_str().unwrap().contains("high"),
        "{default}"
    );

    let grant = find(&diffs, "public.audit_logs", Some("grants"));
    assert!(
        grant["actual"]
            .as_str()
            .unwrap()
            .contains("arcdesk_tenant="),
        "{grant}"
    );

    let ty = find(&diffs, "public.tasks.title", Some("type"));
    assert_eq!(ty["actual"], "character varying(999)");

    let not_null = find(&diffs, "public.users.email", Some("not null"));
    assert_eq!(not_null["actual"], "false");

    assert!(
        diffs
            .iter()
            .any(|d| d["object_kind"] == "trigger" && d["attribute"] == "enabled"),
        "disabled triggers are drift: {diffs:?}"
    );
    assert_eq!(
        find(&diffs, "public.extra_helper()", None)["change"],
        "extra"
    );
    // The schema has no plain view since 0009 (the tenant analytics are tables): the options
    // of a materialized view go through the same comparison.
    let options = find(&diffs, "public.desk_performance_mv", Some("options"));
    assert_eq!(
        (options["object_kind"].as_str(), options["actual"].as_str()),
        (Some("materialized_view"), Some("fillfactor=70")),
        "view options are compared: {options}"
    );

    let table = arcdb(&pg, &dsn, &["status"]);
    assert_eq!(table.code, 4);
    assert!(
        table.stdout.contains("tasks_org_assigned_open_idx")
            && table.stdout.contains("difference(s) from what version"),
        "{}",
        table.stdout
    );
    // History-only: the migrations themselves are as they ran.
    arcdb(&pg, &dsn, &["status", "--no-live"]).ok("--no-live ignores the live schema");
}

#[test]
fn up_refuses_to_apply_on_top_of_drift_unless_allowed() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("partial");
    let before = latest_version() - 1;
    arcdb(&pg, &dsn, &["up", "--to", &before.to_string()]).ok("up --to latest-1");
    pg.psql("partial", "CREATE INDEX by_hand_idx ON tasks (title);");

    let refused = arcdb(&pg, &dsn, &["up"]);
    assert_eq!(refused.code, 4, "{}\n{}", refused.stdout, refused.stderr);
    let line = refused.error_lines().join(" ");
    assert!(
        line.contains("index public.by_hand_idx is not expected"),
        "{line}"
    );
    assert!(line.contains("--allow-drift"), "{line}");
    assert_eq!(
        history_count(&pg, "partial"),
        before.to_string(),
        "nothing applied"
    );

    // Dry runs only look.
    arcdb(&pg, &dsn, &["up", "--dry-run"]).ok("dry run");

    arcdb(&pg, &dsn, &["up", "--allow-drift"]).ok("up --allow-drift");
    assert_eq!(history_count(&pg, "partial"), latest_version().to_string());
}

#[test]
fn baseline_records_history_only_when_the_schema_matches() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("restored");
    arcdb(&pg, &dsn, &["up"]).ok("up");
    // A restore without arcdb's schema: the application schema, no history.
    pg.psql("restored", "DROP SCHEMA arcdb CASCADE;");
    let latest = latest_version().to_string();

    let wrong = arcdb(&pg, &dsn, &["baseline", "--to", "5", "--format", "json"]);
    assert_eq!(wrong.code, 4, "{}\n{}", wrong.stdout, wrong.stderr);
    assert!(!wrong.json()["live"]["differences"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(wrong.json()["recorded"], false);
    assert_eq!(
        history_count(&pg, "restored"),
        "none",
        "mismatch touches nothing"
    );
    assert_eq!(
        pg.scalar("restored", "SELECT to_regnamespace('arcdb') IS NULL"),
        "t"
    );

    let dry = arcdb(&pg, &dsn, &["baseline", "--to", &latest, "--dry-run"]).ok("dry run");
    assert!(dry.stdout.contains("would be recorded"), "{}", dry.stdout);
    assert_eq!(history_count(&pg, "restored"), "none");

    let done = arcdb(
        &pg,
        &dsn,
        &["baseline", "--to", &latest, "--format", "json"],
    )
    .ok("baseline");
    assert_eq!(done.json()["recorded"], true);
    assert_eq!(history_count(&pg, "restored"), latest);
    let status = arcdb(&pg, &dsn, &["status", "--format", "json"]).ok("status after baseline");
    assert_eq!(status.json()["current_version"], latest_version());

    let again = arcdb(&pg, &dsn, &["baseline", "--to", &latest]);
    assert_eq!(again.code, 2, "history present: {}", again.stderr);
    assert!(
        again.stderr.contains("already has arcdb history"),
        "{}",
        again.stderr
    );

    let beyond = arcdb(&pg, &dsn, &["baseline", "--to", "999"]);
    assert_eq!(beyond.code, 2);
    assert!(beyond.stderr.contains("--to 999"), "{}", beyond.stderr);
}

#[test]
fn repair_rerecords_changed_checksums_only_when_the_schema_still_matches() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("edited");
    let dir = tempfile::tempdir().unwrap();
    let source = migrations_copy(dir.path(), "migrations");
    let source_arg = source.to_str().unwrap();
    arcdb(&pg, &dsn, &["up", "--source", source_arg]).ok("up");
    let checksum = |v: u32| {
        pg.scalar(
            "edited",
            &format!("SELECT checksum FROM arcdb.schema_history WHERE version = {v}"),
        )
    };
    let recorded = checksum(3);

    // A comment changed: same schema, new checksum.
    let up3 = source.join("0003_triggers/up.sql");
    let text = std::fs::read_to_string(&up3).unwrap();
    std::fs::write(&up3, format!("-- reviewed\n{text}")).unwrap();
    let status = arcdb(&pg, &dsn, &["status", "--source", source_arg]);
    assert_eq!(status.code, 4, "checksum drift: {}", status.stdout);

    let refused = arcdb(&pg, &dsn, &["repair", "--source", source_arg]);
    assert_eq!(
        refused.code, 2,
        "no --yes off a terminal: {}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(checksum(3), recorded);

    let dry = arcdb(&pg, &dsn, &["repair", "--dry-run", "--source", source_arg]).ok("dry run");
    assert!(
        dry.stdout.contains("0003") && dry.stdout.contains("would be re-recorded"),
        "{}",
        dry.stdout
    );

    let fixed = arcdb(
        &pg,
        &dsn,
        &[
            "repair", "--yes", "--source", source_arg, "--format", "json",
        ],
    )
    .ok("repair");
    let report = fixed.json();
    assert_eq!(report["repaired"], true);
    assert_eq!(report["drifted"].as_array().unwrap().len(), 1);
    assert_eq!(report["drifted"][0]["version"], 3);
    assert_ne!(checksum(3), recorded);
    assert_eq!(
        checksum(3),
        report["drifted"][0]["file_checksum"].as_str().unwrap()
    );
    arcdb(&pg, &dsn, &["status", "--source", source_arg]).ok("status after repair");

    // A change that builds another schema: named, nothing re-recorded.
    let up2 = source.join("0002_core_schema/up.sql");
    let text = std::fs::read_to_string(&up2).unwrap();
    std::fs::write(
        &up2,
        format!("{text}\nCREATE INDEX desks_by_title_idx ON desks (title);\n"),
    )
    .unwrap();
    let before = checksum(2);
    let differs = arcdb(
        &pg,
        &dsn,
        &[
            "repair", "--yes", "--source", source_arg, "--format", "json",
        ],
    );
    assert_eq!(differs.code, 4, "{}\n{}", differs.stdout, differs.stderr);
    let diffs = differs.json()["live"]["differences"]
        .as_array()
        .unwrap()
        .clone();
    let index = find(&diffs, "public.desks_by_title_idx", None);
    assert_eq!(index["change"], "missing");
    assert_eq!(differs.json()["repaired"], false);
    assert_eq!(checksum(2), before);
}

#[test]
fn without_createdb_status_says_the_live_schema_was_not_compared_and_up_refuses() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("plain");
    arcdb(&pg, &dsn, &["up", "--to", "2"]).ok("up --to 2");
    pg.psql(
        "plain",
        "CREATE ROLE reader LOGIN NOCREATEDB;
         GRANT USAGE ON SCHEMA arcdb TO reader;
         GRANT SELECT ON arcdb.schema_history TO reader;",
    );
    let reader = dsn.replace("user=postgres", "user=reader");
    assert_ne!(reader, dsn);

    let status = arcdb(&pg, &reader, &["status", "--format", "json"]);
    assert_eq!(status.code, 3, "history says pending: {}", status.stderr);
    let skipped = status.json()["live_skipped"].as_str().unwrap().to_string();
    assert!(
        skipped.contains("cannot build the expected schema") && skipped.contains("CREATEDB"),
        "{skipped}"
    );
    assert!(status.json().get("live").is_none());

    let up = arcdb(&pg, &reader, &["up"]);
    assert_eq!(up.code, 2, "{}", up.stderr);
    assert!(
        up.stderr.contains("CREATEDB") && up.stderr.contains("--allow-drift"),
        "{}",
        up.stderr
    );
    assert_eq!(history_count(&pg, "plain"), "2", "nothing applied");
}

/// One object of each kind the catalog reader reads, for the fingerprint test below.
const EVERY_KIND: &str = "
CREATE TYPE mood AS ENUM ('ok', 'bad');
CREATE SEQUENCE counter;
CREATE TABLE notes (
    id    int PRIMARY KEY,
    note  text NOT NULL DEFAULT 'x' CONSTRAINT notes_note_check CHECK (note <> ''),
    mood  mood
);
COMMENT ON TABLE notes IS 'notes';
CREATE INDEX notes_note_idx ON notes (note);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_mine ON notes USING (id > 0);
CREATE VIEW notes_view AS SELECT id, note FROM notes;
GRANT SELECT ON notes TO fp_reader;
CREATE SCHEMA elsewhere;
CREATE DOMAIN elsewhere.code AS text;
ALTER TABLE notes ADD COLUMN code elsewhere.code;
CREATE MATERIALIZED VIEW notes_total AS SELECT count(*) AS n FROM notes;
CREATE UNIQUE INDEX notes_total_n ON notes_total (n);
";

#[test]
fn every_kind_of_change_alone_defeats_the_catalog_fingerprint() {
    let pg = TestCluster::start();
    let dsn = pg.create_db("fp");
    let source = pg.root().join("kinds");
    support::write_migration(&source, "0001_kinds", EVERY_KIND, "SELECT 1;");
    let source = source.to_str().unwrap().to_string();
    // A role of the cluster, not of the migration: renamed below.
    pg.psql("fp", "CREATE ROLE fp_reader");
    let status = |expect: i32| {
        let run = arcdb(
            &pg,
            &dsn,
            &["status", "--source", &source, "--format", "json"],
        );
        assert_eq!(run.code, expect, "{}\n{}", run.stdout, run.stderr);
        run
    };
    arcdb(&pg, &dsn, &["up", "--source", &source]).ok("up");
    assert_eq!(status(0).json()["live"]["compared"], "object_by_object");
    assert_eq!(status(0).json()["live"]["compared"], "fingerprint");

    // (change, what undoes it): each change alone must be found, object by object.
    let changes = [
        ("ALTER TABLE notes ALTER COLUMN note SET DEFAULT 'y'", "ALTER TABLE notes ALTER COLUMN note SET DEFAULT 'x'"),
        ("COMMENT ON TABLE notes IS 'changed'", "COMMENT ON TABLE notes IS 'notes'"),
        ("COMMENT ON COLUMN notes.note IS 'changed'", "COMMENT ON COLUMN notes.note IS NULL"),
        ("DROP INDEX notes_note_idx", "CREATE INDEX notes_note_idx ON notes (note)"),
        ("ALTER TABLE notes DROP CONSTRAINT notes_note_check", "ALTER TABLE notes ADD CONSTRAINT notes_note_check CHECK (note <> '')"),
        ("ALTER TABLE notes DISABLE TRIGGER notes_touch", "ALTER TABLE notes ENABLE TRIGGER notes_touch"),
        ("CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
         "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"),
        ("ALTER POLICY notes_mine ON notes USING (true)", "ALTER POLICY notes_mine ON notes USING (id > 0)"),
        ("ALTER TABLE notes NO FORCE ROW LEVEL SECURITY", "ALTER TABLE notes FORCE ROW LEVEL SECURITY"),
        ("CREATE OR REPLACE VIEW notes_view AS SELECT id, note FROM notes WHERE id > 1",
         "CREATE OR REPLACE VIEW notes_view AS SELECT id, note FROM notes"),
        ("ALTER SEQUENCE counter INCREMENT BY 2", "ALTER SEQUENCE counter INCREMENT BY 1"),
        ("ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'", "ALTER TYPE mood RENAME VALUE 'fine' TO 'ok'"),
        ("ALTER TABLE notes ADD COLUMN extra int", "ALTER TABLE notes DROP COLUMN extra"),
        ("ALTER TABLE notes ALTER COLUMN mood SET NOT NULL", "ALTER TABLE notes ALTER COLUMN mood DROP NOT NULL"),
        ("GRANT SELECT ON notes TO PUBLIC", "REVOKE SELECT ON notes FROM PUBLIC"),
        ("CREATE EXTENSION IF NOT EXISTS pg_trgm", "DROP EXTENSION pg_trgm"),
        // Changes no row of the objects compared, only what their text names: a role (grants,
        // owners, policy roles) and a type in a schema arcdb does not compare.
        ("ALTER ROLE fp_reader RENAME TO fp_renamed", "ALTER ROLE fp_renamed RENAME TO fp_reader"),
        ("ALTER DOMAIN elsewhere.code RENAME TO code2", "ALTER DOMAIN elsewhere.code2 RENAME TO code"),
        // A materialized view's catalog row counts by value (a refresh rewrites it).
        ("ALTER MATERIALIZED VIEW notes_total RENAME TO notes_sum", "ALTER MATERIALIZED VIEW notes_sum RENAME TO notes_total"),
        ("ALTER MATERIALIZED VIEW notes_total SET (fillfactor = 50)", "ALTER MATERIALIZED VIEW notes_total RESET (fillfactor)"),
        ("ALTER MATERIALIZED VIEW notes_total OWNER TO fp_reader", "ALTER MATERIALIZED VIEW notes_total OWNER TO CURRENT_USER"),
    ];
    for (change, undo) in changes {
        pg.psql("fp", change);
        let drifted = status(4);
        assert_eq!(
            drifted.json()["live"]["compared"],
            "object_by_object",
            "{change}"
        );
        assert!(!differences(&drifted).is_empty(), "{change}: no difference");
        pg.psql("fp", undo);
        let clean = status(0);
        assert_eq!(
            clean.json()["live"]["differences"],
            Value::Array(vec![]),
            "{undo}"
        );
    }
    // Back where it started: the fingerprint decides again.
    assert_eq!(status(0).json()["live"]["compared"], "fingerprint");
    // What `arcdb refresh` runs, and routine maintenance, change no schema: still the fingerprint.
    pg.psql(
        "fp",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY notes_total; VACUUM ANALYZE notes; ANALYZE notes_total;",
    );
    assert_eq!(status(0).json()["live"]["compared"], "fingerprint");

    // PostgreSQL updates an index's validity in place (no new row version): a DROP INDEX
    // CONCURRENTLY that is cancelled while it waits for a reader of the table leaves the index
    // invalid, as it happens in production.
    let reader = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            pg.psql(
                "fp",
                "BEGIN; SELECT count(*) FROM notes; SELECT pg_sleep(3); COMMIT;",
            )
        });
        let holding = "SELECT count(*) FROM pg_locks WHERE relation = 'notes'::regclass AND granted AND pid <> pg_backend_pid()";
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while pg.scalar("fp", holding) == "0" {
            assert!(Instant::now() < deadline, "the reader never locked notes");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let cancelled = pg.try_psql(
            "fp",
            "SET statement_timeout = '1s'; DROP INDEX CONCURRENTLY notes_note_idx;",
        );
        assert!(
            cancelled
                .as_ref()
                .is_err_and(|e| e.contains("statement timeout")),
            "{cancelled:?}"
        );
        reader.join().unwrap()
    });
    assert_eq!(reader.trim(), "0");
    assert_eq!(
        pg.scalar(
            "fp",
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'notes_note_idx'::regclass"
        ),
        "f"
    );
    let invalid = status(4);
    assert_eq!(invalid.json()["live"]["compared"], "object_by_object");
    assert!(
        differences(&invalid)
            .iter()
            .any(|d| d.to_string().contains("notes_note_idx")),
        "{}",
        invalid.stdout
    );
}
