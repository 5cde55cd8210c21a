//! Which database a command talks to: `--dsn`, then `DATABASE_URL`, then a profile of
//! `arcdb.toml`, then the local default server. Passwords never come from the file.
//!
//! `arcdb.toml` is found the way cargo and git find theirs: `--config`/`ARCDB_CONFIG` when given,
//! else the current directory and then each parent, else `$XDG_CONFIG_HOME/arcdb/arcdb.toml`
//! (`~/.config/arcdb/arcdb.toml`). Running from a subdirectory targets the same profile.

use crate::cli::GlobalArgs;
use crate::db::Dsn;
use crate::error::Refusal;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// `column`, `membership` or `supabase` (see `rls::tenancy`).
    pub model: Option<String>,
    /// `TABLE(user_col, tenant_col)`.
    pub membership: Option<String>,
}

/// The `[verify_rls]` section of the configuration file found like `resolve` finds it (empty
/// without a file).
pub fn verify_rls(global: &GlobalArgs) -> anyhow::Result<VerifyRlsConfig> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let env = |name: &str| std::env::var(name).ok();
    let explicit = global.config.as_deref();
    match find_config(explicit, &cwd, &env) {
        Some(path) => Ok(load_file(&path, explicit.is_some())?.verify_rls),
        None => Ok(VerifyRlsConfig::default()),
    }
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

/// Which configuration file and profile a command used, and where its database came from
/// (`arcdb status` reports it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigUsed {
    /// The arcdb.toml read (None: none found or needed).
    pub file: Option<String>,
    /// The profile used (None: the database came from elsewhere).
    pub profile: Option<String>,
    /// `--dsn`, `DATABASE_URL`, `profile 'x'` or `local server`.
    pub database_from: String,
}

/// A report together with the configuration it was made with (`arcdb status`).
#[derive(Debug, Serialize)]
pub struct WithConfig<R> {
    #[serde(flatten)]
    pub report: R,
    pub config: ConfigUsed,
}

impl<R: crate::output::Report> crate::output::Report for WithConfig<R> {
    fn render_table(&self) -> String {
        let mut text = self.report.render_table();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let file = self.config.file.as_deref().unwrap_or("none found");
        text.push_str(&format!(
            "Configuration: {file}; profile: {}; database from {}\n",
            self.config.profile.as_deref().unwrap_or("none"),
            self.config.database_from
        ));
        text
    }
    fn render_junit(&self) -> Option<String> {
        self.report.render_junit()
    }
    fn exit_status(&self) -> crate::error::ExitStatus {
        self.report.exit_status()
    }
}

/// Seconds to wait for a connection when nothing says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Resolve the target from flags, environment and the configuration file.
pub fn resolve(global: &GlobalArgs) -> anyhow::Result<(Target, ConfigUsed)> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    resolve_in(global, &cwd, |name| std::env::var(name).ok())
}

/// The configuration file to read: the explicit one, else the nearest `arcdb.toml` from `cwd`
/// upwards, else the user's (`$XDG_CONFIG_HOME` or `~/.config`). None when there is none.
pub fn find_config(
    explicit: Option<&Path>,
    cwd: &Path,
    env: &impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(found) = cwd
        .ancestors()
        .map(|dir| dir.join("arcdb.toml"))
        .find(|p| p.is_file())
    {
        return Some(found);
    }
    let config_home = env("XDG_CONFIG_HOME")
        .filter(|d| Path::new(d).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(config_home.join("arcdb/arcdb.toml")).filter(|p| p.is_file())
}

/// As `resolve`, from directory `cwd` with the environment injected.
pub fn resolve_in(
    global: &GlobalArgs,
    cwd: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Target, ConfigUsed)> {
    let target = resolve_target(global, cwd, &env)?;
    Ok(target)
}

fn resolve_target(
    global: &GlobalArgs,
    cwd: &Path,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Target, ConfigUsed)> {
    let used = |file: Option<&Path>, profile: Option<&str>, from: &str| ConfigUsed {
        file: file.map(|p| p.display().to_string()),
        profile: profile.map(String::from),
        database_from: from.to_string(),
    };
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
        refuse_empty(
            text,
            "--dsn is empty: give a connection string, or leave the flag out",
        )?;
        let dsn = Dsn::parse(text).context("--dsn")?;
        return Ok((
            Target::Remote {
                connect_timeout: timeout_for(&dsn, None),
                dsn: Box::new(with_env_password(dsn)),
                origin: Origin::Flag,
            },
            used(None, None, "--dsn"),
        ));
    }
    // Set but empty is a mistake (a CI secret that is missing), never "no database named":
    // falling back to the local server would make `up` and `verify-rls` succeed on nothing.
    if let Some(text) = env("DATABASE_URL") {
        refuse_empty(
            &text,
            "DATABASE_URL is set but empty (a missing secret?): set it to a connection string, or unset it to use a profile or the local server",
        )?;
        let dsn = Dsn::parse(&text).context("DATABASE_URL")?;
        return Ok((
            Target::Remote {
                connect_timeout: timeout_for(&dsn, None),
                dsn: Box::new(with_env_password(dsn)),
                origin: Origin::Env,
            },
            used(None, None, "DATABASE_URL"),
        ));
    }
    let explicit = global.config.as_deref();
    let found = find_config(explicit, cwd, env);
    let file = match &found {
        Some(path) => load_file(path, global.profile.is_some() || explicit.is_some())?,
        None if global.profile.is_some() => {
            return Err(Refusal::usage(format!(
                "--profile {}: no arcdb.toml in {} or its parents, nor in ~/.config/arcdb/ (name one with --config; see config.example.toml)",
                global.profile.as_deref().unwrap_or_default(),
                cwd.display()
            ))
            .into())
        }
        None => ConfigFile::default(),
    };
    let Some(name) = global.profile.clone().or(file.default_profile.clone()) else {
        return Ok((
            Target::Local {
                connect_timeout: flag.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            },
            used(found.as_deref(), None, "local server"),
        ));
    };
    let config_path = found.clone().unwrap_or_default();
    let path = config_path.display();
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
    let connect_timeout = timeout_for(&dsn, profile.connect_timeout);
    let report = used(
        found.as_deref(),
        Some(&name),
        &Origin::Profile(name.clone()).to_string(),
    );
    Ok((
        Target::Remote {
            dsn: Box::new(with_env_password(dsn)),
            origin: Origin::Profile(name),
            connect_timeout,
        },
        report,
    ))
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

    /// Resolve from an empty directory (no arcdb.toml above it in a temp dir, no HOME).
    fn resolve_with(
        global: &GlobalArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Target> {
        let cwd = tempfile::tempdir().unwrap();
        let env = |k: &str| {
            if k == "HOME" || k == "XDG_CONFIG_HOME" {
                None
            } else {
                env(k)
            }
        };
        resolve_in(global, cwd.path(), env).map(|(target, _)| target)
    }

    fn args(dsn: Option<&str>, profile: Option<&str>, config: Option<PathBuf>) -> GlobalArgs {
        GlobalArgs {
            dsn: dsn.map(String::from),
            profile: profile.map(String::from),
            config,
            connect_timeout: None,
            format: Format::Table,
            pg_bin: None,
            quiet: false,
            verbose: false,
        }
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("arcdb.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const EXAMPLE: &str = include_str!("../config.example.toml");

    /// The commented `[verify_rls]` of the example, uncommented, is a valid section whose
    /// model and membership parse.
    #[test]
    fn the_example_verify_rls_section_parses() {
        let section: String = EXAMPLE
            .lines()
            .skip_while(|l| *l != "# [verify_rls]")
            .filter_map(|l| l.strip_prefix("# "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(section.contains("membership = "), "{section}");
        let file: ConfigFile = toml::from_str(&section).unwrap();
        let v = file.verify_rls;
        assert_eq!(v.model.as_deref(), Some("column"));
        let tenancy = crate::rls::Tenancy::parse(Some("membership"), v.membership.as_deref());
        assert_eq!(
            tenancy.unwrap().membership().map(|m| m.table.as_str()),
            Some("organization_members")
        );
    }

    #[test]
    fn precedence_is_flag_then_env_then_profile_then_local() {
        let (_d, path) = write_config(EXAMPLE);
        let env = |k: &str| match k {
            "DATABASE_URL" => Some("postgresql://env@e/db".to_string()),
            "ARCDB_STAGING_PASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let flag = resolve_with(
            &args(Some("postgresql://flag@f/db"), None, Some(path.clone())),
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
        let from_env = resolve_with(&args(None, Some("staging"), Some(path.clone())), env).unwrap();
        assert!(matches!(
            from_env,
            Target::Remote {
                origin: Origin::Env,
                ..
            }
        ));
        let no_url = |k: &str| if k == "DATABASE_URL" { None } else { env(k) };
        match resolve_with(&args(None, Some("staging"), Some(path.clone())), no_url).unwrap() {
            Target::Remote { dsn, origin, .. } => {
                assert_eq!(origin, Origin::Profile("staging".into()));
                assert!(dsn.has_password());
            }
            other => panic!("{other:?}"),
        }
        let none = resolve_with(&args(None, None, None), no_url).unwrap();
        assert!(matches!(none, Target::Local { .. }));
    }

    #[test]
    fn empty_connection_strings_are_refused_not_taken_as_absent() {
        let (_d, path) = write_config("default_profile = \"ci\"\n[profiles.ci]\ndsn = \"  \"\n");
        let nowhere: Option<PathBuf> = None;
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
        let err = resolve_with(&args(None, None, Some(path)), none).unwrap_err();
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
            let err =
                resolve_with(&args(None, Some(profile), Some(path.clone())), none).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{err:#}");
            assert!(!format!("{err:#}").contains("leaked"));
            assert_eq!(
                crate::error::exit_status_of(&err),
                crate::error::ExitStatus::Usage
            );
        }
        let missing = resolve_with(
            &args(None, Some("x"), Some(PathBuf::from("/nonexistent.toml"))),
            none,
        )
        .unwrap_err();
        assert!(format!("{missing:#}").contains("/nonexistent.toml"));
    }

    #[test]
    fn the_nearest_arcdb_toml_upwards_then_the_user_config() {
        let tree = tempfile::tempdir().unwrap();
        let repo = tree.path().join("repo");
        let deep = repo.join("src/nested");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(
            repo.join("arcdb.toml"),
            "default_profile = \"dev\"\n[profiles.dev]\ndsn = \"host=dev-db dbname=arcdesk\"\n",
        )
        .unwrap();
        let home = tree.path().join("home");
        std::fs::create_dir_all(home.join(".config/arcdb")).unwrap();
        std::fs::write(
            home.join(".config/arcdb/arcdb.toml"),
            "default_profile = \"mine\"\n[profiles.mine]\ndsn = \"host=my-db\"\n",
        )
        .unwrap();
        let home_text = home.display().to_string();
        let env = |k: &str| (k == "HOME").then(|| home_text.clone());
        let (target, used) = resolve_in(&args(None, None, None), &deep, env).unwrap();
        assert!(
            matches!(target, Target::Remote { origin: Origin::Profile(ref p), .. } if p == "dev")
        );
        assert_eq!(
            used.file,
            Some(repo.join("arcdb.toml").display().to_string())
        );
        assert_eq!(used.profile.as_deref(), Some("dev"));
        // Outside the repository: the user's file.
        let elsewhere = tree.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let (_, used) = resolve_in(&args(None, None, None), &elsewhere, env).unwrap();
        assert_eq!(used.profile.as_deref(), Some("mine"));
        assert!(used.file.unwrap().ends_with(".config/arcdb/arcdb.toml"));
        // XDG_CONFIG_HOME wins over ~/.config; an explicit --config over both.
        let xdg = tree.path().join("xdg");
        std::fs::create_dir_all(xdg.join("arcdb")).unwrap();
        std::fs::write(xdg.join("arcdb/arcdb.toml"), "").unwrap();
        let xdg_text = xdg.display().to_string();
        let env2 = |k: &str| match k {
            "HOME" => Some(home_text.clone()),
            "XDG_CONFIG_HOME" => Some(xdg_text.clone()),
            _ => None,
        };
        let (target, used) = resolve_in(&args(None, None, None), &elsewhere, env2).unwrap();
        assert!(matches!(target, Target::Local { .. }));
        assert!(used.file.unwrap().starts_with(&xdg_text));
        let explicit = Some(repo.join("arcdb.toml"));
        let (_, used) = resolve_in(&args(None, None, explicit), &elsewhere, env2).unwrap();
        assert_eq!(used.profile.as_deref(), Some("dev"));
        // An explicit file that does not exist is an error, not "no file".
        let missing = Some(tree.path().join("nope.toml"));
        let err = resolve_in(&args(None, None, missing), &elsewhere, env2).unwrap_err();
        assert_eq!(
            crate::error::exit_status_of(&err),
            crate::error::ExitStatus::Usage
        );
    }
}
