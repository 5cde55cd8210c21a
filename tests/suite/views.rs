//! `arcdb refresh` / `arcdb views` against throwaway PostgreSQL clusters: refresh modes and why,
//! the contents against the base tables, `arcdb.refresh_log`, bad input, lock and statement
//! timeouts, the fallback to a plain refresh, tenant access, and readers never waiting on a
//! concurrent refresh at scale.

use crate::support;

use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Run, TestCluster};

/// How long any arcdb run of these tests may take: a run that waits on a lock forever fails
/// the test instead of hanging it.
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// `arcdb --dsn <dsn> <args…>`, killed and failed after [`RUN_DEADLINE`].
fn arcdb(pg: &TestCluster, dsn: &str, args: &[&str]) -> Run {
    let mut child = pg
        .arcdb_at(dsn, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("arcdb starts");
    let started = Instant::now();
    while child.try_wait().expect("arcdb status").is_none() {
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("arcdb {args:?} still ran after {RUN_DEADLINE:?} (waiting on a lock?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("arcdb output").into()
}

fn count(pg: &TestCluster, db: &str, sql: &str) -> i64 {
    pg.scalar(db, sql)
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: not a number ({e})"))
}

/// Two organizations, three desks each (the third soft-deleted), tasks in every status on the
/// live desks, QA reviews of the completed ones, and LLM costs over two months and two
/// providers on every desk. All through the triggers, as the owner.
const SAMPLE: &str = "
INSERT INTO organizations (id, name, slug) VALUES
    ('a0000000-0000-4000-8000-000000000001', 'Acme', 'acme'),
    ('b0000000-0000-4000-8000-000000000002', 'Globex', 'globex');
INSERT INTO desks (organization_id, desk_id, title, role, llm_provider, llm_model, deleted_at)
SELECT o.id, 'desk-' || k, 'Desk ' || k, 'engineer', 'anthropic', 'claude-sonnet',
       CASE WHEN k = 3 THEN now() END
  FROM organizations AS o CROSS JOIN generate_series(1, 3) AS k;
INSERT INTO tasks (organization_id, title, status, assigned_to_id, started_at, completed_at)
SELECT d.organization_id, 'Task ' || g,
       s.status, d.id,
       timestamptz '2025-01-01 00:00+00' + g * interval '1 hour',
       CASE WHEN s.status = 'completed'
            THEN timestamptz '2025-01-01 00:00+00' + g * interval '1 hour' + g * interval '30 minutes' END
  FROM desks AS d
 CROSS JOIN generate_series(1, 4 + length(d.desk_id::text) + (d.organization_id::text < 'b')::int) AS g
 CROSS JOIN LATERAL (SELECT (ARRAY['completed', 'failed', 'pending', 'in_progress', 'completed']::taskstatus[])[1 + g % 5] AS status) AS s
 WHERE d.deleted_at IS NULL;
INSERT INTO qa_reviews (organization_id, task_id, status)
SELECT organization_id, id, CASE WHEN task_number % 2 = 0 THEN 'passed' ELSE 'failed' END::qastagestatus
  FROM tasks WHERE status = 'completed';
INSERT INTO cost_tracking (organization_id, desk_id, provider, model, input_tokens, output_tokens, total_cost, created_at)
SELECT d.organization_id, d.id, (ARRAY['anthropic', 'openai']::llmprovider[])[1 + g % 2], 'model',
       100 * g, 10 * g, g * 0.01 + right(d.desk_id::text, 1)::int * 0.1,
       timestamptz '2025-01-15 12:00+00' + (g / 5) * interval '1 month'
  FROM desks AS d CROSS JOIN generate_series(1, 8) AS g;
";

/// A database at the latest migration holding [`SAMPLE`]; returns its DSN.
fn prepared(pg: &TestCluster, db: &str) -> String {
    let dsn = pg.create_db(db);
    let up = arcdb(pg, &dsn, &["up"]);
    assert_eq!(up.code, 0, "arcdb up: {}", up.stderr);
    pg.psql(db, SAMPLE);
    dsn
}

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["views"]
        .as_array()
        .expect("views array")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the report: {report:#}"))
}

fn names(report: &Value) -> Vec<String> {
    report["views"]
        .as_array()
        .expect("views array")
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

/// A usage error: exit 2, one line on stderr, nothing on stdout.
fn assert_refused(run: &Run, needle: &str) {
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert!(run.stdout.is_empty(), "stdout: {}", run.stdout);
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(needle),
        "expected '{needle}' in: {}",
        run.stderr
    );
}

/// The contents of the materialized views, next to the same aggregates computed from the base
/// tables.
fn assert_contents_match_base_tables(pg: &TestCluster, db: &str) {
    let from_view = pg.scalar(db,
        "SELECT string_agg(organization_id || '|' || billing_month || '|' || provider || '|' || total_calls
                           || '|' || active_desks || '|' || total_tokens || '|' || total_cost, ','
                           ORDER BY organization_id, billing_month, provider)
           FROM org_cost_summary_mv",
    );
    let direct = pg.scalar(db,
        "SELECT string_agg(organization_id || '|' || billing_month || '|' || provider || '|' || n
                           || '|' || desks || '|' || tokens || '|' || cost, ','
                           ORDER BY organization_id, billing_month, provider)
           FROM (SELECT organization_id, billing_month, provider, count(*) AS n,
                        count(DISTINCT desk_id) AS desks, sum(input_tokens + output_tokens) AS tokens,
                        sum(total_cost) AS cost
                   FROM cost_tracking GROUP BY 1, 2, 3) AS s",
    );
    assert!(!direct.is_empty());
    assert_eq!(
        from_view, direct,
        "org_cost_summary_mv differs from cost_tracking"
    );

    let from_view = pg.scalar(db,
        "SELECT string_agg(desk_code || '|' || total_tasks || '|' || completed_tasks || '|' || failed_tasks
                           || '|' || qa_passed || '|' || qa_failed || '|' || total_llm_calls || '|' || total_llm_cost, ','
                           ORDER BY organization_id, desk_code)
           FROM desk_performance_mv",
    );
    let direct = pg.scalar(db,
        "SELECT string_agg(d.desk_id || '|'
                   || (SELECT count(*) FROM tasks AS t WHERE t.assigned_to_id = d.id) || '|'
                   || (SELECT count(*) FROM tasks AS t WHERE t.assigned_to_id = d.id AND t.status = 'completed') || '|'
                   || (SELECT count(*) FROM tasks AS t WHERE t.assigned_to_id = d.id AND t.status = 'failed') || '|'
                   || (SELECT count(*) FROM qa_reviews AS q JOIN tasks AS t ON t.id = q.task_id
                        WHERE t.assigned_to_id = d.id AND q.status = 'passed') || '|'
                   || (SELECT count(*) FROM qa_reviews AS q JOIN tasks AS t ON t.id = q.task_id
                        WHERE t.assigned_to_id = d.id AND q.status IN ('failed', 'needs_revision')) || '|'
                   || (SELECT count(*) FROM cost_tracking AS c WHERE c.desk_id = d.id) || '|'
                   || (SELECT sum(total_cost) FROM cost_tracking AS c WHERE c.desk_id = d.id), ','
                   ORDER BY d.organization_id, d.desk_id)
           FROM desks AS d WHERE d.deleted_at IS NULL",
    );
    assert_eq!(
        from_view, direct,
        "desk_performance_mv differs from the base tables"
    );
    // A few numbers spelled out, so that a wrong fixture cannot make both sides empty alike.
    assert_eq!(count(pg, db, "SELECT count(*) FROM desk_performance_mv"), 4);
    assert_eq!(count(pg, db, "SELECT count(*) FROM org_cost_summary_mv"), 8);
    assert_eq!(
        pg.scalar(
            db,
            "SELECT total_tasks FROM desk_performance_mv WHERE desk_code = 'desk-2'
                AND organization_id = 'a0000000-0000-4000-8000-000000000001'"
        ),
        "11"
    );
}

#[test]
fn refresh_all_concurrently_when_populated_records_it_and_views_lists_it() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg, "analytics");
    // A materialized view added after the migrations (as a later migration would), not yet
    // populated; and one outside schema public, which arcdb does not manage.
    pg.psql(
        "analytics",
        "CREATE MATERIALIZED VIEW mv_org_desk_count AS
             SELECT organization_id, count(*) AS desks FROM desks GROUP BY organization_id
           WITH NO DATA;
         CREATE UNIQUE INDEX mv_org_desk_count_key ON mv_org_desk_count (organization_id);
         CREATE SCHEMA reporting;
         CREATE MATERIALIZED VIEW reporting.mv_private AS SELECT 1 AS one;",
    );
    // Created WITH DATA on an empty database: populated, but empty until refreshed.
    assert_eq!(
        count(&pg, "analytics", "SELECT count(*) FROM org_cost_summary_mv"),
        0
    );

    let before = arcdb(&pg, &dsn, &["views", "--format", "json"]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    let before = before.json();
    assert_eq!(
        names(&before),
        [
            "desk_performance_mv",
            "mv_org_desk_count",
            "org_cost_summary_mv"
        ]
    );
    let fresh = entry(&before, "mv_org_desk_count");
    assert_eq!(fresh["populated"], false);
    assert_eq!(fresh["concurrent_refresh"], false);
    assert_eq!(fresh["rows"], Value::Null);
    assert_eq!(fresh["last_refresh"], Value::Null);
    assert_eq!(
        entry(&before, "org_cost_summary_mv")["concurrent_refresh"],
        true
    );

    let run = arcdb(&pg, &dsn, &["refresh", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.is_empty(),
        "no progress lines off a terminal: {}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["lock_timeout_ms"], 30_000);
    assert_eq!(report["statement_timeout_ms"], Value::Null);
    for name in ["desk_performance_mv", "org_cost_summary_mv"] {
        let e = entry(&report, name);
        assert_eq!(e["mode"], "concurrent", "{e:#}");
        assert_eq!(e["outcome"], "refreshed", "{e:#}");
        assert_eq!(e["in_transaction"], true);
        assert!(e["mode_reason"].as_str().unwrap().contains("unique index"));
    }
    let first = entry(&report, "mv_org_desk_count");
    assert_eq!(first["mode"], "plain");
    assert_eq!(first["outcome"], "refreshed");
    assert!(
        first["mode_reason"]
            .as_str()
            .unwrap()
            .contains("not populated"),
        "{first:#}"
    );
    assert!(!names(&report).contains(&"mv_private".to_string()));

    assert_contents_match_base_tables(&pg, "analytics");
    assert_eq!(entry(&report, "desk_performance_mv")["rows"], 4);
    assert_eq!(entry(&report, "org_cost_summary_mv")["rows"], 8);
    assert_eq!(entry(&report, "mv_org_desk_count")["rows"], 2);

    assert_eq!(
        pg.psql(
            "analytics",
            "SELECT view_schema || '.' || view_name || ' ' || mode || ' ' || outcome || ' ' || rows
                    || ' ' || (error IS NULL) || ' ' || (finished_at >= started_at) || ' ' || (duration_ms >= 0)
               FROM arcdb.refresh_log ORDER BY id"
        ),
        "public.desk_performance_mv concurrent ok 4 true true true\n\
         public.mv_org_desk_count plain ok 2 true true true\n\
         public.org_cost_summary_mv concurrent ok 8 true true true"
    );

    // A named view only; populated now, so concurrent.
    let named = arcdb(
        &pg,
        &dsn,
        &["refresh", "mv_org_desk_count", "--format", "json"],
    );
    assert_eq!(named.code, 0, "{}", named.stderr);
    let named = named.json();
    assert_eq!(names(&named), ["mv_org_desk_count"]);
    assert_eq!(entry(&named, "mv_org_desk_count")["mode"], "concurrent");
    assert_eq!(
        count(&pg, "analytics", "SELECT count(*) FROM arcdb.refresh_log"),
        4
    );

    let after = arcdb(&pg, &dsn, &["views", "--format", "json"]);
    assert_eq!(after.code, 0, "{}", after.stderr);
    let after = after.json();
    for name in [
        "desk_performance_mv",
        "org_cost_summary_mv",
        "mv_org_desk_count",
    ] {
        let e = entry(&after, name);
        let last = &e["last_refresh"];
        assert_eq!(last["outcome"], "ok", "{e:#}");
        assert_eq!(last["mode"], "concurrent", "{e:#}");
        assert!(last["duration_ms"].as_i64().unwrap() >= 0);
        assert!(last["age_seconds"].as_f64().unwrap() >= 0.0);
        assert_eq!(last["last_ok_at"], last["finished_at"]);
        assert_eq!(e["populated"], true);
        assert_eq!(e["concurrent_refresh"], true);
        assert_eq!(e["rows_source"], "count");
        assert!(e["size_bytes"].as_i64().unwrap() > 0);
        assert_eq!(e["tenant_can_read"], false);
        assert_eq!(e["warnings"], Value::Array(vec![]));
    }
    assert_eq!(entry(&after, "org_cost_summary_mv")["rows"], 8);
    // The tenant-facing paths of each analytics view: arcdb's table and ArcDesk's name (0009),
    // tables under the tenant policy that the refresh keeps up to date; no view reads them.
    for (mv, tenant_tables, key) in [
        (
            "org_cost_summary_mv",
            ["mv_org_cost_summary", "org_cost_summary"],
            vec!["organization_id", "billing_month", "provider"],
        ),
        (
            "desk_performance_mv",
            ["desk_performance", "mv_desk_performance"],
            vec!["organization_id", "desk_id"],
        ),
    ] {
        let tt = entry(&after, mv)["tenant_tables"]
            .as_array()
            .unwrap()
            .clone();
        let names: Vec<&str> = tt.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, tenant_tables, "{tt:#?}");
        for t in &tt {
            assert_eq!(t["rls_enabled"], true);
            assert_eq!(t["granted_to_tenant"], true);
            assert_eq!(t["key"], serde_json::json!(key));
        }
        assert_eq!(entry(&after, mv)["tenant_views"], Value::Array(vec![]));
    }
    assert_eq!(
        entry(&after, "mv_org_desk_count")["tenant_tables"],
        Value::Array(vec![])
    );
    // Each refresh brought the tenant tables up to date in its transaction.
    let synced = &entry(&report, "desk_performance_mv")["tenant_tables"];
    assert_eq!(
        synced,
        &serde_json::json!([
            {"schema": "public", "name": "desk_performance", "deleted": 0, "upserted": 4},
            {"schema": "public", "name": "mv_desk_performance", "deleted": 0, "upserted": 4},
        ])
    );

    let table = arcdb(&pg, &dsn, &["views"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    for needle in [
        "org_cost_summary_mv",
        "tenants read it via table mv_org_cost_summary, table org_cost_summary",
        "tenants read it via table desk_performance, table mv_desk_performance",
        "ok (concurrent)",
    ] {
        assert!(
            table.stdout.contains(needle),
            "{needle} missing:\n{}",
            table.stdout
        );
    }

    // Tenants: no access to the materialized views, their own organization's rows through the
    // tenant tables.
    let denied = pg
        .try_psql(
            "analytics",
            "SET ROLE arcdesk_tenant; SELECT count(*) FROM org_cost_summary_mv;",
        )
        .unwrap_err();
    assert!(denied.contains("permission denied"), "{denied}");
    assert_eq!(
        pg.psql(
            "analytics",
            "SET ROLE arcdesk_tenant;
             SELECT count(*) FROM org_cost_summary;
             SET app.current_org_id = 'a0000000-0000-4000-8000-000000000001';
             SELECT count(*) || ' ' || count(DISTINCT organization_id) FROM org_cost_summary;
             SELECT count(*) || ' ' || count(DISTINCT organization_id) FROM desk_performance;"
        ),
        "0\n4 1\n2 1"
    );

    // Outside the managed schema.
    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "reporting.mv_private"]),
        "reporting.mv_private is a materialized view outside schema public",
    );
}

#[test]
fn bad_input_is_refused_in_one_line_and_touches_nothing() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg, "bad");
    let untouched = |pg: &TestCluster| {
        assert_eq!(
            pg.scalar("bad", "SELECT to_regclass('arcdb.refresh_log') IS NULL"),
            "t",
            "arcdb.refresh_log was created"
        );
        assert_eq!(
            count(pg, "bad", "SELECT count(*) FROM org_cost_summary_mv"),
            0
        );
    };

    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "mv_nope"]),
        "unknown materialized view 'mv_nope'",
    );
    // A tenant table (0009) names the materialized view it follows.
    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "org_cost_summary"]),
        "org_cost_summary is a table, not a materialized view (arcdb refresh keeps it up to date from org_cost_summary_mv: refresh that)",
    );
    pg.psql(
        "bad",
        "CREATE VIEW org_cost_report AS SELECT organization_id FROM org_cost_summary_mv",
    );
    let plain_view = arcdb(&pg, &dsn, &["refresh", "org_cost_report"]);
    assert_refused(&plain_view, "org_cost_report is a view, not materialized");
    assert!(plain_view.stderr.contains("it reads org_cost_summary_mv"));
    // One bad name among good ones: nothing is refreshed.
    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "org_cost_summary_mv", "tasks"]),
        "tasks is a table, not a materialized view",
    );
    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "--lock-timeout", "soon"]),
        "--lock-timeout 'soon' is not a number of seconds",
    );
    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "--statement-timeout", "-5"]),
        "--statement-timeout '-5' is negative",
    );
    assert_refused(
        &arcdb(&pg, &dsn, &["refresh", "--lock-timeout", "1e9"]),
        "is above PostgreSQL's limit",
    );
    untouched(&pg);

    // A dry run says what it would do and changes nothing.
    let dry = arcdb(&pg, &dsn, &["refresh", "--dry-run", "--format", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let dry = dry.json();
    assert_eq!(dry["dry_run"], true);
    for name in ["desk_performance_mv", "org_cost_summary_mv"] {
        assert_eq!(entry(&dry, name)["outcome"], "would_refresh");
        assert_eq!(entry(&dry, name)["mode"], "concurrent");
        assert_eq!(entry(&dry, name)["duration_ms"], Value::Null);
    }
    let dry_table = arcdb(&pg, &dsn, &["refresh", "--dry-run"]);
    assert!(
        dry_table.stdout.contains("nothing was changed"),
        "{}",
        dry_table.stdout
    );
    untouched(&pg);

    // Two first uses at once: both create-or-find arcdb.refresh_log and refresh.
    let children: Vec<_> = (0..2)
        .map(|_| {
            pg.arcdb_at(&dsn, &["refresh", "--format", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("arcdb starts")
        })
        .collect();
    for child in children {
        let run: Run = child.wait_with_output().expect("arcdb ends").into();
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    assert_eq!(
        pg.psql(
            "bad",
            "SELECT view_name || ' ' || count(*) || ' ' || bool_and(outcome = 'ok')
               FROM arcdb.refresh_log GROUP BY view_name ORDER BY view_name"
        ),
        "desk_performance_mv 2 true\norg_cost_summary_mv 2 true"
    );
}

/// A session of the test's own (not named arcdb), in `rt`.
fn session(rt: &tokio::runtime::Runtime, dsn: &str, name: &str) -> arcdb::db::Db {
    let dsn = arcdb::db::Dsn::parse(&format!("{dsn} application_name={name}")).unwrap();
    rt.block_on(arcdb::db::connect(&dsn, Duration::from_secs(10)))
        .expect("test session connects")
}

/// Locks arcdb's backends hold or wait for (none once it has finished).
fn arcdb_locks(pg: &TestCluster, db: &str) -> i64 {
    count(
        pg,
        db,
        "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
          WHERE a.application_name = 'arcdb'",
    )
}

const ACME: &str = "a0000000-0000-4000-8000-000000000001";
const GLOBEX: &str = "b0000000-0000-4000-8000-000000000002";

/// A tenant's view of desk_performance: every column of every row it sees, as text.
const TENANT_DESKS: &str =
    "SELECT coalesce(string_agg(d::text, E'\\n' ORDER BY d.desk_id), '') FROM desk_performance AS d";

/// Tenant tables (0009): after a refresh with changed data a tenant reads exactly its own
/// organization's new rows of the materialized view, rows gone from it are gone, and a tenant
/// reader with a short lock_timeout never waits while the refresh applies the difference: it
/// reads the previous contents until the refresh commits. The refresh is held, after it has
/// written desk_performance and before it commits, by a session that keeps
/// mv_desk_performance (the next table it writes) in SHARE mode.
#[test]
fn tenants_read_their_own_refreshed_rows_and_never_wait_on_the_refresh() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg, "tenant");
    let first = arcdb(&pg, &dsn, &["refresh"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let reader = session(&rt, &pg.dsn("tenant"), "tenant-reader");
    let read_as = |org: &str| -> Result<String, tokio_postgres::Error> {
        rt.block_on(async {
            reader
                .client
                .batch_execute(&format!(
                    "SET ROLE arcdesk_tenant; SET lock_timeout = '50ms';
                     SELECT set_config('app.current_org_id', '{org}', false)"
                ))
                .await?;
            let row = reader.client.query_one(TENANT_DESKS, &[]).await?;
            reader.client.batch_execute("RESET ROLE").await?;
            Ok(row.get::<_, String>(0))
        })
    };
    let owners_rows = |org: &str| {
        pg.psql(
            "tenant",
            &format!(
                "SELECT coalesce(string_agg(d::text, E'\\n' ORDER BY d.desk_id), '')
                   FROM desk_performance_mv AS d WHERE organization_id = '{org}'"
            ),
        )
    };
    let acme_before = read_as(ACME).unwrap();
    assert_eq!(acme_before, owners_rows(ACME));
    assert_eq!(acme_before.lines().count(), 2);

    // Changed data: more tasks on Acme's desk-1, Globex's desk-2 soft-deleted.
    pg.psql(
        "tenant",
        &format!(
            "INSERT INTO tasks (organization_id, title, status, assigned_to_id)
             SELECT organization_id, 'More ' || g, 'pending', id
               FROM desks CROSS JOIN generate_series(1, 3) AS g
              WHERE organization_id = '{ACME}' AND desk_id = 'desk-1';
             UPDATE desks SET deleted_at = now() WHERE organization_id = '{GLOBEX}' AND desk_id = 'desk-2';"
        ),
    );

    let blocker = session(&rt, &pg.dsn("tenant"), "blocker");
    rt.block_on(
        blocker
            .client
            .batch_execute("BEGIN; LOCK TABLE mv_desk_performance IN SHARE MODE"),
    )
    .unwrap();
    let refresh = pg
        .arcdb_at(
            &dsn,
            &["refresh", "desk_performance_mv", "--format", "json"],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("arcdb starts");
    let waiting = "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
                    WHERE a.application_name = 'arcdb' AND NOT l.granted
                      AND l.relation = 'mv_desk_performance'::regclass";
    let started = Instant::now();
    while count(&pg, "tenant", waiting) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "arcdb refresh never reached mv_desk_performance"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The refresh has written desk_performance (ROW EXCLUSIVE held, not committed).
    assert_eq!(
        count(
            &pg,
            "tenant",
            "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
              WHERE a.application_name = 'arcdb' AND l.granted AND l.mode = 'RowExclusiveLock'
                AND l.relation = 'desk_performance'::regclass"
        ),
        1
    );
    let read_started = Instant::now();
    let during = read_as(ACME);
    let took = read_started.elapsed();
    assert_eq!(
        during.as_ref().map_err(|e| format!("{e:?}")),
        Ok(&acme_before),
        "while the refresh applies its difference, a tenant reads the previous contents without waiting"
    );
    assert!(took < Duration::from_secs(2), "the read took {took:?}");
    rt.block_on(blocker.client.batch_execute("COMMIT")).unwrap();
    let run: Run = refresh.wait_with_output().expect("arcdb ends").into();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(
        entry(&report, "desk_performance_mv")["tenant_tables"],
        serde_json::json!([
            {"schema": "public", "name": "desk_performance", "deleted": 1, "upserted": 1},
            {"schema": "public", "name": "mv_desk_performance", "deleted": 1, "upserted": 1},
        ])
    );

    // After the commit: exactly the materialized view's new rows of the tenant's organization.
    let acme_after = read_as(ACME).unwrap();
    assert_ne!(acme_after, acme_before);
    assert_eq!(acme_after, owners_rows(ACME));
    let globex_after = read_as(GLOBEX).unwrap();
    assert_eq!(globex_after, owners_rows(GLOBEX));
    assert_eq!(globex_after.lines().count(), 1, "{globex_after}");
    assert!(
        !acme_after.contains(GLOBEX) && !globex_after.contains(ACME),
        "a tenant read another organization's rows"
    );
    assert_eq!(
        pg.psql(
            "tenant",
            "SET ROLE arcdesk_tenant;
             SELECT set_config('app.current_org_id', 'a0000000-0000-4000-8000-000000000001', false) IS NOT NULL;
             SELECT desk_identifier || ' ' || total_tasks FROM mv_desk_performance ORDER BY 1;"
        ),
        format!(
            "t\n{}",
            pg.psql(
                "tenant",
                &format!(
                    "SELECT desk_code || ' ' || total_tasks FROM desk_performance_mv
                      WHERE organization_id = '{ACME}' ORDER BY 1"
                )
            )
        )
    );

    // A tag naming no managed materialized view is said, not silently skipped.
    pg.psql(
        "tenant",
        "CREATE TABLE stale_copy (organization_id uuid PRIMARY KEY);
         COMMENT ON TABLE stale_copy IS 'Old. arcdb:refreshed-from: dropped_mv';",
    );
    for args in [["views", "--format"], ["refresh", "--format"]] {
        let run = arcdb(&pg, &dsn, &[args[0], args[1], "json"]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let warnings = run.json()["warnings"].clone();
        assert_eq!(
            warnings,
            serde_json::json!([
                "stale_copy is tagged arcdb:refreshed-from: public.dropped_mv, which is not a managed materialized view: arcdb refresh does not update it; correct the tag in its comment"
            ]),
            "{args:?}"
        );
    }
}

#[test]
fn a_lock_or_statement_timeout_fails_that_view_only_and_leaves_nothing_locked() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg, "locked");
    let rt = tokio::runtime::Runtime::new().unwrap();

    // Another session holds desk_performance_mv (refreshed first) in ACCESS EXCLUSIVE mode: a
    // plain refresh of its own, left uncommitted (LOCK TABLE does not take materialized views).
    let holder = session(&rt, &pg.dsn("locked"), "holder");
    let holder_pid: i32 = rt
        .block_on(holder.client.query_one("SELECT pg_backend_pid()", &[]))
        .unwrap()
        .get(0);
    rt.block_on(
        holder
            .client
            .batch_execute("BEGIN; REFRESH MATERIALIZED VIEW desk_performance_mv"),
    )
    .unwrap();

    let run = arcdb(
        &pg,
        &dsn,
        &["refresh", "--lock-timeout", "1", "--format", "json"],
    );
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["lock_timeout_ms"], 1000);
    let failed = entry(&report, "desk_performance_mv");
    assert_eq!(failed["outcome"], "failed", "{failed:#}");
    assert_eq!(failed["rows"], Value::Null);
    let error = failed["error"].as_str().unwrap();
    assert!(error.starts_with("lock timeout:"), "{error}");
    assert!(error.contains("more than 1 s"), "{error}");
    assert!(
        error.contains(&format!(
            "held by pid {holder_pid} (holder): AccessExclusiveLock on desk_performance_mv"
        )),
        "{error}"
    );
    assert!(!error.contains('\n'));
    // The failed transaction ended: the next view was refreshed on the same connection.
    let other = entry(&report, "org_cost_summary_mv");
    assert_eq!(other["outcome"], "refreshed", "{other:#}");
    assert_eq!(other["mode"], "concurrent");
    assert_eq!(other["rows"], 8);

    // Nothing of arcdb holds or waits for a lock; the holder's locks are the only ones on the
    // view, and nobody waits.
    assert_eq!(arcdb_locks(&pg, "locked"), 0);
    assert_eq!(
        pg.psql(
            "locked",
            "SELECT string_agg(DISTINCT pid::text, ',') || ' ' || bool_or(mode = 'AccessExclusiveLock' AND granted)
               FROM pg_locks WHERE relation = 'desk_performance_mv'::regclass;
             SELECT count(*) FROM pg_locks WHERE NOT granted;"
        ),
        format!("{holder_pid} true\n0")
    );
    assert_eq!(
        pg.psql(
            "locked",
            "SELECT view_name || ' ' || mode || ' ' || outcome || ' ' || coalesce(rows::text, '-') || ' '
                    || coalesce((error LIKE 'lock timeout:%')::text, 'no-error')
               FROM arcdb.refresh_log ORDER BY id"
        ),
        "desk_performance_mv concurrent failed - true\norg_cost_summary_mv concurrent ok 8 no-error"
    );
    // `views` does not wait behind the lock either: it says the view could not be measured.
    let locked_views = arcdb(&pg, &dsn, &["views", "--format", "json"]);
    assert_eq!(locked_views.code, 0, "{}", locked_views.stderr);
    let locked_views = locked_views.json();
    let e = entry(&locked_views, "desk_performance_mv");
    assert_eq!(e["size_bytes"], Value::Null);
    let why = e["not_measured"].as_str().unwrap();
    assert!(why.starts_with("locked for more than 1s"), "{why}");
    assert!(
        why.contains(&format!("held by pid {holder_pid} (holder)")),
        "{why}"
    );
    assert_eq!(
        entry(&locked_views, "org_cost_summary_mv")["not_measured"],
        Value::Null
    );
    assert_eq!(entry(&locked_views, "org_cost_summary_mv")["rows"], 8);

    let table = arcdb(
        &pg,
        &dsn,
        &["refresh", "desk_performance_mv", "--lock-timeout", "0.2"],
    );
    assert_eq!(table.code, 5);
    assert!(
        table
            .stdout
            .contains("desk_performance_mv failed: lock timeout"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("0 refreshed (0 concurrently), 1 failed"),
        "{}",
        table.stdout
    );
    rt.block_on(holder.client.batch_execute("ROLLBACK"))
        .unwrap();

    // `views` shows the failed attempt as the last refresh.
    let views = arcdb(&pg, &dsn, &["views", "--format", "json"]);
    assert_eq!(views.code, 0, "{}", views.stderr);
    let views = views.json();
    let last = &entry(&views, "desk_performance_mv")["last_refresh"];
    assert_eq!(last["outcome"], "failed");
    assert!(last["error"].as_str().unwrap().starts_with("lock timeout:"));
    assert_eq!(last["last_ok_at"], Value::Null);
    let table = arcdb(&pg, &dsn, &["views"]);
    assert!(
        table
            .stdout
            .contains("desk_performance_mv: last refresh failed: lock timeout"),
        "{}",
        table.stdout
    );

    // A statement timeout: a view whose query takes 3 s, bounded at 0.5 s.
    pg.psql(
        "locked",
        "CREATE MATERIALIZED VIEW mv_slow AS SELECT 1 AS id FROM pg_sleep(3) WITH NO DATA",
    );
    let slow = arcdb(
        &pg,
        &dsn,
        &[
            "refresh",
            "mv_slow",
            "--statement-timeout",
            "0.5",
            "--format",
            "json",
        ],
    );
    assert_eq!(slow.code, 5, "{}\n{}", slow.stdout, slow.stderr);
    let slow = slow.json();
    let e = entry(&slow, "mv_slow");
    assert_eq!(e["outcome"], "failed");
    assert_eq!(e["mode"], "plain");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("statement timeout: the refresh ran longer than 0.5 s"),
        "{e:#}"
    );
    assert_eq!(
        pg.scalar(
            "locked",
            "SELECT ispopulated FROM pg_matviews WHERE matviewname = 'mv_slow'"
        ),
        "f"
    );
    assert_eq!(arcdb_locks(&pg, "locked"), 0);
    assert_eq!(
        pg.scalar("locked",
            "SELECT outcome || ' ' || (error LIKE 'statement timeout:%')::text FROM arcdb.refresh_log
              WHERE view_name = 'mv_slow'"
        ),
        "failed true"
    );
}

#[test]
fn without_a_usable_unique_index_the_refresh_is_plain_and_says_why() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg, "noindex");
    let mode_of = |pg: &TestCluster| {
        let run = arcdb(pg, &dsn, &["refresh", "--format", "json"]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        let report = run.json();
        let e = entry(&report, "org_cost_summary_mv");
        assert_eq!(e["outcome"], "refreshed");
        assert_eq!(entry(&report, "desk_performance_mv")["mode"], "concurrent");
        (
            e["mode"].as_str().unwrap().to_string(),
            e["mode_reason"].as_str().unwrap().to_string(),
        )
    };
    // PostgreSQL's own verdict on the same view.
    let postgres_allows_concurrent = |pg: &TestCluster| {
        pg.try_psql(
            "noindex",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY org_cost_summary_mv",
        )
        .is_ok()
    };

    pg.psql("noindex", "DROP INDEX org_cost_summary_mv_key");
    let (mode, why) = mode_of(&pg);
    assert_eq!(mode, "plain");
    assert!(why.starts_with("no unique index"), "{why}");
    assert!(!postgres_allows_concurrent(&pg));
    assert_contents_match_base_tables(&pg, "noindex");

    // Unique indexes PostgreSQL cannot use: partial, on an expression.
    pg.psql(
        "noindex",
        "CREATE UNIQUE INDEX mv_ocs_partial ON org_cost_summary_mv (organization_id, billing_month, provider)
          WHERE total_calls > 0;
         CREATE UNIQUE INDEX mv_ocs_expression ON org_cost_summary_mv (organization_id, (billing_month || ''), provider);",
    );
    let (mode, why) = mode_of(&pg);
    assert_eq!(mode, "plain");
    for needle in [
        "no usable unique index",
        "mv_ocs_partial is partial",
        "mv_ocs_expression is on an expression",
    ] {
        assert!(why.contains(needle), "{needle} not in: {why}");
    }
    assert!(!postgres_allows_concurrent(&pg));

    // An invalid one (a unique CREATE INDEX CONCURRENTLY that failed on duplicates) is no use
    // either, and worse: the plain refresh rebuilds it and fails. arcdb says so and warns.
    assert!(pg
        .try_psql(
            "noindex",
            "CREATE UNIQUE INDEX CONCURRENTLY mv_ocs_invalid ON org_cost_summary_mv (provider)"
        )
        .is_err());
    let run = arcdb(
        &pg,
        &dsn,
        &["refresh", "org_cost_summary_mv", "--format", "json"],
    );
    assert_eq!(run.code, 5, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let e = entry(&report, "org_cost_summary_mv");
    assert_eq!(e["mode"], "plain");
    assert!(
        e["mode_reason"]
            .as_str()
            .unwrap()
            .contains("mv_ocs_invalid is not valid"),
        "{e:#}"
    );
    let error = e["error"].as_str().unwrap();
    assert!(
        error.starts_with("could not create unique index \"mv_ocs_invalid\": Key (provider)="),
        "{error}"
    );
    assert!(e["warnings"][0]
        .as_str()
        .unwrap()
        .contains("mv_ocs_invalid of org_cost_summary_mv is not valid"));
    pg.psql("noindex", "DROP INDEX mv_ocs_invalid");
    let (mode, _) = mode_of(&pg);
    assert_eq!(mode, "plain");
    let views = arcdb(&pg, &dsn, &["views", "--format", "json"]).json();
    let e = entry(&views, "org_cost_summary_mv");
    assert_eq!(e["concurrent_refresh"], false);
    assert_eq!(e["refresh_mode"], "plain");
    assert!(e["mode_reason"]
        .as_str()
        .unwrap()
        .contains("mv_ocs_partial is partial"));
    assert_eq!(e["last_refresh"]["mode"], "plain");

    // A plain-column unique index (INCLUDE columns are plain too) brings CONCURRENTLY back.
    pg.psql(
        "noindex",
        "CREATE UNIQUE INDEX mv_ocs_key ON org_cost_summary_mv (organization_id, billing_month, provider)
          INCLUDE (total_calls)",
    );
    let (mode, why) = mode_of(&pg);
    assert_eq!(mode, "concurrent");
    assert!(why.contains("mv_ocs_key"), "{why}");
    assert!(postgres_allows_concurrent(&pg));
    assert_eq!(
        pg.psql(
            "noindex",
            "SELECT string_agg(CASE outcome WHEN 'ok' THEN mode ELSE outcome END, ' ' ORDER BY id)
               FROM arcdb.refresh_log WHERE view_name = 'org_cost_summary_mv'"
        ),
        "plain plain failed plain concurrent"
    );
}

/// Volume for the refresh to chew on: 300,000 LLM calls over 18 months and 4 providers, loaded
/// as the owner with triggers and foreign-key checks off (billing_month and total_tokens given
/// explicitly).
const VOLUME: &str = "
SET session_replication_role = replica;
INSERT INTO cost_tracking (organization_id, desk_id, provider, model, input_tokens, output_tokens,
                           total_tokens, total_cost, created_at, billing_month)
SELECT d.organization_id, d.id, (ARRAY['anthropic', 'openai', 'google', 'mistral']::llmprovider[])[1 + g % 4],
       'model', g % 5000, g % 700, g % 5000 + g % 700, (g % 997) / 10000.0, t.at,
       to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM')
  FROM desks AS d
 CROSS JOIN generate_series(1, 50000) AS g
 CROSS JOIN LATERAL (SELECT timestamptz '2024-01-01 00:00+00' + (g % 540) * interval '1 day' AS at) AS t;
RESET session_replication_role;
ANALYZE cost_tracking;
";

/// New rows in a new month, so that the next refresh has differences to merge.
const MORE: &str = "
INSERT INTO cost_tracking (organization_id, desk_id, provider, model, input_tokens, output_tokens, total_cost, created_at)
SELECT d.organization_id, d.id, 'cohere', 'model', g, g, 0.5, now() - g * interval '1 second'
  FROM desks AS d CROSS JOIN generate_series(1, 500) AS g;
";

struct Read {
    start: Instant,
    end: Instant,
    error: Option<String>,
}

struct Sample {
    sent: Instant,
    received: Instant,
    /// Lock waits of the reader's backend at that moment.
    reader_waits: i64,
    /// "pid query_start query" of arcdb's running REFRESH, if any.
    refresh: Option<String>,
}

/// Run `arcdb refresh <args>` while a reader (lock_timeout 50 ms) reads both materialized views
/// in a loop and a third session samples pg_stat_activity / pg_locks.
fn refresh_under_readers(
    pg: &TestCluster,
    rt: &tokio::runtime::Runtime,
    db: &str,
    args: &[&str],
) -> (Run, Vec<Read>, Vec<Sample>) {
    let reader = session(rt, &pg.dsn(db), "reader");
    let sampler = session(rt, &pg.dsn(db), "sampler");
    let reader_pid: i32 = rt
        .block_on(async {
            reader
                .client
                .batch_execute("SET lock_timeout = '50ms'")
                .await?;
            reader
                .client
                .query_one("SELECT pg_backend_pid()", &[])
                .await
        })
        .unwrap()
        .get(0);
    let mut cmd = pg.arcdb_at(&pg.dsn(db), args);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let reading = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut reads = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let start = Instant::now();
                    let result = reader
                        .client
                        .query_one(
                            "SELECT (SELECT count(*) FROM org_cost_summary_mv),
                                    (SELECT sum(total_tasks) FROM desk_performance_mv)",
                            &[],
                        )
                        .await;
                    reads.push(Read {
                        start,
                        end: Instant::now(),
                        error: result.err().map(|e| format!("{e:?}")),
                    });
                }
                reads
            })
        };
        let sampling = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let sent = Instant::now();
                    let row = sampler
                        .client
                        .query_one(
                            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')
                                  + (SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted),
                                    (SELECT a.pid || ' ' || a.query_start || ' ' || a.query
                                       FROM pg_stat_activity AS a
                                      WHERE a.application_name = 'arcdb' AND a.state = 'active'
                                        AND a.query LIKE 'REFRESH MATERIALIZED VIEW%'
                                      LIMIT 1)",
                            &[&reader_pid],
                        )
                        .await
                        .expect("sampling pg_stat_activity");
                    samples.push(Sample {
                        sent,
                        received: Instant::now(),
                        reader_waits: row.get(0),
                        refresh: row.get(1),
                    });
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                samples
            })
        };
        let output = tokio::process::Command::from(cmd)
            .output()
            .await
            .expect("arcdb runs");
        stop.store(true, Ordering::SeqCst);
        (
            Run::from(output),
            reading.await.unwrap(),
            sampling.await.unwrap(),
        )
    })
}

/// Reads that certainly ran while one and the same REFRESH statement was running: between two
/// consecutive samples that both saw it (same backend, same query_start).
fn reads_during_refresh(reads: &[Read], samples: &[Sample], needle: &str) -> usize {
    samples
        .windows(2)
        .filter(|w| {
            w[0].refresh.is_some()
                && w[0].refresh == w[1].refresh
                && w[0].refresh.as_deref().unwrap().contains(needle)
        })
        .map(|w| {
            reads
                .iter()
                .filter(|r| r.start >= w[0].received && r.end <= w[1].sent)
                .count()
        })
        .sum()
}

#[test]
fn no_reader_waits_on_a_concurrent_refresh_at_scale() {
    let pg = TestCluster::start();
    let dsn = prepared(&pg, "scale");
    pg.psql("scale", VOLUME);
    let first = arcdb(&pg, &dsn, &["refresh"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    pg.psql("scale", MORE);
    let rt = tokio::runtime::Runtime::new().unwrap();

    let (run, reads, samples) =
        refresh_under_readers(&pg, &rt, "scale", &["refresh", "--format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    for name in ["desk_performance_mv", "org_cost_summary_mv"] {
        assert_eq!(entry(&report, name)["mode"], "concurrent");
        assert_eq!(entry(&report, name)["outcome"], "refreshed");
    }
    let errors: Vec<&String> = reads.iter().filter_map(|r| r.error.as_ref()).collect();
    assert!(
        errors.is_empty(),
        "{} of {} reads failed, first: {}",
        errors.len(),
        reads.len(),
        errors[0]
    );
    let waits: i64 = samples.iter().map(|s| s.reader_waits).sum();
    assert_eq!(waits, 0, "the reader waited on a lock in {waits} samples");
    let during = reads_during_refresh(
        &reads,
        &samples,
        "REFRESH MATERIALIZED VIEW CONCURRENTLY \"public\".\"org_cost_summary_mv\"",
    );
    assert!(
        during > 0,
        "no read overlapped the refresh ({} reads, {} samples, {} with a refresh running): load more volume",
        reads.len(),
        samples.len(),
        samples.iter().filter(|s| s.refresh.is_some()).count()
    );
    eprintln!(
        "concurrent refresh: {} reads, {during} of them while the refresh of org_cost_summary_mv ran; {} samples, {} with a refresh running",
        reads.len(),
        samples.len(),
        samples.iter().filter(|s| s.refresh.is_some()).count()
    );
    assert_contents_match_base_tables_at_scale(&pg, "scale");

    // The control: the same readers against a plain refresh (no unique index) do wait, so the
    // checks above would have caught a blocking refresh.
    pg.psql("scale", "DROP INDEX org_cost_summary_mv_key");
    pg.psql("scale", MORE);
    let (run, reads, samples) = refresh_under_readers(
        &pg,
        &rt,
        "scale",
        &["refresh", "org_cost_summary_mv", "--format", "json"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(entry(&run.json(), "org_cost_summary_mv")["mode"], "plain");
    let lock_errors = reads
        .iter()
        .filter(|r| r.error.as_deref().is_some_and(|e| e.contains("55P03")))
        .count();
    let waits: i64 = samples.iter().map(|s| s.reader_waits).sum();
    eprintln!(
        "plain refresh (control): {} reads, {lock_errors} cancelled by lock_timeout, {waits} samples with the reader waiting",
        reads.len()
    );
    assert!(
        lock_errors > 0 || waits > 0,
        "a plain refresh did not hold the reader up ({} reads, {} samples with a refresh running)",
        reads.len(),
        samples.iter().filter(|s| s.refresh.is_some()).count()
    );
}

/// At scale, the totals per organization still match the base table.
fn assert_contents_match_base_tables_at_scale(pg: &TestCluster, db: &str) {
    let q = |sql: &str| pg.scalar(db, sql);
    assert_eq!(
        q("SELECT string_agg(organization_id || ' ' || n || ' ' || cost, ',' ORDER BY organization_id)
             FROM (SELECT organization_id, sum(total_calls) AS n, sum(total_cost) AS cost
                     FROM org_cost_summary_mv GROUP BY 1) AS s"),
        q("SELECT string_agg(organization_id || ' ' || n || ' ' || cost, ',' ORDER BY organization_id)
             FROM (SELECT organization_id, count(*) AS n, sum(total_cost) AS cost
                     FROM cost_tracking GROUP BY 1) AS s")
    );
}
