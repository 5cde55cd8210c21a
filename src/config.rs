//! Which database a command talks to: `--dsn`, then `DATABASE_URL`, then a profile of
//! `arcdb.toml`, then the local default server. Passwords never come from the file.

use crate::cli::GlobalArgs;
use crate::db::Dsn;
use crate::error::Refusal;
use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The parsed configuration file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Profile used when neither --profile nor ARCDB_PROFILE names one.
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// Defaults of `verify-rls` for this project's tenancy model (flags override them).
    #[serde(default)]
    pub verify_rls: VerifyRlsConfig,
}

/// `[verify_rls]`: the tenancy model's names, as the flags of the same names.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct VerifyRlsConfig {
    pub tenant_role: Option<String>,
    pub setting: Option<String>,
    pub schemas: Option<Vec<String>>,
    pub tenant_column: Option<String>,
    pub root_table: Option<String>,
    pub root_key: Option<String>,
}

/// The `[verify_rls]` section of the configuration file (empty without a file).
pub fn verify_rls(global: &GlobalArgs) -> anyhow::Result<VerifyRlsConfig> {
    Ok(load_file(&global.config, false)?.verify_rls)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Connection string without a password.
    pub dsn: String,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    /// Seconds to wait for a connection, unless --connect-timeout or the dsn's own
    /// connect_timeout says otherwise (0: no limit).
    pub connect_timeout: Option<u64>,
}

/// Where the connection string came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    Profile(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("--dsn"),
            Origin::Env => f.write_str("DATABASE_URL"),
            Origin::Profile(name) => write!(f, "profile '{name}'"),
        }
    }
}

/// The resolved target of a command.
#[derive(Debug)]
pub enum Target {
    Remote {
        dsn: Box<Dsn>,
        origin: Origin,
        connect_timeout: Duration,
    },
    /// No database named anywhere: use the local server arcdb manages.
    Local { connect_timeout: Duration },
}

/// Seconds to wait for a connection when nothing says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolve the target from flags, environment and the configuration file.
pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Target> {
    resolve_with(global, |name| std::env::var(name).ok())
}

/// As `resolve`, with the environment injected (tests).
pub fn resolve_with(
    global: &GlobalArgs,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Target> {
    // The most specific word wins: the flag of this run, the connection string's own
    // connect_timeout, the profile's, then the default.
    let flag = global.connect_timeout.map(Duration::from_secs);
    let timeout_for = |dsn: &Dsn, profile: Option<u64>| {
        flag.or(dsn.connect_timeout())
            .or(profile.map(Duration::from_secs))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT)
    };
    let with_env_password = |mut dsn: Dsn| {
        // libpq's convention: PGPASSWORD fills in a password the DSN leaves out.
        if !dsn.has_password() {
            if let Some(pw) = env("PGPASSWORD") {
                dsn.set_password(&pw);
            }
        }
        dsn
    };
    if let Some(text) = &global.dsn {
        let dsn = Dsn::parse(text).context("--dsn")?;
        return Ok(Target::Remote {
            connect_timeout: timeout_for(&dsn, None),
            dsn: Box::new(with_env_password(dsn)),
            origin: Origin::Flag,
        });
    }
    if let Some(text) = env("DATABASE_URL").filter(|s| !s.trim().is_empty()) {
        let dsn = Dsn::parse(&text).context("DATABASE_URL")?;
        return Ok(Target::Remote {
            connect_timeout: timeout_for(&dsn, None),
            dsn: Box::new(with_env_password(dsn)),
            origin: Origin::Env,
        });
    }
    let file = load_file(&global.config, global.profile.is_some())?;
    let Some(name) = global.profile.clone().or(file.default_profile.clone()) else {
        return Ok(Target::Local {
            connect_timeout: flag.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        });
    };
    let path = global.config.display();
    let profile = file.profiles.get(&name).ok_or_else(|| {
        let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
        Refusal::usage(format!(
            "no profile '{name}' in {path} (profiles: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    })?;
    let mut dsn =
        Dsn::parse(&profile.dsn).with_context(|| format!("profile '{name}' in {path}"))?;
    if dsn.has_password() {
        return Err(Refusal::usage(format!(
            "profile '{name}' in {path} has a password in its dsn: remove it and name an environment variable with password_env"
        ))
        .into());
    }
    if let Some(var) = &profile.password_env {
        let password = env(var).ok_or_else(|| {
            Refusal::usage(format!(
                "profile '{name}' takes its password from ${var}, which is not set"
            ))
        })?;
        dsn.set_password(&password);
    }
    let connect_timeout = timeout_for(&dsn, profile.connect_timeout);
    Ok(Target::Remote {
        dsn: Box::new(with_env_password(dsn)),
        origin: Origin::Profile(name),
        connect_timeout,
    })
}

fn load_file(path: &Path, required: bool) -> anyhow::Result<ConfigFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| {
            let what = e.message().to_string();
            Refusal::usage(format!("invalid configuration file {}: {what}", path.display())).into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(ConfigFile::default()),
        Err(e) => Err(Refusal::usage(format!(
            "cannot read configuration file {}: {e} (a --profile needs it; see config.example.toml)",
            path.display()
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Format;
    use std::path::PathBuf;

    fn args(dsn: Option<&str>, profile: Option<&str>, config: PathBuf) -> GlobalArgs {
        GlobalArgs {
            dsn: dsn.map(String::from),
            profile: profile.map(String::from),
            config,
            connect_timeout: None,
            format: Format::Table,
            pg_bin: None,
        }
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arcdb.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const EXAMPLE: &str = include_str!("../config.example.toml");

    #[test]
    fn precedence_is_flag_then_env_then_profile_then_local() {
        let (_d, path) = write_config(EXAMPLE);
        let env = |k: &str| match k {
            "DATABASE_URL" => Some("postgresql://env@e/db".to_string()),
            "ARCDB_STAGING_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let flag = resolve_with(
            &args(Some("postgresql://flag@f/db"), None, path.clone()),
            env,
        )
        .unwrap();
        assert!(matches!(
            flag,
            Target::Remote {
                origin: Origin::Flag,
                ..
            }
        ));
        let from_env = resolve_with(&args(None, Some("staging"), path.clone()), env).unwrap();
        assert!(matches!(
            from_env,
            Target::Remote {
                origin: Origin::Env,
                ..
            }
        ));
        let no_url = |k: &str| if k == "DATABASE_URL" { None } else { env(k) };
        match resolve_with(&args(None, Some("staging"), path.clone()), no_url).unwrap() {
            Target::Remote { dsn, origin, .. } => {
                assert_eq!(origin, Origin::Profile("staging".into()));
                assert!(dsn.has_password());
            }
            other => panic!("{other:?}"),
        }
        let none = resolve_with(
            &args(None, None, PathBuf::from("/nonexistent/arcdb.toml")),
            no_url,
        )
        .unwrap();
        assert!(matches!(none, Target::Local { .. }));
    }

    #[test]
    fn profile_errors_are_usage_errors() {
        let (_d, path) = write_config(
            "[profiles.prod]\ndsn = \"postgresql://app:leaked@db/x\"\n[profiles.ci]\ndsn = \"host=db\"\npassword_env = \"NOPE\"\n",
        );
        let none = |_: &str| None;
        for (profile, needle) in [
            ("prod", "has a password"),
            ("ci", "$NOPE"),
            ("qa", "no profile 'qa'"),
        ] {
            let err = resolve_with(&args(None, Some(profile), path.clone()), none).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{err:#}");
            assert!(!format!("{err:#}").contains("leaked"));
            assert_eq!(
                crate::error::exit_status_of(&err),
                crate::error::ExitStatus::Usage
            );
        }
        let missing = resolve_with(
            &args(None, Some("x"), PathBuf::from("/nonexistent.toml")),
            none,
        )
        .unwrap_err();
        assert!(format!("{missing:#}").contains("/nonexistent.toml"));
    }
}
