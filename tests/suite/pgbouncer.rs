//! The lease lock behind a real PgBouncer in transaction mode (started by the test, its own ini
//! on a free port): concurrent `up --lock lease` runs apply each version once, where a session
//! advisory lock would be taken and released on whichever server connection ran it.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, latest_version, run, Run, TestCluster};

/// A PgBouncer in transaction mode in front of `pg`, run as the postgres OS user when we are
/// root (it refuses to run as root); stopped on drop.
struct Bouncer {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

fn pgbouncer_binary() -> String {
    for candidate in ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"] {
        if std::path::Path::new(candidate).is_file() {
            return candidate.to_string();
        }
    }
    panic!("pgbouncer is not installed: apt-get install -y pgbouncer (.ci/run installs it)");
}

impl Bouncer {
    fn start(pg: &TestCluster) -> Bouncer {
        let dir = pg.root().join("pgbouncer");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let log = dir.join("pgbouncer.log");
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={} user=postgres password={}\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = any\npool_mode = transaction\ndefault_pool_size = 10\nmax_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits,options\n\
                 logfile = {}\npidfile =\n",
                pg.port(),
                pg.password(),
                log.display()
            ),
        )
        .unwrap();
        let root = nix::unistd::Uid::effective().is_root();
        let mut cmd = if root {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success());
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--", &pgbouncer_binary()]);
            cmd
        } else {
            Command::new(pgbouncer_binary())
        };
        let child = cmd
            .arg(&ini)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer starts");
        let bouncer = Bouncer { child, port, log };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "pgbouncer did not listen on {port}: {}",
                std::fs::read_to_string(&bouncer.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    fn dsn(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // runuser forwards SIGTERM to pgbouncer, which then exits.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn spawn(pg: &TestCluster, dsn: &str, args: &[&str]) -> Child {
    let mut cmd = pg.arcdb_at(dsn, args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

#[test]
fn the_lease_lock_works_behind_pgbouncer_in_transaction_mode() {
    let pg = TestCluster::start();
    pg.create_db("bounced");
    let bouncer = Bouncer::start(&pg);
    let dsn = bouncer.dsn("bounced");
    let children: Vec<Child> = (0..4)
        .map(|_| spawn(&pg, &dsn, &["up", "--lock", "lease", "--format", "json"]))
        .collect();
    let mut applied = 0;
    for child in children {
        let out: Run = child.wait_with_output().unwrap().into();
        assert_eq!(
            out.code,
            0,
            "{}\nlog: {}",
            out.stderr,
            std::fs::read_to_string(&bouncer.log).unwrap_or_default()
        );
        applied += out.json()["steps"].as_array().unwrap().len() as u32;
    }
    assert_eq!(
        applied,
        latest_version(),
        "every version applied by exactly one run"
    );
    assert_eq!(
        pg.scalar(
            "bounced",
            "SELECT count(*) || ' ' || count(DISTINCT version) FROM arcdb.schema_history"
        ),
        format!("{0} {0}", latest_version())
    );
    assert_eq!(
        pg.scalar("bounced", "SELECT count(*) FROM arcdb.migration_lock"),
        "0"
    );
    let status = run(pg.arcdb_at(&dsn, &["status"]));
    assert_eq!(status.code, 0, "{}", status.stderr);
}
