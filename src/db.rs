//! Connections: DSN parsing (URL and key=value), TLS modes, timeouts, engine detection, and
//! error messages that never contain a password.

mod quote;
mod tls;

pub use quote::{literal, quoted_ident, quoted_name, sql_ident};

use crate::engine::Engine;
use crate::error::Refusal;
use anyhow::{anyhow, Context};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::Client;

/// libpq's sslmode values; tokio-postgres knows only the first three, so the verifying modes
/// are mapped onto `require` plus a verifying TLS connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Refusal::usage(format!(
                "unknown sslmode '{other}': use disable, prefer, require, verify-ca or verify-full"
            ))
                .into())
            }
        })
    }
}

impl SslMode {
    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed connection string. Its `Display` is the redacted form: safe for every message.
#[derive(Clone)]
pub struct Dsn {
    config: tokio_postgres::Config,
    ssl_mode: SslMode,
    ssl_root_cert: Option<PathBuf>,
    /// The string's own `connect_timeout`; zero means no limit, as in libpq.
    connect_timeout: Option<Duration>,
}

impl std::fmt::Debug for Dsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dsn({})", self.redacted())
    }
}

impl std::fmt::Display for Dsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The parameters arcdb handles itself rather than passing to tokio-postgres.
const OWN_PARAMS: [&str; 3] = ["sslmode", "sslrootcert", "connect_timeout"];
/// Client certificates are not supported: refuse rather than connect without them.
const UNSUPPORTED_PARAMS: [&str; 3] = ["sslcert", "sslkey", "sslpassword"];

impl Dsn {
    /// Parse a URL (`postgresql://…`) or key=value connection string. Errors never echo the
    /// input, which may hold a password.
    pub fn parse(input: &str) -> anyhow::Result<Dsn> {
        let input = input.trim();
        let is_url = input.starts_with("postgres://") || input.starts_with("postgresql://");
        let (rest, params) = if is_url {
            split_url_params(&escape_url_userinfo(input)?)
        } else {
            split_keyword_params(input)?
        };
        let mut ssl_mode = SslMode::Prefer;
        let mut ssl_root_cert = None;
        let mut connect_timeout = None;
        for (key, value) in params {
            match key.as_str() {
                "sslmode" => ssl_mode = value.parse()?,
                "sslrootcert" => ssl_root_cert = Some(PathBuf::from(value)),
                "connect_timeout" => connect_timeout = Some(parse_connect_timeout(&value)?),
                other => {
                    return Err(Refusal::usage(format!(
                        "connection parameter '{other}' is not supported (client certificates); remove it"
                    ))
                    .into())
                }
            }
        }
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            Refusal::usage(format!(
                "malformed connection string: {e}; expected postgresql://user@host:port/dbname or host=… dbname=…"
            ))
        })?;
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if config.get_user().is_none() {
            let user = std::env::var("USER").unwrap_or_else(|_| "postgres".into());
            config.user(&user);
        }
        if config.get_application_name().is_none() {
            config.application_name("arcdb");
        }
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        Ok(Dsn {
            config,
            ssl_mode,
            ssl_root_cert,
            connect_timeout,
        })
    }

    /// The `connect_timeout` the connection string sets, if any (zero: no limit).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Set the password (from the environment variable a profile names).
    pub fn set_password(&mut self, password: &str) {
        self.config.password(password);
    }

    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    pub fn dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// The role the connection logs in as (named in permission errors).
    pub fn user(&self) -> Option<&str> {
        self.config.get_user()
    }

    /// The connection string without its password: `postgresql://user@host:port/db?sslmode=…`
    /// (socket directories go in a `host=` parameter, as libpq writes them).
    pub fn redacted(&self) -> String {
        let user = self.config.get_user().unwrap_or("");
        let pw = if self.has_password() { ":***" } else { "" };
        let db = self.config.get_dbname().unwrap_or(user);
        let ports: Vec<String> = self.config.get_ports().iter().map(u16::to_string).collect();
        let mut tcp = Vec::new();
        let mut sockets = Vec::new();
        for host in self.config.get_hosts() {
            match host {
                Host::Tcp(name) => tcp.push(name.clone()),
                #[cfg(unix)]
                Host::Unix(path) => sockets.push(path.display().to_string()),
            }
        }
        let mut params = Vec::new();
        if !sockets.is_empty() {
            params.push(format!("host={}", sockets.join(",")));
            if !ports.is_empty() {
                params.push(format!("port={}", ports.join(",")));
            }
        }
        let authority = if tcp.is_empty() {
            String::new()
        } else if ports.is_empty() || !sockets.is_empty() {
            tcp.join(",")
        } else {
            format!("{}:{}", tcp.join(","), ports.join(","))
        };
        if sockets.is_empty() {
            params.push(format!("sslmode={}", self.ssl_mode.as_str()));
        }
        format!(
            "postgresql://{user}{pw}@{authority}/{db}?{}",
            params.join("&")
        )
    }

    /// The TLS set-up for this target, none of it built yet (see `tls`). The `sslrootcert`
    /// file is read here, before connecting, so that a bad file is reported as such.
    fn lazy_tls(&self) -> anyhow::Result<tls::LazyTls> {
        let roots = match &self.ssl_root_cert {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Refusal::usage(format!("cannot read sslrootcert {}: {e}", path.display()))
                })?;
                let certs = openssl::x509::X509::stack_from_pem(&pem)
                    .ok()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| {
                        Refusal::usage(format!(
                            "sslrootcert {} holds no PEM certificate",
                            path.display()
                        ))
                    })?;
                Some(certs)
            }
        };
        let verify = tls::Verify::of(self.ssl_mode, roots.is_some());
        Ok(tls::LazyTls::new(verify, roots))
    }
}

/// libpq's `connect_timeout`: whole seconds; zero or negative waits without limit.
fn parse_connect_timeout(value: &str) -> anyhow::Result<Duration> {
    let secs: i64 = value.trim().parse().map_err(|_| {
        Refusal::usage(format!(
            "connect_timeout '{value}' in the connection string is not a whole number of seconds (0 = no limit)"
        ))
    })?;
    Ok(Duration::from_secs(secs.max(0) as u64))
}

/// Percent-encode the `@`s of a URL's user name and password, so that only the last `@`
/// before the host names separates them from the hosts (as the URL standard and sqlx read
/// it). tokio-postgres, like libpq, splits at the first `@`, so `postgresql://u:p@ss@db/x`
/// would connect to host `ss@db`, and every message would show that part of the password.
/// The separator is the last `@` before the first `/` or `?` that follows an `@`; a `@` left
/// in the database name after that is refused: the password cannot be told apart from the
/// rest, and guessing could print it.
fn escape_url_userinfo(url: &str) -> anyhow::Result<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(url.to_string());
    };
    let mut separator = None;
    for (i, c) in rest.char_indices() {
        match c {
            '@' => separator = Some(i),
            '/' | '?' if separator.is_some() => break,
            _ => {}
        }
    }
    let Some(at) = separator else {
        return Ok(url.to_string());
    };
    let (userinfo, tail) = (&rest[..at], &rest[at..]);
    let path = tail.split('?').next().unwrap_or(tail);
    if path[1..].contains('@') {
        return Err(Refusal::usage(
            "the connection URL has an '@' after the host: percent-encode '@', '/' and '?' in the user name and password (%40, %2F, %3F)",
        )
        .into());
    }
    Ok(format!("{scheme}://{}{tail}", userinfo.replace('@', "%40")))
}

/// Split `postgresql://…?a=b&sslmode=x` into the string for tokio-postgres and arcdb's own
/// parameters (kept percent-encoded text untouched for the rest).
fn split_url_params(input: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = input.split_once('?') else {
        return (input.to_string(), Vec::new());
    };
    let mut keep = Vec::new();
    let mut own = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if OWN_PARAMS.contains(&key) || UNSUPPORTED_PARAMS.contains(&key) {
            own.push((key.to_string(), percent_decode(value)));
        } else {
            keep.push(pair);
        }
    }
    let rest = if keep.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", keep.join("&"))
    };
    (rest, own)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Split a libpq key=value string (values may be single-quoted with backslash escapes).
fn split_keyword_params(input: &str) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let malformed = || {
        Refusal::usage(
            "malformed connection string: expected key=value pairs such as host=db dbname=arcdesk, or a postgresql:// URL",
        )
    };
    let mut keep = Vec::new();
    let mut own = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return Err(malformed().into());
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or_else(malformed)?),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(malformed().into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if OWN_PARAMS.contains(&key.as_str()) || UNSUPPORTED_PARAMS.contains(&key.as_str()) {
            own.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            keep.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((keep.join(" "), own))
}

/// An open connection and what it is connected to.
pub struct Db {
    pub client: Client,
    pub engine: Engine,
    dsn: Dsn,
    timeout: Duration,
}

impl Db {
    /// Redacted description of the target, for reports and messages.
    pub fn target(&self) -> String {
        self.dsn.redacted()
    }

    pub fn dsn(&self) -> &Dsn {
        &self.dsn
    }

    /// A second, independent session to the same database (locks, probes, heartbeats).
    ///
    /// The future owns what it needs, so it can be spawned and awaited later.
    pub fn reconnect(
        &self,
    ) -> impl std::future::Future<Output = anyhow::Result<Db>> + Send + 'static {
        let (dsn, timeout) = (self.dsn.clone(), self.timeout);
        async move { connect(&dsn, timeout).await }
    }

    /// A session to another database of the same server, as the same user and with the same
    /// options (the scratch databases of `catalog::scratch`).
    pub async fn connect_to(&self, dbname: &str) -> anyhow::Result<Db> {
        let mut dsn = self.dsn.clone();
        dsn.config.dbname(dbname);
        connect(&dsn, self.timeout).await
    }
}

/// Connect, within `timeout` for TCP, TLS and authentication together, and detect the engine.
pub async fn connect(dsn: &Dsn, timeout: Duration) -> anyhow::Result<Db> {
    let (client, told) = open(dsn, timeout).await?;
    let engine = match told {
        Some(engine) => engine,
        None => {
            let version: String = client
                .query_typed_one("SELECT version()", &[])
                .await
                .with_context(|| format!("connected to {dsn} but cannot read its version"))?
                .get(0);
            Engine::detect(&version)?
        }
    };
    Ok(Db {
        client,
        engine,
        dsn: dsn.clone(),
        timeout,
    })
}

/// The engine, when what the server reported as the session started (ParameterStatus) tells it.
fn engine_told<S, T>(connection: &tokio_postgres::Connection<S, T>) -> Option<Engine>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    Engine::from_startup(
        connection.parameter("server_version"),
        connection.parameter("crdb_version"),
    )
}

/// A session, and its engine when the session's start told it (`None`: ask `SELECT version()`).
/// `timeout` zero: no limit (libpq's `connect_timeout=0`).
async fn open(dsn: &Dsn, timeout: Duration) -> anyhow::Result<(Client, Option<Engine>)> {
    let mut config = dsn.config.clone();
    if !timeout.is_zero() {
        config.connect_timeout(timeout);
    }
    // PostgreSQL never speaks TLS on a unix socket: no TLS at all there. Over TCP nothing of
    // TLS is built before the server accepts it (see `tls`).
    let socket_only = config
        .get_hosts()
        .iter()
        .all(|h| !matches!(h, Host::Tcp(_)));
    let tls = match dsn.ssl_mode {
        SslMode::Disable => None,
        _ if socket_only => None,
        _ => Some(dsn.lazy_tls()?),
    };
    let attempt = async {
        match tls {
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                let told = engine_told(&connection);
                tokio::spawn(connection);
                Ok::<_, tokio_postgres::Error>((client, told))
            }
            Some(tls) => {
                let (client, connection) = config.connect(tls).await?;
                let told = engine_told(&connection);
                tokio::spawn(connection);
                Ok((client, told))
            }
        }
    };
    // tokio-postgres bounds each TCP connect; this bounds TLS and authentication too.
    let bounded = async {
        if timeout.is_zero() {
            Ok::<_, tokio::time::error::Elapsed>(attempt.await)
        } else {
            tokio::time::timeout(timeout + Duration::from_millis(500), attempt).await
        }
    };
    match bounded.await {
        Err(_) => Err(anyhow!(
            "could not connect to {dsn} within {}s: the host does not answer (check host, port and firewall, or raise --connect-timeout)",
            timeout.as_secs()
        )),
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(e)) => Err(explain_connect_error(dsn, &e, timeout)),
    }
}

/// Turn a tokio-postgres connection error into one actionable line.
fn explain_connect_error(
    dsn: &Dsn,
    err: &tokio_postgres::Error,
    timeout: Duration,
) -> anyhow::Error {
    let user = dsn.config.get_user().unwrap_or("?");
    if let Some(db) = err.as_db_error() {
        let hint = match db.code().code() {
            "28P01" => format!(
                "password authentication failed for user '{user}': check the password (DATABASE_URL or the profile's password_env)"
            ),
            "28000" => format!("the server rejected user '{user}': {} (check pg_hba.conf or the user name)", db.message()),
            "3D000" => format!(
                "database '{}' does not exist: create it first or fix the dbname",
                dsn.dbname().unwrap_or(user)
            ),
            _ => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        };
        return anyhow!("cannot connect to {dsn}: {hint}");
    }
    let text = err.to_string();
    let source = std::error::Error::source(err)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let detail = format!("{text} {source}");
    let hint = if detail.contains("server does not support TLS") {
        format!(
            "the server does not support TLS but sslmode={} demands it (enable ssl on the server, or use sslmode=prefer or disable)",
            dsn.ssl_mode.as_str()
        )
    } else if detail.contains("timed out") || detail.contains("timeout") {
        format!(
            "no answer within {}s (check host, port and firewall, or raise --connect-timeout)",
            timeout.as_secs()
        )
    } else if detail.contains("Connection refused") {
        "connection refused: is the server running and listening on that host and port?".to_string()
    } else if detail.contains("failed to lookup address")
        || detail.contains("Name or service not known")
    {
        "the host name does not resolve: check the host".to_string()
    } else if detail.contains("certificate") || detail.contains("handshake") {
        format!("TLS handshake failed: {source} (check sslrootcert and the server's certificate)")
    } else if detail.contains("No such file or directory") {
        "no server socket at that path: is the server running?".to_string()
    } else {
        detail.trim().to_string()
    };
    anyhow!("cannot connect to {dsn}: {hint}")
}

/// The server's message, its detail and SQLSTATE (`message: detail (SQLSTATE x)`), or the
/// client error's text: how every command quotes a failed statement.
pub fn server_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!(
                "{}: {} (SQLSTATE {})",
                db.message(),
                detail.trim_end_matches('.'),
                db.code().code()
            ),
            None => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        },
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_keyword_forms_parse_and_redact_the_password() {
        let url = Dsn::parse(
            "postgresql://app:s3cret@db.example:5433/arcdesk?sslmode=verify-full&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(url.ssl_mode, SslMode::VerifyFull);
        assert_eq!(
            url.redacted(),
            "postgresql://app:***@db.example:5433/arcdesk?sslmode=verify-full"
        );
        let kv = Dsn::parse("host=db.example port=5433 user=app password='s3 cret' dbname=arcdesk sslmode=verify-ca sslrootcert=/tmp/ca.pem").unwrap();
        assert_eq!(kv.ssl_mode, SslMode::VerifyCa);
        assert_eq!(
            kv.ssl_root_cert.as_deref(),
            Some(std::path::Path::new("/tmp/ca.pem"))
        );
        assert_eq!(kv.config.get_password(), Some(&b"s3 cret"[..]));
        assert!(!format!("{kv} {kv:?}").contains("s3"));
    }

    #[test]
    fn bad_input_is_a_usage_error_without_the_secret() {
        for bad in [
            "postgresql://app:hunter2@db:notaport/x",
            "host=db password=hunter2 sslmode=sometimes",
            "host=db password='hunter2",
            "postgresql://app:hunter2@db/x?sslcert=/a.pem",
        ] {
            let err = Dsn::parse(bad).unwrap_err();
            assert_eq!(
                crate::error::exit_status_of(&err),
                crate::error::ExitStatus::Usage,
                "{bad}"
            );
            assert!(!format!("{err:#}").contains("hunter2"), "{err:#}");
        }
    }

    #[test]
    fn socket_targets_redact_to_a_libpq_url() {
        let dsn = Dsn::parse("host=/var/run/pg port=5439 user=postgres dbname=arcdesk").unwrap();
        assert_eq!(
            dsn.redacted(),
            "postgresql://postgres@/arcdesk?host=/var/run/pg&port=5439"
        );
    }

    #[test]
    fn an_unescaped_at_in_a_url_password_stays_in_the_password() {
        let dsn =
            Dsn::parse("postgresql://app:p@ss@w0rd@db.example:5433/arcdesk?application_name=x")
                .unwrap();
        assert_eq!(dsn.config.get_password(), Some(&b"p@ss@w0rd"[..]));
        assert_eq!(
            dsn.redacted(),
            "postgresql://app:***@db.example:5433/arcdesk?sslmode=prefer"
        );
        // '/' and '?' before the '@' are the password's too, as tokio-postgres reads them.
        let slash = Dsn::parse("postgresql://app:a/b?c@d@db/arcdesk").unwrap();
        assert_eq!(slash.config.get_password(), Some(&b"a/b?c@d"[..]));
        assert_eq!(slash.config.get_dbname(), Some("arcdesk"));
        assert!(!slash.redacted().contains("a/b"), "{}", slash.redacted());
        // Ambiguous: refused, without echoing any of it.
        let err = Dsn::parse("postgresql://app:se@cr/et@db/arcdesk").unwrap_err();
        assert_eq!(
            crate::error::exit_status_of(&err),
            crate::error::ExitStatus::Usage
        );
        let text = format!("{err:#}");
        assert!(
            text.contains("percent-encode") && !text.contains("cr/et"),
            "{text}"
        );
        // An '@' in a query value is not a separator.
        let query = Dsn::parse("postgresql://app@db/arcdesk?application_name=a@b").unwrap();
        assert_eq!(query.config.get_user(), Some("app"));
        assert_eq!(query.config.get_application_name(), Some("a@b"));
    }

    #[test]
    fn connect_timeout_in_the_string_is_kept_and_zero_means_no_limit() {
        let url = Dsn::parse("postgresql://u@h/d?connect_timeout=3").unwrap();
        assert_eq!(url.connect_timeout(), Some(Duration::from_secs(3)));
        let kv = Dsn::parse("host=h connect_timeout=0 dbname=d").unwrap();
        assert_eq!(kv.connect_timeout(), Some(Duration::ZERO));
        assert_eq!(
            Dsn::parse("host=h connect_timeout=-5")
                .unwrap()
                .connect_timeout(),
            Some(Duration::ZERO)
        );
        assert_eq!(Dsn::parse("host=h").unwrap().connect_timeout(), None);
        let err = Dsn::parse("host=h connect_timeout=soon").unwrap_err();
        assert_eq!(
            crate::error::exit_status_of(&err),
            crate::error::ExitStatus::Usage
        );
        assert!(format!("{err:#}").contains("connect_timeout 'soon'"));
    }

    #[test]
    fn percent_encoded_parameters_are_decoded() {
        let dsn =
            Dsn::parse("postgresql://u@h/d?sslrootcert=%2Fetc%2Fca.pem&sslmode=require").unwrap();
        assert_eq!(dsn.ssl_root_cert.unwrap(), PathBuf::from("/etc/ca.pem"));
    }
}
