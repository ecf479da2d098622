//! The scenarios, against a gateway at a loopback address. Each is bounded by its counts and by a
//! time limit, shows a progress line, and returns an [`Outcome`]:
//!
//! * [`closed_loop`] (the counter, big-state and stream scenarios, in two steps:
//!   [`ClosedLoop::prepare`] and [`PreparedLoop::run`]): C clients, each with its own token, send
//!   E events one after the other, each as soon as the previous one's delta arrived; in the stream
//!   scenario each event's handler flushes K intermediate deltas before its answer, each of them
//!   checked and timed;
//! * [`IdleSet`] (the idle scenario): N connections that sent `hello` and then stay idle;
//! * [`ReconnectSet`] (the reconnect scenario): N clients that, when the gateway goes away,
//!   reconnect with the browser runtime's backoff and resync with their token.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::progress::{Counters, Progress};
use crate::report::{Latency, histogram, record};
use refract_proto::{ClientFrame, Failure, ServerFrame};
use refract_test_support::{Answer, Client, ClientError, ClientOptions};

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

/// How long a client waits for one answer before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The probe's `probe_state.count` as a client last saw it, if the app has it.
fn count(client: &Client) -> Option<i64> {
    client.var("probe_state", "count").as_i64()
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
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How client `i` connects: from the next source address, with the target's timeout.
    fn options(&self, i: u64) -> ClientOptions {
        ClientOptions {
            source: self.source(i),
            timeout: self.timeout,
            ..ClientOptions::default()
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
    let deadline = crate::deadline(Instant::now(), limit);
    loop {
        let attempt = async {
            let options = ClientOptions {
                timeout: Duration::from_secs(5),
                ..ClientOptions::default()
            };
            let mut c = Client::connect_with(addr, None, &options).await?;
            match c.call("probe_state.add", json!({"n": 1})).await? {
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
    /// Its arguments, a JSON object.
    pub args: Value,
    /// An event each client sends once before the measured phase (e.g. `big_state.init`), with
    /// its arguments.
    pub setup: Option<(String, Value)>,
    /// How long connecting and setting up the clients may take, and, counted afresh from the start
    /// of the measured phase, when to stop sending.
    pub max_time: Duration,
    /// For a streaming handler (the stream scenario): the intermediate deltas (flushes) each
    /// measured event must send before its answer. The handler must set `progress_state.step` to
    /// 1, 2, … at its flushes and `progress_state.done` at its answer, as the probe's
    /// `progress_state.run` does; a missing, extra or out-of-order step fails the event. `None`:
    /// the answer is all an event sends.
    pub steps: Option<u32>,
}

impl ClosedLoop {
    /// The counter scenario: `clients` clients sending `events` events `probe_state.add {n: 1}`.
    pub fn counter(clients: u64, events: u64, max_time: Duration) -> ClosedLoop {
        ClosedLoop {
            clients,
            events,
            handler: "probe_state.add".into(),
            args: json!({"n": 1}),
            setup: None,
            max_time,
            steps: None,
        }
    }

    /// The stream scenario: `clients` clients sending `events` events
    /// `progress_state.run {steps, ms: step_ms}` each: the handler sleeps `step_ms` milliseconds
    /// and flushes a delta, `steps` times, then answers.
    pub fn stream(
        clients: u64,
        events: u64,
        steps: u32,
        step_ms: u64,
        max_time: Duration,
    ) -> ClosedLoop {
        ClosedLoop {
            clients,
            events,
            handler: "progress_state.run".into(),
            args: json!({"steps": steps, "ms": step_ms}),
            setup: None,
            max_time,
            steps: Some(steps),
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
        s.setup = Some(("big_state.init".into(), json!({ "rows": rows })));
        if hit_big {
            s.handler = "big_state.tick".into();
            s.args = json!({});
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
    /// The setup event's round trip, and the size of the hydrate after it.
    setup: Option<(Duration, usize)>,
    /// What the client saw of its events' flushes (the stream scenario).
    stream: Option<StreamRun>,
}

/// The intermediate deltas (flushes) of streamed events, of one client or of all.
struct StreamRun {
    /// Flushes received.
    flushes: u64,
    /// Delta latency, in microseconds: for each flush, the time from the previous frame of its
    /// event (or from sending the event, for its first) to the flush's arrival.
    gaps: Histogram<u64>,
    /// Flushes not received as deltas because a resync's `hydrate` covered them (see
    /// [`stream_event`]).
    covered: u64,
    /// Events whose flushes were missing, extra or out of order.
    step_errors: u64,
}

impl StreamRun {
    fn new() -> StreamRun {
        StreamRun {
            flushes: 0,
            gaps: histogram(),
            covered: 0,
            step_errors: 0,
        }
    }

    fn add(&mut self, other: &StreamRun) {
        self.flushes += other.flushes;
        let _ = self.gaps.add(&other.gaps);
        self.covered += other.covered;
        self.step_errors += other.step_errors;
    }

    /// Its numbers for [`Outcome::extra`]: `flushes`, `flushes_per_s` and `all_deltas_per_s`
    /// (flushes and the `answers` by delta, over `duration`), `flushes_covered` (by a resync),
    /// `step_errors`, and the delta latency
    /// in milliseconds (`delta_p50_ms`, `delta_p90_ms`, `delta_p99_ms`, `delta_p999_ms`,
    /// `delta_max_ms`).
    fn report(&self, answers: u64, duration: Duration, extra: &mut Map<String, Value>) {
        let secs = duration.as_secs_f64();
        let per_s = |n: u64| {
            if secs > 0.0 {
                (n as f64 / secs).round()
            } else {
                0.0
            }
        };
        let gap = Latency::of(&self.gaps);
        for (key, value) in [
            ("flushes", json!(self.flushes)),
            ("flushes_per_s", json!(per_s(self.flushes))),
            ("all_deltas_per_s", json!(per_s(self.flushes + answers))),
            ("flushes_covered", json!(self.covered)),
            ("step_errors", json!(self.step_errors)),
            ("delta_p50_ms", json!(gap.p50)),
            ("delta_p90_ms", json!(gap.p90)),
            ("delta_p99_ms", json!(gap.p99)),
            ("delta_p999_ms", json!(gap.p999)),
            ("delta_max_ms", json!(gap.max)),
        ] {
            extra.insert(key.into(), value);
        }
    }
}

/// Connects `n` clients, at most `target.connect_concurrency` at a time; each is passed to `then`
/// (on its own task) once hydrated, with the time its connect-to-hydrate took. A client not
/// hydrated by `deadline` ends its task with an error. Returns the join set of those tasks.
fn spawn_clients<T, F, Fut>(
    target: &Target,
    n: u64,
    counters: &Arc<Counters>,
    deadline: Instant,
    then: F,
) -> JoinSet<Result<T, String>>
where
    T: Send + 'static,
    F: Fn(u64, Client, Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(target.connect_concurrency.max(1)));
    let then = Arc::new(then);
    let mut set = JoinSet::new();
    for i in 0..n {
        let (permits, then, counters) = (permits.clone(), then.clone(), counters.clone());
        let (addr, options) = (target.addr, target.options(i));
        set.spawn(async move {
            let connect = async {
                let permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
                let t = Instant::now();
                let client = Client::connect_with(addr, None, &options)
                    .await
                    .map_err(|e| format!("client {i}: connect: {e}"))?;
                drop(permit);
                Ok::<_, String>((client, t.elapsed()))
            };
            let (client, took) = tokio::time::timeout_at(deadline.into(), connect)
                .await
                .map_err(|_| format!("client {i}: not connected within the time limit"))??;
            Counters::bump(&counters.connected);
            then(i, client, took).await
        });
    }
    set
}

/// Waits until each of `n` client tasks has either sent its readiness report on `ready` or
/// failed. Returns the reports and the failures.
///
/// A task reports before it can end well (an idle connection the server closed, say), so a task
/// that ended well is already counted by its report.
async fn wait_ready<R, T: 'static>(
    ready: &mut mpsc::UnboundedReceiver<R>,
    tasks: &mut JoinSet<Result<T, String>>,
    n: u64,
) -> (Vec<R>, Vec<String>) {
    let (mut reports, mut failures) = (Vec::new(), Vec::new());
    while ((reports.len() + failures.len()) as u64) < n {
        tokio::select! {
            r = ready.recv() => match r {
                Some(r) => reports.push(r),
                None => break,
            },
            Some(joined) = tasks.join_next() => match joined {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(e.to_string()),
            },
        }
    }
    (reports, failures)
}

/// A closed-loop scenario whose clients are connected, set up and waiting for
/// [`PreparedLoop::run`] to start them.
pub struct PreparedLoop {
    max_time: Duration,
    steps: Option<u32>,
    go: watch::Sender<Option<Instant>>,
    tasks: JoinSet<Result<ClientRun, String>>,
    out: Outcome,
    _progress: Progress,
}

impl ClosedLoop {
    /// Connects every client and lets each send its setup event and then reconnect with its
    /// token (so that the hydrate of the filled state is measured), all within `max_time`.
    /// Clients not ready by then count as failed.
    pub async fn prepare(&self, target: &Target, label: &str) -> PreparedLoop {
        let counters = Arc::new(Counters::default());
        let total = self.clients.saturating_mul(self.events);
        let progress = Progress::start(label.to_owned(), counters.clone(), total);
        let (go, go_rx) = watch::channel::<Option<Instant>>(None);
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
        let spec = Arc::new(self.clone());
        let shared = Arc::new(target.clone());
        let deadline = crate::deadline(Instant::now(), self.max_time);
        let c2 = counters.clone();
        let mut tasks = spawn_clients(target, self.clients, &counters, deadline, move |i, c, _| {
            let client = Prepared {
                i,
                spec: spec.clone(),
                target: shared.clone(),
                counters: c2.clone(),
                deadline,
            };
            client.run(c, go_rx.clone(), ready_tx.clone())
        });
        let mut out = Outcome::new();
        out.clients = self.clients;
        let (_, failures) = wait_ready(&mut ready_rx, &mut tasks, self.clients).await;
        for e in failures {
            out.fail(e);
        }
        PreparedLoop {
            max_time: self.max_time,
            steps: self.steps,
            go,
            tasks,
            out,
            _progress: progress,
        }
    }
}

impl PreparedLoop {
    /// Starts the clients together; each sends its events one after the other, recording each
    /// round trip (and, in the stream scenario, each flush's delta latency: see
    /// [`ClosedLoop::steps`]). The measured phase ends when the last client is done (or
    /// `max_time` passed).
    pub async fn run(mut self) -> Outcome {
        let start = Instant::now();
        let _ = self.go.send(Some(crate::deadline(start, self.max_time)));
        let mut out = self.out;
        let (mut setups, mut hydrate_bytes) = (histogram(), None);
        let mut stream = self.steps.map(|_| StreamRun::new());
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(Ok(run)) => {
                    if let Some((took, bytes)) = run.setup {
                        record(&mut setups, took);
                        hydrate_bytes = hydrate_bytes.max(Some(bytes));
                    }
                    if let (Some(all), Some(one)) = (&mut stream, &run.stream) {
                        all.add(one);
                    }
                    merge(&mut out, run);
                }
                Ok(Err(e)) => out.fail(e),
                Err(e) => out.fail(e.to_string()),
            }
        }
        out.duration = start.elapsed();
        if let Some(bytes) = hydrate_bytes {
            out.extra.insert(
                "setup_p50_ms".into(),
                json!(setups.value_at_quantile(0.5) as f64 / 1000.0),
            );
            out.extra.insert("hydrate_bytes_max".into(), json!(bytes));
        }
        if let Some(stream) = stream {
            let answers = out.extra.get("deltas").and_then(Value::as_u64).unwrap_or(0);
            stream.report(answers, out.duration, &mut out.extra);
        }
        out
    }
}

/// Runs a closed-loop scenario: [`ClosedLoop::prepare`], then [`PreparedLoop::run`].
pub async fn closed_loop(target: &Target, s: &ClosedLoop, label: &str) -> Outcome {
    s.prepare(target, label).await.run().await
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

/// What a closed-loop client needs besides its connection.
struct Prepared {
    i: u64,
    spec: Arc<ClosedLoop>,
    target: Arc<Target>,
    counters: Arc<Counters>,
    /// When the setup must be done.
    deadline: Instant,
}

impl Prepared {
    /// Sets the client up, reports it ready, waits for the start, and sends its events.
    async fn run(
        self,
        client: Client,
        mut go: watch::Receiver<Option<Instant>>,
        ready: mpsc::UnboundedSender<()>,
    ) -> Result<ClientRun, String> {
        let i = self.i;
        let mut run = ClientRun {
            histogram: histogram(),
            deltas: 0,
            acks: 0,
            resyncs: 0,
            errors: Vec::new(),
            count_ok: None,
            setup: None,
            stream: self.spec.steps.map(|_| StreamRun::new()),
        };
        let mut client = match &self.spec.setup {
            Some((handler, args)) => {
                let setup = self.set_up(client, handler, args);
                let (client, took) = tokio::time::timeout_at(self.deadline.into(), setup)
                    .await
                    .map_err(|_| format!("client {i}: not set up within the time limit"))??;
                run.setup = Some((took, client.hydrate_bytes));
                client
            }
            None => client,
        };
        // The join of this task counts it as ready (and failed) when it ended before.
        let _ = ready.send(());
        let deadline = loop {
            if let Some(d) = *go.borrow_and_update() {
                break d;
            }
            if go.changed().await.is_err() {
                return Err("scenario ended before the start".into());
            }
        };
        let counters = &self.counters;
        let start_count = count(&client);
        let mut applied = 0i64;
        // The stream scenario numbers its events itself (its answers do not go through `call`).
        let mut seq = client.next_seq();
        for _ in 0..self.spec.events {
            if Instant::now() >= deadline {
                break;
            }
            let t = Instant::now();
            let args = self.spec.args.clone();
            let (answer, steps_ok) = match (self.spec.steps, &mut run.stream) {
                (Some(steps), Some(stream)) => {
                    let handler = &self.spec.handler;
                    match stream_event(&mut client, &mut seq, handler, args, steps, stream).await {
                        Ok((answer, steps_ok)) => (Ok(answer), steps_ok),
                        Err(e) => (Err(e), Ok(())),
                    }
                }
                _ => (client.call(&self.spec.handler, args).await, Ok(())),
            };
            let (kind, applies) = match answer {
                Ok(Answer::Delta { .. }) => (&mut run.deltas, true),
                Ok(Answer::Resynced { .. }) => (&mut run.resyncs, true),
                Ok(Answer::Ack) => (&mut run.acks, false),
                Ok(Answer::Error(failure)) => {
                    // An error completes the event, but it is not a success: not in the histogram.
                    Counters::bump(&counters.errors);
                    run.errors.push(failure.to_string());
                    continue;
                }
                Err(e) => {
                    Counters::bump(&counters.errors);
                    run.errors.push(e.to_string());
                    break;
                }
            };
            *kind += 1;
            applied += i64::from(applies);
            if let Err(problem) = steps_ok {
                // Answered, but not with every step in order: a failed event, not in the histogram.
                Counters::bump(&counters.errors);
                run.errors.push(format!("client {i}: {problem}"));
                if let Some(stream) = &mut run.stream {
                    stream.step_errors += 1;
                }
                continue;
            }
            record(&mut run.histogram, t.elapsed());
            Counters::bump(&counters.done);
        }
        if self.spec.handler == "probe_state.add" {
            run.count_ok = Some(count(&client) == Some(start_count.unwrap_or(0) + applied));
        }
        Counters::drop_one(&counters.connected);
        client.close().await;
        Ok(run)
    }

    /// Sends the setup event, then reconnects with the client's token as a reloaded tab would, so
    /// that the new client's hydrate carries the filled state. Returns the new client and the
    /// setup event's round trip.
    async fn set_up(
        &self,
        mut client: Client,
        handler: &str,
        args: &Value,
    ) -> Result<(Client, Duration), String> {
        let i = self.i;
        let t = Instant::now();
        match client.call(handler, args.clone()).await {
            Ok(Answer::Delta { .. }) => {}
            other => return Err(format!("client {i}: setup event {handler}: {other:?}")),
        }
        let took = t.elapsed();
        let token = client.token.clone();
        client.close().await;
        let target = &self.target;
        let client = Client::connect_with(target.addr, Some(&token), &target.options(i))
            .await
            .map_err(|e| format!("client {i}: reconnect after setup: {e}"))?;
        Ok((client, took))
    }
}

/// The step `progress_state.step` the client shows.
fn step(client: &Client) -> u64 {
    client.var("progress_state", "step").as_u64().unwrap_or(0)
}

/// Whether the client shows `progress_state.done`.
fn done(client: &Client) -> bool {
    client.var("progress_state", "done").as_bool() == Some(true)
}

/// Sends event `*seq` calling the streaming `handler` with `args` and waits for its answer,
/// recording each intermediate delta (a flush: a delta with no seq) in `stream`: its count and its
/// delta latency, the time from the previous frame of the event (or from sending it, for the
/// first flush) to its arrival. `*seq` moves on when the event is answered (not after an error
/// answer: its number is free again, as with [`Client::call`]).
///
/// The gateway relays the flushes' published deltas and the event's answer on two paths; when
/// the answer overtakes the last flushes, it resyncs the socket with a `hydrate` that covers them
/// and answers the event (see `docs/protocol.md`). Such flushes are counted in
/// [`StreamRun::covered`], not as an error: the page ends at the right step.
///
/// Returns the answer, and whether the steps were right: each flush showed the step after the
/// one the client showed (`progress_state.step` 1, 2, …), a resync never went back, and the
/// answer showed step `steps` and `progress_state.done`; if not, why.
///
/// # Errors
/// A transport error, a timeout, or [`ClientError::Refused`] for an error frame about no event.
async fn stream_event(
    client: &mut Client,
    seq: &mut u64,
    handler: &str,
    args: Value,
    steps: u32,
    stream: &mut StreamRun,
) -> Result<(Answer, Result<(), String>), ClientError> {
    let s = *seq;
    let page = client.page.clone();
    let mut last = Instant::now();
    client
        .send(&ClientFrame::Event {
            seq: s,
            handler: handler.to_owned(),
            args,
            page,
            depth: 0,
        })
        .await?;
    // The event's step the client shows (0: none yet), and the first thing that went wrong.
    let (mut at, mut problem) = (0u64, None::<String>);
    let answer = loop {
        let frame = client.recv().await?;
        let arrived = Instant::now();
        match frame {
            ServerFrame::Delta { seq: None, .. } => {
                stream.flushes += 1;
                record(&mut stream.gaps, arrived.saturating_duration_since(last));
                last = arrived;
                let shown = step(client);
                if problem.is_none() && shown != at + 1 {
                    problem = Some(format!("event {s}: step {shown} after step {at}"));
                }
                at += 1;
            }
            ServerFrame::Delta {
                version,
                seq: Some(n),
                tab,
                delta,
                ..
            } if n == s && tab.as_deref() == Some(client.tab.as_str()) => {
                break Answer::Delta { version, delta };
            }
            ServerFrame::Ack { seq: n, .. } if n == s => break Answer::Ack,
            ServerFrame::Error {
                seq: Some(n),
                code,
                message,
                ..
            } if n == s => return Ok((Answer::Error(Failure::new(code, message)), Ok(()))),
            ServerFrame::Error {
                seq: None,
                code,
                message,
                ..
            } => return Err(ClientError::Refused(Failure::new(code, message))),
            ServerFrame::Hydrate { .. } => {
                last = arrived;
                let answered = client.last_seq >= s;
                // Before the event's first flush the client still shows the last event's end.
                let shown = if answered || !done(client) {
                    step(client)
                } else {
                    0
                };
                if shown < at {
                    problem.get_or_insert_with(|| {
                        format!("event {s}: a resync went back from step {at} to {shown}")
                    });
                }
                stream.covered += shown.saturating_sub(at);
                at = at.max(shown);
                if answered {
                    break Answer::Resynced {
                        version: client.version,
                    };
                }
            }
            other => {
                problem.get_or_insert_with(|| format!("event {s}: unexpected frame {other:?}"));
            }
        }
    };
    *seq = s + 1;
    client.last_seq = client.last_seq.max(s);
    let steps_ok = match problem {
        Some(problem) => Err(problem),
        None if at != u64::from(steps) || step(client) != at => Err(format!(
            "event {s}: answered at step {} after {at} steps of {steps}",
            step(client)
        )),
        None if !done(client) => Err(format!("event {s}: answered without done")),
        None => Ok(()),
    };
    Ok((answer, steps_ok))
}

/// One liveness check of an [`IdleSet`]: the clients that see it take a ticket each, and those
/// whose ticket is a multiple of `every` send one event.
#[derive(Debug)]
struct CheckRound {
    /// Which check this is, to tell its answers from late ones of an earlier check.
    id: u64,
    every: u64,
    tickets: AtomicU64,
}

/// What the clients of an [`IdleSet`] are asked to do.
#[derive(Debug, Clone)]
enum Phase {
    Hold,
    Check(Arc<CheckRound>),
    Close,
}

/// The answer of one checked client: the check's id, and the round trip or why it failed.
type CheckAnswer = (u64, Result<Duration, String>);

/// N idle connections (idle scenario): each connected, said `hello`, got its `hydrate`, and waits.
pub struct IdleSet {
    phase: watch::Sender<Phase>,
    results: mpsc::UnboundedReceiver<CheckAnswer>,
    tasks: JoinSet<Result<(), String>>,
    counters: Arc<Counters>,
    checks: u64,
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
    /// `target.sources`; those not open within `max_time` count as failed.
    pub async fn open(target: &Target, n: u64, max_time: Duration) -> IdleSet {
        let counters = Arc::new(Counters::default());
        let progress = Progress::start("idle".into(), counters.clone(), 0);
        let (phase_tx, phase_rx) = watch::channel(Phase::Hold);
        let (opened_tx, mut opened_rx) = mpsc::unbounded_channel::<Duration>();
        let (results_tx, results) = mpsc::unbounded_channel();
        let start = Instant::now();
        let c2 = counters.clone();
        let mut tasks = spawn_clients(
            target,
            n,
            &counters,
            crate::deadline(start, max_time),
            move |_, mut client, took| {
                let (counters, opened, results, mut phase) = (
                    c2.clone(),
                    opened_tx.clone(),
                    results_tx.clone(),
                    phase_rx.clone(),
                );
                async move {
                    Counters::bump(&counters.done);
                    let _ = opened.send(took);
                    idle_client(&mut client, &mut phase, &results).await;
                    Counters::drop_one(&counters.connected);
                    client.close().await;
                    Ok(())
                }
            },
        );
        let (opened, failures) = wait_ready(&mut opened_rx, &mut tasks, n).await;
        let mut set = IdleSet {
            phase: phase_tx,
            results,
            tasks,
            counters,
            checks: 0,
            opened: opened.len() as u64,
            histogram: histogram(),
            ramp: start.elapsed(),
            failed: Vec::new(),
            failed_count: 0,
            _progress: progress,
        };
        for d in opened {
            record(&mut set.histogram, d);
        }
        for e in failures {
            set.failed_count += 1;
            Counters::bump(&set.counters.errors);
            if set.failed.len() < KEPT_FAILURES {
                set.failed.push(e);
            }
        }
        set
    }

    /// How many of the connections are still open.
    pub fn still_open(&self) -> u64 {
        self.counters.connected.load(Ordering::Relaxed)
    }

    /// Asks one in `every` of the connections still open to send one event, and waits at most
    /// `limit` for their answers; returns how many got their delta, how many failed, and the
    /// round trips. It can be called again.
    pub async fn check(&mut self, every: u64, limit: Duration) -> (u64, u64, Histogram<u64>) {
        let every = every.max(1);
        self.checks += 1;
        let id = self.checks;
        // Every open connection takes a ticket; those with tickets 0, every, 2·every, … answer.
        let expected = self.still_open().div_ceil(every);
        let round = CheckRound {
            id,
            every,
            tickets: AtomicU64::new(0),
        };
        let _ = self.phase.send(Phase::Check(Arc::new(round)));
        let (mut ok, mut failed, mut h) = (0, 0, histogram());
        let deadline = tokio::time::Instant::from_std(crate::deadline(Instant::now(), limit));
        while ok + failed < expected {
            match tokio::time::timeout_at(deadline, self.results.recv()).await {
                Ok(Some((from, _))) if from != id => {}
                Ok(Some((_, Ok(d)))) => {
                    ok += 1;
                    record(&mut h, d);
                }
                Ok(Some((_, Err(_)))) => failed += 1,
                Ok(None) | Err(_) => break,
            }
        }
        let _ = self.phase.send(Phase::Hold);
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
    client: &mut Client,
    phase: &mut watch::Receiver<Phase>,
    results: &mpsc::UnboundedSender<CheckAnswer>,
) {
    let mut answered = 0;
    loop {
        let current = phase.borrow_and_update().clone();
        match current {
            Phase::Close => return,
            Phase::Check(round) if round.id != answered => {
                answered = round.id;
                let ticket = round.tickets.fetch_add(1, Ordering::Relaxed);
                if ticket.is_multiple_of(round.every) {
                    let t = Instant::now();
                    let r = match client.call("probe_state.add", json!({"n": 1})).await {
                        Ok(Answer::Delta { .. }) => Ok(t.elapsed()),
                        Ok(other) => Err(format!("{other:?}")),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = results.send((round.id, r));
                }
                continue;
            }
            Phase::Hold | Phase::Check(_) => {}
        }
        tokio::select! {
            changed = phase.changed() => if changed.is_err() { return },
            // The server closing the socket ends the connection.
            _ = client.closed(Duration::from_secs(24 * 3600)) => return,
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

/// What a reconnect client does, besides its connection.
struct Reconnecting {
    i: u64,
    target: Arc<Target>,
    /// Events before the restart.
    events: u64,
    /// When the events before the restart must be done.
    ready_by: Instant,
    /// How long, from the restart, the client may take to resync.
    max_time: Duration,
    counters: Arc<Counters>,
}

impl ReconnectSet {
    /// Connects `n` clients; each sends `events` events `probe_state.add {n: 1}` and waits. Those
    /// not ready within `max_time` count as failed; reconnections give up `max_time` after the
    /// start given to [`ReconnectSet::arm`].
    pub async fn prepare(target: &Target, n: u64, events: u64, max_time: Duration) -> ReconnectSet {
        let counters = Arc::new(Counters::default());
        let progress = Progress::start("reconnect".into(), counters.clone(), 0);
        let (go, go_rx) = watch::channel::<Option<Instant>>(None);
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
        let c2 = counters.clone();
        let shared = Arc::new(target.clone());
        let ready_by = crate::deadline(Instant::now(), max_time);
        let mut tasks = spawn_clients(target, n, &counters, ready_by, move |i, client, _| {
            let r = Reconnecting {
                i,
                target: shared.clone(),
                events,
                ready_by,
                max_time,
                counters: c2.clone(),
            };
            r.run(client, ready_tx.clone(), go_rx.clone())
        });
        let (ready, failed) = wait_ready(&mut ready_rx, &mut tasks, n).await;
        ReconnectSet {
            go,
            tasks,
            _progress: progress,
            ready: ready.len() as u64,
            failed,
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

impl Reconnecting {
    /// Sends the events before the restart, reports ready, waits for the restart and resyncs.
    async fn run(
        self,
        mut client: Client,
        ready: mpsc::UnboundedSender<()>,
        mut go: watch::Receiver<Option<Instant>>,
    ) -> Result<Resync, String> {
        let (i, counters) = (self.i, &self.counters);
        let before = async {
            for _ in 0..self.events {
                match client.call("probe_state.add", json!({"n": 1})).await {
                    Ok(Answer::Delta { .. }) => Counters::bump(&counters.done),
                    other => return Err(format!("client {i} before the restart: {other:?}")),
                }
            }
            Ok(())
        };
        tokio::time::timeout_at(self.ready_by.into(), before)
            .await
            .map_err(|_| format!("client {i}: not ready within the time limit"))??;
        let (token, version, last_seq) = (client.token.clone(), client.version, client.last_seq);
        // The same page reconnecting: its tab (and so its numbering) goes on.
        let options = ClientOptions {
            tab: Some(client.tab.clone()),
            ..self.target.options(i)
        };
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
        let deadline = crate::deadline(t0, self.max_time);
        let left = deadline.saturating_duration_since(Instant::now());
        client
            .closed(left)
            .await
            .map_err(|e| format!("client {i}: socket not closed by the restart: {e}"))?;
        Counters::drop_one(&counters.connected);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (i + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
        let mut delay = Duration::from_millis(250);
        let mut attempts = 0;
        let target = &self.target;
        loop {
            let wait = delay.mul_f64(1.0 - jitter(&mut seed) * 0.2);
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            if Instant::now() > deadline {
                return Err(format!(
                    "client {i}: not resynced within {:?}",
                    self.max_time
                ));
            }
            attempts += 1;
            let Ok(mut c) = Client::connect_with(target.addr, Some(&token), &options).await else {
                continue;
            };
            let at = Instant::now();
            Counters::bump(&counters.connected);
            Counters::bump(&counters.done);
            let state_kept = c.version >= version && c.last_seq >= last_seq;
            let next_event_ok = matches!(
                c.call("probe_state.add", json!({"n": 1})).await,
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
    }
}
