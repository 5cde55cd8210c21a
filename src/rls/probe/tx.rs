//! Transactions that never commit: [`rolled_back`] is the only way the probes and `cases`
//! touch the database, and every statement runs through its [`Tx`].

use super::*;

/// A statement handle that exists only inside [`rolled_back`]: what runs through it is undone.
#[derive(Clone, Copy)]
pub(crate) struct Tx<'a> {
    client: &'a Client,
}

pub(crate) const REPEATABLE_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ";

pub(crate) const READ_COMMITTED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Run `body` between `begin` and ROLLBACK, whatever it returns: verify-rls never commits.
pub(crate) async fn rolled_back<'a, T, F, Fut>(
    client: &'a Client,
    begin: &'static str,
    body: F,
) -> anyhow::Result<T>
where
    F: FnOnce(Tx<'a>) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    client
        .batch_execute(begin)
        .await
        .context("cannot begin a verification transaction")?;
    let result = body(Tx { client }).await;
    let rollback = client.batch_execute("ROLLBACK").await;
    let value = result?;
    rollback.context("cannot roll back the verification transaction")?;
    Ok(value)
}

impl<'a> Tx<'a> {
    /// A query whose failure is an error of the whole run (catalog reads, the owner's counts).
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<Row>> {
        self.client
            .query(sql, params)
            .await
            .map_err(|e| anyhow!("{}", db_error_text(&e)))
    }

    pub(crate) async fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(sql).await
    }

    pub(crate) async fn simple_query(
        &self,
        sql: &str,
    ) -> Result<Vec<tokio_postgres::SimpleQueryMessage>, tokio_postgres::Error> {
        self.client.simple_query(sql).await
    }

    /// `setup` then `sql` in a savepoint that is always rolled back: its effects and its
    /// `SET LOCAL`s vanish, and an error does not abort the transaction. The three messages
    /// (savepoint and setup, the statement, the rollback to the savepoint) are sent at once,
    /// in order, and answered in order: one round trip. Values are inlined in `sql` as
    /// literals ([`lit`]), since the simple protocol carries no parameters. The inner result
    /// is the statement's (its rows as text and the rows affected, or its failure); the outer
    /// one fails only when the savepoint cannot be rolled back (connection lost).
    pub(super) async fn attempt(
        &self,
        setup: &[String],
        sql: &str,
    ) -> anyhow::Result<Result<Outcome, Failure>> {
        let mut head = String::from("SAVEPOINT arcdb_probe");
        for statement in setup {
            head.push_str(";\n");
            head.push_str(statement);
        }
        let (head, result, release) = futures_util::future::join3(
            self.client.batch_execute(&head),
            self.client.simple_query(sql),
            self.client
                .batch_execute("ROLLBACK TO SAVEPOINT arcdb_probe; RELEASE SAVEPOINT arcdb_probe"),
        )
        .await;
        release.context("cannot roll back a probe's savepoint")?;
        if let Err(err) = head {
            return Ok(Err(Failure::Setup(db_error_text(&err))));
        }
        let messages = match result {
            Ok(messages) => messages,
            Err(err) => return Ok(Err(Failure::Statement(err))),
        };
        let mut outcome = Outcome::default();
        for message in messages {
            match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => outcome.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                tokio_postgres::SimpleQueryMessage::CommandComplete(n) => outcome.affected = n,
                _ => {}
            }
        }
        Ok(Ok(outcome))
    }

    /// `sql` in a savepoint that is kept when it succeeds (rolled back when it fails): what it
    /// did stays until the transaction's own ROLLBACK.
    pub(super) async fn kept(&self, sql: &str) -> anyhow::Result<Result<Outcome, Failure>> {
        self.client
            .batch_execute("SAVEPOINT arcdb_keep")
            .await
            .context("cannot open a savepoint")?;
        match self.client.simple_query(sql).await {
            Ok(messages) => {
                self.client
                    .batch_execute("RELEASE SAVEPOINT arcdb_keep")
                    .await
                    .context("cannot release a savepoint")?;
                let mut outcome = Outcome::default();
                for message in messages {
                    if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                        outcome.rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                Ok(Ok(outcome))
            }
            Err(err) => {
                self.client
                    .batch_execute("ROLLBACK TO SAVEPOINT arcdb_keep; RELEASE SAVEPOINT arcdb_keep")
                    .await
                    .context("cannot roll back a savepoint")?;
                Ok(Err(Failure::Statement(err)))
            }
        }
    }

    /// [`Tx::attempt`] of a write without setup: the rows it affected.
    pub(super) async fn try_execute(
        &self,
        setup: &[String],
        sql: &str,
    ) -> anyhow::Result<Result<u64, Failure>> {
        Ok(self.attempt(setup, sql).await?.map(|o| o.affected))
    }

    /// [`Tx::attempt`] of a query: the first row's columns parsed as integers.
    pub(super) async fn try_counts(&self, sql: &str) -> anyhow::Result<Result<Vec<i64>, Failure>> {
        Ok(self.attempt(&[], sql).await?.map(|o| {
            o.rows
                .first()
                .map(|row| {
                    row.iter()
                        .map(|v| v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0))
                        .collect()
                })
                .unwrap_or_default()
        }))
    }
}

/// What a statement returned: rows (as text) and the count of its command tag.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(super) rows: Vec<Vec<Option<String>>>,
    pub(super) affected: u64,
}

/// Why an attempt failed: the statement itself, or what had to run before it.
#[derive(Debug)]
pub(crate) enum Failure {
    Statement(tokio_postgres::Error),
    Setup(String),
}

impl Failure {
    pub(super) fn as_db_error(&self) -> Option<&tokio_postgres::error::DbError> {
        match self {
            Failure::Statement(err) => err.as_db_error(),
            Failure::Setup(_) => None,
        }
    }
    pub(super) fn code(&self) -> Option<&str> {
        self.as_db_error().map(|d| d.code().code())
    }
    pub(super) fn text(&self) -> String {
        match self {
            Failure::Statement(err) => db_error_text(err),
            Failure::Setup(why) => format!("the attempt could not be set up: {why}"),
        }
    }
}

/// A dollar-quoted SQL literal (valid whatever standard_conforming_strings says) whose tag
/// does not occur in the text.
pub(super) fn lit(text: &str) -> String {
    let mut tag = String::from("arcdb");
    while text.contains(&format!("${tag}")) {
        tag.push('x');
    }
    format!("${tag}${text}${tag}$")
}

/// `SET LOCAL ROLE <role>`, or a one-line error that says how to allow it.
pub(crate) async fn become_tenant(tx: Tx<'_>, role: &str) -> anyhow::Result<()> {
    // Asked first: after a failed SET ROLE the transaction accepts no query.
    let user: String = tx.query("SELECT session_user::text", &[]).await?[0].get(0);
    if let Err(err) = tx
        .batch(&format!("SET LOCAL ROLE {}", quoted_ident(role)))
        .await
    {
        let code = err.code().map(|c| c.code()).unwrap_or("");
        return Err(if code == "22023" || code == "42704" {
            anyhow!(
                "the tenant role {role} does not exist: apply the migrations (arcdb up) or name the role with --tenant-role"
            )
        } else {
            anyhow!(
                "cannot switch to the tenant role {role} as {user} ({}): run GRANT {} TO {}; so that verify-rls can probe as that role (only ever in rolled-back transactions), or use --static-only",
                db_error_text(&err),
                sql_ident(role),
                sql_ident(&user)
            )
        });
    }
    Ok(())
}

/// `SQLSTATE message (context)` of a database error, or the client error's text.
pub(crate) fn db_error_text(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}", db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(context) = db.where_() {
                let first = context.lines().next().unwrap_or(context);
                text.push_str(&format!(" [{first}]"));
            }
            text
        }
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quoted_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_ident("arcdesk_tenant"), "arcdesk_tenant");
        assert_eq!(sql_ident("App-User"), "\"App-User\"");
    }
}
