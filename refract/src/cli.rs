//! The command line every Refract app binary has.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A Refract app.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no command, the app runs with these options.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Compile the frontend, then serve it and the event WebSocket (the default command).
    Run(RunArgs),
    /// Compile the frontend and write the built static assets to a folder.
    Export(ExportArgs),
    /// Run a worker of the distributed mode: a gRPC server processing this app's events on Redis.
    Worker(WorkerArgs),
    /// Run a gateway of the distributed mode (runs no app code; see `refract-gateway`).
    Gateway(refract_gateway::serve::GatewayArgs),
    /// Start the distributed topology on this machine as child processes: Redis (unless --redis),
    /// workers and one gateway; stop them all on Ctrl-C or SIGTERM.
    Stack(StackArgs),
    /// Check a running worker (gRPC health: SERVING) or gateway (`GET /_health`); exit 0 when
    /// healthy. For container health checks.
    Healthcheck(HealthcheckArgs),
}

#[derive(Args, Debug, Clone)]
pub(crate) struct HealthcheckArgs {
    /// A worker's gRPC address (default: the --listen address of a worker, on 127.0.0.1).
    #[arg(long, conflicts_with = "http")]
    pub grpc: Option<std::net::SocketAddr>,
    /// A gateway's HTTP address.
    #[arg(long)]
    pub http: Option<std::net::SocketAddr>,
    /// A worker's --listen address, whose port is checked on 127.0.0.1 when neither --grpc nor
    /// --http is given.
    #[arg(
        long,
        default_value = "127.0.0.1:50051",
        env = "REFRACT_WORKER_LISTEN",
        hide = true
    )]
    pub listen: std::net::SocketAddr,
}

/// Redis settings of the store (distributed mode, and `run --redis`).
#[derive(Args, Debug, Clone)]
pub(crate) struct StoreArgs {
    /// Milliseconds a token's lock is held without renewal.
    #[arg(long, default_value_t = 5000, env = "REFRACT_LOCK_LEASE_MS")]
    pub lock_lease_ms: u64,
    /// Milliseconds an event waits for a held lock before failing.
    #[arg(long, default_value_t = 10_000, env = "REFRACT_LOCK_WAIT_MS")]
    pub lock_wait_ms: u64,
    /// Seconds a token's state is kept after its last use.
    #[arg(long, default_value_t = 3600, env = "REFRACT_TOKEN_EXPIRY_SECS")]
    pub token_expiry_secs: u64,
    /// Redis connections this process's events share (each is multiplexed).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=1024), env = "REFRACT_REDIS_CONNECTIONS")]
    pub redis_connections: u16,
    /// Milliseconds a Redis command may wait for its answer before the event fails.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_REDIS_TIMEOUT_MS")]
    pub redis_timeout_ms: u64,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct WorkerArgs {
    /// Address of the gRPC server.
    #[arg(long, default_value = "127.0.0.1:50051", env = "REFRACT_WORKER_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// Redis URL of the state store.
    #[arg(long, env = "REFRACT_REDIS")]
    pub redis: String,
    /// Port of the `/metrics` endpoint (Prometheus text), on the --listen address (0: any free
    /// port).
    #[arg(long, default_value_t = 9090, env = "REFRACT_METRICS_PORT")]
    pub metrics_port: u16,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct StackArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Port of the gateway.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Number of workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Use this Redis instead of starting a `redis-server`.
    #[arg(long)]
    pub redis: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct BuildArgs {
    /// The app's build folder (the generated Vite project). Default: `.web` in the app's crate
    /// folder when run by cargo, else in the current folder.
    #[arg(long, env = "REFRACT_BUILD_DIR")]
    pub build_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "REFRACT_HOST")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 3000, env = "REFRACT_PORT")]
    pub port: u16,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024, env = "REFRACT_MAX_FRAME_BYTES")]
    pub max_frame_bytes: usize,
    /// Events a socket may queue before further ones are refused.
    #[arg(long, default_value_t = 64, env = "REFRACT_MAX_QUEUED_EVENTS")]
    pub max_queued_events: usize,
    /// Secret that signs tokens (any string); without it a random one is made at start, and tokens
    /// of an earlier run are refused.
    #[arg(long, env = "REFRACT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Keep state in this Redis instead of memory (one process, the distributed store).
    #[arg(long, env = "REFRACT_REDIS")]
    pub redis: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Folder to write the assets to (created; files of the same name are replaced).
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
}
