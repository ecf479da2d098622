//! What Refract's tests and load tests share (a dev-only crate): one typed protocol
//! [`client`], [`redis`] servers and clusters to run against and to inject faults into, and the
//! roles of an app binary ([`worker`], [`gateway`]) started as real processes through
//! `refract_process::launch`.

pub mod client;
pub mod redis;
pub mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use refract_gateway::serve::GatewayArgs;
use refract_process::launch::{Child, Launch};
use refract_worker::serve::WorkerArgs;

pub use client::{Answer, Client, ClientError, ClientOptions};

/// The log filter of started roles: `RUST_LOG`, else errors only.
fn log_filter() -> String {
    std::env::var("RUST_LOG").unwrap_or_else(|_| "error".into())
}

/// Waits until `check` holds, polling every 20 ms, at most `limit`.
///
/// # Panics
/// When `limit` passes first, naming `what`.
pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A started role of an app binary, and the address it serves.
pub struct Role {
    /// The process.
    pub child: Child,
    /// Where it accepts connections.
    pub addr: SocketAddr,
}

impl Role {
    /// Starts `launch` and waits until it accepts connections on `addr`.
    ///
    /// # Panics
    /// When it cannot start or does not listen within 20 s.
    pub fn start(launch: Launch, addr: SocketAddr) -> Role {
        let mut child = launch.spawn().unwrap_or_else(|e| panic!("{e}"));
        child
            .ready_blocking(addr, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"));
        Role { child, addr }
    }
}

/// The app binary `app` as a worker with `args`, logging errors only unless `RUST_LOG` says
/// otherwise (start it with [`Role::start`] at `args.listen`).
pub fn worker(app: &Path, args: &WorkerArgs) -> Launch {
    Launch::new("worker", app)
        .args(["worker".to_owned()])
        .args(args.to_args())
        .env("REFRACT_REDIS", &args.redis)
        .env("RUST_LOG", log_filter())
}

/// The app binary `app` as a gateway with `args`, signing tokens with `secret` (start it with
/// [`Role::start`] at `args.listen.addr()`).
pub fn gateway(app: &Path, args: &GatewayArgs, secret: &str) -> Launch {
    Launch::new("gateway", app)
        .args(["gateway".to_owned()])
        .args(args.to_args())
        .env("REFRACT_REDIS", &args.redis)
        .env("REFRACT_SECRET", secret)
        .env("RUST_LOG", log_filter())
}

/// A small deterministic pseudo-random sequence (xorshift64*: Vigna, 2016), seeded from the clock
/// or `REFRACT_TEST_SEED`; the seed is printed so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `REFRACT_TEST_SEED`, else the clock.
    pub fn new() -> Rng {
        let seed = std::env::var("REFRACT_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
                    | 1
            });
        eprintln!("REFRACT_TEST_SEED={seed}");
        Rng(seed)
    }

    /// A number in `range` (which must not be empty).
    pub fn between(&mut self, range: std::ops::Range<u64>) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        range.start + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (range.end - range.start)
    }
}

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}
