//! `refract-gateway`: the generic gateway process of the distributed mode. It runs no app code:
//! give it the workers, Redis and (optionally) the app's exported assets. `--help` lists the options;
//! `refract-gateway healthcheck` checks a running gateway (for container health checks).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: per-call buffers of gRPC and WebSockets are where glibc's allocator spends most
/// (see the README's performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    version,
    about = "The Refract gateway: WebSockets in, events to workers over gRPC, deltas back.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    args: Option<refract_gateway::serve::GatewayArgs>,
    #[command(flatten)]
    log: refract_process::LogArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 when the gateway on this host answers `GET /_health` with 200, else 1.
    Healthcheck {
        /// The gateway's port.
        #[arg(long, default_value_t = 3000, env = "REFRACT_PORT")]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    refract_process::install_tls_provider();
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { port }) = cli.command {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        return Ok(
            match refract_process::health::http(addr, "/_health").await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    ExitCode::FAILURE
                }
            },
        );
    }
    let Some(args) = cli.args else {
        anyhow::bail!("missing options: see refract-gateway --help");
    };
    let _telemetry = refract_telemetry::init("refract-gateway", cli.log.log_format);
    refract_gateway::serve::serve(args, refract_process::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
