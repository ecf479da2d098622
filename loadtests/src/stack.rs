//! The system under test as processes on loopback ports: the probe app in embedded mode (one
//! process), or Redis, W workers and one gateway (distributed mode). [`Stack::stop`] stops every
//! process with SIGTERM, then SIGKILL after a grace period; dropping the [`Stack`] kills them
//! with SIGKILL at once.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    /// A process exited or did not accept connections in time.
    #[error("{what} is not ready after {secs} s (see {log})")]
    NotReady {
        /// Which process.
        what: String,
        /// How long it was waited for.
        secs: u64,
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
    name: String,
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    args: Vec<String>,
}

/// The secret every gateway (and restarted gateway) of a stack signs tokens with.
const SECRET: &str = "refract-loadtests";

/// A free port on 127.0.0.1 (free when asked; the process that gets it binds it soon after).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

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
        match config.mode {
            Mode::Embedded => {
                let build_dir = config.work_dir.join("web");
                let args = vec![
                    "run".into(),
                    "--port".into(),
                    port.to_string(),
                    "--build-dir".into(),
                    build_dir.display().to_string(),
                    "--secret".into(),
                    SECRET.into(),
                ];
                let probe = config.probe.display().to_string();
                stack
                    .spawn(Role::Embedded, "embedded", &probe, args, addr)
                    .await?;
            }
            Mode::Distributed => {
                let redis_port = free_port().map_err(io("free port"))?;
                let redis_addr = SocketAddr::from(([127, 0, 0, 1], redis_port));
                let mut redis_args = refract_worker::redis::local_server_args(redis_port);
                redis_args.extend(["--maxclients".to_owned(), "20000".to_owned()]);
                stack
                    .spawn(Role::Redis, "redis", "redis-server", redis_args, redis_addr)
                    .await?;
                let url = format!("redis://{redis_addr}");
                let probe = config.probe.display().to_string();
                let mut worker_addrs = Vec::new();
                for i in 0..config.workers.max(1) {
                    let waddr =
                        SocketAddr::from(([127, 0, 0, 1], free_port().map_err(io("free port"))?));
                    let args = vec![
                        "worker".into(),
                        "--listen".into(),
                        waddr.to_string(),
                        "--redis".into(),
                        url.clone(),
                    ];
                    stack
                        .spawn(Role::Worker, &format!("worker-{i}"), &probe, args, waddr)
                        .await?;
                    worker_addrs.push(waddr.to_string());
                }
                let args = vec![
                    "gateway".into(),
                    "--port".into(),
                    port.to_string(),
                    "--workers".into(),
                    worker_addrs.join(","),
                    "--redis".into(),
                    url,
                    "--secret".into(),
                    SECRET.into(),
                ];
                stack
                    .spawn(Role::Gateway, "gateway", &probe, args, addr)
                    .await?;
            }
        }
        Ok(stack)
    }

    async fn spawn(
        &mut self,
        role: Role,
        name: &str,
        program: &str,
        args: Vec<String>,
        addr: SocketAddr,
    ) -> Result<(), StackError> {
        let log = self
            .config
            .work_dir
            .join("logs")
            .join(format!("{name}.log"));
        let proc = start(role, name, program, args, addr, &log)?;
        self.procs.push(proc);
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
            match p.child.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    return Err(StackError::Died {
                        what: p.name.clone(),
                        status: status.to_string(),
                        log: p.log.display().to_string(),
                    });
                }
                Err(source) => {
                    return Err(StackError::Io {
                        what: format!("checking {}", p.name),
                        source,
                    });
                }
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
        stop(&mut self.procs[i], grace).await;
        let p = &self.procs[i];
        let (role, name, args, addr) = (p.role, p.name.clone(), p.args.clone(), p.addr);
        let log = self
            .config
            .work_dir
            .join("logs")
            .join(format!("{name}-restarted.log"));
        let probe = self.config.probe.display().to_string();
        self.procs[i] = start(role, &name, &probe, args, addr, &log)?;
        wait_ready(&mut self.procs[i], self.config.ready_timeout).await?;
        Ok((old, started.elapsed()))
    }

    /// Stops every process: SIGTERM, then SIGKILL for those still running after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        for p in self.procs.iter_mut().rev() {
            stop(p, grace).await;
        }
        self.procs.clear();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// A reading of `p`, if `/proc` still shows it.
fn reading(p: &Proc) -> Option<Reading> {
    let pid = p.child.id();
    procfs::sample(pid).ok().map(|sample| Reading {
        role: p.role,
        pid,
        sample,
    })
}

fn start(
    role: Role,
    name: &str,
    program: &str,
    args: Vec<String>,
    addr: SocketAddr,
    log: &Path,
) -> Result<Proc, StackError> {
    let out = std::fs::File::create(log).map_err(io(format!("log {}", log.display())))?;
    let err = out.try_clone().map_err(io("log"))?;
    let mut command = Command::new(program);
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            // Dies with the runner, should the runner be killed before it stops the stack.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command
        .args(&args)
        .env(
            "RUST_LOG",
            std::env::var("LOADTESTS_CHILD_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(io(format!("starting {name} ({program})")))?;
    tracing::info!(name, pid = child.id(), %addr, "started");
    Ok(Proc {
        role,
        name: name.to_owned(),
        child,
        addr,
        log: log.to_owned(),
        args,
    })
}

async fn wait_ready(p: &mut Proc, limit: Duration) -> Result<(), StackError> {
    let deadline = crate::deadline(Instant::now(), limit);
    loop {
        if tokio::net::TcpStream::connect(p.addr).await.is_ok() {
            return Ok(());
        }
        let exited = p.child.try_wait().ok().flatten().is_some();
        if exited || Instant::now() > deadline {
            return Err(StackError::NotReady {
                what: p.name.clone(),
                secs: limit.as_secs(),
                log: p.log.display().to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stop(p: &mut Proc, grace: Duration) {
    if p.child.try_wait().ok().flatten().is_some() {
        return;
    }
    if let Ok(pid) = i32::try_from(p.child.id()) {
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = crate::deadline(Instant::now(), grace);
    while Instant::now() < deadline {
        if p.child.try_wait().ok().flatten().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!(name = %p.name, "still running after SIGTERM: SIGKILL");
    let _ = p.child.kill();
    let _ = p.child.wait();
}
