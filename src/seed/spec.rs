//! What a scale load generates: the tables in load order, and the vocabularies and weights of
//! their values.

/// A table of the load and the columns the generator fills, in load order (parents first).
pub(super) struct TableSpec {
    pub(super) name: &'static str,
    pub(super) columns: &'static [&'static str],
}

pub(super) const ORGANIZATIONS: usize = 0;
pub(super) const USERS: usize = 1;
pub(super) const DESKS: usize = 2;
pub(super) const WORKFLOWS: usize = 3;
pub(super) const TASKS: usize = 4;
pub(super) const SESSIONS: usize = 5;
pub(super) const MESSAGES: usize = 6;
pub(super) const QA_REVIEWS: usize = 7;
pub(super) const DELEGATIONS: usize = 8;
pub(super) const KNOWLEDGE_BASES: usize = 9;
pub(super) const DATA_SOURCES: usize = 10;
pub(super) const COST_TRACKING: usize = 11;
pub(super) const API_KEYS: usize = 12;
pub(super) const AUDIT_LOGS: usize = 13;

#[rustfmt::skip]
pub(super) const TABLES: [TableSpec; 14] = [
    TableSpec {
        name: "organizations",
        columns: &[
            "id", "name", "slug", "subscription_tier", "settings", "max_users", "max_desks",
            "max_llm_cost_per_month", "last_task_number", "is_active", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "users",
        columns: &[
            "id", "organization_id", "email", "username", "full_name", "is_admin", "is_active",
            "preferences", "last_login_at", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "desks",
        columns: &[
            "id", "organization_id", "desk_id", "title", "description", "role", "reports_to_id",
            "hierarchy_path", "hierarchy_level", "llm_provider", "llm_model", "temperature",
            "max_tokens", "llm_config",
            "monthly_budget_usd", "is_active", "created_by_id", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "workflows",
        columns: &[
            "id", "organization_id", "name", "description", "stages", "version", "is_default",
            "is_active", "created_by_id", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "tasks",
        columns: &[
            "id", "organization_id", "task_number", "title", "description", "status", "priority",
            "workflow_id", "current_stage", "parent_task_id", "created_by_id", "assigned_to_id",
            "context", "result", "error_message", "retry_count", "due_date", "started_at",
            "completed_at", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "agent_sessions",
        columns: &[
            "id", "organization_id", "desk_id", "user_id", "task_id", "status", "title", "context",
            "started_at", "last_activity_at", "completed_at", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "messages",
        columns: &[
            "id", "organization_id", "session_id", "sequence_number", "role", "content", "model",
            "input_tokens", "output_tokens", "meta_data", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "qa_reviews",
        columns: &[
            "id", "organization_id", "task_id", "stage_name", "iteration", "status",
            "reviewer_desk_id", "reviewer_user_id", "score", "feedback", "findings", "completed_at",
            "created_at",
            "updated_at",
        ],
    },
    TableSpec {
        name: "delegations",
        columns: &[
            "id", "organization_id", "task_id", "from_desk_id", "to_desk_id", "delegated_by_id",
            "status", "reason", "delegated_at", "responded_at", "completed_at", "created_at",
            "updated_at",
        ],
    },
    TableSpec {
        name: "knowledge_bases",
        columns: &[
            "id", "organization_id", "name", "description", "desk_id", "embedding_provider",
            "embedding_model", "chunk_size", "chunk_overlap", "status", "document_count",
            "total_chunks", "storage_bytes", "settings", "last_indexed_at", "created_by_id",
            "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "data_sources",
        columns: &[
            "id", "organization_id", "knowledge_base_id", "name", "source_type",
            "connection_config", "credentials_ref", "sync_status", "sync_interval_minutes",
            "last_synced_at", "last_error", "is_active", "created_by_id", "created_at",
            "updated_at",
        ],
    },
    TableSpec {
        name: "cost_tracking",
        columns: &[
            "id", "organization_id", "desk_id", "task_id", "session_id", "provider", "model",
            "operation", "input_tokens", "output_tokens", "total_tokens", "total_cost",
            "billing_month", "latency_ms", "request_id", "meta_data", "created_at",
        ],
    },
    TableSpec {
        name: "api_keys",
        columns: &[
            "id", "organization_id", "name", "key_prefix", "key_hash", "scopes", "user_id",
            "rate_limit_per_minute", "expires_at", "last_used_at", "revoked_at", "revoked_by_id",
            "revocation_reason", "is_active", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "audit_logs",
        columns: &[
            "id", "organization_id", "action", "user_id", "desk_id", "api_key_id", "actor_type",
            "resource_type", "resource_id", "description", "changes", "meta_data", "ip_address",
            "user_agent",
            "request_id", "created_at",
        ],
    },
];

// Time: microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch, what binary COPY sends).
pub(super) const SECOND: i64 = 1_000_000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;
/// Days from 1970-01-01 to 2000-01-01.
pub(super) const PG_EPOCH_DAYS: i64 = 10_957;
/// Generated activity ends here (fixed, so that a seed always gives the same rows)…
pub(super) const ANCHOR: i64 = (days_from_civil(2026, 1, 1) - PG_EPOCH_DAYS) * DAY;
/// …and spans this much before it.
pub(super) const WINDOW: i64 = 180 * DAY;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(super) const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// The UTC month of `micros` as 'YYYY-MM' (what the billing_month trigger computes:
/// `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM')`).
pub(super) fn billing_month(micros: i64) -> String {
    let (y, m, _) = civil_from_days(micros.div_euclid(DAY) + PG_EPOCH_DAYS);
    format!("{y:04}-{m:02}")
}

pub(super) const WORKFLOW_COUNT: u64 = 3;
pub(super) const MAX_DESKS: u64 = 1000;
pub(super) const DESK_FANOUT: u64 = 3;

#[rustfmt::skip]
pub(super) const TASK_STATUSES: [&str; 7] = [
    "pending", "in_progress", "in_review", "blocked", "completed", "failed", "cancelled",
];
pub(super) const TASK_STATUS_WEIGHTS: [u32; 7] = [20, 15, 10, 5, 40, 5, 5];
pub(super) const PENDING: usize = 0;
pub(super) const IN_REVIEW: usize = 2;
pub(super) const BLOCKED: usize = 3;
pub(super) const COMPLETED: usize = 4;
pub(super) const FAILED: usize = 5;
pub(super) const CANCELLED: usize = 6;
pub(super) const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
pub(super) const PRIORITY_WEIGHTS: [u32; 4] = [25, 45, 22, 8];

/// (provider, [(model, micro-dollars per input token, per output token)]).
type Models = &'static [(&'static str, i64, i64)];
pub(super) const PROVIDERS: [(&str, Models); 6] = [
    (
        "anthropic",
        &[("claude-sonnet-4-5", 3, 15), ("claude-haiku-4-5", 1, 5)],
    ),
    ("openai", &[("gpt-4o", 3, 10), ("gpt-4o-mini", 1, 1)]),
    (
        "google",
        &[("gemini-2.5-pro", 2, 10), ("gemini-2.5-flash", 1, 3)],
    ),
    ("azure_openai", &[("gpt-4o", 3, 10)]),
    ("mistral", &[("mistral-large", 2, 6)]),
    ("aws_bedrock", &[("claude-3-5-sonnet", 3, 15)]),
];
pub(super) const PROVIDER_WEIGHTS: [u32; 6] = [40, 25, 15, 8, 6, 6];

pub(super) const LEAD_ROLES: [&str; 3] = ["manager", "product_manager", "architect"];
#[rustfmt::skip]
pub(super) const TEAM_ROLES: [&str; 12] = [
    "senior_engineer", "engineer", "junior_engineer", "qa_engineer", "devops_engineer",
    "data_engineer", "security_engineer", "designer", "researcher", "analyst", "technical_writer",
    "support_agent",
];
#[rustfmt::skip]
pub(super) const VERBS: [&str; 12] = [
    "Review", "Implement", "Fix", "Refactor", "Document", "Test", "Deploy", "Investigate",
    "Design", "Optimize", "Migrate", "Audit",
];
#[rustfmt::skip]
pub(super) const NOUNS: [&str; 12] = [
    "the billing service", "the login flow", "the search index", "the onboarding email",
    "the API rate limiter", "the data pipeline", "the usage dashboard", "the payment webhook",
    "the cache layer", "the report export", "the access policy", "the mobile layout",
];
#[rustfmt::skip]
pub(super) const PHRASES: [&str; 12] = [
    "Here is a summary of the current state.",
    "I checked the logs and found two failing requests.", "The change passes the existing tests.",
    "Could you look at the edge case with empty input?",
    "I propose splitting this into two smaller steps.",
    "The latency went down after the last deploy.", "Please confirm the expected output format.",
    "I updated the documentation accordingly.",
    "There is a conflict with the staging configuration.",
    "The customer reported this twice last week.", "I will retry with a smaller batch.",
    "Done: the result is attached below.",
];
pub(super) const STAGES: [&str; 3] = ["draft", "review", "release"];
pub(super) const WORKFLOW_NAMES: [&str; 3] = ["Standard", "Expedited", "Compliance review"];
pub(super) const WORKFLOW_STAGES: [&str; 3] = [
    r#"[{"name":"draft","role":"engineer","requires_qa":false},{"name":"review","role":"qa_engineer","requires_qa":true},{"name":"release","role":"devops_engineer","requires_qa":false}]"#,
    r#"[{"name":"draft","role":"engineer","requires_qa":false},{"name":"release","role":"devops_engineer","requires_qa":false}]"#,
    r#"[{"name":"draft","role":"analyst","requires_qa":false},{"name":"review","role":"security_engineer","requires_qa":true},{"name":"release","role":"manager","requires_qa":true}]"#,
];
pub(super) const SESSION_STATUSES: [&str; 5] = ["active", "idle", "completed", "failed", "expired"];
pub(super) const SESSION_STATUS_WEIGHTS: [u32; 5] = [10, 10, 65, 5, 10];
#[rustfmt::skip]
pub(super) const AUDIT_ACTIONS: [&str; 12] = [
    "create", "read", "update", "delete", "login", "logout", "assign", "delegate", "review",
    "approve", "reject", "export",
];
#[rustfmt::skip]
pub(super) const AUDIT_ACTION_WEIGHTS: [u32; 12] = [15, 25, 20, 3, 10, 5, 6, 4, 5, 3, 2, 2];
#[rustfmt::skip]
pub(super) const SOURCE_TYPES: [&str; 8] = [
    "github", "gitlab", "confluence", "notion", "google_drive", "slack", "jira", "s3",
];
pub(super) const SYNC_STATUSES: [&str; 4] = ["pending", "synced", "syncing", "error"];
pub(super) const SYNC_STATUS_WEIGHTS: [u32; 4] = [10, 75, 5, 10];
#[rustfmt::skip]
pub(super) const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)", "arcdesk-cli/2.3.1", "python-requests/2.32",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for z in [-1000, 0, 10_957, 11_016, 20_454, 20_513, 40_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        // 2025-03-15 12:00 UTC bills to 2025-03.
        let t = (days_from_civil(2025, 3, 15) - PG_EPOCH_DAYS) * DAY + 12 * HOUR;
        assert_eq!(billing_month(t), "2025-03");
    }
}
