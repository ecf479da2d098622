//! Redis for tests: one `redis-server`, or a three-master Redis Cluster, on free loopback ports
//! and without persistence, stopped when dropped. A server can be killed, frozen and restarted on
//! its port, to inject Redis faults into a recorded history.

use std::process::{Command, Stdio};
use std::time::Duration;

use refract_process::launch::{Child, Launch, Signal, free_port, redis_server};

use crate::tls::TestCa;
use crate::wait_until;

/// Starts the `redis-server` that `launch_for(port)` describes on a free port and waits until it
/// accepts. A free port can be taken by another test between `free_port` and the server's bind; a
/// server that exits before accepting is started again on fresh ports (five tries).
fn start(mut launch_for: impl FnMut(u16) -> Launch) -> (Child, String) {
    for _ in 0..5 {
        let port = free_port().expect("a free port");
        let addr = format!("127.0.0.1:{port}");
        let mut child = launch_for(port)
            .spawn()
            .expect("redis-server (Debian: redis-server)");
        if child
            .ready_blocking(addr.parse().expect("an address"), Duration::from_secs(10))
            .is_ok()
        {
            return (child, addr);
        }
    }
    panic!("redis-server did not start on a free port in five tries");
}

/// One Redis server or a cluster, for a test.
pub struct Redis {
    /// The servers, with their `host:port`.
    pub servers: Vec<(Child, String)>,
    /// What `--redis` takes: `redis://…`, `rediss://…` or `redis-cluster://…`.
    pub url: String,
    /// How this test process reaches a server at `host:port`: the scheme and credentials before
    /// it (`redis://`, or `rediss://app:pw@`), and for TLS the authority to trust (PEM).
    access: (String, Option<Vec<u8>>),
    /// The servers' files (a cluster's node files, a durable server's log); removed on drop.
    dir: Option<std::path::PathBuf>,
    cluster: bool,
}

/// A fresh folder for a test's Redis files.
fn temp_dir(kind: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "refract-{kind}-{}-{}",
        std::process::id(),
        free_port().expect("a free port")
    ));
    std::fs::create_dir_all(&dir).expect("a folder for Redis's files");
    dir
}

impl Redis {
    /// One server.
    ///
    /// # Panics
    /// When `redis-server` cannot be started.
    pub fn start() -> Redis {
        let (child, addr) = start(redis_server);
        Redis {
            url: format!("redis://{addr}"),
            servers: vec![(child, addr)],
            access: ("redis://".into(), None),
            dir: None,
            cluster: false,
        }
    }

    /// One server that keeps what it acknowledged across a kill: every write is appended to its
    /// log and fsynced before the answer (`appendfsync always`), so [`Redis::restart`] after
    /// [`Redis::kill`] brings the data back, as a production Redis with AOF would.
    ///
    /// # Panics
    /// When `redis-server` cannot be started.
    pub fn start_durable() -> Redis {
        let dir = temp_dir("durable");
        let (child, addr) = start(|port| {
            redis_server(port).args([
                "--appendonly".to_owned(),
                "yes".into(),
                "--appendfsync".into(),
                "always".into(),
                "--dir".into(),
                dir.display().to_string(),
            ])
        });
        Redis {
            url: format!("redis://{addr}"),
            servers: vec![(child, addr)],
            access: ("redis://".into(), None),
            dir: Some(dir),
            cluster: false,
        }
    }

    /// One server that takes only the ACL user `user` with `password` (its `default` user is
    /// off), and with `tls`, only TLS connections, with a certificate that `tls` signed for
    /// `127.0.0.1` (clients need not present one). Its URL carries the credentials:
    /// `redis://user:password@…`, or `rediss://…` with TLS.
    ///
    /// # Panics
    /// When `redis-server` cannot be started (or was built without TLS).
    pub fn start_protected(user: &str, password: &str, tls: Option<&TestCa>) -> Redis {
        let server = tls.map(|ca| (ca.ca_file(), ca.issue("redis")));
        let (child, addr) = start(|port| {
            let mut launch = redis_server(port).args([
                "--user".to_owned(),
                "default".into(),
                "off".into(),
                "--user".into(),
                user.into(),
                "on".into(),
                format!(">{password}"),
                "~*".into(),
                "&*".into(),
                "+@all".into(),
            ]);
            if let Some((ca, files)) = &server {
                // The plain port is closed; the TLS one takes the port we chose.
                launch = launch.args([
                    "--port".to_owned(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                    "--tls-cert-file".into(),
                    files.cert.display().to_string(),
                    "--tls-key-file".into(),
                    files.key.display().to_string(),
                    "--tls-ca-cert-file".into(),
                    ca.display().to_string(),
                    "--tls-auth-clients".into(),
                    "no".into(),
                ]);
            }
            launch
        });
        let scheme = if tls.is_some() { "rediss" } else { "redis" };
        let trusted = server.map(|(ca, _)| std::fs::read(ca).expect("the CA file"));
        Redis {
            url: format!("{scheme}://{user}:{password}@{addr}"),
            servers: vec![(child, addr)],
            access: (format!("{scheme}://{user}:{password}@"), trusted),
            dir: None,
            cluster: false,
        }
    }

    /// A cluster of three masters (no replicas), each owning a third of the slots.
    ///
    /// # Panics
    /// When the servers cannot be started or `redis-cli --cluster create` fails.
    pub fn cluster() -> Redis {
        let dir = temp_dir("cluster");
        let servers: Vec<(Child, String)> = (0..3)
            .map(|i| {
                start(|port| {
                    redis_server(port).args([
                        "--cluster-enabled".to_owned(),
                        "yes".into(),
                        "--cluster-port".into(),
                        free_port().expect("a free port").to_string(),
                        "--cluster-config-file".into(),
                        format!("nodes-{i}.conf"),
                        "--dir".into(),
                        dir.display().to_string(),
                    ])
                })
            })
            .collect();
        let addrs: Vec<&str> = servers.iter().map(|(_, a)| a.as_str()).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli (package redis-tools) is needed for the cluster tests");
        assert!(created.success(), "redis-cli --cluster create failed");
        let redis = Redis {
            url: format!("redis-cluster://{}", addrs.join(",")),
            servers,
            access: ("redis://".into(), None),
            dir: Some(dir),
            cluster: true,
        };
        wait_until("the cluster to be ok", Duration::from_secs(20), || {
            redis
                .command_all(&["CLUSTER", "INFO"])
                .into_iter()
                .all(|info| {
                    redis::from_redis_value::<String>(info)
                        .is_ok_and(|info| info.contains("cluster_state:ok"))
                })
        });
        redis
    }

    /// Runs one command on every server and returns their replies (`Nil` for a server that does
    /// not answer).
    pub fn command_all(&self, args: &[&str]) -> Vec<redis::Value> {
        self.servers
            .iter()
            .map(|(_, addr)| {
                let (before, trusted) = &self.access;
                command(&format!("{before}{addr}"), trusted.as_deref(), args)
                    .unwrap_or(redis::Value::Nil)
            })
            .collect()
    }

    /// Closes every client connection of `kind` (`normal`, `pubsub`) on every server; how many.
    pub fn kill_clients(&self, kind: &str) -> i64 {
        self.command_all(&["CLIENT", "KILL", "TYPE", kind])
            .into_iter()
            .map(|v| if let redis::Value::Int(n) = v { n } else { 0 })
            .sum()
    }

    /// Sends `signal` to every server: [`Signal::STOP`] freezes Redis (connections stay open and
    /// unanswered), [`Signal::CONT`] resumes it.
    ///
    /// # Panics
    /// When a server has exited.
    pub fn signal(&self, signal: Signal) {
        for (child, _) in &self.servers {
            child.signal(signal).expect("redis-server is running");
        }
    }

    /// Kills every server (SIGKILL): Redis is gone, with everything it held.
    pub fn kill(&mut self) {
        for (child, _) in &mut self.servers {
            child.kill();
        }
    }

    /// Starts every killed server again on its port and waits until it accepts: empty, unless it
    /// was started durable. Only for one server: a cluster would need to be created again.
    ///
    /// # Panics
    /// When this is a cluster or a server does not start.
    pub fn restart(&mut self) {
        assert!(!self.cluster, "restarting a cluster is not supported");
        for (child, addr) in &mut self.servers {
            child.restart().expect("redis-server starts again");
            child
                .ready_blocking(addr.parse().expect("an address"), Duration::from_secs(10))
                .expect("redis-server accepts again");
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs `args` on the server at `url`, trusting the authority `trusted` (PEM) for TLS.
fn command(url: &str, trusted: Option<&[u8]>, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let client = match trusted {
        Some(ca) => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca.to_vec()),
            },
        )?,
        None => redis::Client::open(url)?,
    };
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut conn)
}
