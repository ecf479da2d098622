//! Starting and stopping processes (Refract's roles, `redis-server`) as children: the one launcher
//! that `stack`, the tests and the load tests share. Signals go through `rustix`; the only unsafe
//! code is the `pre_exec` hook of [`Launch::die_with_parent`].
//!
//! A [`Launch`] says what to start and can start it again ([`Child::restart`]); a [`Child`] is a
//! running one, SIGKILLed and reaped when dropped, so a test that fails leaves nothing behind.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use rustix::process::{Pid, kill_process};

/// Why a child could not be started or did not get ready.
#[derive(thiserror::Error, Debug)]
pub enum LaunchError {
    /// The program could not be started (not installed, not executable), or its log not created.
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        /// The child's name.
        name: String,
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited, or did not accept connections within the limit.
    #[error("{name} is not accepting connections on {addr} after {waited:?}{}", if *.exited { " (it exited)" } else { "" })]
    NotReady {
        /// The child's name.
        name: String,
        /// The address it should accept on.
        addr: SocketAddr,
        /// How long it was waited for.
        waited: Duration,
        /// Whether it had exited.
        exited: bool,
    },
}

/// The prefix of the environment variables a child does not inherit: Refract's own options
/// (`REFRACT_PORT`, `REFRACT_SECRET`, …), which a child gets only through [`Launch::env`].
pub const INHERITED_NOT: &str = "REFRACT_";

/// Where a child's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// This process's own.
    Inherit,
    /// Nowhere.
    Null,
    /// Both into this file (created, truncated).
    File(PathBuf),
}

/// What to start: a program, its arguments and environment, where its output goes.
#[derive(Debug, Clone)]
pub struct Launch {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    output: Output,
    die_with_parent: bool,
}

impl Launch {
    /// Starts `program` under the name `name` (used in errors and logs), with no arguments, this
    /// process's environment and output.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Launch {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            output: Output::Inherit,
            die_with_parent: false,
        }
    }

    /// Adds arguments.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the child (the only way it gets a `REFRACT_*` variable:
    /// see [`INHERITED_NOT`]).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sends the child's stdout and stderr to `output`.
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Has the kernel SIGKILL the child when the thread that started it exits (Linux
    /// `PR_SET_PDEATHSIG`; elsewhere this does nothing), so a runner killed before it could stop
    /// its children leaves none behind. Start such children from a thread that lives as long as they should (the main
    /// thread, a runtime's worker thread), not from a pool thread that may retire.
    pub fn die_with_parent(mut self) -> Self {
        self.die_with_parent = true;
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments.
    pub fn arguments(&self) -> &[String] {
        &self.args
    }

    /// Starts it.
    ///
    /// # Errors
    /// [`LaunchError::Spawn`] when it cannot be started.
    pub fn spawn(&self) -> Result<Child, LaunchError> {
        let child = self.command()?.spawn().map_err(|e| self.spawn_error(e))?;
        tracing::debug!(name = %self.name, pid = child.id(), "started");
        Ok(Child {
            launch: self.clone(),
            child,
        })
    }

    fn spawn_error(&self, source: std::io::Error) -> LaunchError {
        LaunchError::Spawn {
            name: self.name.clone(),
            program: self.program.display().to_string(),
            source,
        }
    }

    fn command(&self) -> Result<Command, LaunchError> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        // A child's Refract options are the ones given to it: none are inherited from this
        // process's environment (where they would add to, or conflict with, its arguments).
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with(INHERITED_NOT) {
                command.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        match &self.output {
            Output::Inherit => {}
            Output::Null => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
            Output::File(path) => {
                let out = std::fs::File::create(path).map_err(|e| self.spawn_error(e))?;
                let err = out.try_clone().map_err(|e| self.spawn_error(e))?;
                command.stdout(out).stderr(err);
            }
        }
        if self.die_with_parent {
            die_with_parent(&mut command);
        }
        Ok(command)
    }
}

/// Has the kernel SIGKILL `command`'s child when the thread that starts it exits.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    #[allow(unsafe_code)]
    // SAFETY: the hook runs in the forked child before exec and only makes the prctl(2) system
    // call, which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            Ok(())
        });
    }
}

/// Elsewhere the kernel has no such signal: children are stopped by [`Child`]'s drop only.
#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// A running child, SIGKILLed and reaped when dropped.
#[derive(Debug)]
pub struct Child {
    launch: Launch,
    child: std::process::Child,
}

impl Child {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.launch.name
    }

    /// What started it.
    pub fn launch(&self) -> &Launch {
        &self.launch
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. [`Signal::STOP`] to freeze it, [`Signal::CONT`] to resume it).
    ///
    /// # Errors
    /// When it has been reaped already.
    pub fn signal(&self, signal: Signal) -> std::io::Result<()> {
        Ok(kill_process(Pid::from_child(&self.child), signal)?)
    }

    /// How it exited, if it has.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILLs it (which ends a stopped process too) and reaps it.
    pub fn kill(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Stops it as an orchestrator does: SIGTERM, then SIGKILL if it still runs after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if self.try_wait().is_some() {
            return;
        }
        let _ = self.signal(Signal::TERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.try_wait().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::warn!(name = %self.name(), "still running after SIGTERM: SIGKILL");
        self.kill();
    }

    /// Kills it if it still runs, then starts it again as it was started.
    ///
    /// # Errors
    /// [`LaunchError::Spawn`] when it cannot be started.
    pub fn restart(&mut self) -> Result<(), LaunchError> {
        self.kill();
        *self = self.launch.spawn()?;
        Ok(())
    }

    /// Waits until it accepts TCP connections on `addr`, at most `limit`.
    ///
    /// # Errors
    /// [`LaunchError::NotReady`] when it exits or the limit passes first.
    pub async fn ready(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), LaunchError> {
        let started = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            let exited = self.try_wait().is_some();
            if exited || started.elapsed() > limit {
                return Err(self.not_ready(addr, started.elapsed(), exited));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`Child::ready`] for callers without an async runtime: polls from this thread.
    ///
    /// # Errors
    /// As [`Child::ready`].
    pub fn ready_blocking(&mut self, addr: SocketAddr, limit: Duration) -> Result<(), LaunchError> {
        let started = Instant::now();
        loop {
            if TcpStream::connect(addr).is_ok() {
                return Ok(());
            }
            let exited = self.try_wait().is_some();
            if exited || started.elapsed() > limit {
                return Err(self.not_ready(addr, started.elapsed(), exited));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn not_ready(&self, addr: SocketAddr, waited: Duration, exited: bool) -> LaunchError {
        LaunchError::NotReady {
            name: self.name().to_owned(),
            addr,
            waited,
            exited,
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The lowest port [`free_port`] hands out: above the well-known and most registered services.
const LOWEST_FREE_PORT: u16 = 10_000;

/// The kernel's ephemeral port range, `(first, last)` inclusive: where it picks the local port of
/// every outgoing connection and of `bind(0)`. Read from Linux's
/// `/proc/sys/net/ipv4/ip_local_port_range`; elsewhere the IANA dynamic range, 49152–65535 (RFC 6335).
fn ephemeral_ports() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| {
            let mut bounds = range.split_whitespace().map(str::parse::<u16>);
            Some((bounds.next()?.ok()?, bounds.next()?.ok()?))
        })
        .unwrap_or((49152, u16::MAX))
}

/// The ports [`free_port`] draws from, given the ephemeral range: those below it (from
/// [`LOWEST_FREE_PORT`]), else those above it; `None` when neither leaves 1000 ports.
fn port_pool((first, last): (u16, u16)) -> Option<std::ops::Range<u16>> {
    if first >= LOWEST_FREE_PORT + 1000 {
        Some(LOWEST_FREE_PORT..first)
    } else if last <= u16::MAX - 1000 {
        Some(last + 1..u16::MAX)
    } else {
        None
    }
}

/// A free port on 127.0.0.1, for a child to bind: free when asked, and taken from outside the
/// kernel's ephemeral range ([`port_pool`]), so no outgoing connection of this machine (a client's
/// local port) nor any `bind(0)` can take it before the child binds it. The pool is walked from a
/// random start, so parallel test processes rarely try the same port, and each port is handed out
/// once per process. Another process may still bind the port first; callers that care start again
/// on a fresh port.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    use std::hash::BuildHasher;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};

    static START: OnceLock<u32> = OnceLock::new();
    static HANDED_OUT: AtomicU32 = AtomicU32::new(0);
    if let Some(pool) = port_pool(ephemeral_ports()) {
        let size = u32::from(pool.end - pool.start);
        // `RandomState` is seeded randomly per process: a random start without a random crate.
        let start = *START.get_or_init(|| {
            let seed = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
            (seed % u64::from(size)) as u32
        });
        for _ in 0..size {
            let offset = (start + HANDED_OUT.fetch_add(1, Ordering::Relaxed)) % size;
            let port = pool.start + offset as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A disposable local `redis-server` on `port`: loopback only, no persistence, warnings only in its
/// log, output discarded (what `stack`, the tests and the load tests start).
pub fn redis_server(port: u16) -> Launch {
    Launch::new("redis", "redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ])
        .output(Output::Null)
}

/// Starts a disposable local `redis-server` ([`redis_server`]) on a free port and waits up to 10 s
/// until it accepts. Returns it and its URL, `redis://127.0.0.1:PORT`.
///
/// # Errors
/// [`LaunchError`] when `redis-server` is missing, exits, or does not accept in time.
pub async fn start_local_redis() -> Result<(Child, String), LaunchError> {
    let port = free_port().map_err(|source| LaunchError::Spawn {
        name: "redis".into(),
        program: "redis-server".into(),
        source,
    })?;
    let mut child = redis_server(port).spawn()?;
    child
        .ready(([127, 0, 0, 1], port).into(), Duration::from_secs(10))
        .await?;
    Ok((child, format!("redis://127.0.0.1:{port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_outside_the_ephemeral_range_and_not_handed_out_twice() {
        let (first, last) = ephemeral_ports();
        let ports: Vec<u16> = (0..20).map(|_| free_port().unwrap()).collect();
        if port_pool((first, last)).is_some() {
            for port in &ports {
                assert!(!(first..=last).contains(port), "{port} in {first}-{last}");
            }
        }
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }

    #[test]
    fn the_pool_lies_below_the_ephemeral_range_else_above_it() {
        assert_eq!(port_pool((32768, 60999)), Some(10_000..32768));
        assert_eq!(port_pool((1024, 49151)), Some(49152..u16::MAX));
        assert_eq!(port_pool((1024, 65535)), None);
        assert_eq!(port_pool((10_500, 65000)), None);
    }

    #[tokio::test]
    async fn starts_signals_stops_and_restarts_a_child() {
        let mut child = Launch::new("sleeper", "sleep")
            .args(["30"])
            .output(Output::Null)
            .spawn()
            .unwrap();
        let first = child.pid();
        child.signal(Signal::STOP).unwrap();
        child.signal(Signal::CONT).unwrap();
        assert!(child.try_wait().is_none());
        child.restart().unwrap();
        assert_ne!(child.pid(), first, "a new process");
        child.stop(Duration::from_secs(5)).await;
        let status = child.try_wait().expect("stopped");
        assert!(!status.success(), "ended by SIGTERM: {status}");
    }

    #[tokio::test]
    async fn a_child_that_exits_is_not_ready_and_a_missing_program_is_an_error() {
        let mut child = Launch::new("quitter", "true").spawn().unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], free_port().unwrap()).into();
        let err = child
            .ready(addr, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(
            matches!(err, LaunchError::NotReady { exited: true, .. }),
            "{err}"
        );
        let err = Launch::new("nothing", "/nonexistent/program")
            .spawn()
            .unwrap_err();
        assert!(matches!(err, LaunchError::Spawn { .. }), "{err}");
    }
}
