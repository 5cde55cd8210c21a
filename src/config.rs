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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Connection string without a password.
    pub dsn: String,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    /// Overrides --connect-timeout for this profile.
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

/// Resolve the target from flags, environment and the configuration file.
pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Target> {
    resolve_with(global, |name| std::env::var(name).ok())
}

/// As `resolve`, with the environment injected (tests).
pub fn resolve_with(
    global: &GlobalArgs,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Target> {
    let timeout = Duration::from_secs(global.connect_timeout);
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
        refuse_empty(
            text,
            "--dsn is empty: give a connection string, or leave the flag out",
        )?;
        let dsn = Dsn::parse(text).context("--dsn")?;
        return Ok(Target::Remote {
            dsn: Box::new(with_env_password(dsn)),
            origin: Origin::Flag,
            connect_timeout: timeout,
        });
    }
    // Set but empty is a mistake (a CI secret that is missing), never "no database named":
    // falling back to the local server would make `up` and `verify-rls` succeed on nothing.
    if let Some(text) = env("DATABASE_URL") {
        refuse_empty(
            &text,
            "DATABASE_URL is set but empty (a missing secret?): set it to a connection string, or unset it to use a profile or the local server",
        )?;
        let dsn = Dsn::parse(&text).context("DATABASE_URL")?;
        return Ok(Target::Remote {
            dsn: Box::new(with_env_password(dsn)),
            origin: Origin::Env,
            connect_timeout: timeout,
        });
    }
    let file = load_file(&global.config, global.profile.is_some())?;
    let Some(name) = global.profile.clone().or(file.default_profile.clone()) else {
        return Ok(Target::Local {
            connect_timeout: timeout,
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
    refuse_empty(
        &profile.dsn,
        &format!("profile '{name}' in {path} has an empty dsn: set dsn to a connection string"),
    )?;
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
    let connect_timeout = profile
        .connect_timeout
        .map(Duration::from_secs)
        .unwrap_or(timeout);
    Ok(Target::Remote {
        dsn: Box::new(with_env_password(dsn)),
        origin: Origin::Profile(name),
        connect_timeout,
    })
}

/// A set-but-blank connection string is bad input (exit 2), not an absent one.
fn refuse_empty(text: &str, message: &str) -> anyhow::Result<()> {
    if text.trim().is_empty() {
        return Err(Refusal::usage(message).into());
    }
    Ok(())
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
            connect_timeout: 7,
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
    fn empty_connection_strings_are_refused_not_taken_as_absent() {
        let (_d, path) = write_config("default_profile = \"ci\"\n[profiles.ci]\ndsn = \"  \"\n");
        let nowhere = PathBuf::from("/nonexistent/arcdb.toml");
        for (blank, needle) in [
            ("", "DATABASE_URL is set but empty"),
            (" \t\n", "DATABASE_URL"),
        ] {
            let env = |k: &str| (k == "DATABASE_URL").then(|| blank.to_string());
            let err = resolve_with(&args(None, None, nowhere.clone()), env).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{err:#}");
            assert_eq!(
                crate::error::exit_status_of(&err),
                crate::error::ExitStatus::Usage
            );
        }
        let none = |_: &str| None;
        let err = resolve_with(&args(Some(" "), None, nowhere.clone()), none).unwrap_err();
        assert!(format!("{err:#}").contains("--dsn is empty"), "{err:#}");
        assert_eq!(
            crate::error::exit_status_of(&err),
            crate::error::ExitStatus::Usage
        );
        let err = resolve_with(&args(None, None, path), none).unwrap_err();
        assert!(format!("{err:#}").contains("empty dsn"), "{err:#}");
        assert_eq!(
            crate::error::exit_status_of(&err),
            crate::error::ExitStatus::Usage
        );
        // Nothing at all names a database: the local server.
        let local = resolve_with(&args(None, None, nowhere), none).unwrap();
        assert!(matches!(local, Target::Local { .. }));
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
