//! The probe app's roles as these tests start them: workers with a given lock lease, gateways on
//! free ports sharing one token secret.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use refract_gateway::serve::{GatewayArgs, ListenArgs, SocketArgs};
use refract_process::MetricsArgs;
use refract_process::grpc_tls::GrpcTlsArgs;
use refract_process::launch::Launch;
use refract_test_support::Role;
use refract_worker::serve::{StoreArgs, WorkerArgs};

/// The probe app's binary, built by cargo for these tests.
pub const PROBE: &str = env!("CARGO_BIN_EXE_refract-probe");

/// The token secret every gateway of a test shares.
pub const SECRET: &str = "distributed-tests";

/// The name the session of `token` has in Redis (its keys and channel), as the tests' gateways
/// compute it.
pub fn store_key(token: &str) -> String {
    refract_gateway::TokenIssuer::from_secret(SECRET).store_key(token)
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    refract_process::launch::free_port().expect("a free port")
}

/// The probe workers' event chain limit: small, so a chain that never ends stops soon.
pub const CHAIN_DEPTH: u32 = 4;

/// The probe workers' background task lease: a killed worker's task is recorded interrupted
/// about this long after its last heartbeat.
pub const TASK_LEASE_MS: u64 = 1500;

/// The options of a worker of the probe app on `port` with a lock lease of `lease_ms`.
pub fn worker_args(redis: &str, port: u16, lease_ms: u64) -> WorkerArgs {
    WorkerArgs {
        listen: ([127, 0, 0, 1], port).into(),
        redis: redis.to_owned(),
        metrics: MetricsArgs { metrics_port: 0 },
        store: StoreArgs {
            lock_lease_ms: lease_ms,
            lock_wait_ms: 20_000,
            token_expiry_secs: 3600,
            redis_connections: 2,
            redis_timeout_ms: 5000,
            max_state_bytes: 4 << 20,
            max_chain_depth: CHAIN_DEPTH,
            env: None,
            task_lease_ms: TASK_LEASE_MS,
            max_task_secs: 60,
            max_tasks: 100,
            task_drain_secs: 2,
            uploads: Default::default(),
        },
        tls: GrpcTlsArgs::default(),
    }
}

/// The launch of a worker of the probe app on `port` with a lock lease of `lease_ms`.
pub fn worker_launch(redis: &str, port: u16, lease_ms: u64) -> (Launch, SocketAddr) {
    let args = worker_args(redis, port, lease_ms);
    (
        refract_test_support::worker(Path::new(PROBE), &args),
        args.listen,
    )
}

/// A worker of the probe app with `args`, accepting connections.
pub fn worker_with(args: &WorkerArgs) -> Role {
    Role::start(
        refract_test_support::worker(Path::new(PROBE), args),
        args.listen,
    )
}

/// A worker of the probe app on `port` with a lock lease of `lease_ms`, accepting connections.
pub fn worker(redis: &str, port: u16, lease_ms: u64) -> Role {
    let (launch, addr) = worker_launch(redis, port, lease_ms);
    Role::start(launch, addr)
}

/// The options of a gateway on a free port in front of `workers`.
pub fn gateway_args(redis: &str, workers: &[String]) -> GatewayArgs {
    GatewayArgs {
        listen: ListenArgs {
            host: [127, 0, 0, 1].into(),
            port: free_port(),
        },
        sockets: SocketArgs {
            max_frame_bytes: 64 * 1024,
            max_queued_events: 256,
            touch_every_secs: 300,
            allowed_origins: Vec::new(),
            header_timeout_secs: 15,
            hello_timeout_secs: 10,
            idle_timeout_secs: 60,
            client_ip_header: None,
            max_connections: 10_000,
            max_connections_per_ip: 10_000,
            max_uploads: 64,
            max_uploads_per_session: 4,
            allow_eval: false,
            secret: None,
        },
        // A port of its own, so a test can read the gateway's metrics.
        metrics: MetricsArgs {
            metrics_port: free_port(),
        },
        workers: workers.to_vec(),
        workers_dns: None,
        workers_k8s_service: None,
        workers_k8s_namespace: None,
        workers_dns_every_secs: 5,
        redis: redis.to_owned(),
        assets: None,
        upload_dir: None,
        call_timeout_ms: 30_000,
        tls: GrpcTlsArgs::default(),
    }
}

/// A gateway with `args`, accepting connections.
pub fn gateway_with(args: &GatewayArgs) -> Role {
    Role::start(
        refract_test_support::gateway(Path::new(PROBE), args, SECRET),
        args.listen.addr(),
    )
}

/// A gateway on a free port in front of `workers`, accepting connections.
pub fn gateway(redis: &str, workers: &[String]) -> Role {
    gateway_with(&gateway_args(redis, workers))
}

/// Where a role accepts connections.
pub fn addr(role: &Role) -> SocketAddr {
    role.addr
}

/// `GET path` on `addr`, the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Two workers of the probe app (lock lease `lease_ms`) behind a gateway, on one Redis, while a
/// thread SIGKILLs one worker at a time, waits, and starts it again: the fault of the exactly-once
/// tests.
pub struct KillingWorkers {
    /// The gateway, in front of both workers.
    pub gateway: Role,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    killer: tokio::task::JoinHandle<(u32, Vec<Role>)>,
}

impl KillingWorkers {
    /// Starts the workers and the gateway, then the killing: a kill every `every_ms` (a random
    /// pause in that range), each worker back 10–100 ms after it was killed.
    pub fn start(redis: &str, lease_ms: u64, every_ms: std::ops::Range<u64>) -> Self {
        use std::sync::atomic::Ordering;
        let ports = [free_port(), free_port()];
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut workers = vec![
            worker(redis, ports[0], lease_ms),
            worker(redis, ports[1], lease_ms),
        ];
        let gateway = gateway(redis, &addrs);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let killer = {
            let (done, url) = (done.clone(), redis.to_owned());
            tokio::task::spawn_blocking(move || {
                let mut rng = refract_test_support::Rng::new();
                let mut kills = 0;
                while !done.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(
                        rng.between(every_ms.clone()),
                    ));
                    let i = rng.between(0..2) as usize;
                    workers[i].child.kill();
                    kills += 1;
                    std::thread::sleep(std::time::Duration::from_millis(rng.between(10..100)));
                    workers[i] = worker(&url, ports[i], lease_ms);
                }
                (kills, workers)
            })
        };
        KillingWorkers {
            gateway,
            done,
            killer,
        }
    }

    /// Where the gateway accepts connections.
    pub fn addr(&self) -> SocketAddr {
        self.gateway.addr
    }

    /// Stops the killing; returns how many kills there were, and the gateway and the workers,
    /// running (keep them to read the state back).
    pub async fn stop(self) -> (u32, Role, Vec<Role>) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        let (kills, workers) = self.killer.await.expect("the killer thread ends");
        (kills, self.gateway, workers)
    }
}
