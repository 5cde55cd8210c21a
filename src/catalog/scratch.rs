//! The expected schema of some SQL: run it in a temporary database on the same server, read it
//! back with [`super::read`], and leave nothing behind. The SQL runs in one transaction that is
//! read inside and then rolled back, so cluster-wide objects it creates (roles) never exist for
//! anyone else; the database itself is dropped afterwards, also when the SQL fails.

use super::Schema;
use crate::db::Db;
use crate::error::Refusal;
use crate::migrate::catalog::Resolved;
use anyhow::{anyhow, Context};
use tokio_postgres::error::SqlState;

/// The schema `sql` builds on an empty database, as read by [`super::read`] for `schemas`.
/// `what` names the SQL in error messages (`the embedded 001_multi_tenant schema`).
pub async fn from_sql(db: &Db, what: &str, sql: &str, schemas: &[&str]) -> anyhow::Result<Schema> {
    with_scratch(db, |scratch| async move {
        let mut scratch = scratch;
        let tx = scratch.client.transaction().await?;
        tx.batch_execute(sql).await.map_err(|e| {
            anyhow!(
                "{what} failed in a scratch database: {}",
                crate::db::server_message(&e)
            )
        })?;
        let schema = super::read(&tx, schemas).await?;
        tx.rollback().await?;
        Ok(schema)
    })
    .await
}

/// The schema the migrations `resolved` build (all of them, in order), read for `schemas`.
pub async fn from_migrations(
    db: &Db,
    resolved: &[Resolved],
    schemas: &[&str],
) -> anyhow::Result<Schema> {
    let scripts: Vec<(String, String)> = resolved
        .iter()
        .map(|m| (m.up.file.clone(), m.up.sql.clone()))
        .collect();
    with_scratch(db, |scratch| async move {
        let mut scratch = scratch;
        let tx = scratch.client.transaction().await?;
        for (file, sql) in &scripts {
            tx.batch_execute(sql).await.map_err(|e| {
                anyhow!(
                    "{file} failed in a scratch database: {}",
                    crate::db::server_message(&e)
                )
            })?;
        }
        // A migration may leave search_path changed in this one session; types and names are
        // deparsed relative to it, so read with the search_path a fresh session has.
        tx.batch_execute("SET LOCAL search_path TO \"$user\", public")
            .await?;
        let schema = super::read(&tx, schemas).await?;
        tx.rollback().await?;
        Ok(schema)
    })
    .await
}

/// Create a scratch database, run `body` on a session to it, drop it whatever happened.
async fn with_scratch<F, Fut>(db: &Db, body: F) -> anyhow::Result<Schema>
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Schema>>,
{
    let name = format!(
        "arcdb_scratch_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    );
    if let Err(e) = db
        .client
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
    {
        if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
            let user: String = db
                .client
                .query_one("SELECT current_user::text", &[])
                .await?
                .get(0);
            return Err(Refusal::usage(format!(
                "role {user} cannot create a scratch database, which arcdb needs to build the expected schema to compare with: ALTER ROLE {user} CREATEDB (or connect as a role that has CREATEDB); nothing was changed"
            ))
            .into());
        }
        return Err(anyhow!(
            "could not create scratch database {name}: {}",
            crate::db::server_message(&e)
        ));
    }
    let outcome = match db.connect_to(&name).await {
        Ok(scratch) => body(scratch).await,
        Err(e) => Err(e.context(format!("could not connect to scratch database {name}"))),
    };
    let dropped = db
        .client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .with_context(|| format!("could not drop scratch database {name}; drop it by hand"));
    let schema = outcome?;
    dropped?;
    Ok(schema)
}
