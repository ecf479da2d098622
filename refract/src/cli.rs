//! The command line every Refract app binary has. The options of each role are declared once, by
//! the crate that runs the role (`refract_gateway::serve`, `refract_worker::serve`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use refract_gateway::serve::{GatewayArgs, ListenArgs, SocketArgs};
use refract_process::MetricsArgs;
use refract_worker::serve::{StoreArgs, WorkerArgs};

/// A Refract app.
#[derive(Parser, Debug)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no command, the app runs with these options.
    #[command(flatten)]
    pub run: RunArgs,
    /// The logs' format, for every command.
    #[command(flatten)]
    pub log: refract_process::LogArgs,
}

impl Cli {
    /// The gateway options of the command that runs a gateway (`run`, `gateway`, `stack`).
    pub fn sockets_mut(&mut self) -> Option<&mut SocketArgs> {
        match &mut self.command {
            None => Some(&mut self.run.sockets),
            Some(Command::Run(args)) => Some(&mut args.sockets),
            Some(Command::Gateway(args)) => Some(&mut args.sockets),
            Some(Command::Stack(args)) => Some(&mut args.sockets),
            Some(Command::Export(_) | Command::Worker(_) | Command::Healthcheck(_)) => None,
        }
    }

    /// The store options of the commands a developer runs on their machine (`run`, `stack`),
    /// whose defaults suit development.
    pub fn local_store_mut(&mut self) -> Option<&mut StoreArgs> {
        match &mut self.command {
            None => Some(&mut self.run.store),
            Some(Command::Run(args)) => Some(&mut args.store),
            Some(Command::Stack(args)) => Some(&mut args.store),
            Some(_) => None,
        }
    }
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
    Gateway(GatewayArgs),
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
    /// A worker's TLS, to check it as a gateway would (in a worker's container: its own
    /// `REFRACT_GRPC_TLS_*` settings).
    #[command(flatten)]
    pub tls: refract_process::grpc_tls::GrpcTlsArgs,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct StackArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Where the gateway listens.
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub sockets: SocketArgs,
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
    /// How long `npm install` may run before the build fails, in seconds (it logs its progress
    /// meanwhile; behind a proxy or a mirror, see docs/deploy.md).
    #[arg(long, default_value_t = 600, env = "REFRACT_NPM_TIMEOUT_SECS")]
    pub npm_timeout_secs: u64,
}

impl BuildArgs {
    /// How long `npm install` may run.
    pub fn npm_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.npm_timeout_secs)
    }
}

#[derive(Args, Debug, Clone)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub listen: ListenArgs,
    #[command(flatten)]
    pub sockets: SocketArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// Keep state in this Redis instead of memory (one process, the distributed store).
    #[arg(long, env = "REFRACT_REDIS", hide_env_values = true)]
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
