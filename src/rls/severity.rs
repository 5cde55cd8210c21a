//! How much each rule weighs. The audit's rules carry their severity next to them, in their
//! family's file (`audit/rules/<family>.rs`, listed by [`audit::FAMILIES`](super::audit::FAMILIES));
//! every other rule verify-rls reports has its severity in [`SEVERITIES`] below.
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

/// (rule id, severity) for every rule verify-rls reports outside the audit's rule families.
pub const SEVERITIES: &[(&str, Severity)] = &[
    // checks of src/rls/mod.rs, citus.rs and reach.rs that run with the audit
    ("citus-restrictive-policy", Severity::Error),
    ("setting-unread", Severity::Error),
    ("reachable-outside-tenant-schemas", Severity::Error),
    ("reachable-definer-function", Severity::Error),
    ("reachable-function", Severity::Info),
    ("reachable-large-object", Severity::Error),
    ("lo-compat-privileges", Severity::Error),
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
    ("probe-anon-read", Severity::Error),
    ("probe-membership-join", Severity::Error),
    // cases
    ("case-failed", Severity::Error),
];

/// The severity of `rule`: the audit's registry, else [`SEVERITIES`]; a rule found in neither
/// weighs as an error.
pub fn of(rule: &str) -> Severity {
    if let Some(r) = super::audit::registered(rule) {
        return r.severity;
    }
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
    fn every_rule_has_exactly_one_severity() {
        let mut ids: Vec<&str> = super::super::audit::rules()
            .map(|r| r.id)
            .chain(SEVERITIES.iter().map(|(r, _)| *r))
            .collect();
        let all = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all, "a rule id is registered twice");
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
