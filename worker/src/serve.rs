//! Running a worker process of the distributed mode: its command-line options and its gRPC
//! server. An app's `worker` command uses this; the app gives only its states.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use refract_core::StateRegistry;
use refract_process::MetricsArgs;
use refract_process::grpc_tls::{GrpcTlsArgs, GrpcTlsError};
use tonic::transport::ServerTlsConfig;
use tonic_health::ServingStatus;

use crate::engine::{AppCode, ErrorActions};
use crate::grpc::WorkerService;
use crate::redis::{RedisConfig, RedisStore};
use crate::tasks::{TaskLimits, TaskSupervisor};
use crate::uploads::{
    DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_BYTES_PER_SESSION, UploadConfig, UploadDirError,
};
use crate::{Engine, StateStore, StoreError};

/// Where an app runs, for what its users are shown about failures.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// On a developer's machine: failures show their message.
    Development,
    /// For users: failures show a generic message.
    Production,
}

impl AppEnv {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Production => "production",
        }
    }
}

/// Settings of the state store and the engine's limits (a worker's, and an app's `run`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct StoreArgs {
    /// Milliseconds a token's lock is held without renewal.
    #[arg(long, default_value_t = 5000, env = "REFRACT_LOCK_LEASE_MS")]
    pub lock_lease_ms: u64,
    /// Milliseconds an event waits for a held lock before failing with `busy`.
    #[arg(long, default_value_t = 10_000, env = "REFRACT_LOCK_WAIT_MS")]
    pub lock_wait_ms: u64,
    /// Seconds a token's state is kept after its last use.
    #[arg(long, default_value_t = 3600, env = "REFRACT_TOKEN_EXPIRY_SECS")]
    pub token_expiry_secs: u64,
    /// Redis connections this process's events share (each is multiplexed).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=1024), env = "REFRACT_REDIS_CONNECTIONS")]
    pub redis_connections: u16,
    /// Largest size, in bytes, of one token's stored states together (their JSON, backend vars
    /// included): an event that would grow them past it is refused with `state_too_large`.
    #[arg(long, default_value_t = crate::engine::DEFAULT_MAX_STATE_BYTES, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_STATE_BYTES")]
    pub max_state_bytes: u64,
    /// Longest event chain: how many follow-ups in a row (a handler's returned events, theirs,
    /// …) may run before the next is refused with `chain_too_deep`.
    #[arg(long, default_value_t = crate::engine::DEFAULT_MAX_CHAIN_DEPTH, env = "REFRACT_MAX_CHAIN_DEPTH")]
    pub max_chain_depth: u32,
    /// How failures of the app's events are shown: `development` toasts the handler's message,
    /// `production` a generic text (the detail stays in the logs). Default: `development` for
    /// `run` and `stack`, `production` for `worker`. An app's own error hook
    /// (`App::on_error`) replaces both.
    #[arg(long, value_enum, env = "REFRACT_ENV")]
    pub env: Option<AppEnv>,
    /// Milliseconds a Redis command may wait for its answer before the event fails with
    /// `unavailable`.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_REDIS_TIMEOUT_MS")]
    pub redis_timeout_ms: u64,
    /// Milliseconds a background task's heartbeat lives: a task whose worker died is recorded
    /// `interrupted` about this long after its last heartbeat (renewed every third of it).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(300..), env = "REFRACT_TASK_LEASE_MS")]
    pub task_lease_ms: u64,
    /// Seconds a background task may run before it is stopped (its status: `failed`).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_TASK_SECS")]
    pub max_task_secs: u64,
    /// Background tasks one process runs at once; a start past it fails with `busy`.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_TASKS")]
    pub max_tasks: u64,
    /// Seconds a process that shuts down waits for its background tasks before it stops them
    /// and records them `interrupted`.
    #[arg(long, default_value_t = 10, env = "REFRACT_TASK_DRAIN_SECS")]
    pub task_drain_secs: u64,
    /// Where uploaded files are kept.
    #[command(flatten)]
    pub uploads: UploadArgs,
}

/// Where uploaded files (`POST /_upload`) are kept, how large they may be and how long they are
/// kept unused (a worker's, and an app's `run` and `stack`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct UploadArgs {
    /// The folder of uploaded files, kept there from their upload until the event that uses them
    /// is over (default: `refract-uploads` in the system's temp folder).
    #[arg(long, env = "REFRACT_UPLOAD_DIR")]
    pub upload_dir: Option<PathBuf>,
    /// The largest uploaded file, in bytes: a larger one is refused with `upload_too_large`.
    #[arg(long, default_value_t = DEFAULT_MAX_UPLOAD_BYTES, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: u64,
    /// The most bytes one session's uploads may hold on a worker's disk (the files waiting for
    /// their events, the uploads in progress and the new file): past it an upload is refused
    /// with `upload_too_large`.
    #[arg(long, default_value_t = DEFAULT_MAX_UPLOAD_BYTES_PER_SESSION, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_MAX_UPLOAD_BYTES_PER_SESSION")]
    pub max_upload_bytes_per_session: u64,
    /// Seconds an uploaded file that no event used is kept before it is deleted.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..), env = "REFRACT_UPLOAD_TTL_SECS")]
    pub upload_ttl_secs: u64,
}

impl Default for UploadArgs {
    fn default() -> Self {
        UploadArgs {
            upload_dir: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_upload_bytes_per_session: DEFAULT_MAX_UPLOAD_BYTES_PER_SESSION,
            upload_ttl_secs: 3600,
        }
    }
}

impl UploadArgs {
    /// The upload configuration of these settings.
    pub fn config(&self) -> UploadConfig {
        UploadConfig {
            dir: self
                .upload_dir
                .clone()
                .unwrap_or_else(crate::uploads::default_dir),
            max_bytes: self.max_upload_bytes,
            max_bytes_per_session: self.max_upload_bytes_per_session,
            ttl: Duration::from_secs(self.upload_ttl_secs),
        }
    }

    /// These settings as command-line arguments.
    pub fn to_args(&self) -> Vec<String> {
        let UploadArgs {
            upload_dir,
            max_upload_bytes,
            max_upload_bytes_per_session,
            upload_ttl_secs,
        } = self;
        let mut args = vec![
            format!("--max-upload-bytes={max_upload_bytes}"),
            format!("--max-upload-bytes-per-session={max_upload_bytes_per_session}"),
            format!("--upload-ttl-secs={upload_ttl_secs}"),
        ];
        if let Some(dir) = upload_dir {
            args.push(format!("--upload-dir={}", dir.display()));
        }
        args
    }
}

impl StoreArgs {
    /// The store configuration of these settings for the Redis at `url`.
    pub fn config(&self, url: &str) -> RedisConfig {
        let mut config = RedisConfig::new(url);
        config.lock_lease = Duration::from_millis(self.lock_lease_ms);
        config.lock_wait = Duration::from_millis(self.lock_wait_ms);
        config.token_expiry = Duration::from_secs(self.token_expiry_secs);
        config.connections = usize::from(self.redis_connections);
        config.command_timeout = Duration::from_millis(self.redis_timeout_ms);
        config
    }

    /// The engine of `app` over `store` with these settings' limits, showing failures through
    /// the app's hook, or as `--env` says (production when unset).
    pub fn engine<S: StateStore>(&self, app: &AppCode, store: S) -> Engine<S> {
        let engine = Engine::for_app(app, store)
            .max_state_bytes(self.max_state_bytes)
            .max_chain_depth(self.max_chain_depth)
            .uploads(self.uploads.config())
            .task_limits(TaskLimits {
                lease: Duration::from_millis(self.task_lease_ms),
                max_run: Duration::from_secs(self.max_task_secs),
                max_running: usize::try_from(self.max_tasks).unwrap_or(usize::MAX),
                drain: Duration::from_secs(self.task_drain_secs),
                max_section: Duration::from_millis(self.lock_lease_ms),
            });
        match (&app.on_error, self.env) {
            (None, Some(AppEnv::Development)) => engine.error_actions(ErrorActions::Detailed),
            _ => engine,
        }
    }

    /// These settings as command-line arguments (what `stack` passes a worker it starts).
    pub fn to_args(&self) -> Vec<String> {
        let StoreArgs {
            lock_lease_ms,
            lock_wait_ms,
            token_expiry_secs,
            redis_connections,
            redis_timeout_ms,
            max_state_bytes,
            max_chain_depth,
            env,
            task_lease_ms,
            max_task_secs,
            max_tasks,
            task_drain_secs,
            uploads,
        } = self;
        let mut args = vec![
            format!("--task-lease-ms={task_lease_ms}"),
            format!("--max-task-secs={max_task_secs}"),
            format!("--max-tasks={max_tasks}"),
            format!("--task-drain-secs={task_drain_secs}"),
            format!("--max-state-bytes={max_state_bytes}"),
            format!("--max-chain-depth={max_chain_depth}"),
            format!("--lock-lease-ms={lock_lease_ms}"),
            format!("--lock-wait-ms={lock_wait_ms}"),
            format!("--token-expiry-secs={token_expiry_secs}"),
            format!("--redis-connections={redis_connections}"),
            format!("--redis-timeout-ms={redis_timeout_ms}"),
        ];
        if let Some(env) = env {
            args.push(format!("--env={}", env.as_str()));
        }
        args.extend(uploads.to_args());
        args
    }

    /// The Redis store of `states` at `url`, once Redis answers (waiting up to 10 s for it, so a
    /// worker started beside Redis does not fail while Redis starts).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] for an invalid URL, or when Redis does not answer in time.
    pub async fn connect(
        &self,
        url: &str,
        states: &StateRegistry,
    ) -> Result<RedisStore, StoreError> {
        let names = states.iter().map(|d| d.name.to_owned()).collect();
        let store = RedisStore::new(self.config(url), names)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match store.ping().await {
                Ok(()) => return Ok(store),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// Options of a worker process.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct WorkerArgs {
    /// Address of the gRPC server.
    #[arg(long, default_value = "127.0.0.1:50051", env = "REFRACT_WORKER_LISTEN")]
    pub listen: SocketAddr,
    /// Redis URL of the state store.
    #[arg(long, env = "REFRACT_REDIS", hide_env_values = true)]
    pub redis: String,
    /// Where its metrics are served.
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// The store's settings.
    #[command(flatten)]
    pub store: StoreArgs,
    /// TLS of its gRPC server (off by default).
    #[command(flatten)]
    pub tls: GrpcTlsArgs,
}

impl WorkerArgs {
    /// These options as command-line arguments (what `stack` passes a worker it starts), without
    /// the Redis URL, which may hold a password: a child process gets it in its environment
    /// (`REFRACT_REDIS`), so that it is not visible in `ps`.
    pub fn to_args(&self) -> Vec<String> {
        let WorkerArgs {
            listen,
            redis: _,
            metrics,
            store,
            tls,
        } = self;
        let mut args = vec![format!("--listen={listen}")];
        args.extend(metrics.to_args());
        args.extend(store.to_args());
        args.extend(tls.to_args());
        args
    }
}

/// Why a worker could not start or stopped.
#[derive(thiserror::Error, Debug)]
pub enum ServeError {
    /// The store could not be reached.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("worker on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The gRPC server failed.
    #[error("worker: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Its TLS options cannot be used.
    #[error(transparent)]
    Tls(#[from] GrpcTlsError),
    /// The upload folder cannot be used (`--upload-dir`).
    #[error(transparent)]
    Uploads(#[from] UploadDirError),
}

/// Serves the events of `app` as a worker until `shutdown` completes; then stops taking new calls
/// (health turns `NOT_SERVING`), finishes the calls in flight, drains its background tasks, and
/// returns. Metrics are served on `--metrics-port`.
///
/// # Errors
/// [`ServeError`] when the upload folder cannot be used, Redis does not answer, the address
/// cannot be bound, or serving fails.
pub async fn serve(
    app: AppCode,
    args: WorkerArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let tls = args.tls.server()?;
    args.store.uploads.config().prepare()?;
    let store = args.store.connect(&args.redis, &app.states).await?;
    let engine = Arc::new(args.store.engine(&app, store));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: args.listen,
            source,
        })?;
    if let Ok(local) = listener.local_addr() {
        tracing::info!(addr = %local, "worker listening");
    }
    args.metrics.serve(args.listen.ip()).await;
    serve_on(listener, engine, tls, shutdown).await
}

/// Serves `engine` as `refract.v1.Worker`, with the standard gRPC health service, on `listener`
/// (over `tls` when given), supervising its background tasks, until `shutdown` completes; then
/// drains as [`serve`] says.
///
/// # Errors
/// [`ServeError::Transport`] when serving fails or `tls` cannot be used.
pub async fn serve_on<S: crate::StateStore>(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine<S>>,
    tls: Option<ServerTlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let drain = async move {
        shutdown.await;
        reporter
            .set_service_status("", ServingStatus::NotServing)
            .await;
        tracing::info!("draining: finishing the events in flight");
    };
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls)?;
    }
    let tasks = TaskSupervisor::start(engine.clone());
    let served = server
        .add_service(health)
        .add_service(WorkerService::server(engine))
        .serve_with_incoming_shutdown(
            // TCP_NODELAY: a reply is written in several frames, and Nagle's algorithm would hold
            // the later ones for the gateway's delayed ACK (~40 ms).
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            drain,
        )
        .await;
    tasks.drain().await;
    served?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `argv` as a child process reads it, with the Redis URL from its environment.
    fn parse(mut argv: Vec<String>, redis: &str) -> WorkerArgs {
        assert!(
            argv.iter().all(|a| !a.contains(redis)),
            "no URL in {argv:?}"
        );
        argv.push(format!("--redis={redis}"));
        refract_process::from_argv(argv).unwrap()
    }

    #[test]
    fn options_survive_the_round_trip_through_arguments() {
        let args = WorkerArgs {
            listen: "127.0.0.1:7000".parse().unwrap(),
            redis: "redis://app:pw@r:1".into(),
            metrics: MetricsArgs { metrics_port: 0 },
            store: StoreArgs {
                lock_lease_ms: 1,
                lock_wait_ms: 2,
                token_expiry_secs: 3,
                redis_connections: 4,
                redis_timeout_ms: 5,
                max_state_bytes: 6,
                max_chain_depth: 7,
                env: Some(AppEnv::Development),
                task_lease_ms: 8000,
                max_task_secs: 9,
                max_tasks: 10,
                task_drain_secs: 11,
                uploads: UploadArgs {
                    upload_dir: Some("/var/uploads".into()),
                    max_upload_bytes: 12,
                    max_upload_bytes_per_session: 14,
                    upload_ttl_secs: 13,
                },
            },
            tls: GrpcTlsArgs {
                grpc_tls_cert: Some("/tls/worker.pem".into()),
                grpc_tls_key: Some("/tls/worker.key".into()),
                grpc_tls_ca: Some("/tls/ca.pem".into()),
                grpc_tls_domain: "workers".into(),
            },
        };
        assert_eq!(parse(args.to_args(), &args.redis), args);
    }
}
