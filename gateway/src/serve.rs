//! Running a gateway process of the distributed mode: its command-line options and the server.
//! Both the standalone `refract-gateway` binary and an app's `gateway` command use this.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use refract_worker::redis::RedisFeed;

use crate::pool::{Discovery, PoolConfig, WorkerPool};
use crate::{Gateway, GatewayConfig, TokenIssuer};

/// Options of a gateway process.
#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "REFRACT_HOST")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 3000, env = "REFRACT_PORT")]
    pub port: u16,
    /// The workers, as a comma-separated list of host:port.
    #[arg(
        long,
        env = "REFRACT_WORKERS",
        value_delimiter = ',',
        required_unless_present_any = ["workers_dns", "workers_k8s_service"]
    )]
    pub workers: Vec<String>,
    /// The workers as a DNS name:port whose addresses are the workers (e.g. a headless Service),
    /// resolved again every few seconds.
    #[arg(long, env = "REFRACT_WORKERS_DNS", conflicts_with = "workers")]
    pub workers_dns: Option<String>,
    /// On Kubernetes: the workers' Service, whose EndpointSlices are watched (ready endpoints, port
    /// named `grpc` or the first); the namespace is the pod's own unless --workers-k8s-namespace.
    #[arg(long, env = "REFRACT_WORKERS_K8S_SERVICE", conflicts_with_all = ["workers", "workers_dns"])]
    pub workers_k8s_service: Option<String>,
    /// The namespace of --workers-k8s-service.
    #[arg(long, env = "REFRACT_WORKERS_K8S_NAMESPACE")]
    pub workers_k8s_namespace: Option<String>,
    /// Seconds between resolutions of --workers-dns.
    #[arg(long, default_value_t = 5, env = "REFRACT_WORKERS_DNS_EVERY_SECS")]
    pub workers_dns_every_secs: u64,
    /// Redis URL of the delta feed (pub/sub).
    #[arg(long, env = "REFRACT_REDIS")]
    pub redis: String,
    /// Folder of the app's built assets (from the app's `export`); none: serve only the WebSocket.
    #[arg(long, env = "REFRACT_ASSETS")]
    pub assets: Option<PathBuf>,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024, env = "REFRACT_MAX_FRAME_BYTES")]
    pub max_frame_bytes: usize,
    /// Events a socket may queue before further ones are refused.
    #[arg(long, default_value_t = 64, env = "REFRACT_MAX_QUEUED_EVENTS")]
    pub max_queued_events: usize,
    /// Milliseconds one event may take on a worker before it is retried elsewhere.
    #[arg(long, default_value_t = 30_000, env = "REFRACT_CALL_TIMEOUT_MS")]
    pub call_timeout_ms: u64,
    /// Secret that signs tokens; every gateway of a deployment needs the same one.
    #[arg(long, env = "REFRACT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// Why a gateway could not start.
#[derive(thiserror::Error, Debug)]
pub enum ServeError {
    /// The Redis URL is invalid.
    #[error(transparent)]
    Feed(#[from] refract_worker::FeedError),
    /// The Kubernetes API (for --workers-k8s-service) cannot be configured.
    #[error("kubernetes: {0}")]
    Kubernetes(String),
    /// No randomness for a token secret.
    #[error(transparent)]
    Randomness(#[from] crate::RandomnessError),
    /// The address could not be bound, or serving failed.
    #[error("gateway on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// How long a stopping gateway waits for its sockets to close.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// Serves a gateway until `shutdown` completes, then drains it (see [`Gateway::drain`]).
///
/// # Errors
/// [`ServeError`] when it cannot start or serving fails.
pub async fn serve(
    args: GatewayArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let discovery = match (&args.workers_dns, &args.workers_k8s_service) {
        (Some(name), _) => Discovery::Dns {
            name: name.clone(),
            every: Duration::from_secs(args.workers_dns_every_secs),
        },
        (None, Some(_)) => Discovery::External,
        (None, None) => Discovery::Static(args.workers.clone()),
    };
    let mut pool_config = PoolConfig::new(discovery);
    pool_config.call_timeout = Duration::from_millis(args.call_timeout_ms);
    let pool = WorkerPool::start(pool_config);
    if let Some(service) = args.workers_k8s_service.clone() {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| ServeError::Kubernetes(e.to_string()))?;
        let namespace = args
            .workers_k8s_namespace
            .clone()
            .unwrap_or_else(crate::k8s::own_namespace);
        tracing::info!(%service, %namespace, "discovering workers from EndpointSlices");
        let pool = Arc::downgrade(&pool);
        tokio::spawn(async move {
            crate::k8s::watch(
                client,
                &namespace,
                &service,
                crate::k8s::DEFAULT_PORT_NAME,
                pool,
            )
            .await;
        });
    }
    let feed = Arc::new(RedisFeed::new(&args.redis)?);
    let issuer = match &args.secret {
        Some(s) => TokenIssuer::from_secret(s),
        None => {
            tracing::warn!("no --secret: tokens are valid on this gateway only, until it restarts");
            TokenIssuer::random()?
        }
    };
    let config = GatewayConfig {
        max_frame_bytes: args.max_frame_bytes,
        max_queued_events: args.max_queued_events,
        assets: args.assets.clone(),
    };
    let gateway = Gateway::new(config, issuer, pool, feed);
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Io { addr, source })?;
    tracing::info!(url = %format!("http://{local}"), "gateway listening");
    serve_until(gateway, listener, shutdown)
        .await
        .map_err(|source| ServeError::Io {
            addr: local,
            source,
        })
}

/// Serves `gateway` (its assets and `/_event`) on `listener`, with `TCP_NODELAY`, until `shutdown`
/// completes; then drains it: stops accepting, closes its sockets with 1012 so their browsers
/// reconnect elsewhere, and waits for them at most [`DRAIN_LIMIT`].
///
/// # Errors
/// When serving the listener fails.
pub async fn serve_until(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let draining = gateway.clone();
    axum::serve(crate::no_delay(listener), gateway.router())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("draining: closing sockets so their browsers reconnect elsewhere");
            draining.drain();
        })
        .await?;
    if !gateway.drained(DRAIN_LIMIT).await {
        tracing::warn!("some sockets did not close in time");
    }
    Ok(())
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
