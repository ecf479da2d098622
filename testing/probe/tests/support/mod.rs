//! Real processes for the distributed tests: a `redis-server` on a free port, workers and gateways
//! of the probe app. Every process is killed when its handle drops.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use refract_worker::redis::local_server_args as server_args;

/// The probe app's binary, built by cargo for these tests.
pub const PROBE: &str = env!("CARGO_BIN_EXE_refract-probe");

/// The token secret every gateway of a test shares.
pub const SECRET: &str = "distributed-tests";

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `check` holds, polling every 20 ms, at most `limit`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process, SIGKILLed on drop.
pub struct Proc {
    child: Child,
    /// Its `host:port`.
    pub addr: String,
}

impl Proc {
    /// Its pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child with a valid signal number.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// SIGKILLs it and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it has exited, and how.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(program: &str, args: &[String], addr: String) -> Proc {
    let quiet = program == "redis-server";
    let child = Command::new(program)
        .stdout(if quiet {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .args(args)
        .env("REFRACT_SECRET", SECRET)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "error".into()),
        )
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    Proc { child, addr }
}

fn accepts(addr: &str) -> bool {
    TcpStream::connect(addr).is_ok()
}

/// Starts `redis-server` with `args_for(port)` on a free port and waits until it accepts. A free
/// port can be taken by another test between `free_port` and the server's bind; a server that
/// exits before accepting is started again on fresh ports (five tries).
fn start_redis(mut args_for: impl FnMut(u16) -> Vec<String>) -> Proc {
    for _ in 0..5 {
        let port = free_port();
        let mut proc = spawn("redis-server", &args_for(port), format!("127.0.0.1:{port}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc.try_wait().is_none() && Instant::now() < deadline {
            if accepts(&proc.addr) {
                return proc;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("redis-server did not start on a free port in five tries");
}

/// Redis for a test: one `redis-server`, or a three-master Redis Cluster, on free ports and
/// without persistence.
pub struct Redis {
    /// The servers.
    pub procs: Vec<Proc>,
    /// What `--redis` takes: `redis://…` or `redis-cluster://…`.
    pub url: String,
    /// Left in place for the cluster's node files; removed on drop.
    dir: Option<std::path::PathBuf>,
}

impl Redis {
    /// One server.
    pub fn start() -> Redis {
        let proc = start_redis(server_args);
        Redis {
            url: format!("redis://{}", proc.addr),
            procs: vec![proc],
            dir: None,
        }
    }

    /// A cluster of three masters (no replicas), each owning a third of the slots.
    pub fn cluster() -> Redis {
        let dir = std::env::temp_dir().join(format!(
            "refract-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let procs: Vec<Proc> = (0..3)
            .map(|i| {
                start_redis(|port| {
                    let mut args = server_args(port);
                    args.extend([
                        "--cluster-enabled".into(),
                        "yes".into(),
                        "--cluster-port".into(),
                        free_port().to_string(),
                        "--cluster-config-file".into(),
                        format!("nodes-{i}.conf"),
                        "--dir".into(),
                        dir.display().to_string(),
                    ]);
                    args
                })
            })
            .collect();
        let addrs: Vec<&str> = procs.iter().map(|p| p.addr.as_str()).collect();
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
            procs,
            dir: Some(dir),
        };
        wait_until("the cluster to be ok", Duration::from_secs(20), || {
            redis.procs.iter().all(|p| {
                redis::from_redis_value::<String>(node_command(&p.addr, &["CLUSTER", "INFO"]))
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
        });
        redis
    }

    /// Runs one command on every server and returns their replies.
    pub fn command_all(&self, args: &[&str]) -> Vec<redis::Value> {
        self.procs
            .iter()
            .map(|p| node_command(&p.addr, args))
            .collect()
    }

    /// Closes every client connection of `kind` (`normal`, `pubsub`) on every server; how many.
    pub fn kill_clients(&self, kind: &str) -> i64 {
        self.command_all(&["CLIENT", "KILL", "TYPE", kind])
            .into_iter()
            .map(|v| if let redis::Value::Int(n) = v { n } else { 0 })
            .sum()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        for p in &mut self.procs {
            p.kill();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn node_command(addr: &str, args: &[&str]) -> redis::Value {
    let client = redis::Client::open(format!("redis://{addr}")).unwrap();
    let mut conn = client.get_connection().unwrap();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut conn).unwrap()
}

/// Starts a worker of the probe app on `port` with a lock lease of `lease_ms`, and waits until it
/// listens.
pub fn worker(redis: &str, port: u16, lease_ms: u64) -> Proc {
    let addr = format!("127.0.0.1:{port}");
    let args = vec![
        "worker".into(),
        format!("--listen={addr}"),
        format!("--redis={redis}"),
        format!("--lock-lease-ms={lease_ms}"),
        "--lock-wait-ms=20000".into(),
        "--metrics-port=0".into(),
    ];
    let proc = spawn(PROBE, &args, addr);
    wait_until("a worker", Duration::from_secs(20), || accepts(&proc.addr));
    proc
}

/// Starts a gateway on a free port in front of `workers`, and waits until it is healthy.
pub fn gateway(redis: &str, workers: &[String]) -> Proc {
    let port = free_port();
    let args = vec![
        "gateway".into(),
        format!("--port={port}"),
        format!("--workers={}", workers.join(",")),
        format!("--redis={redis}"),
        "--max-queued-events=256".into(),
    ];
    let proc = spawn(PROBE, &args, format!("127.0.0.1:{port}"));
    wait_until("a gateway", Duration::from_secs(20), || healthy(&proc.addr));
    proc
}

fn healthy(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /_health HTTP/1.0\r\nHost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// A small deterministic pseudo-random sequence (xorshift64*), seeded from the clock; the seed is
/// printed so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock (or `REFRACT_TEST_SEED`).
    pub fn new() -> Rng {
        let seed = std::env::var("REFRACT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("REFRACT_TEST_SEED={seed}");
        Rng(seed)
    }

    /// A number in `range`.
    pub fn between(&mut self, range: std::ops::Range<u64>) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        range.start + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (range.end - range.start)
    }
}
