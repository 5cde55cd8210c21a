//! Connections over TCP: TLS modes against a server with `ssl=on` (a CA and a server
//! certificate made here with the openssl tool), `connect_timeout` in the connection string,
//! `--connect-timeout 0`, and a URL password with an unescaped `@`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{run, Run, TestCluster};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl tool (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate it signs for `localhost` only (no IP address), and a second,
/// unrelated CA. Returns the directory.
fn make_certificates(root: &Path) -> PathBuf {
    let dir = root.join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let days = "2";
    for ca in ["ca", "other-ca"] {
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                days,
                "-subj",
                &format!("/CN=arcdb test {ca}"),
            ],
        );
    }
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            days,
            "-extfile",
            "san.ext",
        ],
    );
    if nix::unistd::Uid::effective().is_root() {
        // The server runs as the postgres OS user and insists on owning its key.
        let status = Command::new("chown")
            .args(["-R", "postgres:"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    dir
}

/// Turn TLS on and accept TCP connections over TLS only (`hostnossl … reject`): a command
/// that succeeds over TCP has used TLS.
fn enable_tls_only(pg: &TestCluster, certs: &Path) {
    let hba = pg.scalar("postgres", "SHOW hba_file");
    std::fs::write(
        &hba,
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    pg.psql(
        "postgres",
        &format!(
            "ALTER SYSTEM SET ssl_cert_file = '{0}/server.pem';\n\
             ALTER SYSTEM SET ssl_key_file = '{0}/server.key';\n\
             ALTER SYSTEM SET ssl = on;\nSELECT pg_reload_conf();",
            certs.display()
        ),
    );
}

fn status_at(pg: &TestCluster, dsn: &str) -> Run {
    run(pg.arcdb_at(dsn, &["status", "--format", "json"]))
}

#[test]
fn tls_modes_encrypt_and_verify_what_libpq_would() {
    let pg = TestCluster::start();
    pg.create_db("tls");
    let port = pg.port();
    let secret = pg.password().to_string();
    let at = |host: &str, params: &str| {
        format!("postgresql://postgres:{secret}@{host}:{port}/tls?{params}")
    };
    // Without TLS on the server the default (prefer) falls back to plaintext.
    let plain = status_at(&pg, &at("127.0.0.1", ""));
    assert_eq!(plain.code, 3, "{}", plain.stderr);

    let certs = make_certificates(pg.root());
    enable_tls_only(&pg, &certs);
    // The reload is asynchronous: wait until the server speaks TLS.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = status_at(&pg, &at("127.0.0.1", "sslmode=require"));
        if out.code == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "TLS never came up: {}",
            out.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ca = certs.join("ca.pem");
    let other = certs.join("other-ca.pem");
    let ca = ca.display();
    let other = other.display();
    for (dsn, code, needle) in [
        // Encrypted (the server rejects plaintext), nothing verified.
        (at("127.0.0.1", ""), 3, ""),
        (at("127.0.0.1", "sslmode=require"), 3, ""),
        // Chain verified against the CA; verify-ca does not check the host name.
        (
            at("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
            3,
            "",
        ),
        (
            at(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            3,
            "",
        ),
        // require with a root certificate verifies the chain, as in libpq.
        (
            at("127.0.0.1", &format!("sslmode=require&sslrootcert={other}")),
            1,
            "certificate verify failed",
        ),
        (
            at(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={other}"),
            ),
            1,
            "certificate verify failed",
        ),
        // The certificate names localhost, not 127.0.0.1.
        (
            at(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            1,
            "certificate verify failed",
        ),
        // Explicitly plaintext: the server refuses it.
        (at("127.0.0.1", "sslmode=disable"), 1, "no encryption"),
        // A root certificate that cannot be read: bad input, nothing contacted.
        (
            at(
                "127.0.0.1",
                "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            ),
            2,
            "cannot read sslrootcert /nonexistent/ca.pem",
        ),
    ] {
        let out = status_at(&pg, &dsn);
        assert_eq!(out.code, code, "{dsn}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{dsn}: {}", out.stderr);
        assert!(!out.stderr.contains(&secret) && !out.stdout.contains(&secret));
    }
}

#[test]
fn connect_timeout_comes_from_the_string_and_zero_waits_without_limit() {
    let pg = TestCluster::start();
    let secret = pg.password().to_string();
    // Accepts TCP, never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let dsn = |params: &str| {
        format!("postgresql://postgres:{secret}@127.0.0.1:{port}/x?sslmode=disable{params}")
    };
    let started = Instant::now();
    let out = status_at(&pg, &dsn("&connect_timeout=1"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("within 1s"), "{}", out.stderr);
    // Not the 10 s default.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // --connect-timeout 0 (over the string's 1 s): libpq's "no limit". Still waiting after 3 s.
    let mut cmd = pg.arcdb_at(&dsn("&connect_timeout=1"), &["status"]);
    cmd.args(["--connect-timeout", "0"]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let waited = child.try_wait().unwrap();
    child.kill().ok();
    child.wait().ok();
    assert!(waited.is_none(), "gave up: {waited:?}");

    let bad = status_at(&pg, &dsn("&connect_timeout=soon"));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("connect_timeout 'soon'"),
        "{}",
        bad.stderr
    );
    drop(silent);
}

#[test]
fn an_unescaped_at_in_a_url_password_connects_and_is_never_printed() {
    let pg = TestCluster::start();
    pg.create_db("at");
    pg.psql(
        "postgres",
        "CREATE ROLE at_user LOGIN PASSWORD 'se@cr@t-9f3';",
    );
    let port = pg.port();
    let out = status_at(
        &pg,
        &format!("postgresql://at_user:se@cr@t-9f3@127.0.0.1:{port}/at?sslmode=disable"),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("postgresql://at_user:***@127.0.0.1:{port}/at")),
        "{}",
        out.stdout
    );
    // A wrong password with '@'s: the error shows the redacted DSN, no part of the password.
    let wrong = status_at(
        &pg,
        &format!("postgresql://at_user:wr@ng@pw-7c1@127.0.0.1:{port}/at?sslmode=disable"),
    );
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("password authentication failed"),
        "{}",
        wrong.stderr
    );
    for fragment in ["cr@t", "t-9f3", "ng@", "pw-7c1"] {
        assert!(
            !out.stdout.contains(fragment)
                && !out.stderr.contains(fragment)
                && !wrong.stderr.contains(fragment),
            "{fragment} printed: {} {}",
            out.stdout,
            wrong.stderr
        );
    }
}
