//! How much each rule weighs. One table, next to nothing else, so that a reader finds every
//! rule's severity in one place and a new rule without one fails the unit test below.
//!
//! - **error**: a tenant can read, write or learn another tenant's rows, or change what
//!   isolates it;
//! - **warning**: defence in depth (a surrogate uuid unique across organizations, a view that is
//!   not a security barrier), or the application breaks without a leak;
//! - **info**: worth knowing, nothing to fix in the schema.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// (rule id, severity) for every rule verify-rls reports.
pub const SEVERITIES: &[(&str, Severity)] = &[
    // audit
    ("tenant-role-missing", Severity::Error),
    ("role-superuser", Severity::Error),
    ("role-bypassrls", Severity::Error),
    ("rls-disabled", Severity::Error),
    ("tenant-column-missing", Severity::Error),
    ("table-owned-by-tenant", Severity::Error),
    ("owner-not-forced", Severity::Error),
    // With RLS on, a command no policy governs is denied: the application breaks, nothing leaks.
    ("command-without-policy", Severity::Warning),
    ("policy-unscoped", Severity::Error),
    ("policy-group-unscoped", Severity::Error),
    ("policy-check-unscoped", Severity::Error),
    // PostgreSQL admits no row through an INSERT policy without WITH CHECK: denied, not leaked.
    ("policy-check-missing", Severity::Warning),
    ("org-helper-unsafe", Severity::Error),
    ("view-unscoped", Severity::Error),
    ("view-not-security-barrier", Severity::Warning),
    ("view-writable", Severity::Error),
    ("matview-readable", Severity::Error),
    ("definer-function-unscoped", Severity::Error),
    ("definer-search-path", Severity::Warning),
    ("fk-unscoped", Severity::Error),
    ("unique-unscoped", Severity::Error),
    // A random surrogate key answers "exists elsewhere" only for a value nobody can guess.
    ("unique-surrogate-unscoped", Severity::Warning),
    ("sequence-shared", Severity::Warning),
    ("grant-truncate", Severity::Error),
    ("grant-trigger", Severity::Error),
    ("grant-references", Severity::Error),
    ("schema-create", Severity::Error),
    ("leakproof-function", Severity::Warning),
    ("default-privileges", Severity::Warning),
    ("citus-restrictive-policy", Severity::Error),
    ("setting-unread", Severity::Error),
    ("reachable-outside-tenant-schemas", Severity::Error),
    // probes
    ("probe-setting-preset", Severity::Error),
    ("probe-fail-open", Severity::Error),
    ("probe-fail-loud", Severity::Warning),
    ("probe-read-error", Severity::Warning),
    ("probe-own-rows-hidden", Severity::Warning),
    ("probe-cross-org-read", Severity::Error),
    ("probe-cross-org-insert", Severity::Error),
    ("probe-cross-org-update", Severity::Error),
    ("probe-cross-org-move", Severity::Error),
    ("probe-cross-org-delete", Severity::Error),
    ("probe-cross-org-reference", Severity::Error),
    // cases
    ("case-failed", Severity::Error),
];

/// The severity of `rule`; a rule missing from the table weighs as an error (the unit test
/// keeps the table complete).
pub fn of(rule: &str) -> Severity {
    SEVERITIES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, s)| *s)
        .unwrap_or(Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_audit_rule_has_a_severity() {
        for (rule, _) in super::super::audit::RULES {
            assert!(
                SEVERITIES.iter().any(|(r, _)| r == rule),
                "{rule} has no severity"
            );
        }
    }

    #[test]
    fn defence_in_depth_is_a_warning_and_leaks_are_errors() {
        assert_eq!(of("unique-surrogate-unscoped"), Severity::Warning);
        assert_eq!(of("unique-unscoped"), Severity::Error);
        assert_eq!(of("probe-cross-org-read"), Severity::Error);
        assert_eq!(of("no-such-rule"), Severity::Error);
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
    }
}
