//! The [`App`] builder: states, pages and title; compiling the frontend; serving the embedded mode;
//! the app's command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use refract_compiler::{AppSpec, CompileError, Node, Page, Project};
use refract_core::{EventSpec, Handlers, RouteError, Routes, StateError, StateRegistry};
use refract_gateway::feed::RedisFeed;
use refract_gateway::{Gateway, GatewayConfig, RandomnessError, TokenIssuer};
use refract_process::shutdown_signal;
use refract_proto::Failure;
use refract_proto::{DeltaFeed, Processor};
use refract_worker::engine::{AppCode, ErrorActions, ErrorHook};
use refract_worker::serve::AppEnv;
use refract_worker::{Engine, MemoryStore, TaskSupervisor};

use crate::cli::{Cli, Command, ExportArgs, HealthcheckArgs, RunArgs};
use crate::page::PageOptions;
use refract_compiler::Theme;

/// Why an app could not be built or served.
#[derive(thiserror::Error, Debug)]
pub enum AppError {
    /// Generating or building the frontend failed.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// A state's default value could not be serialised.
    #[error(transparent)]
    State(#[from] StateError),
    /// A page's route is malformed, or two pages' routes match the same paths.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A substate's parent is not one of the app's states.
    #[error(
        "state `{state}` is a substate of `{parent}`, which the app does not have: add it with `.state::<…>()`"
    )]
    MissingParent {
        /// The substate.
        state: &'static str,
        /// Its parent's name.
        parent: &'static str,
    },
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
    Feed(#[from] refract_proto::FeedError),
    /// The gateway could not start.
    #[error(transparent)]
    Gateway(#[from] refract_gateway::serve::ServeError),
    /// The worker could not start or failed.
    #[error(transparent)]
    Worker(#[from] refract_worker::serve::ServeError),
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
    pages: Vec<(String, PageFn, PageOptions)>,
    not_found: Option<PageFn>,
    theme: Theme,
    allow_call_script: bool,
    on_error: Option<ErrorHook>,
}

/// A running embedded server (see [`App::serve`]).
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The state store, to inspect in tests.
    pub store: Arc<MemoryStore>,
    task: tokio::task::JoinHandle<()>,
    /// Sweeps the task registry while the server lives.
    _tasks: TaskSupervisor,
}

impl Server {
    /// Stops the server. Its background tasks are drained in the background (up to the drain
    /// limit, then recorded interrupted).
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
            not_found: None,
            theme: Theme::default(),
            allow_call_script: false,
            on_error: None,
        }
    }

    /// Chooses what users see when an event fails for the app's reasons (a handler's error or
    /// panic, bad arguments, a chain too deep, a state too large): `hook` gets the failure (its
    /// code and message) and returns client actions (or events) that the browser runs, in place
    /// of the default toast (the message under `--env development`, the default for `run` and
    /// `stack`; a generic text under `production`, the default for `worker`). Return nothing to
    /// show nothing. A hook that panics is logged and the generic toast is shown.
    ///
    /// ```no_run
    /// # use refract::prelude::*;
    /// App::new("Shop").on_error(|failure| {
    ///     vec![toast::error("Sorry, that did not work."), console_log(failure.message.clone())]
    /// });
    /// ```
    pub fn on_error(
        mut self,
        hook: impl Fn(&Failure) -> Vec<EventSpec> + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(hook));
        self
    }

    /// Lets the app's handlers and pages run JavaScript in the browser with the `call_script`
    /// client actions: its pages are then served with `'unsafe-eval'` in their
    /// Content-Security-Policy (the gateways this app's binary runs turn it on by themselves; a
    /// generic `refract-gateway` needs `--allow-eval`). Without it a script is refused by the
    /// browser and the runtime logs why.
    pub fn allow_call_script(mut self) -> Self {
        self.allow_call_script = true;
        self
    }

    /// Registers the state `S` (a `#[derive(State)]` struct with a `#[refract::handlers]` impl).
    pub fn state<S: Handlers>(mut self) -> Self {
        self.states.register::<S>();
        self
    }

    /// Adds the page at `route`, built by `page`. Routes use React Router's syntax: literals
    /// (`/about`), parameters (`/users/:id`), optional segments (`/:lang?/docs`) and a final splat
    /// (`/files/*`); handlers read the matched route and its parameters from their context. Routes
    /// are checked when the app starts: a malformed one, or two that match the same paths, is
    /// [`AppError::Route`].
    pub fn page<N: Into<Node> + 'static>(self, route: &str, page: fn() -> N) -> Self {
        self.page_with(route, page, PageOptions::new())
    }

    /// Adds the page at `route` (as [`App::page`]) with `options`: the events it runs when
    /// opened (`on_load`) and its head (title, description, preview image).
    pub fn page_with<N: Into<Node> + 'static>(
        mut self,
        route: &str,
        page: fn() -> N,
        options: PageOptions,
    ) -> Self {
        self.pages
            .push((route.to_owned(), Box::new(move || page().into()), options));
        self
    }

    /// Sets the app's look: Radix Themes' settings (accent and gray colour, radius, scaling,
    /// panel background) and the colour mode it starts in (see [`Theme`]).
    pub fn theme(mut self, theme: Theme) -> Self {
        self.theme = theme;
        self
    }

    /// Shows `page` for a path that matches no route (served with HTTP status 404); without
    /// it, a plain "page not found" with a link home.
    pub fn not_found<N: Into<Node> + 'static>(mut self, page: fn() -> N) -> Self {
        self.not_found = Some(Box::new(move || page().into()));
        self
    }

    /// What a worker runs of the app: its states, its pages' routes and its error hook.
    ///
    /// # Errors
    /// [`AppError::Route`] when a page's route is malformed or two match the same paths;
    /// [`AppError::MissingParent`] when a substate's parent is not registered.
    pub fn code(&self) -> Result<AppCode, AppError> {
        let routes = Routes::new(self.pages.iter().map(|(route, ..)| route.as_str()))?;
        if let Some((state, parent)) = self.states.missing_parent() {
            return Err(AppError::MissingParent { state, parent });
        }
        Ok(AppCode {
            states: Arc::new(self.states.clone()),
            routes: Arc::new(routes),
            on_error: self.on_error.clone(),
        })
    }

    /// The app's states.
    pub fn states(&self) -> &StateRegistry {
        &self.states
    }

    /// Generates the frontend project in `build_dir`, installs its npm dependencies when they
    /// changed (stopping `npm install` after `npm_timeout`), and builds it. Returns the folder of
    /// the built assets.
    ///
    /// # Errors
    /// [`AppError::Compile`] (e.g. `node`/`npm` missing, a build failure, `npm install` out of
    /// time) or [`AppError::State`].
    pub fn compile(&self, build_dir: &Path, npm_timeout: Duration) -> Result<PathBuf, AppError> {
        let initial_state = serde_json::Value::Object(self.states.default_vars()?);
        let pages: Vec<Page> = self
            .pages
            .iter()
            .map(|(route, page, options)| Page {
                route: route.clone(),
                root: page(),
                on_load: options.on_load.clone(),
                head: options.head.clone(),
            })
            .collect();
        let not_found = self.not_found.as_ref().map(|page| page());
        let storage_vars = self.states.storage_vars();
        let files = refract_compiler::generate(&AppSpec {
            title: &self.title,
            pages: &pages,
            initial_state: &initial_state,
            not_found: not_found.as_ref(),
            storage_vars: &storage_vars,
            theme: &self.theme,
        })?;
        let project = Project::new(build_dir).npm_timeout(npm_timeout);
        // `public/` is the build's and the app's `assets/` (served at `/`): made afresh.
        let public = build_dir.join("public");
        if public.exists() {
            std::fs::remove_dir_all(&public).map_err(|source| AppError::Io {
                what: format!("clearing {}", public.display()),
                source,
            })?;
        }
        project.write(&files)?;
        if let Some(assets) = build_dir.parent().map(|app| app.join("assets"))
            && assets.is_dir()
        {
            copy_dir(&assets, &public).map_err(|source| AppError::Io {
                what: format!("copying {} into the build", assets.display()),
                source,
            })?;
        }
        project.install()?;
        let dist = project.build()?;
        refract_compiler::write_route_pages(&dist, &pages)?;
        Ok(dist)
    }

    /// Serves the embedded mode on an in-memory store on `listener` in the background, with a
    /// random token secret (tests use this with port 0); failures are shown as under `run` (their
    /// message, or what the app's [`App::on_error`] hook says). Uploads are kept in the default
    /// upload folder, whose published files the gateway serves (`config.upload_dir` is set to
    /// it).
    ///
    /// # Errors
    /// [`AppError::Randomness`] when no randomness is available for the secret, or
    /// [`AppError::Io`] if the listener's address cannot be read.
    pub fn serve(
        self,
        listener: tokio::net::TcpListener,
        config: GatewayConfig,
    ) -> Result<Server, AppError> {
        let addr = listener.local_addr().map_err(|source| AppError::Io {
            what: "listener".into(),
            source,
        })?;
        let issuer = TokenIssuer::from_secret_or_random(None)?;
        let store = Arc::new(MemoryStore::new());
        let app = self.code()?;
        let mut engine = Engine::for_app(&app, store.clone());
        if app.on_error.is_none() {
            engine = engine.error_actions(ErrorActions::Detailed);
        }
        let engine = Arc::new(engine);
        let tasks = TaskSupervisor::start(engine.clone());
        let feed: Arc<dyn DeltaFeed> = store.clone();
        let config = GatewayConfig {
            upload_dir: Some(engine.upload_store().config().dir.clone()),
            ..config
        };
        let gateway = Gateway::new(config, issuer, engine, feed);
        let task = tokio::spawn(refract_gateway::serve::serve_until(
            gateway,
            listener,
            std::future::pending(),
        ));
        Ok(Server {
            addr,
            store,
            task,
            _tasks: tasks,
        })
    }

    /// Runs the app's command line (`run` by default, `export`) and returns the process exit code.
    /// Call it from `main`.
    pub fn main(self) -> ExitCode {
        refract_process::install_tls_provider();
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
        let log_format = cli.log.log_format;
        let service = match &cli.command {
            // A health check or an export runs for a moment and has nothing to export.
            Some(Command::Healthcheck(_) | Command::Export(_)) => None,
            Some(Command::Worker(_)) => Some("refract-worker"),
            Some(Command::Gateway(_)) => Some("refract-gateway"),
            Some(Command::Stack(_)) => Some("refract-stack"),
            Some(Command::Run(_)) | None => Some("refract-app"),
        };
        let telemetry = match service {
            Some(service) => {
                let _runtime = runtime.enter();
                Some(refract_telemetry::init(service, log_format))
            }
            None => {
                refract_telemetry::init_logs(log_format);
                None
            }
        };
        let mut cli = cli;
        if let Some(sockets) = cli.sockets_mut() {
            sockets.allow_eval |= self.allow_call_script;
        }
        if let Some(store) = cli.local_store_mut() {
            store.env.get_or_insert(AppEnv::Development);
        }
        let result = match cli.command {
            Some(Command::Export(args)) => self.export(&args),
            Some(Command::Run(args)) => runtime.block_on(self.run(args)),
            Some(Command::Worker(args)) => runtime.block_on(async {
                tracing::info!(app = %self.title, "worker");
                let app = self.code()?;
                Ok(refract_worker::serve::serve(app, args, shutdown_signal()).await?)
            }),
            Some(Command::Gateway(args)) => runtime.block_on(async {
                Ok(refract_gateway::serve::serve(args, shutdown_signal()).await?)
            }),
            Some(Command::Stack(args)) => runtime.block_on(crate::stack::run(&self, args, cli.log)),
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
        let dist = self.compile(
            &build_dir(args.build.build_dir.as_deref()),
            args.build.npm_timeout(),
        )?;
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
        let dist = self.compile(&dir, args.build.npm_timeout())?;
        tracing::info!(ms = started.elapsed().as_millis() as u64, dir = %dir.display(), "frontend built");
        let mut config = args.sockets.config(Some(dist));
        // The engine's upload folder: the gateway serves its published files.
        config.upload_dir = Some(args.store.uploads.config().dir);
        let issuer = args.sockets.issuer()?;
        args.store
            .uploads
            .config()
            .prepare()
            .map_err(|e| AppError::Worker(e.into()))?;
        let title = self.title.clone();
        let app = self.code()?;
        let (processor, feed, tasks): (Arc<dyn Processor>, Arc<dyn DeltaFeed>, _) =
            match &args.redis {
                Some(url) => {
                    let store = args.store.connect(url, &app.states).await?;
                    let engine = Arc::new(args.store.engine(&app, store));
                    let tasks = TaskSupervisor::start(engine.clone());
                    (engine, Arc::new(RedisFeed::new(url)?), tasks)
                }
                None => {
                    let lock_wait = Duration::from_millis(args.store.lock_wait_ms);
                    let store = Arc::new(MemoryStore::with_lock_wait(lock_wait));
                    spawn_eviction(
                        store.clone(),
                        Duration::from_secs(args.store.token_expiry_secs),
                    );
                    let engine = Arc::new(args.store.engine(&app, store.clone()));
                    let tasks = TaskSupervisor::start(engine.clone());
                    (engine, store, tasks)
                }
            };
        let gateway = Gateway::new(config, issuer, processor, feed);
        let addr = args.listen.addr();
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
        args.metrics.serve(args.listen.host).await;
        refract_gateway::serve::serve_until(gateway, listener, shutdown_signal()).await;
        tasks.drain().await;
        Ok(())
    }
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

async fn healthcheck(args: HealthcheckArgs) -> Result<(), AppError> {
    let result = match (args.grpc, args.http) {
        (_, Some(http)) => refract_process::health::http(http, "/_health").await,
        (Some(grpc), None) => refract_process::health::grpc(grpc, &args.tls).await,
        (None, None) => {
            let local = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), args.listen.port());
            refract_process::health::grpc(local, &args.tls).await
        }
    };
    result.map_err(AppError::Unhealthy)
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(State, Default, Serialize, Deserialize)]
    struct AuthState {
        user: String,
    }

    #[crate::handlers]
    impl AuthState {}

    #[derive(State, Default, Serialize, Deserialize)]
    #[state(parent = AuthState)]
    struct ProfileState {
        greeting: String,
    }

    #[crate::handlers]
    impl ProfileState {
        pub fn greet(&mut self, auth: &Parent<AuthState>) {
            self.greeting = format!("Hello, {}", auth.user);
        }
    }

    #[test]
    fn a_substate_needs_its_parent_registered() {
        let err = App::new("t")
            .state::<ProfileState>()
            .code()
            .err()
            .expect("the parent is missing");
        assert!(
            matches!(
                err,
                crate::AppError::MissingParent {
                    state: "profile_state",
                    parent: "auth_state"
                }
            ),
            "{err}"
        );
        let app = App::new("t").state::<ProfileState>().state::<AuthState>();
        let code = app.code().expect("both registered");
        let profile = code.states.get("profile_state").unwrap();
        assert_eq!(profile.parent, Some("auth_state"));
    }
}
