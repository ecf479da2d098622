//! `refract-gateway`: the generic gateway process of the distributed mode. It runs no app code:
//! give it the workers, Redis and (optionally) the app's exported assets. `--help` lists the options;
//! `refract-gateway healthcheck` checks a running gateway (for container health checks).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// mimalloc: per-call buffers of gRPC and WebSockets are where glibc's allocator spends most
/// (see the README's performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The command line: the gateway's options, or a subcommand. Only the definition (help, checks)
/// comes from the derive; [`Invocation::from_matches`] reads it, since clap fills an optional
/// flattened group (`Option<GatewayArgs>`) only when the group has no nested groups of its own.
#[derive(Parser)]
#[command(
    version,
    about = "The Refract gateway: WebSockets in, events to workers over gRPC, deltas back.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    args: refract_gateway::serve::GatewayArgs,
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

/// What the command line asks for.
enum Invocation {
    /// A subcommand (its required gateway options not needed).
    Command(Command),
    /// Serve with these options.
    Serve(
        Box<refract_gateway::serve::GatewayArgs>,
        refract_process::LogArgs,
    ),
}

impl Invocation {
    /// Reads the matches of [`Cli`]'s command; errors as clap reports them (a missing option).
    fn from_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        if matches.subcommand().is_some() {
            return Ok(Invocation::Command(Command::from_arg_matches(matches)?));
        }
        Ok(Invocation::Serve(
            Box::new(refract_gateway::serve::GatewayArgs::from_arg_matches(
                matches,
            )?),
            refract_process::LogArgs::from_arg_matches(matches)?,
        ))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    refract_process::install_tls_provider();
    let invocation = Invocation::from_matches(&Cli::command().get_matches())
        .unwrap_or_else(|e| e.format(&mut Cli::command()).exit());
    match invocation {
        Invocation::Command(Command::Healthcheck { port }) => {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            Ok(
                match refract_process::health::http(addr, "/_health").await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("unhealthy: {e}");
                        ExitCode::FAILURE
                    }
                },
            )
        }
        Invocation::Serve(args, log) => {
            let _telemetry = refract_telemetry::init("refract-gateway", log.log_format);
            refract_gateway::serve::serve(*args, refract_process::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Invocation, clap::Error> {
        Invocation::from_matches(&Cli::command().try_get_matches_from(argv)?)
    }

    /// The image's entrypoint is the bare binary with options (no subcommand): they must serve.
    #[test]
    fn options_without_a_subcommand_serve() {
        for argv in [
            &[
                "refract-gateway",
                "--workers",
                "a:1",
                "--redis",
                "redis://r",
            ][..],
            &[
                "refract-gateway",
                "--workers-dns",
                "worker:50051",
                "--redis",
                "redis://r",
                "--log-format",
                "json",
            ],
        ] {
            match parse(argv) {
                Ok(Invocation::Serve(args, _)) => assert_eq!(args.redis, "redis://r"),
                Ok(Invocation::Command(_)) => panic!("{argv:?}: a subcommand"),
                Err(e) => panic!("{argv:?}: {e}"),
            }
        }
        let Ok(Invocation::Serve(_, log)) = parse(&[
            "refract-gateway",
            "--workers",
            "a:1",
            "--redis",
            "r",
            "--log-format",
            "json",
        ]) else {
            panic!("not served");
        };
        assert_eq!(log.log_format, refract_telemetry::LogFormat::Json);
    }

    /// A health check needs none of the serving options; serving without workers is refused.
    #[test]
    fn healthcheck_needs_no_options_and_serving_needs_them() {
        assert!(matches!(
            parse(&["refract-gateway", "healthcheck", "--port", "3001"]),
            Ok(Invocation::Command(Command::Healthcheck { port: 3001 }))
        ));
        let err = parse(&["refract-gateway", "--redis", "r"])
            .err()
            .expect("no workers");
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let text = err.to_string();
        for way in ["--workers ", "--workers-dns", "--workers-k8s-service"] {
            assert!(text.contains(way), "{text}");
        }
    }
}
