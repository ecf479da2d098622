//! The system under test as processes on loopback ports, started through
//! `refract_process::launch`: the probe app in embedded mode (one process), or Redis, W workers and
//! one gateway (distributed mode), each given its options as typed arguments. [`Stack::stop`]
//! stops every process with SIGTERM, then SIGKILL after a grace period; dropping the [`Stack`]
//! kills them with SIGKILL at once, and they die with the runner should it be killed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use refract_gateway::serve::{GatewayArgs, ListenArgs, SocketArgs};
use refract_process::MetricsArgs;
use refract_process::grpc_tls::GrpcTlsArgs;
use refract_process::launch::{Child, Launch, LaunchError, Output, redis_server};
use refract_worker::serve::{StoreArgs, WorkerArgs};

use crate::procfs::{self, ProcSample};

/// How the probe app is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One process: gateway and engine on the in-memory store.
    Embedded,
    /// Redis, workers and one gateway, as separate processes.
    Distributed,
}

impl Mode {
    /// `embedded` or `distributed`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Embedded => "embedded",
            Mode::Distributed => "distributed",
        }
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The `refract-probe` binary.
    pub probe: PathBuf,
    /// Embedded or distributed.
    pub mode: Mode,
    /// Workers (distributed mode).
    pub workers: usize,
    /// Where the processes' logs go, and the embedded mode's frontend build folder.
    pub work_dir: PathBuf,
    /// How long to wait for a process to accept connections (the embedded mode builds its frontend
    /// with npm first).
    pub ready_timeout: Duration,
}

/// Why the stack could not be started or restarted.
#[derive(thiserror::Error, Debug)]
pub enum StackError {
    /// A process could not be spawned, or a file made.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// A process exited while the stack was running.
    #[error("{what} exited unexpectedly ({status}; see {log})")]
    Died {
        /// Which process.
        what: String,
        /// How it exited.
        status: String,
        /// Its log file.
        log: String,
    },
    /// A process could not start, exited, or did not accept connections in time.
    #[error("{source} (see {log})")]
    NotReady {
        /// What went wrong.
        source: LaunchError,
        /// Its log file.
        log: String,
    },
}

/// The role of a process, the key of its CPU and memory in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The embedded-mode process.
    Embedded,
    /// The gateway.
    Gateway,
    /// A worker.
    Worker,
    /// Redis.
    Redis,
}

impl Role {
    /// The role's key in the report: `embedded`, `gateway`, `workers`, `redis`.
    pub fn key(self) -> &'static str {
        match self {
            Role::Embedded => "embedded",
            Role::Gateway => "gateway",
            Role::Worker => "workers",
            Role::Redis => "redis",
        }
    }
}

struct Proc {
    role: Role,
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

/// The secret every gateway (and restarted gateway) of a stack signs tokens with.
const SECRET: &str = "refract-loadtests";

use refract_process::launch::free_port;

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StackError {
    let what = what.into();
    move |source| StackError::Io { what, source }
}

/// The running processes of one deployment.
pub struct Stack {
    config: StackConfig,
    procs: Vec<Proc>,
    /// What clients connect to: the gateway (or the embedded process).
    pub addr: SocketAddr,
}

/// One reading of one process of a [`Stack`].
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// The process's role.
    pub role: Role,
    /// Its pid.
    pub pid: u32,
    /// What `/proc` said.
    pub sample: ProcSample,
}

impl Stack {
    /// Starts the deployment `config` describes and waits until every process accepts
    /// connections.
    ///
    /// # Errors
    /// [`StackError`] when a process cannot start or is not ready in time.
    pub async fn start(config: StackConfig) -> Result<Stack, StackError> {
        std::fs::create_dir_all(config.work_dir.join("logs")).map_err(io("log folder"))?;
        let port = free_port().map_err(io("free port"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut stack = Stack {
            config: config.clone(),
            procs: Vec::new(),
            addr,
        };
        let probe = config.probe.clone();
        match config.mode {
            Mode::Embedded => {
                let build_dir = config.work_dir.join("web");
                let args = [
                    "run".to_owned(),
                    format!("--port={port}"),
                    format!("--build-dir={}", build_dir.display()),
                    format!("--secret={SECRET}"),
                    "--metrics-port=0".to_owned(),
                    // The load comes from a few loopback addresses.
                    "--max-connections=1000000".to_owned(),
                    "--max-connections-per-ip=0".to_owned(),
                ];
                let launch = Launch::new("embedded", &probe).args(args);
                stack.spawn(Role::Embedded, launch, addr).await?;
            }
            Mode::Distributed => {
                let redis_port = free_port().map_err(io("free port"))?;
                let redis_addr = SocketAddr::from(([127, 0, 0, 1], redis_port));
                let redis = redis_server(redis_port).args(["--maxclients", "20000"]);
                stack.spawn(Role::Redis, redis, redis_addr).await?;
                let url = format!("redis://{redis_addr}");
                let mut worker_addrs = Vec::new();
                for i in 0..config.workers.max(1) {
                    let worker = WorkerArgs {
                        listen: ([127, 0, 0, 1], free_port().map_err(io("free port"))?).into(),
                        redis: url.clone(),
                        metrics: MetricsArgs { metrics_port: 0 },
                        store: default_args::<StoreArgs>(),
                        tls: GrpcTlsArgs::default(),
                    };
                    let launch = Launch::new(format!("worker-{i}"), &probe)
                        .args(["worker".to_owned()])
                        .args(worker.to_args())
                        .env("REFRACT_REDIS", &url);
                    stack.spawn(Role::Worker, launch, worker.listen).await?;
                    worker_addrs.push(worker.listen.to_string());
                }
                let gateway = GatewayArgs {
                    listen: ListenArgs {
                        host: addr.ip(),
                        port,
                    },
                    sockets: SocketArgs {
                        // The load comes from a few loopback addresses.
                        max_connections: 1_000_000,
                        max_connections_per_ip: 0,
                        ..default_args::<SocketArgs>()
                    },
                    metrics: MetricsArgs { metrics_port: 0 },
                    workers: worker_addrs,
                    workers_dns: None,
                    workers_k8s_service: None,
                    workers_k8s_namespace: None,
                    workers_dns_every_secs: 5,
                    redis: url.clone(),
                    assets: None,
                    upload_dir: None,
                    call_timeout_ms: 30_000,
                    tls: GrpcTlsArgs::default(),
                };
                let launch = Launch::new("gateway", &probe)
                    .args(["gateway".to_owned()])
                    .args(gateway.to_args())
                    .env("REFRACT_SECRET", SECRET)
                    .env("REFRACT_REDIS", &url);
                stack.spawn(Role::Gateway, launch, addr).await?;
            }
        }
        Ok(stack)
    }

    /// Starts `launch` with its output in `logs/NAME.log` and waits until it accepts on `addr`.
    async fn spawn(
        &mut self,
        role: Role,
        launch: Launch,
        addr: SocketAddr,
    ) -> Result<(), StackError> {
        let log = self
            .config
            .work_dir
            .join("logs")
            .join(format!("{}.log", launch.name()));
        let child = start(launch, &log)?;
        self.procs.push(Proc {
            role,
            child,
            addr,
            log,
        });
        let proc = self.procs.last_mut().expect("just pushed");
        wait_ready(proc, self.config.ready_timeout).await
    }

    /// A reading of every process that `/proc` still shows (see [`Stack::check_alive`] for
    /// those that exited).
    pub fn sample(&self) -> Vec<Reading> {
        self.procs.iter().filter_map(reading).collect()
    }

    /// Checks that no process has exited (the gateway stopped by
    /// [`Stack::restart_gateway`] has been replaced by then).
    ///
    /// # Errors
    /// [`StackError::Died`] for the first process that exited, or [`StackError::Io`] when one
    /// cannot be checked.
    pub fn check_alive(&mut self) -> Result<(), StackError> {
        for p in &mut self.procs {
            if let Some(status) = p.child.try_wait() {
                return Err(StackError::Died {
                    what: p.child.name().to_owned(),
                    status: status.to_string(),
                    log: p.log.display().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Stops the gateway (the embedded process in embedded mode) with SIGTERM (SIGKILL after
    /// `grace`), starts it again on the same port with the same token secret, and waits until it
    /// accepts connections. Returns the reading of the old process just before the signal (its CPU
    /// spent shutting down is not in it), and how long the address did not accept connections.
    ///
    /// # Errors
    /// [`StackError`] when the new process cannot start.
    pub async fn restart_gateway(
        &mut self,
        grace: Duration,
    ) -> Result<(Option<Reading>, Duration), StackError> {
        let Some(i) = self
            .procs
            .iter()
            .position(|p| matches!(p.role, Role::Gateway | Role::Embedded))
        else {
            return Err(StackError::Io {
                what: "restart".into(),
                source: std::io::Error::other("no gateway"),
            });
        };
        let old = reading(&self.procs[i]);
        let started = Instant::now();
        let p = &mut self.procs[i];
        p.child.stop(grace).await;
        p.log = self
            .config
            .work_dir
            .join("logs")
            .join(format!("{}-restarted.log", p.child.name()));
        p.child = start(p.child.launch().clone(), &p.log)?;
        wait_ready(p, self.config.ready_timeout).await?;
        Ok((old, started.elapsed()))
    }

    /// Stops every process: SIGTERM, then SIGKILL for those still running after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        for p in self.procs.iter_mut().rev() {
            p.child.stop(grace).await;
        }
        self.procs.clear();
    }
}

/// A reading of `p`, if `/proc` still shows it.
fn reading(p: &Proc) -> Option<Reading> {
    let pid = p.child.pid();
    procfs::sample(pid).ok().map(|sample| Reading {
        role: p.role,
        pid,
        sample,
    })
}

/// The options of `A` as its command line gives them with no arguments and no environment: its
/// defaults.
fn default_args<A: clap::Args>() -> A {
    refract_process::from_argv(Vec::new()).expect("the defaults of an option set parse")
}

/// Starts `launch`, logging to `log`, at the log level `LOADTESTS_CHILD_LOG` (default `warn`),
/// dying with the runner.
fn start(launch: Launch, log: &Path) -> Result<Child, StackError> {
    let level = std::env::var("LOADTESTS_CHILD_LOG").unwrap_or_else(|_| "warn".into());
    let child = launch
        .env("RUST_LOG", level)
        .output(Output::File(log.to_owned()))
        .die_with_parent()
        .spawn()
        .map_err(|source| StackError::NotReady {
            source,
            log: log.display().to_string(),
        })?;
    tracing::info!(name = %child.name(), pid = child.pid(), "started");
    Ok(child)
}

async fn wait_ready(p: &mut Proc, limit: Duration) -> Result<(), StackError> {
    p.child
        .ready(p.addr, limit)
        .await
        .map_err(|source| StackError::NotReady {
            source,
            log: p.log.display().to_string(),
        })
}
