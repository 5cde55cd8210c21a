//! Reading and writing `arcdb.schema_history`.

use super::catalog::Resolved;
use super::plan::AppliedRecord;
use tokio_postgres::GenericClient;

const CREATE: &str = include_str!("history.sql");

/// Create the history table if needed. Call it only while holding the migration lock: two
/// concurrent `CREATE … IF NOT EXISTS` can still collide on the catalog's unique index.
pub async fn ensure(client: &impl GenericClient) -> anyhow::Result<()> {
    // Not the drift check's cache: `status` creates it when it first has something to keep,
    // so that a first `up` does not pay for tables it may never use.
    client.batch_execute(CREATE).await?;
    Ok(())
}

/// The applied migrations, oldest first; empty when arcdb never ran here.
pub async fn load(client: &impl GenericClient) -> anyhow::Result<Vec<AppliedRecord>> {
    let exists: bool = client
        .query_typed_one(
            "SELECT to_regclass('arcdb.schema_history') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query_typed(
            "SELECT version, name, checksum, complete, applied_at FROM arcdb.schema_history ORDER BY version",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AppliedRecord {
            version: r.get::<_, i32>(0) as u32,
            name: r.get(1),
            checksum: r.get(2),
            complete: r.get(3),
            applied_at: r.get(4),
        })
        .collect())
}

/// Record `m` as applied (`complete`), or as started (`!complete`, non-transactional engines).
pub async fn record(
    client: &impl GenericClient,
    m: &Resolved,
    complete: bool,
    execution_ms: i64,
) -> anyhow::Result<()> {
    client
        .batch_execute(&record_statement(m, complete, execution_ms, None))
        .await?;
    Ok(())
}

/// The statement [`record`] runs, as text (its values quoted as literals) so that it can share
/// a round trip with other statements. `only_in`: it records nothing unless the transaction
/// with that id is still the current one (a script that ended it is not recorded).
pub fn record_statement(
    m: &Resolved,
    complete: bool,
    execution_ms: i64,
    only_in: Option<i64>,
) -> String {
    let script = m.up.file.rsplit('/').next().unwrap_or(&m.up.file);
    let guard = only_in
        .map(|xid| format!(" WHERE txid_current_if_assigned() = {xid}"))
        .unwrap_or_default();
    format!(
        "INSERT INTO arcdb.schema_history (version, name, checksum, script, complete, execution_ms)
         SELECT {}, {}, {}, {}, {complete}, {execution_ms}{guard}
         ON CONFLICT (version) DO UPDATE
            SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, script = EXCLUDED.script,
                complete = EXCLUDED.complete, execution_ms = EXCLUDED.execution_ms, applied_at = now()",
        m.version,
        crate::db::literal(&m.name),
        crate::db::literal(&m.checksum),
        crate::db::literal(script)
    )
}

/// Remove `version`'s record (in the same transaction as its down script).
pub async fn remove(client: &impl GenericClient, version: u32) -> anyhow::Result<()> {
    client
        .execute_typed(
            "DELETE FROM arcdb.schema_history WHERE version = $1",
            &[(&(version as i32), tokio_postgres::types::Type::INT4)],
        )
        .await?;
    Ok(())
}

/// Refuse (exit 2, nothing changed) a database that already has arcdb history: `baseline` and
/// `adopt --from refinery` are for databases without it. `instead` says what to do.
pub async fn refuse_existing(client: &impl GenericClient, instead: &str) -> anyhow::Result<()> {
    let applied = load(client).await?;
    if let Some(last) = applied.last() {
        return Err(crate::error::Refusal::usage(format!(
            "the database already has arcdb history ({} migration(s), up to version {}): {instead}; nothing was changed",
            applied.len(),
            last.version
        ))
        .into());
    }
    Ok(())
}

/// Under the migration lock: check again that no history appeared meanwhile, then record every
/// migration as applied, in one transaction (the schema is already there).
pub async fn record_existing_schema(
    client: &mut tokio_postgres::Client,
    migrations: &[Resolved],
    instead: &str,
) -> anyhow::Result<()> {
    ensure(client).await?;
    refuse_existing(client, instead).await?;
    let tx = client.transaction().await?;
    for m in migrations {
        record(&tx, m, true, 0).await?;
    }
    tx.commit().await?;
    Ok(())
}
