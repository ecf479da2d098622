//! What every Refract process (gateway, worker, embedded app) shares, so each concept has one home:
//!
//! * [`shutdown_signal`]: what processes stop on (Ctrl-C, SIGTERM); [`install_tls_provider`]: the
//!   TLS cryptography, chosen once;
//! * [`metrics`] and [`serve_metrics`]: `GET /metrics` in the Prometheus text format;
//! * [`LogArgs`]: the format of the logs (`--log-format`);
//! * [`health`]: the probes of a worker's gRPC health and a gateway's `/_health`, for container
//!   health checks;
//! * [`grpc_tls`]: the options and configurations of TLS between gateways and workers;
//! * [`launch`]: starting and stopping child processes (`stack`, the tests, the load tests).

pub mod grpc_tls;
pub mod health;
pub mod launch;

use std::net::SocketAddr;

use axum::http::header;

/// Makes ring the process's TLS cryptography, before any TLS connection is made (Redis over
/// TLS, gRPC TLS). rustls needs one provider per process and otherwise picks it from the Cargo
/// features enabled in the build, panicking at the first connection if two are. Call it at the
/// start of `main`; a second call changes nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Completes on Ctrl-C or (on Unix) SIGTERM: what processes of Refract stop on.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The options `A` of the command line `argv` (without the program name), read from the arguments
/// alone: unlike a process's own parse, no `REFRACT_*` variable of this process's environment
/// fills in what `argv` leaves out. For checking what a child would be given, and for the defaults
/// of an option set (`from_argv::<A>([])`).
///
/// # Errors
/// clap's error when `argv` is not a valid command line for `A`.
pub fn from_argv<A: clap::Args>(argv: impl IntoIterator<Item = String>) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new("args").no_binary_name(true))
        .mut_args(|a| a.env(None::<&'static str>));
    let matches = command.try_get_matches_from(argv)?;
    A::from_arg_matches(&matches)
}

/// How a process writes its logs: one definition for every command line (a global option: with
/// a subcommand, give it after the subcommand's name).
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogArgs {
    /// Log format on stderr: `text` (coloured only on a terminal) or `json` (one object a line,
    /// for log collectors).
    #[arg(long, global = true, default_value_t, env = "REFRACT_LOG_FORMAT")]
    pub log_format: refract_telemetry::LogFormat,
}

impl LogArgs {
    /// The environment that gives a child process this format (children inherit no `REFRACT_*`
    /// variable; see [`launch`]).
    pub fn to_env(&self) -> (&'static str, String) {
        ("REFRACT_LOG_FORMAT", self.log_format.to_string())
    }
}

/// Where a process serves its metrics: one definition for every role.
#[derive(clap::Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsArgs {
    /// Port of the `/metrics` endpoint (Prometheus text), on the listening address; kept apart
    /// from the port browsers and gateways use, so a load balancer or Ingress never routes to it
    /// (0: any free port).
    #[arg(long, default_value_t = 9090, env = "REFRACT_METRICS_PORT")]
    pub metrics_port: u16,
}

impl MetricsArgs {
    /// This option as command-line arguments.
    pub fn to_args(&self) -> Vec<String> {
        let MetricsArgs { metrics_port } = self;
        vec![format!("--metrics-port={metrics_port}")]
    }

    /// Serves the metrics on `host` at the port (see [`serve_metrics`]).
    pub async fn serve(&self, host: std::net::IpAddr) -> Option<SocketAddr> {
        serve_metrics(SocketAddr::new(host, self.metrics_port)).await
    }
}

/// `GET /metrics`: the process's metrics in the Prometheus text format (`refract_telemetry`).
pub async fn metrics() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        refract_telemetry::prometheus_text(),
    )
}

/// Serves `GET /metrics` on `addr` in the background (a port of 0 picks a free one) and returns
/// the address it listens on. A port that cannot be bound is logged, not fatal (`None`): the
/// process still serves its real work.
pub async fn serve_metrics(addr: SocketAddr) -> Option<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "cannot serve metrics");
            return None;
        }
    };
    let local = listener.local_addr().ok();
    if let Some(local) = local {
        tracing::info!(addr = %local, "metrics at /metrics");
    }
    let router = axum::Router::new().route("/metrics", axum::routing::get(metrics));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "metrics server stopped");
        }
    });
    local
}
