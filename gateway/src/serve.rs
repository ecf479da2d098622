//! Running a gateway process of the distributed mode: its command-line options and the server.
//! Both the standalone `refract-gateway` binary and an app's `gateway` command use this.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use refract_process::MetricsArgs;
use refract_process::grpc_tls::{GrpcTlsArgs, GrpcTlsError};

use crate::feed::RedisFeed;
use crate::pool::{Discovery, PoolConfig, WorkerPool};
use crate::{Gateway, GatewayConfig, TokenIssuer};

/// Where a server listens: the options of every process that serves browsers.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "REFRACT_HOST")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 3000, env = "REFRACT_PORT")]
    pub port: u16,
}

impl ListenArgs {
    /// The address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// These options as command-line arguments (what `stack` passes a child process).
    pub fn to_args(&self) -> Vec<String> {
        let ListenArgs { host, port } = self;
        vec![format!("--host={host}"), format!("--port={port}")]
    }
}

/// The limits of browser sockets and the token secret: options of every process that serves
/// browsers (a gateway, or an app in embedded mode).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct SocketArgs {
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024, env = "REFRACT_MAX_FRAME_BYTES")]
    pub max_frame_bytes: usize,
    /// Events a socket may queue before further ones are refused.
    #[arg(long, default_value_t = 64, env = "REFRACT_MAX_QUEUED_EVENTS")]
    pub max_queued_events: usize,
    /// Seconds between restarts of the expiry of the states of tokens with open sockets; keep it
    /// well below the workers' --token-expiry-secs.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_TOUCH_EVERY_SECS")]
    pub touch_every_secs: u64,
    /// Origins besides the gateway's own whose pages may open sockets (comma-separated, e.g.
    /// `https://app.example.com`); a browser page of any other origin is refused with 403.
    #[arg(long, env = "REFRACT_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Seconds a connection may take to send a request's headers, and may stay idle between
    /// requests; then it is closed (this bounds slow or silent clients).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: u64,
    /// Seconds a socket may stay open without a valid `hello`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_HELLO_TIMEOUT_SECS")]
    pub hello_timeout_secs: u64,
    /// Seconds a socket may send nothing, not even a pong (it is pinged every third of it).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..), env = "REFRACT_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: u64,
    /// Request header a trusted proxy puts the client's address in (e.g. `x-forwarded-for`; its
    /// last entry is used), for handlers' context and --max-connections-per-ip. Set it only
    /// behind a proxy that sets it; by default the connection's peer address is used.
    #[arg(long, env = "REFRACT_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// The most sockets this process holds; more are refused with 503.
    #[arg(long, default_value_t = 10_000, env = "REFRACT_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// The most sockets from one client IP address; more are refused with 503 (0: no such cap, as
    /// behind a proxy that hides the clients' addresses).
    #[arg(long, default_value_t = 256, env = "REFRACT_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: usize,
    /// The most uploads (`POST /_upload`) this process streams at once; more are refused with
    /// 503 `overloaded`.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_UPLOADS")]
    pub max_uploads: u64,
    /// The most uploads of one session this process streams at once; more are refused with 429
    /// `overloaded` (the browser runtime sends 4 at a time).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_UPLOADS_PER_SESSION")]
    pub max_uploads_per_session: u64,
    /// Secret that signs tokens (any string); every gateway of a deployment needs the same one.
    /// Without it a random one is made at start: tokens are then valid on this process only,
    /// until it restarts.
    #[arg(long, env = "REFRACT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Let pages evaluate JavaScript the server sends (the `call_script` client action): adds
    /// `'unsafe-eval'` to the Content-Security-Policy. An app that uses `call_script` turns it on
    /// for itself (`App::allow_call_script`); the generic gateway needs the flag.
    #[arg(long, env = "REFRACT_ALLOW_EVAL")]
    pub allow_eval: bool,
}

impl SocketArgs {
    /// The gateway configuration of these limits, serving the assets in `assets`.
    pub fn config(&self, assets: Option<PathBuf>) -> GatewayConfig {
        GatewayConfig {
            max_frame_bytes: self.max_frame_bytes,
            max_queued_events: self.max_queued_events,
            assets,
            touch_every: Duration::from_secs(self.touch_every_secs),
            allowed_origins: self.allowed_origins.clone(),
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            hello_timeout: Duration::from_secs(self.hello_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            client_ip_header: self
                .client_ip_header
                .as_ref()
                .map(|h| h.to_ascii_lowercase()),
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            allow_eval: self.allow_eval,
            max_uploads: usize::try_from(self.max_uploads).unwrap_or(usize::MAX),
            max_uploads_per_session: usize::try_from(self.max_uploads_per_session)
                .unwrap_or(usize::MAX),
            ..GatewayConfig::default()
        }
    }

    /// The token issuer of `--secret`, or of a random secret without one.
    ///
    /// # Errors
    /// [`crate::RandomnessError`] when there is no secret and no randomness.
    pub fn issuer(&self) -> Result<TokenIssuer, crate::RandomnessError> {
        TokenIssuer::from_secret_or_random(self.secret.as_deref())
    }

    /// These options as command-line arguments, without the secret (which a child process gets
    /// in its environment, `REFRACT_SECRET`, so that it is not visible in `ps`).
    pub fn to_args(&self) -> Vec<String> {
        let SocketArgs {
            max_frame_bytes,
            max_queued_events,
            touch_every_secs,
            allowed_origins,
            header_timeout_secs,
            hello_timeout_secs,
            idle_timeout_secs,
            client_ip_header,
            max_connections,
            max_connections_per_ip,
            max_uploads,
            max_uploads_per_session,
            secret: _,
            allow_eval,
        } = self;
        let mut args = vec![
            format!("--max-frame-bytes={max_frame_bytes}"),
            format!("--max-queued-events={max_queued_events}"),
            format!("--touch-every-secs={touch_every_secs}"),
            format!("--header-timeout-secs={header_timeout_secs}"),
            format!("--hello-timeout-secs={hello_timeout_secs}"),
            format!("--idle-timeout-secs={idle_timeout_secs}"),
            format!("--max-connections={max_connections}"),
            format!("--max-connections-per-ip={max_connections_per_ip}"),
            format!("--max-uploads={max_uploads}"),
            format!("--max-uploads-per-session={max_uploads_per_session}"),
        ];
        if !allowed_origins.is_empty() {
            args.push(format!("--allowed-origins={}", allowed_origins.join(",")));
        }
        if let Some(header) = client_ip_header {
            args.push(format!("--client-ip-header={header}"));
        }
        if *allow_eval {
            args.push("--allow-eval".to_owned());
        }
        args
    }
}

/// Options of a gateway process. The workers are found one way: a list, a DNS name, or a
/// Kubernetes Service (a missing one is reported naming all three).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(
    clap::ArgGroup::new("worker_discovery")
        .required(true)
        .args(["workers", "workers_dns", "workers_k8s_service"])
))]
pub struct GatewayArgs {
    /// Where it listens.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// The sockets' limits and the token secret.
    #[command(flatten)]
    pub sockets: SocketArgs,
    /// Where its metrics are served (not on the port browsers use).
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// The workers, as a comma-separated list of host:port.
    #[arg(long, env = "REFRACT_WORKERS", value_delimiter = ',')]
    pub workers: Vec<String>,
    /// The workers as a DNS name:port whose addresses are the workers (e.g. a headless Service),
    /// resolved again every few seconds.
    #[arg(long, env = "REFRACT_WORKERS_DNS", conflicts_with = "workers")]
    pub workers_dns: Option<String>,
    /// On Kubernetes: the workers' Service, whose EndpointSlices are watched (ready endpoints, port
    /// named `grpc` or the first); the namespace is the pod's own unless --workers-k8s-namespace.
    /// Needs the `kubernetes` feature (on in the `refract-gateway` binary and image).
    #[arg(long, env = "REFRACT_WORKERS_K8S_SERVICE", conflicts_with_all = ["workers", "workers_dns"])]
    pub workers_k8s_service: Option<String>,
    /// The namespace of --workers-k8s-service.
    #[arg(long, env = "REFRACT_WORKERS_K8S_NAMESPACE")]
    pub workers_k8s_namespace: Option<String>,
    /// Seconds between resolutions of --workers-dns.
    #[arg(long, default_value_t = 5, env = "REFRACT_WORKERS_DNS_EVERY_SECS")]
    pub workers_dns_every_secs: u64,
    /// Redis URL of the delta feed (pub/sub).
    #[arg(long, env = "REFRACT_REDIS", hide_env_values = true)]
    pub redis: String,
    /// Folder of the app's built assets (from the app's `export`); none: serve only the WebSocket.
    #[arg(long, env = "REFRACT_ASSETS")]
    pub assets: Option<PathBuf>,
    /// The workers' upload folder (their --upload-dir, shared with them: one machine, or a shared
    /// volume), whose published files are served at `/_files/…` (default: `refract-uploads` in
    /// the system's temp folder, the workers' default).
    #[arg(long, env = "REFRACT_UPLOAD_DIR")]
    pub upload_dir: Option<PathBuf>,
    /// Milliseconds one event may take on a worker before it is retried elsewhere.
    #[arg(long, default_value_t = 30_000, env = "REFRACT_CALL_TIMEOUT_MS")]
    pub call_timeout_ms: u64,
    /// TLS to the workers (off by default).
    #[command(flatten)]
    pub tls: GrpcTlsArgs,
}

impl GatewayArgs {
    /// These options as command-line arguments (what `stack` passes a gateway it starts), without
    /// the secret (see [`SocketArgs::to_args`]) and the Redis URL, which may hold a password: a
    /// child process gets it in its environment (`REFRACT_REDIS`).
    pub fn to_args(&self) -> Vec<String> {
        let GatewayArgs {
            listen,
            sockets,
            metrics,
            workers,
            workers_dns,
            workers_k8s_service,
            workers_k8s_namespace,
            workers_dns_every_secs,
            redis: _,
            assets,
            upload_dir,
            call_timeout_ms,
            tls,
        } = self;
        let mut args = listen.to_args();
        args.extend(sockets.to_args());
        args.extend(metrics.to_args());
        if !workers.is_empty() {
            args.push(format!("--workers={}", workers.join(",")));
        }
        let optional = [
            ("--workers-dns", workers_dns.clone()),
            ("--workers-k8s-service", workers_k8s_service.clone()),
            ("--workers-k8s-namespace", workers_k8s_namespace.clone()),
            ("--assets", assets.as_ref().map(|a| a.display().to_string())),
            (
                "--upload-dir",
                upload_dir.as_ref().map(|d| d.display().to_string()),
            ),
        ];
        for (flag, value) in optional {
            if let Some(value) = value {
                args.push(format!("{flag}={value}"));
            }
        }
        args.push(format!("--workers-dns-every-secs={workers_dns_every_secs}"));
        args.push(format!("--call-timeout-ms={call_timeout_ms}"));
        args.extend(tls.to_args());
        args
    }
}

/// Why a gateway could not start.
#[derive(thiserror::Error, Debug)]
pub enum ServeError {
    /// The Redis URL is invalid.
    #[error(transparent)]
    Feed(#[from] refract_proto::FeedError),
    /// The Kubernetes API (for --workers-k8s-service) cannot be configured.
    #[error("kubernetes: {0}")]
    Kubernetes(String),
    /// The TLS options to the workers cannot be used.
    #[error(transparent)]
    Tls(#[from] GrpcTlsError),
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
    pool_config.tls = args.tls.client()?;
    let pool = WorkerPool::start(pool_config);
    if let Some(service) = &args.workers_k8s_service {
        watch_kubernetes(service, args.workers_k8s_namespace.as_deref(), &pool).await?;
    }
    let feed = Arc::new(RedisFeed::new(&args.redis)?);
    if args.sockets.secret.is_none() {
        tracing::warn!("no --secret: tokens are valid on this gateway only, until it restarts");
    }
    let issuer = args.sockets.issuer()?;
    let mut config = args.sockets.config(args.assets.clone());
    config.upload_dir = Some(
        args.upload_dir
            .clone()
            .unwrap_or_else(refract_core::upload::default_dir),
    );
    let gateway = Gateway::new(config, issuer, pool, feed);
    let addr = args.listen.addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Io { addr, source })?;
    tracing::info!(url = %format!("http://{local}"), "gateway listening");
    args.metrics.serve(args.listen.host).await;
    serve_until(gateway, listener, shutdown).await;
    Ok(())
}

/// Keeps `pool`'s workers to the ready endpoints of the Service `service` (in `namespace`, else
/// the pod's own), in a background task.
///
/// # Errors
/// [`ServeError::Kubernetes`] when the Kubernetes client cannot be configured.
#[cfg(feature = "kubernetes")]
async fn watch_kubernetes(
    service: &str,
    namespace: Option<&str>,
    pool: &Arc<WorkerPool>,
) -> Result<(), ServeError> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| ServeError::Kubernetes(e.to_string()))?;
    let namespace = namespace.map_or_else(crate::k8s::own_namespace, str::to_owned);
    tracing::info!(%service, %namespace, "discovering workers from EndpointSlices");
    let (pool, service) = (Arc::downgrade(pool), service.to_owned());
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
    Ok(())
}

/// Without the `kubernetes` feature: refuses `--workers-k8s-service`.
///
/// # Errors
/// Always [`ServeError::Kubernetes`].
#[cfg(not(feature = "kubernetes"))]
async fn watch_kubernetes(
    _service: &str,
    _namespace: Option<&str>,
    _pool: &Arc<WorkerPool>,
) -> Result<(), ServeError> {
    Err(ServeError::Kubernetes(
        "this gateway was built without the `kubernetes` feature; use the refract-gateway binary"
            .into(),
    ))
}

/// Serves `gateway` (its assets and `/_event`) on `listener` (see [`crate::http`]: `TCP_NODELAY`,
/// the header-read deadline) until `shutdown` completes; then drains it: stops accepting, closes
/// its sockets with 1012 so their browsers reconnect elsewhere, and waits for them and the HTTP
/// requests in flight at most [`DRAIN_LIMIT`] each.
pub async fn serve_until(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let draining = gateway.clone();
    let shutdown = async move {
        shutdown.await;
        tracing::info!("draining: closing sockets so their browsers reconnect elsewhere");
        draining.drain();
    };
    let header_timeout = gateway.shared.config.header_timeout;
    crate::http::serve(
        listener,
        gateway.router(),
        header_timeout,
        DRAIN_LIMIT,
        shutdown,
    )
    .await;
    if !gateway.drained(DRAIN_LIMIT).await {
        tracing::warn!("some sockets did not close in time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `argv` as a child process reads it, with the Redis URL from its environment.
    fn parse(mut argv: Vec<String>, redis: &str) -> GatewayArgs {
        assert!(
            argv.iter().all(|a| !a.contains(redis)),
            "no URL in {argv:?}"
        );
        argv.push(format!("--redis={redis}"));
        refract_process::from_argv(argv).unwrap()
    }

    #[test]
    fn options_survive_the_round_trip_through_arguments() {
        let args = GatewayArgs {
            listen: ListenArgs {
                host: "0.0.0.0".parse().unwrap(),
                port: 8080,
            },
            sockets: SocketArgs {
                max_frame_bytes: 1234,
                max_queued_events: 9,
                touch_every_secs: 77,
                allowed_origins: vec!["https://a.example".into(), "https://b.example".into()],
                header_timeout_secs: 7,
                hello_timeout_secs: 4,
                idle_timeout_secs: 50,
                client_ip_header: Some("x-forwarded-for".into()),
                max_connections: 7,
                max_connections_per_ip: 3,
                max_uploads: 5,
                max_uploads_per_session: 2,
                secret: None,
                allow_eval: true,
            },
            metrics: MetricsArgs { metrics_port: 9191 },
            workers: vec!["a:1".into(), "b:2".into()],
            workers_dns: None,
            workers_k8s_service: None,
            workers_k8s_namespace: Some("ns".into()),
            workers_dns_every_secs: 7,
            redis: "redis://app:pw@r:1".into(),
            assets: Some("/srv/assets".into()),
            upload_dir: Some("/srv/uploads".into()),
            call_timeout_ms: 99,
            tls: GrpcTlsArgs {
                grpc_tls_cert: Some("/tls/gateway.pem".into()),
                grpc_tls_key: Some("/tls/gateway.key".into()),
                grpc_tls_ca: Some("/tls/ca.pem".into()),
                grpc_tls_domain: "workers".into(),
            },
        };
        assert_eq!(parse(args.to_args(), &args.redis), args);
        let dns = GatewayArgs {
            workers: Vec::new(),
            workers_dns: Some("workers:50051".into()),
            ..args
        };
        assert_eq!(parse(dns.to_args(), &dns.redis), dns);
    }
}
