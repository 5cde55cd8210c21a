//! The tenancy model `verify-rls` checks against: who the session says it is, and how that
//! identity maps to the tenant (organization) whose rows it may see.
//!
//! - `column` (the default): the setting carries the organization id itself, and tenant tables
//!   compare their tenant column with it (`organization_id = current_setting('app.current_org_id')`).
//!   A tenancy keyed by a user (seed 004's `app.user_id`, `--tenant-column user_id --root-table
//!   users`) is this model too.
//! - `membership`: the setting carries a USER id; a membership table (`--membership
//!   'organization_members(user_id, organization_id)'`) says which tenants that user belongs
//!   to, and policies scope through it (`organization_id IN (SELECT m.organization_id FROM
//!   organization_members m WHERE m.user_id = <user>)`, `EXISTS (…)`, or a helper with an
//!   argument such as `is_member(organization_id)`).
//! - `supabase`: the user is `auth.uid()`, read from `request.jwt.claims` (`{"sub": …, "role":
//!   "authenticated"}`); tenant roles `authenticated` and `anon`. With `--membership`, tenants
//!   are organizations joined through that table; without, rows are keyed by the user itself
//!   (`--tenant-column user_id`, `--root-table auth.users`).
//!
//! Parsed and validated here once (flags and `[verify_rls]` alike); the audit and the probes
//! both take the resulting [`Tenancy`].

use crate::db::{quoted_ident, quoted_name};
use crate::error::Refusal;

/// The claim setting Supabase's PostgREST sets per request, and `auth.uid()` reads.
pub const SUPABASE_CLAIMS: &str = "request.jwt.claims";
/// The role of signed-in Supabase users.
pub const SUPABASE_AUTHENTICATED: &str = "authenticated";
/// The role of anonymous Supabase requests.
pub const SUPABASE_ANON: &str = "anon";

/// `--membership TABLE(user_col, tenant_col)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The schema when the table was given qualified (`schema.table`).
    pub schema: Option<String>,
    pub table: String,
    /// The column holding the user id (what the setting or `auth.uid()` carries).
    pub user_col: String,
    /// The column holding the tenant id (what tenant tables' tenant column holds).
    pub tenant_col: String,
}

impl Membership {
    /// `"schema"."table"` or `"table"` as SQL.
    pub fn sql_name(&self) -> String {
        match &self.schema {
            Some(s) => quoted_name(s, &self.table),
            None => quoted_ident(&self.table),
        }
    }
}

/// How the session's identity maps to a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Tenancy {
    /// The setting carries the tenant id.
    #[default]
    Column,
    /// The setting carries a user id; the membership table maps users to tenants.
    Membership(Membership),
    /// `auth.uid()` from `request.jwt.claims`, roles `authenticated`/`anon`; tenants through
    /// the membership table when one is given.
    Supabase(Option<Membership>),
}

const MODELS: &str = "column, membership or supabase";

impl Tenancy {
    /// From `--model` / `[verify_rls] model` and `--membership` / `[verify_rls] membership`.
    /// `--membership` without a model means the membership model.
    pub fn parse(model: Option<&str>, membership: Option<&str>) -> Result<Tenancy, Refusal> {
        let membership = membership.map(parse_membership).transpose()?;
        match (model, membership) {
            (None, None) | (Some("column"), None) => Ok(Tenancy::Column),
            (Some("column"), Some(_)) => Err(Refusal::usage(
                "--membership needs --model membership or supabase (the column model keys rows by the setting itself)",
            )),
            (None, Some(m)) | (Some("membership"), Some(m)) => Ok(Tenancy::Membership(m)),
            (Some("membership"), None) => Err(Refusal::usage(
                "--model membership needs --membership 'TABLE(user_col, tenant_col)', e.g. --membership 'organization_members(user_id, organization_id)'",
            )),
            (Some("supabase"), m) => Ok(Tenancy::Supabase(m)),
            (Some(other), _) => Err(Refusal::usage(format!(
                "--model {other:?} is not a tenancy model: use {MODELS}"
            ))),
        }
    }

    /// The membership table, when the model has one.
    pub fn membership(&self) -> Option<&Membership> {
        match self {
            Tenancy::Column | Tenancy::Supabase(None) => None,
            Tenancy::Membership(m) | Tenancy::Supabase(Some(m)) => Some(m),
        }
    }

    pub fn is_supabase(&self) -> bool {
        matches!(self, Tenancy::Supabase(_))
    }

    /// The model's name, as `--model` spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Tenancy::Column => "column",
            Tenancy::Membership(_) => "membership",
            Tenancy::Supabase(_) => "supabase",
        }
    }

    /// The tenant role when neither `--tenant-role` nor the file names one.
    pub fn default_tenant_role(&self) -> Option<&'static str> {
        self.is_supabase().then_some(SUPABASE_AUTHENTICATED)
    }

    /// The setting when neither `--setting` nor the file names one.
    pub fn default_setting(&self) -> Option<&'static str> {
        match self {
            Tenancy::Column => None,
            Tenancy::Membership(_) => Some("app.current_user_id"),
            Tenancy::Supabase(_) => Some(SUPABASE_CLAIMS),
        }
    }

    /// What the setting carries, for messages: "organization id" or "user id".
    pub fn identity(&self) -> &'static str {
        match self {
            Tenancy::Column => "tenant id",
            Tenancy::Membership(_) | Tenancy::Supabase(_) => "user id",
        }
    }
}

/// `TABLE(user_col, tenant_col)`, TABLE optionally `schema.table`; plain identifiers.
fn parse_membership(text: &str) -> Result<Membership, Refusal> {
    let bad = || {
        Refusal::usage(format!(
            "--membership {text:?} is not of the form TABLE(user_col, tenant_col), e.g. 'organization_members(user_id, organization_id)'"
        ))
    };
    let (table, rest) = text.trim().split_once('(').ok_or_else(bad)?;
    let columns = rest.trim_end().strip_suffix(')').ok_or_else(bad)?;
    let cols: Vec<&str> = columns.split(',').map(str::trim).collect();
    let [user_col, tenant_col] = cols[..] else {
        return Err(bad());
    };
    let table = table.trim();
    let (schema, table) = match table.split_once('.') {
        Some((s, t)) => (Some(s), t),
        None => (None, table),
    };
    let word = |w: &str| {
        !w.is_empty()
            && !w.starts_with(|c: char| c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if ![table, user_col, tenant_col].into_iter().all(word) || schema.is_some_and(|s| !word(s)) {
        return Err(bad());
    }
    if user_col == tenant_col {
        return Err(Refusal::usage(format!(
            "--membership {text:?} names {user_col} as both the user and the tenant column"
        )));
    }
    Ok(Membership {
        schema: schema.map(str::to_string),
        table: table.to_string(),
        user_col: user_col.to_string(),
        tenant_col: tenant_col.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Membership {
        Membership {
            schema: None,
            table: "organization_members".into(),
            user_col: "user_id".into(),
            tenant_col: "organization_id".into(),
        }
    }

    #[test]
    fn models_and_membership_parse() {
        assert_eq!(Tenancy::parse(None, None).unwrap(), Tenancy::Column);
        assert_eq!(
            Tenancy::parse(Some("column"), None).unwrap(),
            Tenancy::Column
        );
        let m = "organization_members(user_id, organization_id)";
        assert_eq!(
            Tenancy::parse(Some("membership"), Some(m)).unwrap(),
            Tenancy::Membership(members())
        );
        assert_eq!(
            Tenancy::parse(None, Some(m)).unwrap(),
            Tenancy::Membership(members())
        );
        assert_eq!(
            Tenancy::parse(Some("supabase"), None).unwrap(),
            Tenancy::Supabase(None)
        );
        let q = Tenancy::parse(Some("supabase"), Some(" app.members ( uid,org_id ) ")).unwrap();
        let got = q.membership().unwrap();
        assert_eq!(got.schema.as_deref(), Some("app"));
        assert_eq!(got.sql_name(), "\"app\".\"members\"");
        assert_eq!(
            (got.user_col.as_str(), got.tenant_col.as_str()),
            ("uid", "org_id")
        );
        assert_eq!(q.default_tenant_role(), Some("authenticated"));
        assert_eq!(q.default_setting(), Some("request.jwt.claims"));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for (model, membership, says) in [
            (Some("rows"), None, "not a tenancy model"),
            (Some("membership"), None, "needs --membership"),
            (Some("column"), Some("m(u, t)"), "needs --model membership"),
            (None, Some("organization_members"), "not of the form"),
            (None, Some("m(u)"), "not of the form"),
            (None, Some("m(u, t, x)"), "not of the form"),
            (None, Some("m(u; drop, t)"), "not of the form"),
            (None, Some("m(u, u)"), "both the user and the tenant"),
        ] {
            let err = Tenancy::parse(model, membership).unwrap_err();
            assert!(
                err.message.contains(says),
                "{model:?} {membership:?}: {}",
                err.message
            );
            assert!(!err.message.contains('\n'));
        }
    }
}
