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

/// The oldest PostgreSQL arcdb's schema supports (gen_random_uuid() is core from 13).
pub const MIN_POSTGRES: Version = Version::new(13, 0, 0);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Engine {
    pub kind: EngineKind,
    pub version: Version,
    /// What `SELECT version()` answered.
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
                "unsupported database engine '{}': arcdb supports PostgreSQL 13+ and CockroachDB",
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
                "PostgreSQL {} is not supported: arcdb needs PostgreSQL {}.0 or later",
                version.major, MIN_POSTGRES.major
            ))
            .into());
        }
        Ok(engine)
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn refuses_old_postgres_and_other_engines() {
        let old = Engine::detect("PostgreSQL 12.9 on x86_64").unwrap_err();
        assert!(old.to_string().contains("PostgreSQL 12 is not supported"));
        assert!(Engine::detect("MySQL 8.0.36").is_err());
    }
}
