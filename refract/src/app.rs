//! The [`App`] builder: states, pages and title; compiling the frontend; serving the embedded mode;
//! the app's command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use refract_compiler::{AppSpec, CompileError, Node, Page, Project};
use refract_core::{Handlers, StateError, StateRegistry};
use refract_gateway::{Gateway, GatewayConfig, RandomnessError, TokenIssuer};
use refract_worker::{DeltaFeed, Engine, MemoryStore};

use refract_gateway::serve::shutdown_signal;
use refract_worker::Processor;
use refract_worker::grpc::WorkerService;
use refract_worker::redis::{RedisConfig, RedisFeed, RedisStore};
use tonic_health::ServingStatus;

use crate::cli::{Cli, Command, ExportArgs, HealthcheckArgs, RunArgs, StoreArgs, WorkerArgs};

/// Why an app could not be built or served.
#[derive(thiserror::Error, Debug)]
pub enum AppError {
    /// Generating or building the frontend failed.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// A state's default value could not be serialised.
    #[error(transparent)]
    State(#[from] StateError),
    /// The system has no randomness for tokens.
    #[error(transparent)]
    Randomness(#[from] RandomnessError),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The state store (Redis) could not be used.
    #[error(transparent)]
    Store(#[from] refract_worker::StoreError),
    /// The delta feed (Redis pub/sub) could not be set up.
    #[error(transparent)]
    Feed(#[from] refract_worker::FeedError),
    /// The gateway could not start.
    #[error(transparent)]
    Gateway(#[from] refract_gateway::serve::ServeError),
    /// `healthcheck` found the process unhealthy.
    #[error("unhealthy: {0}")]
    Unhealthy(String),
    /// A process of the local stack could not be started or failed.
    #[error("stack: {0}")]
    Stack(String),
    /// Serving or exporting failed on I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

type PageFn = Box<dyn Fn() -> Node + Send + Sync>;

/// A Refract app: its title, states and pages.
pub struct App {
    title: String,
    states: StateRegistry,
    pages: Vec<(String, PageFn)>,
}

/// A running embedded server (see [`App::serve`]).
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The state store, to inspect in tests.
    pub store: Arc<MemoryStore>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops the server.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl App {
    /// An app whose document title is `title`.
    pub fn new(title: impl Into<String>) -> Self {
        App {
            title: title.into(),
            states: StateRegistry::default(),
            pages: Vec::new(),
        }
    }

    /// Registers the state `S` (a `#[derive(State)]` struct with a `#[refract::handlers]` impl).
    pub fn state<S: Handlers>(mut self) -> Self {
        self.states.register::<S>();
        self
    }

    /// Adds the page at `route` (`/`, `/about`, `/users/:id`), built by `page`.
    pub fn page<N: Into<Node> + 'static>(mut self, route: &str, page: fn() -> N) -> Self {
        self.pages
            .push((route.to_owned(), Box::new(move || page().into())));
        self
    }

    /// The app's states.
    pub fn states(&self) -> &StateRegistry {
        &self.states
    }

    /// Generates the frontend project in `build_dir`, installs its npm dependencies when they
    /// changed, and builds it. Returns the folder of the built assets.
    ///
    /// # Errors
    /// [`AppError::Compile`] (e.g. `node`/`npm` missing, a build failure) or [`AppError::State`].
    pub fn compile(&self, build_dir: &Path) -> Result<PathBuf, AppError> {
        let initial_state = serde_json::Value::Object(self.states.default_vars()?);
        let pages: Vec<Page> = self
            .pages
            .iter()
            .map(|(route, page)| Page {
                route: route.clone(),
                root: page(),
            })
            .collect();
        let files = refract_compiler::generate(&AppSpec {
            title: &self.title,
            pages: &pages,
            initial_state: &initial_state,
        })?;
        let project = Project::new(build_dir);
        project.write(&files)?;
        project.install()?;
        Ok(project.build()?)
    }

    /// The embedded gateway of this app on an in-memory store: its router and the store.
    ///
    /// # Errors
    /// [`AppError::Randomness`] when no secret is given and no randomness is available.
    pub fn embedded(
        self,
        config: GatewayConfig,
        secret: Option<&str>,
    ) -> Result<(axum::Router, Arc<MemoryStore>), AppError> {
        let issuer = issuer(secret)?;
        let store = Arc::new(MemoryStore::new());
        let engine = Arc::new(Engine::new(Arc::new(self.states), store.clone()));
        let feed: Arc<dyn DeltaFeed> = Arc::new(store.clone());
        Ok((Gateway::new(config, issuer, engine, feed).router(), store))
    }

    /// Serves the embedded mode on `listener` in the background (tests use this with port 0).
    ///
    /// # Errors
    /// As [`App::embedded`], or [`AppError::Io`] if the listener's address cannot be read.
    pub fn serve(
        self,
        listener: tokio::net::TcpListener,
        config: GatewayConfig,
    ) -> Result<Server, AppError> {
        let addr = listener.local_addr().map_err(|source| AppError::Io {
            what: "listener".into(),
            source,
        })?;
        let (router, store) = self.embedded(config, None)?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(refract_gateway::no_delay(listener), router).await {
                tracing::error!(error = %e, "server stopped");
            }
        });
        Ok(Server { addr, store, task })
    }

    /// Runs the app's command line (`run` by default, `export`) and returns the process exit code.
    /// Call it from `main`.
    pub fn main(self) -> ExitCode {
        let cli = Cli::parse();
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let service = match &cli.command {
            Some(Command::Worker(_)) => "refract-worker",
            Some(Command::Gateway(_)) => "refract-gateway",
            Some(Command::Stack(_)) => "refract-stack",
            _ => "refract-app",
        };
        let telemetry = {
            let _runtime = runtime.enter();
            refract_telemetry::init(service)
        };
        let result = match cli.command {
            Some(Command::Export(args)) => self.export(&args),
            Some(Command::Run(args)) => runtime.block_on(self.run(args)),
            Some(Command::Worker(args)) => runtime.block_on(self.worker(args)),
            Some(Command::Gateway(args)) => runtime.block_on(async {
                Ok(refract_gateway::serve::serve(args, shutdown_signal()).await?)
            }),
            Some(Command::Stack(args)) => runtime.block_on(crate::stack::run(&self, args)),
            Some(Command::Healthcheck(args)) => runtime.block_on(healthcheck(args)),
            None => runtime.block_on(self.run(cli.run)),
        };
        {
            let _runtime = runtime.enter();
            drop(telemetry);
        }
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn export(&self, args: &ExportArgs) -> Result<(), AppError> {
        let dist = self.compile(&build_dir(args.build.build_dir.as_deref()))?;
        copy_dir(&dist, &args.out).map_err(|source| AppError::Io {
            what: format!("copying assets to {}", args.out.display()),
            source,
        })?;
        tracing::info!(out = %args.out.display(), "exported the built assets");
        Ok(())
    }

    async fn run(self, args: RunArgs) -> Result<(), AppError> {
        let dir = build_dir(args.build.build_dir.as_deref());
        let started = std::time::Instant::now();
        let dist = self.compile(&dir)?;
        tracing::info!(ms = started.elapsed().as_millis() as u64, dir = %dir.display(), "frontend built");
        let config = GatewayConfig {
            max_frame_bytes: args.max_frame_bytes,
            max_queued_events: args.max_queued_events,
            assets: Some(dist),
        };
        let issuer = issuer(args.secret.as_deref())?;
        let title = self.title.clone();
        let (processor, feed): (Arc<dyn Processor>, Arc<dyn DeltaFeed>) = match &args.redis {
            Some(url) => {
                let store = self.redis_store(url, &args.store).await?;
                (
                    Arc::new(Engine::new(Arc::new(self.states), store)),
                    Arc::new(RedisFeed::new(url)?),
                )
            }
            None => {
                let store = Arc::new(MemoryStore::new());
                spawn_eviction(
                    store.clone(),
                    Duration::from_secs(args.store.token_expiry_secs),
                );
                (
                    Arc::new(Engine::new(Arc::new(self.states), store.clone())),
                    Arc::new(store),
                )
            }
        };
        let gateway = Gateway::new(config, issuer, processor, feed);
        let addr = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| AppError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| AppError::Io {
            what: "listener".into(),
            source,
        })?;
        let mode = if args.redis.is_some() {
            "embedded mode on Redis"
        } else {
            "embedded mode"
        };
        tracing::info!(app = %title, url = %format!("http://{local}"), mode, "serving");
        refract_gateway::serve::serve_until(gateway, listener, shutdown_signal())
            .await
            .map_err(|source| AppError::Io {
                what: "serving".into(),
                source,
            })
    }

    /// The Redis store of this app's states, once Redis answers (waiting up to 10 s for it).
    async fn redis_store(&self, url: &str, args: &StoreArgs) -> Result<RedisStore, AppError> {
        let mut config = RedisConfig::new(url);
        config.lock_lease = Duration::from_millis(args.lock_lease_ms);
        config.lock_wait = Duration::from_millis(args.lock_wait_ms);
        config.token_expiry = Duration::from_secs(args.token_expiry_secs);
        config.connections = usize::from(args.redis_connections);
        config.command_timeout = Duration::from_millis(args.redis_timeout_ms);
        let names = self.states.iter().map(|d| d.name.to_owned()).collect();
        let store = RedisStore::new(config, names)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match store.ping().await {
                Ok(()) => return Ok(store),
                Err(e) if std::time::Instant::now() > deadline => return Err(e.into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Serves this app's events as a worker until SIGTERM or Ctrl-C, then stops taking new calls
    /// (health turns NOT_SERVING), finishes the calls in flight, and returns.
    async fn worker(self, args: WorkerArgs) -> Result<(), AppError> {
        let store = self.redis_store(&args.redis, &args.store).await?;
        let engine = Arc::new(Engine::new(Arc::new(self.states), store));
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("", ServingStatus::Serving)
            .await;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| AppError::Bind {
                addr: args.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| AppError::Io {
            what: "listener".into(),
            source,
        })?;
        tracing::info!(app = %self.title, addr = %local, "worker listening");
        serve_metrics(SocketAddr::new(args.listen.ip(), args.metrics_port)).await;
        let drain = async move {
            shutdown_signal().await;
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            tracing::info!("draining: finishing the events in flight");
        };
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(WorkerService::server(engine))
            .serve_with_incoming_shutdown(
                // TCP_NODELAY: a reply is written in several frames, and Nagle's algorithm would
                // hold the later ones for the gateway's delayed ACK (~40 ms).
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                drain,
            )
            .await
            .map_err(|e| AppError::Io {
                what: "worker".into(),
                source: std::io::Error::other(e),
            })
    }
}

fn issuer(secret: Option<&str>) -> Result<TokenIssuer, AppError> {
    Ok(match secret {
        Some(s) => TokenIssuer::from_secret(s),
        None => TokenIssuer::random()?,
    })
}

fn spawn_eviction(store: Arc<MemoryStore>, expiry: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(
            expiry
                .min(Duration::from_secs(60))
                .max(Duration::from_secs(1)),
        );
        loop {
            tick.tick().await;
            let evicted = store.evict_idle(expiry);
            if evicted > 0 {
                tracing::debug!(evicted, "evicted idle tokens");
            }
        }
    });
}

/// The build folder: the one given, else `.web` in the crate folder cargo ran us from, else
/// `./.web`.
pub(crate) fn build_dir(given: Option<&Path>) -> PathBuf {
    match (given, std::env::var_os("CARGO_MANIFEST_DIR")) {
        (Some(dir), _) => dir.to_owned(),
        (None, Some(manifest)) => PathBuf::from(manifest).join(".web"),
        (None, None) => PathBuf::from(".web"),
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Serves `GET /metrics` on `addr` in the background (a port of 0 picks a free one). A port that
/// cannot be bound is logged, not fatal: the worker still serves events.
async fn serve_metrics(addr: SocketAddr) {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            if let Ok(local) = listener.local_addr() {
                tracing::info!(addr = %local, "metrics at /metrics");
            }
            let router =
                axum::Router::new().route("/metrics", axum::routing::get(refract_gateway::metrics));
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::warn!(error = %e, "metrics server stopped");
                }
            });
        }
        Err(e) => tracing::warn!(%addr, error = %e, "cannot serve metrics"),
    }
}

async fn healthcheck(args: HealthcheckArgs) -> Result<(), AppError> {
    let result = match (args.grpc, args.http) {
        (_, Some(http)) => refract_gateway::health::http(http, "/_health").await,
        (Some(grpc), None) => refract_gateway::health::grpc(grpc).await,
        (None, None) => {
            let local = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), args.listen.port());
            refract_gateway::health::grpc(local).await
        }
    };
    result.map_err(AppError::Unhealthy)
}
