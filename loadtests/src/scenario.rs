//! The scenarios, against a gateway at a loopback address. Each is bounded by its counts and by a
//! deadline, shows a progress line, and returns an [`Outcome`]:
//!
//! * [`closed_loop`] (the counter and big-state scenarios): C clients, each with its own token,
//!   send E events one after the other, each as soon as the previous one's delta arrived;
//! * [`IdleSet`] (the idle scenario): N connections that sent `hello` and then stay idle;
//! * [`ReconnectSet`] (the reconnect scenario): N clients that, when the gateway goes away,
//!   reconnect with the browser runtime's backoff and resync with their token.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::client::{Answer, Client, ClientError};
use crate::progress::{Counters, Progress};
use crate::report::{histogram, record};

/// How many failure messages an outcome keeps.
const KEPT_FAILURES: usize = 10;

/// What a scenario measured.
#[derive(Debug)]
pub struct Outcome {
    /// Clients (connections) that took part.
    pub clients: u64,
    /// Events completed (connections opened for idle, clients resynced for reconnect).
    pub events: u64,
    /// Events, connections or resyncs that failed.
    pub errors: u64,
    /// Wall time of the measured phase.
    pub duration: Duration,
    /// Latencies in microseconds (see [`crate::report::histogram`]).
    pub histogram: Histogram<u64>,
    /// Scenario-specific numbers.
    pub extra: Map<String, Value>,
    /// The first few failure messages.
    pub failures: Vec<String>,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            clients: 0,
            events: 0,
            errors: 0,
            duration: Duration::ZERO,
            histogram: histogram(),
            extra: Map::new(),
            failures: Vec::new(),
        }
    }

    fn fail(&mut self, message: impl Into<String>) {
        self.errors += 1;
        if self.failures.len() < KEPT_FAILURES {
            self.failures.push(message.into());
        }
    }
}

/// Where clients connect from, and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// The gateway.
    pub addr: SocketAddr,
    /// Source addresses to spread connections over (round robin); empty: the kernel's choice.
    pub sources: Vec<IpAddr>,
    /// Connections being opened at once.
    pub connect_concurrency: usize,
    /// How long one answer may take.
    pub timeout: Duration,
}

impl Target {
    /// Connects from the kernel's choice of source, 64 at a time, with the client's default
    /// timeout.
    pub fn new(addr: SocketAddr) -> Target {
        Target {
            addr,
            sources: Vec::new(),
            connect_concurrency: 64,
            timeout: crate::client::DEFAULT_TIMEOUT,
        }
    }

    fn source(&self, i: u64) -> Option<IpAddr> {
        if self.sources.is_empty() {
            None
        } else {
            Some(self.sources[(i % self.sources.len() as u64) as usize])
        }
    }
}

/// Sends `handler` with `args` until it is applied, retrying while the server is not ready yet
/// (workers still joining), at most `limit`: a check that the deployment serves events.
///
/// # Errors
/// The last error when it never succeeded.
pub async fn warm_up(addr: SocketAddr, limit: Duration) -> Result<(), ClientError> {
    let deadline = Instant::now() + limit;
    loop {
        let attempt = async {
            let mut c = Client::connect(addr, None, None, Duration::from_secs(5)).await?;
            match c.event("probe_state.add", r#"{"n":1}"#).await? {
                Answer::Delta { .. } => {
                    c.close().await;
                    Ok(())
                }
                other => Err(ClientError::Protocol(format!("warm-up event: {other:?}"))),
            }
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The closed-loop scenarios: what each client sends.
#[derive(Debug, Clone)]
pub struct ClosedLoop {
    /// Clients, each with its own token.
    pub clients: u64,
    /// Events each client sends.
    pub events: u64,
    /// The handler of the measured events (`probe_state.add`).
    pub handler: String,
    /// Its arguments, a JSON object as text.
    pub args: String,
    /// An event each client sends once before the measured phase (e.g. `big_state.init`), with
    /// its arguments.
    pub setup: Option<(String, String)>,
    /// When to stop sending, counted from the start of the measured phase.
    pub max_time: Duration,
}

impl ClosedLoop {
    /// The counter scenario: `clients` clients sending `events` events `probe_state.add {n: 1}`.
    pub fn counter(clients: u64, events: u64, max_time: Duration) -> ClosedLoop {
        ClosedLoop {
            clients,
            events,
            handler: "probe_state.add".into(),
            args: r#"{"n":1}"#.into(),
            setup: None,
            max_time,
        }
    }

    /// The big-state scenario: like the counter, but each token first fills its `big_state` with
    /// `rows` rows of 64 characters (16,384 ≈ 1 MB); with `hit_big`, the measured events are
    /// `big_state.tick` (one small field of the big state) instead of `probe_state.add`.
    pub fn big_state(
        clients: u64,
        events: u64,
        rows: u64,
        hit_big: bool,
        max_time: Duration,
    ) -> ClosedLoop {
        let mut s = ClosedLoop::counter(clients, events, max_time);
        s.setup = Some(("big_state.init".into(), format!(r#"{{"rows":{rows}}}"#)));
        if hit_big {
            s.handler = "big_state.tick".into();
            s.args = "{}".into();
        }
        s
    }
}

/// What one closed-loop client did.
struct ClientRun {
    histogram: Histogram<u64>,
    deltas: u64,
    acks: u64,
    resyncs: u64,
    errors: Vec<String>,
    count_ok: Option<bool>,
    setup: Option<Duration>,
    hydrate_bytes: usize,
}

/// Connects `n` clients, at most `target.connect_concurrency` at a time; each is passed to `then`
/// (on its own task) once hydrated. Returns the join set of those tasks.
fn spawn_clients<T, F, Fut>(
    target: &Target,
    n: u64,
    counters: &Arc<Counters>,
    then: F,
) -> JoinSet<Result<T, String>>
where
    T: Send + 'static,
    F: Fn(u64, Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let then = Arc::new(then);
    let mut set = JoinSet::new();
    for i in 0..n {
        let (permits, then, counters) = (permits.clone(), then.clone(), counters.clone());
        let (addr, source, timeout) = (target.addr, target.source(i), target.timeout);
        set.spawn(async move {
            let permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            let client = Client::connect(addr, source, None, timeout)
                .await
                .map_err(|e| format!("client {i}: connect: {e}"))?;
            drop(permit);
            Counters::bump(&counters.connected);
            then(i, client).await
        });
    }
    set
}

/// Runs a closed-loop scenario: connects every client, lets each send its setup event, then
/// starts them together; each sends its events one after the other, recording each round trip.
/// The measured phase ends when the last client is done (or the deadline passed).
pub async fn closed_loop(target: &Target, s: &ClosedLoop, label: &str) -> Outcome {
    let counters = Arc::new(Counters::default());
    let total = s.clients * s.events;
    let _progress = Progress::start(label.to_owned(), counters.clone(), total);
    let (go_tx, go_rx) = watch::channel::<Option<Instant>>(None);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
    let spec = Arc::new(s.clone());
    let c2 = counters.clone();
    let mut set = spawn_clients(target, s.clients, &counters, move |_, client| {
        let (spec, counters, go, ready) =
            (spec.clone(), c2.clone(), go_rx.clone(), ready_tx.clone());
        client_loop(client, spec, counters, go, ready)
    });
    // Start when every client is ready (or failed before).
    let mut ready = 0;
    let mut out = Outcome::new();
    out.clients = s.clients;
    while ready < s.clients {
        tokio::select! {
            r = ready_rx.recv() => match r {
                Some(()) => ready += 1,
                None => break,
            },
            Some(joined) = set.join_next() => {
                ready += 1;
                match joined {
                    Ok(Ok(run)) => merge(&mut out, run),
                    Ok(Err(e)) => out.fail(e),
                    Err(e) => out.fail(e.to_string()),
                }
            }
        }
    }
    let start = Instant::now();
    let _ = go_tx.send(Some(start + s.max_time));
    let mut setups = histogram();
    let mut hydrate_bytes = 0;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(run)) => {
                if let Some(d) = run.setup {
                    record(&mut setups, d);
                }
                hydrate_bytes = hydrate_bytes.max(run.hydrate_bytes);
                merge(&mut out, run);
            }
            Ok(Err(e)) => out.fail(e),
            Err(e) => out.fail(e.to_string()),
        }
    }
    out.duration = start.elapsed();
    if !setups.is_empty() {
        out.extra.insert(
            "setup_p50_ms".into(),
            json!(setups.value_at_quantile(0.5) as f64 / 1000.0),
        );
        out.extra
            .insert("hydrate_bytes_max".into(), json!(hydrate_bytes));
    }
    out
}

fn merge(out: &mut Outcome, run: ClientRun) {
    let _ = out.histogram.add(&run.histogram);
    out.events += run.histogram.len();
    for (key, n) in [
        ("deltas", run.deltas),
        ("acks", run.acks),
        ("resyncs", run.resyncs),
    ] {
        let v = out.extra.get(key).and_then(Value::as_u64).unwrap_or(0) + n;
        out.extra.insert(key.into(), json!(v));
    }
    if run.count_ok == Some(false) {
        let v = out
            .extra
            .get("count_mismatches")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        out.extra.insert("count_mismatches".into(), json!(v + 1));
    }
    for e in run.errors {
        out.fail(e);
    }
}

async fn client_loop(
    mut client: Client,
    spec: Arc<ClosedLoop>,
    counters: Arc<Counters>,
    mut go: watch::Receiver<Option<Instant>>,
    ready: mpsc::UnboundedSender<()>,
) -> Result<ClientRun, String> {
    let mut run = ClientRun {
        histogram: histogram(),
        deltas: 0,
        acks: 0,
        resyncs: 0,
        errors: Vec::new(),
        count_ok: None,
        setup: None,
        hydrate_bytes: 0,
    };
    if let Some((handler, args)) = &spec.setup {
        let t = Instant::now();
        match client.event(handler, args).await {
            Ok(Answer::Delta { .. }) => run.setup = Some(t.elapsed()),
            // The join of this task counts it as ready (and failed).
            other => return Err(format!("setup event {handler}: {other:?}")),
        }
    }
    let _ = ready.send(());
    let deadline = loop {
        if let Some(d) = *go.borrow_and_update() {
            break d;
        }
        if go.changed().await.is_err() {
            return Err("scenario ended before the start".into());
        }
    };
    let start_count = client.count;
    let mut applied = 0i64;
    for _ in 0..spec.events {
        if Instant::now() >= deadline {
            break;
        }
        let t = Instant::now();
        match client.event(&spec.handler, &spec.args).await {
            Ok(Answer::Error { code, message }) => {
                // An error completes the event, but it is not a success: not in the histogram.
                Counters::bump(&counters.errors);
                run.errors.push(format!("{code}: {message}"));
            }
            Ok(answer) => {
                record(&mut run.histogram, t.elapsed());
                Counters::bump(&counters.done);
                match answer {
                    Answer::Delta { .. } => {
                        run.deltas += 1;
                        applied += 1;
                    }
                    Answer::Resynced { .. } => {
                        run.resyncs += 1;
                        applied += 1;
                    }
                    Answer::Ack | Answer::Error { .. } => run.acks += 1,
                }
            }
            Err(e) => {
                Counters::bump(&counters.errors);
                run.errors.push(e.to_string());
                break;
            }
        }
    }
    if spec.handler == "probe_state.add" {
        run.count_ok = Some(client.count == Some(start_count.unwrap_or(0) + applied));
    }
    run.hydrate_bytes = client.hydrate_bytes;
    Counters::drop_one(&counters.connected);
    client.close().await;
    Ok(run)
}

/// What the clients of an [`IdleSet`] are asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Hold,
    /// Every `every`-th client sends one event.
    Check {
        every: u64,
    },
    Close,
}

/// N idle connections (idle scenario): each connected, said `hello`, got its `hydrate`, and waits.
pub struct IdleSet {
    phase: watch::Sender<Phase>,
    results: mpsc::UnboundedReceiver<Result<Duration, String>>,
    tasks: JoinSet<Result<(), String>>,
    counters: Arc<Counters>,
    /// Connections opened.
    pub opened: u64,
    /// Connect-to-hydrate times, in microseconds.
    pub histogram: Histogram<u64>,
    /// Time to open them all.
    pub ramp: Duration,
    /// Connections that could not be opened, with the first few reasons.
    pub failed: Vec<String>,
    /// How many connections failed.
    pub failed_count: u64,
    _progress: Progress,
}

impl IdleSet {
    /// Opens `n` connections, `target.connect_concurrency` at a time, spread over
    /// `target.sources`, stopping early at `deadline`.
    pub async fn open(target: &Target, n: u64, max_time: Duration) -> IdleSet {
        let counters = Arc::new(Counters::default());
        let progress = Progress::start("idle".into(), counters.clone(), 0);
        let (phase_tx, phase_rx) = watch::channel(Phase::Hold);
        let (opened_tx, mut opened_rx) = mpsc::unbounded_channel::<Result<Duration, String>>();
        let (results_tx, results) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
        let start = Instant::now();
        let deadline = start + max_time;
        let mut tasks = JoinSet::new();
        for i in 0..n {
            let (permits, counters) = (permits.clone(), counters.clone());
            let (opened, results, mut phase) =
                (opened_tx.clone(), results_tx.clone(), phase_rx.clone());
            let (addr, source, timeout) = (target.addr, target.source(i), target.timeout);
            tasks.spawn(async move {
                let permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
                if Instant::now() > deadline {
                    let _ = opened.send(Err("deadline passed".into()));
                    return Ok(());
                }
                let t = Instant::now();
                let mut client = match Client::connect(addr, source, None, timeout).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = opened.send(Err(format!("connection {i}: {e}")));
                        return Ok(());
                    }
                };
                let took = t.elapsed();
                drop(permit);
                Counters::bump(&counters.connected);
                Counters::bump(&counters.done);
                let _ = opened.send(Ok(took));
                idle_client(i, &mut client, &mut phase, &results).await;
                Counters::drop_one(&counters.connected);
                client.close().await;
                Ok(())
            });
        }
        drop(opened_tx);
        let mut set = IdleSet {
            phase: phase_tx,
            results,
            tasks,
            counters,
            opened: 0,
            histogram: histogram(),
            ramp: Duration::ZERO,
            failed: Vec::new(),
            failed_count: 0,
            _progress: progress,
        };
        // Every task reports once (its sender lives on while the connection idles).
        while set.opened + set.failed_count < n {
            let Some(r) = opened_rx.recv().await else {
                break;
            };
            match r {
                Ok(d) => {
                    set.opened += 1;
                    record(&mut set.histogram, d);
                }
                Err(e) => {
                    set.failed_count += 1;
                    Counters::bump(&set.counters.errors);
                    if set.failed.len() < KEPT_FAILURES {
                        set.failed.push(e);
                    }
                }
            }
        }
        set.ramp = start.elapsed();
        set
    }

    /// How many of the connections are still open.
    pub fn still_open(&self) -> u64 {
        self.counters
            .connected
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Asks every `every`-th connection to send one event; returns how many got their delta, how
    /// many failed, and the round trips.
    pub async fn check(&mut self, every: u64, limit: Duration) -> (u64, u64, Histogram<u64>) {
        let every = every.max(1);
        let expected = self.still_open().div_ceil(every);
        let _ = self.phase.send(Phase::Check { every });
        let (mut ok, mut failed, mut h) = (0, 0, histogram());
        let deadline = tokio::time::Instant::now() + limit;
        while ok + failed < expected {
            match tokio::time::timeout_at(deadline, self.results.recv()).await {
                Ok(Some(Ok(d))) => {
                    ok += 1;
                    record(&mut h, d);
                }
                Ok(Some(Err(_))) => failed += 1,
                Ok(None) | Err(_) => break,
            }
        }
        (ok, failed, h)
    }

    /// Closes every connection and waits (at most `limit`) for their tasks.
    pub async fn close(mut self, limit: Duration) {
        let _ = self.phase.send(Phase::Close);
        let _ = tokio::time::timeout(limit, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

async fn idle_client(
    i: u64,
    client: &mut Client,
    phase: &mut watch::Receiver<Phase>,
    results: &mpsc::UnboundedSender<Result<Duration, String>>,
) {
    let mut checked = false;
    loop {
        let current = *phase.borrow_and_update();
        match current {
            Phase::Close => return,
            Phase::Check { every } if !checked && i.is_multiple_of(every) => {
                checked = true;
                let t = Instant::now();
                let r = match client.event("probe_state.add", r#"{"n":1}"#).await {
                    Ok(Answer::Delta { .. }) => Ok(t.elapsed()),
                    Ok(other) => Err(format!("{other:?}")),
                    Err(e) => Err(e.to_string()),
                };
                let _ = results.send(r);
                continue;
            }
            Phase::Hold | Phase::Check { .. } => {}
        }
        tokio::select! {
            changed = phase.changed() => if changed.is_err() { return },
            // The server closing the socket ends the connection.
            _ = client.wait_closed(Duration::from_secs(24 * 3600)) => return,
        }
    }
}

/// N connected clients for the reconnect scenario: each sent a few events, then waits for its
/// socket to close; it then reconnects with the browser runtime's backoff (250 ms, doubling to
/// 5 s, less up to 20% jitter), sends `hello` with its token, and, once hydrated, sends one more
/// event to check that it goes on where it stopped.
pub struct ReconnectSet {
    go: watch::Sender<Option<Instant>>,
    tasks: JoinSet<Result<Resync, String>>,
    counters: Arc<Counters>,
    _progress: Progress,
    /// Clients connected and ready.
    pub ready: u64,
    /// Clients that failed before the restart.
    pub failed: Vec<String>,
}

/// One client's resync.
#[derive(Debug)]
struct Resync {
    at: Instant,
    attempts: u64,
    state_kept: bool,
    next_event_ok: bool,
}

impl ReconnectSet {
    /// Connects `n` clients; each sends `events` events `probe_state.add {n: 1}` and waits.
    /// Reconnections give up at `deadline`.
    pub async fn prepare(target: &Target, n: u64, events: u64, max_time: Duration) -> ReconnectSet {
        let counters = Arc::new(Counters::default());
        let progress = Progress::start("reconnect".into(), counters.clone(), 0);
        let (go, go_rx) = watch::channel::<Option<Instant>>(None);
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
        let c2 = counters.clone();
        let (addr, timeout) = (target.addr, target.timeout);
        let sources = target.clone();
        let mut tasks = spawn_clients(target, n, &counters, move |i, client| {
            let (counters, ready, go) = (c2.clone(), ready_tx.clone(), go_rx.clone());
            let source = sources.source(i);
            async move {
                resync_client(
                    i, client, addr, source, timeout, events, max_time, counters, ready, go,
                )
                .await
            }
        });
        let mut set_failed = Vec::new();
        let mut ready = 0;
        while ready + (set_failed.len() as u64) < n {
            tokio::select! {
                r = ready_rx.recv() => match r {
                    Some(()) => ready += 1,
                    None => break,
                },
                Some(joined) = tasks.join_next() => {
                    let e = match joined {
                        Ok(Ok(_)) => "finished before the restart".to_owned(),
                        Ok(Err(e)) => e,
                        Err(e) => e.to_string(),
                    };
                    set_failed.push(e);
                }
            }
        }
        ReconnectSet {
            go,
            tasks,
            counters,
            _progress: progress,
            ready,
            failed: set_failed,
        }
    }

    /// Marks `t0` (just before the restart) as the start; call, restart the gateway, then
    /// [`ReconnectSet::finish`].
    pub fn arm(&self, t0: Instant) {
        let _ = self.go.send(Some(t0));
    }

    /// Waits for every client to resync (or give up); returns the outcome with the resync times
    /// counted from `t0`.
    pub async fn finish(mut self, t0: Instant) -> Outcome {
        let mut out = Outcome::new();
        out.clients = self.ready + self.failed.len() as u64;
        for e in std::mem::take(&mut self.failed) {
            out.fail(e);
        }
        let (mut attempts, mut kept, mut next_ok, mut last) = (0, 0, 0, t0);
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(Ok(r)) => {
                    out.events += 1;
                    record(&mut out.histogram, r.at.saturating_duration_since(t0));
                    last = last.max(r.at);
                    attempts += r.attempts;
                    kept += u64::from(r.state_kept);
                    next_ok += u64::from(r.next_event_ok);
                }
                Ok(Err(e)) => out.fail(e),
                Err(e) => out.fail(e.to_string()),
            }
        }
        out.duration = last.saturating_duration_since(t0);
        out.extra.insert("resynced".into(), json!(out.events));
        out.extra
            .insert("all_resynced_s".into(), json!(out.duration.as_secs_f64()));
        out.extra
            .insert("reconnect_attempts".into(), json!(attempts));
        out.extra.insert("state_kept".into(), json!(kept));
        out.extra.insert("next_event_ok".into(), json!(next_ok));
        let _ = &self.counters;
        out
    }
}

/// A small xorshift generator for backoff jitter.
fn jitter(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % 1000) as f64 / 1000.0
}

#[allow(clippy::too_many_arguments)]
async fn resync_client(
    i: u64,
    mut client: Client,
    addr: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
    events: u64,
    max_time: Duration,
    counters: Arc<Counters>,
    ready: mpsc::UnboundedSender<()>,
    mut go: watch::Receiver<Option<Instant>>,
) -> Result<Resync, String> {
    for _ in 0..events {
        match client.event("probe_state.add", r#"{"n":1}"#).await {
            Ok(Answer::Delta { .. }) => Counters::bump(&counters.done),
            other => return Err(format!("client {i} before the restart: {other:?}")),
        }
    }
    let (token, version, last_seq) = (client.token.clone(), client.version, client.last_seq);
    let _ = ready.send(());
    // Wait for the restart to be armed, then for the socket to close.
    let t0 = loop {
        if let Some(t) = *go.borrow_and_update() {
            break t;
        }
        go.changed()
            .await
            .map_err(|_| format!("client {i}: scenario ended before the restart"))?;
    };
    let deadline = t0 + max_time;
    let left = deadline.saturating_duration_since(Instant::now());
    client
        .wait_closed(left)
        .await
        .map_err(|e| format!("client {i}: socket not closed by the restart: {e}"))?;
    Counters::drop_one(&counters.connected);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (i + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut delay = Duration::from_millis(250);
    let mut attempts = 0;
    loop {
        let wait = delay.mul_f64(1.0 - jitter(&mut seed) * 0.2);
        tokio::time::sleep(wait).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        if Instant::now() > deadline {
            return Err(format!("client {i}: not resynced within {max_time:?}"));
        }
        attempts += 1;
        match Client::connect(addr, source, Some(&token), timeout).await {
            Ok(mut c) => {
                let at = Instant::now();
                Counters::bump(&counters.connected);
                Counters::bump(&counters.done);
                let state_kept = c.version >= version && c.last_seq >= last_seq;
                let next_event_ok = matches!(
                    c.event("probe_state.add", r#"{"n":1}"#).await,
                    Ok(Answer::Delta { .. })
                );
                c.close().await;
                return Ok(Resync {
                    at,
                    attempts,
                    state_kept,
                    next_event_ok,
                });
            }
            Err(_) => continue,
        }
    }
}
