//! Which database engine arcdb talks to, and everything that differs between them. Commands ask
//! the engine; they never branch on version strings themselves.

use crate::error::Refusal;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Postgres,
    Cockroachdb,
}

impl EngineKind {
    /// The tag migration variant files use: `up.<tag>.sql`, `up.<tag>-<version>.sql`.
    pub fn tag(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Cockroachdb => "cockroachdb",
        }
    }
}

/// A version as major.minor.patch (PostgreSQL 15.18 is 15.18.0; CockroachDB v25.2.1 is 25.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parse "15", "15.18", "25.2.1", "v23.1.2", "16beta1" (pre-release suffixes ignored).
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim_start_matches('v');
        let mut parts = text.split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The oldest PostgreSQL arcdb supports: 13 fails (no contrib build to test `citext` on, and past
/// its end of life), see docs/postgres-majors.md.
pub const MIN_POSTGRES: Version = Version::new(14, 0, 0);
/// The one statement of the supported PostgreSQL majors (README, --help, lint, docs).
pub const SUPPORTED_POSTGRES: &str = "PostgreSQL 14–18";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Engine {
    pub kind: EngineKind,
    pub version: Version,
    /// What the server said it is: `SELECT version()`'s answer, or `PostgreSQL <server_version>`
    /// when the session's start told it ([`Engine::from_startup`]).
    pub banner: String,
}

impl Engine {
    /// Tell the engine from `SELECT version()`. CockroachDB reports PostgreSQL 13 in
    /// `server_version`, so only the banner tells them apart.
    pub fn detect(banner: &str) -> anyhow::Result<Engine> {
        let banner = banner.trim();
        let (kind, version_word) =
            if let Some(rest) = banner.strip_prefix("CockroachDB ") {
                // "CockroachDB CCL v23.1.2 (x86_64-…)": the edition word, then the version.
                let word = rest.split_whitespace().find(|w| w.starts_with('v'));
                (EngineKind::Cockroachdb, word)
            } else if let Some(rest) = banner.strip_prefix("PostgreSQL ") {
                (EngineKind::Postgres, rest.split_whitespace().next())
            } else {
                return Err(Refusal::usage(format!(
                "unsupported database engine '{}': arcdb supports PostgreSQL 14–18 and CockroachDB",
                banner.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
            ))
                .into());
            };
        let version = version_word.and_then(Version::parse).ok_or_else(|| {
            Refusal::usage(format!("cannot read the server version from '{banner}'"))
        })?;
        let engine = Engine {
            kind,
            version,
            banner: banner.to_string(),
        };
        if kind == EngineKind::Postgres && version < MIN_POSTGRES {
            return Err(Refusal::usage(format!(
                "PostgreSQL {} is not supported: arcdb supports {SUPPORTED_POSTGRES} (see docs/postgres-majors.md)",
                version.major
            ))
            .into());
        }
        Ok(engine)
    }

    /// The engine from what the server reports as the session starts, when that alone tells it:
    /// a `server_version` in PostgreSQL's own form (`16.4`, `15.18 (Debian …)`, `18beta1`) of a
    /// supported major, and no `crdb_version`. Saves every command the `SELECT version()` round
    /// trip. `None` means ask the banner: CockroachDB reports 13.0.0, poolers and other servers
    /// speaking the protocol their own forms (`15.2-YB-…`), and an unsupported PostgreSQL gets
    /// its refusal from [`Engine::detect`].
    pub fn from_startup(
        server_version: Option<&str>,
        crdb_version: Option<&str>,
    ) -> Option<Engine> {
        if crdb_version.is_some() {
            return None;
        }
        let reported = server_version?.trim();
        let number = reported.split_whitespace().next()?;
        let (release, pre) = match number.find(|c: char| !c.is_ascii_digit() && c != '.') {
            Some(at) => number.split_at(at),
            None => (number, ""),
        };
        let pre_release = pre.is_empty()
            || ["beta", "rc", "devel"].iter().any(|tag| {
                pre.strip_prefix(tag)
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            });
        if !pre_release || release.is_empty() || release.split('.').any(str::is_empty) {
            return None;
        }
        let version = Version::parse(release)?;
        (version >= MIN_POSTGRES).then(|| Engine {
            kind: EngineKind::Postgres,
            version,
            banner: format!("PostgreSQL {reported}"),
        })
    }

    /// Short name for reports: "PostgreSQL 15.18" / "CockroachDB 25.2.1".
    pub fn describe(&self) -> String {
        match self.kind {
            EngineKind::Postgres => {
                format!("PostgreSQL {}.{}", self.version.major, self.version.minor)
            }
            EngineKind::Cockroachdb => format!("CockroachDB {}", self.version),
        }
    }

    /// Whether a migration can run atomically in one transaction. CockroachDB commits DDL on
    /// its own (autocommit_before_ddl), so there a migration runs statement by statement.
    pub fn transactional_ddl(&self) -> bool {
        self.kind == EngineKind::Postgres
    }

    /// Whether the migration runner applies a migration one statement at a time (recording it
    /// as incomplete first) instead of in one transaction: on engines without transactional DDL,
    /// and on any engine when `ARCDB_FORCE_STEPWISE=1` (a test hook, so that the statement-wise
    /// runner is exercised against a real PostgreSQL). The only place that variable is read.
    pub fn runs_stepwise(&self) -> bool {
        !self.transactional_ddl() || env_flag("ARCDB_FORCE_STEPWISE")
    }

    /// Whether `REFRESH MATERIALIZED VIEW CONCURRENTLY` means something. CockroachDB accepts the
    /// word and ignores it, and refuses REFRESH inside an explicit transaction (docs v26.2
    /// `refresh.md`), so callers refresh plainly and outside a transaction there.
    pub fn supports_concurrent_refresh(&self) -> bool {
        self.kind == EngineKind::Postgres
    }

    /// Whether session advisory locks lock anything. On CockroachDB `pg_advisory_lock` does
    /// not exist and `pg_try_advisory_lock` always returns true without locking (cockroach
    /// issue 13546; session-scoped advisory locks are still open in issue 169981, after 26.2).
    pub fn supports_advisory_locks(&self) -> bool {
        self.kind == EngineKind::Postgres
    }

    /// The features of [`SCHEMA_FEATURES`] this server lacks (empty on PostgreSQL 14+, which
    /// has them all).
    pub fn missing_features(&self) -> Vec<&'static Feature> {
        SCHEMA_FEATURES
            .iter()
            .filter(|f| !f.available_on(self))
            .collect()
    }

    /// Refuse (exit 2, nothing touched) when the server lacks a feature the ArcDesk schema
    /// needs, naming every missing one with the version that brought it.
    pub fn require_schema_support(&self) -> anyhow::Result<()> {
        let missing = self.missing_features();
        let Some(newest) = missing.iter().map(|f| f.cockroachdb_since).max() else {
            return Ok(());
        };
        let list: Vec<String> = missing
            .iter()
            .map(|f| format!("{} ({})", f.name, short(f.cockroachdb_since)))
            .collect();
        Err(Refusal::usage(format!(
            "{} lacks what the ArcDesk schema needs: {}; upgrade to {} {} or later (nothing was changed)",
            self.describe(),
            list.join(", "),
            match self.kind {
                EngineKind::Postgres => "PostgreSQL",
                EngineKind::Cockroachdb => "CockroachDB",
            },
            short(newest)
        ))
        .into())
    }
}

/// "25.2" for 25.2.0, "23.2.27" otherwise.
fn short(v: Version) -> String {
    if v.patch == 0 {
        format!("{}.{}", v.major, v.minor)
    } else {
        v.to_string()
    }
}

/// `NAME=1|true|yes|on` (case-insensitive).
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// A capability the ArcDesk schema relies on, and the CockroachDB version that brought it.
/// PostgreSQL has all of them from [`MIN_POSTGRES`] on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Feature {
    pub name: &'static str,
    /// What in the schema needs it.
    pub used_for: &'static str,
    pub cockroachdb_since: Version,
    /// Where the version comes from.
    pub source: &'static str,
}

impl Feature {
    pub fn available_on(&self, engine: &Engine) -> bool {
        match engine.kind {
            EngineKind::Postgres => true,
            EngineKind::Cockroachdb => engine.version >= self.cockroachdb_since,
        }
    }
}

/// What the ArcDesk schema needs from CockroachDB, oldest first (docs v26.2, release notes;
/// see docs/cockroachdb.md).
pub const SCHEMA_FEATURES: &[Feature] = &[
    Feature {
        name: "enum types",
        used_for: "the 7 enum types of 0002",
        cockroachdb_since: Version::new(20, 2, 0),
        source: "docs v26.2 enum.md; release notes v20.2.0",
    },
    Feature {
        name: "materialized views",
        used_for: "the analytics views of 0005",
        cockroachdb_since: Version::new(20, 2, 0),
        source: "docs v26.2 views.md; release notes v20.2.0",
    },
    Feature {
        name: "session variables",
        used_for: "app.current_org_id, set_config, current_setting(name, true)",
        cockroachdb_since: Version::new(22, 1, 0),
        source: "docs v26.2 set-vars.md; release notes v22.1.0",
    },
    Feature {
        name: "SQL functions",
        used_for: "current_org_id(), current_app_user_id()",
        cockroachdb_since: Version::new(22, 2, 0),
        source: "docs v26.2 user-defined-functions.md; release notes v22.2.0",
    },
    Feature {
        name: "PL/pgSQL",
        used_for: "the trigger functions of 0003",
        cockroachdb_since: Version::new(23, 2, 0),
        source: "docs v26.2 plpgsql.md; release notes v23.2.0-alpha.1",
    },
    Feature {
        name: "triggers",
        used_for: "desk paths, task numbers, billing months, updated_at (0003)",
        cockroachdb_since: Version::new(24, 3, 0),
        source: "docs v26.2 triggers.md; release notes v24.3.0-beta.1 (preview; GA in 26.2)",
    },
    Feature {
        name: "row-level security",
        used_for: "the tenant policies of 0004",
        cockroachdb_since: Version::new(25, 2, 0),
        source: "docs v26.2 row-level-security.md; release notes v25.2.0",
    },
    Feature {
        name: "CITEXT",
        used_for: "case-insensitive emails, usernames, slugs, desk ids",
        cockroachdb_since: Version::new(25, 3, 0),
        source: "docs v26.2 citext.md",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supported_postgres_is_known_from_the_startup_parameters_and_nothing_else_is() {
        let pg = |v: &str| Engine::from_startup(Some(v), None).map(|e| (e.kind, e.version));
        assert_eq!(
            pg("16.4"),
            Some((EngineKind::Postgres, Version::new(16, 4, 0)))
        );
        assert_eq!(
            pg("15.18 (Debian 15.18-0+deb12u1)"),
            Some((EngineKind::Postgres, Version::new(15, 18, 0)))
        );
        assert_eq!(
            pg("18beta1"),
            Some((EngineKind::Postgres, Version::new(18, 0, 0)))
        );
        assert_eq!(
            pg("19devel"),
            Some((EngineKind::Postgres, Version::new(19, 0, 0)))
        );
        // Left to SELECT version(): CockroachDB, an unsupported major (refused there, with its
        // message), other servers' forms, nothing at all.
        assert!(Engine::from_startup(Some("13.0.0"), Some("CockroachDB CCL v23.1.2")).is_none());
        assert!(Engine::from_startup(Some("16.1"), Some("CockroachDB CCL v25.2.0")).is_none());
        assert_eq!(pg("13.16"), None);
        assert_eq!(pg("15.2-YB-2.25.0.0"), None);
        assert_eq!(pg("1.21.0/bouncer"), None);
        assert_eq!(pg("16."), None);
        assert_eq!(pg(""), None);
        assert!(Engine::from_startup(None, None).is_none());
    }

    #[test]
    fn detects_postgres_and_cockroach_banners() {
        let pg = Engine::detect(
            "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc",
        )
        .unwrap();
        assert_eq!(
            (pg.kind, pg.version),
            (EngineKind::Postgres, Version::new(15, 18, 0))
        );
        let beta = Engine::detect("PostgreSQL 18beta1 on aarch64-apple-darwin").unwrap();
        assert_eq!(beta.version, Version::new(18, 0, 0));
        let crdb = Engine::detect(
            "CockroachDB CCL v23.1.2 (x86_64-apple-darwin19, built 2023/05/25 16:10:39, go1.19.4)",
        )
        .unwrap();
        assert_eq!(
            (crdb.kind, crdb.version),
            (EngineKind::Cockroachdb, Version::new(23, 1, 2))
        );
        assert_eq!(
            Engine::detect("CockroachDB OSS v25.2.0 (x)")
                .unwrap()
                .version,
            Version::new(25, 2, 0)
        );
    }

    fn crdb(version: &str) -> Engine {
        Engine::detect(&format!(
            "CockroachDB CCL v{version} (x86_64-pc-linux-gnu, built 2025/06/02 10:00:00, go1.23.7)"
        ))
        .unwrap()
    }

    fn names(engine: &Engine) -> Vec<&'static str> {
        engine.missing_features().iter().map(|f| f.name).collect()
    }

    #[test]
    fn missing_features_follow_the_version() {
        let pg = Engine::detect("PostgreSQL 14.13 on x86_64").unwrap();
        let old = Engine::detect("PostgreSQL 13.16 on x86_64").unwrap_err();
        assert!(format!("{old:#}").contains("PostgreSQL 14–18"), "{old:#}");
        assert!(pg.missing_features().is_empty());
        pg.require_schema_support().unwrap();
        assert!(crdb("25.3.0").missing_features().is_empty());
        assert!(crdb("26.2.1").missing_features().is_empty());
        assert_eq!(names(&crdb("25.2.4")), vec!["CITEXT"]);
        assert_eq!(
            names(&crdb("24.3.0-beta.1")),
            vec!["row-level security", "CITEXT"]
        );
        assert_eq!(
            names(&crdb("23.1.2")),
            vec!["PL/pgSQL", "triggers", "row-level security", "CITEXT"]
        );
        assert_eq!(
            names(&crdb("22.1.0")),
            vec![
                "SQL functions",
                "PL/pgSQL",
                "triggers",
                "row-level security",
                "CITEXT"
            ]
        );
        assert_eq!(names(&crdb("21.2.17")).first(), Some(&"session variables"));
    }

    #[test]
    fn refusal_lists_every_missing_feature_on_one_line() {
        let err = crdb("24.1.3").require_schema_support().unwrap_err();
        assert_eq!(
            crate::error::exit_status_of(&err),
            crate::error::ExitStatus::Usage
        );
        let text = err.to_string();
        assert_eq!(
            text,
            "CockroachDB 24.1.3 lacks what the ArcDesk schema needs: triggers (24.3), row-level security (25.2), CITEXT (25.3); upgrade to CockroachDB 25.3 or later (nothing was changed)"
        );
        assert!(!text.contains('\n'));
        crdb("25.3.0").require_schema_support().unwrap();
    }

    #[test]
    fn capabilities_per_engine() {
        let pg = Engine::detect("PostgreSQL 16.4 on x86_64").unwrap();
        let cr = crdb("26.2.0");
        assert!(pg.transactional_ddl() && pg.supports_concurrent_refresh());
        assert!(pg.supports_advisory_locks());
        assert!(!cr.transactional_ddl() && !cr.supports_concurrent_refresh());
        assert!(!cr.supports_advisory_locks());
        assert!(cr.runs_stepwise());
    }

    #[test]
    fn refuses_old_postgres_and_other_engines() {
        let old = Engine::detect("PostgreSQL 12.9 on x86_64").unwrap_err();
        assert!(old.to_string().contains("PostgreSQL 12 is not supported"));
        assert!(Engine::detect("MySQL 8.0.36").is_err());
    }
}
