//! Role memberships across a rollback. Dropping a role drops its memberships with it: rolling
//! back 0004 (whose down drops `arcdesk_tenant`) and applying it again would leave the
//! application's login role, a member of `arcdesk_tenant`, locked out. So, in the down script's
//! transaction, arcdb records the memberships of every role the script dropped in
//! `arcdb.role_memberships`, and after each up script grants again those whose role and member
//! exist once more.

use crate::output::notice;
use tokio_postgres::Client;

const TABLE: &str = include_str!("role_memberships.sql");

/// Whether `arcdb.role_memberships` exists (it cannot be named in a query before it does).
pub const TABLE_EXISTS: &str = "to_regclass('arcdb.role_memberships') IS NOT NULL";

/// (role, member, admin option) of every membership in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub role: String,
    pub member: String,
    pub admin: bool,
}

pub async fn memberships(client: &Client) -> anyhow::Result<Vec<Membership>> {
    let rows = client
        .query_typed(
            "SELECT r.rolname::text, m.rolname::text, am.admin_option
               FROM pg_auth_members am
               JOIN pg_roles r ON r.oid = am.roleid
               JOIN pg_roles m ON m.oid = am.member",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Membership {
            role: r.get(0),
            member: r.get(1),
            admin: r.get(2),
        })
        .collect())
}

/// After a down script: record the memberships in `before` whose role no longer exists;
/// whether any was (the table then exists).
pub async fn save_dropped(
    client: &Client,
    before: &[Membership],
    version: u32,
) -> anyhow::Result<bool> {
    let mut recorded = false;
    for m in before {
        let role_left: bool = client
            .query_typed_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
                &[(&m.role, tokio_postgres::types::Type::TEXT)],
            )
            .await?
            .get(0);
        if role_left {
            continue;
        }
        if !recorded {
            client.batch_execute(TABLE).await?;
            recorded = true;
        }
        client
            .execute_typed(
                "INSERT INTO arcdb.role_memberships (role, member, admin_option, dropped_by)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (role, member) DO UPDATE
                    SET admin_option = EXCLUDED.admin_option, dropped_by = EXCLUDED.dropped_by,
                        dropped_at = now()",
                &[
                    (&m.role, tokio_postgres::types::Type::TEXT),
                    (&m.member, tokio_postgres::types::Type::TEXT),
                    (&m.admin, tokio_postgres::types::Type::BOOL),
                    (&(version as i32), tokio_postgres::types::Type::INT4),
                ],
            )
            .await?;
        notice(format!(
            "role {} was dropped with its member {}: recorded in arcdb.role_memberships; `arcdb up` grants it again when it creates the role again",
            m.role, m.member
        ));
    }
    Ok(recorded)
}

/// After an up script: grant again the recorded memberships whose role and member exist.
pub async fn restore(client: &Client) -> anyhow::Result<()> {
    let rows = client
        .query_typed(
            "DELETE FROM arcdb.role_memberships s
              WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = s.role)
                AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = s.member)
             RETURNING format('GRANT %I TO %I', s.role, s.member)
                       || CASE WHEN s.admin_option THEN ' WITH ADMIN OPTION' ELSE '' END,
                       s.role, s.member",
            &[],
        )
        .await?;
    for row in rows {
        let grant: String = row.get(0);
        client.batch_execute(&grant).await?;
        let (role, member): (String, String) = (row.get(1), row.get(2));
        notice(format!(
            "granted {role} to {member} again (the membership a rollback had removed)"
        ));
    }
    Ok(())
}
