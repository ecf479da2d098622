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
const SECRET: &str = "distributed-tests";

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
