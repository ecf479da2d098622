//! `loadtests-run SCENARIO`: starts the probe app (embedded, or Redis + one gateway + W workers as
//! processes), runs one load-test scenario against it, stops everything it started, and writes
//! `results/SCENARIO.json` and `results/SCENARIO.md`. `loadtests/run` builds the release binaries
//! and calls this.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum, value_parser};
use loadtests::procfs::{self, ProcSample};
use loadtests::report::{self, Latency, ProcUsage, Run, mib};
use loadtests::scenario::{ClosedLoop, IdleSet, Outcome, ReconnectSet, Target};
use loadtests::stack::{Mode, Reading, Role, Stack, StackConfig};
use serde_json::{Map, Value, json};

/// A load-test scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// C clients in closed loop, E events `probe_state.add` each.
    Counter,
    /// Ramp to N idle connections; memory per connection.
    Idle,
    /// Each token holds a ~1 MB state beside the small one; events hit the small one (or, with
    /// `--hit big`, one small field of the big one).
    BigState,
    /// Restart the gateway under C connected clients; time until all have resynced.
    Reconnect,
    /// C clients in closed loop, E events `progress_state.run {steps: K, ms: M}` each: a
    /// streaming handler that flushes K intermediate deltas (each checked and timed), then answers.
    Stream,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Counter => "counter",
            Scenario::Idle => "idle",
            Scenario::BigState => "big-state",
            Scenario::Reconnect => "reconnect",
            Scenario::Stream => "stream",
        }
    }
}

/// Which state the big-state scenario's events change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Hit {
    /// `probe_state.add`: the small state beside the big one.
    Small,
    /// `big_state.tick`: one small field of the ~1 MB state.
    Big,
}

/// Runs one load-test scenario against the probe app and writes its results.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// The scenario.
    #[arg(value_enum)]
    scenario: Scenario,
    /// How the probe app is deployed.
    #[arg(long, value_enum, default_value_t = Mode::Distributed)]
    mode: Mode,
    /// Workers (distributed mode).
    #[arg(long, default_value_t = 2, value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    workers: usize,
    /// Clients (counter, big-state: 100; reconnect: 1000; stream: 50).
    #[arg(long, value_parser = value_parser!(u64).range(1..=1_000_000))]
    clients: Option<u64>,
    /// Events per client (counter: 1000; big-state: 500; reconnect: events before the restart, 3;
    /// stream: 1500).
    #[arg(long, value_parser = value_parser!(u64).range(1..=100_000_000))]
    events: Option<u64>,
    /// Idle connections to open (idle scenario).
    #[arg(long, default_value_t = 10_000, value_parser = value_parser!(u64).range(1..=10_000_000))]
    connections: u64,
    /// Upper bound, in seconds, of connecting and setting up the clients, and, counted afresh, of
    /// the measured phase.
    #[arg(long, default_value_t = 120, value_parser = value_parser!(u64).range(1..=86_400))]
    max_secs: u64,
    /// Big-state: which state the events change.
    #[arg(long, value_enum, default_value_t = Hit::Small)]
    hit: Hit,
    /// Big-state: rows of 64 characters in the big state (16,384 ≈ 1 MB).
    #[arg(long, default_value_t = 16_384, value_parser = value_parser!(u64).range(1..=1_048_576))]
    rows: u64,
    /// Stream: intermediate deltas (flushes) each event's handler sends before its answer.
    #[arg(long, default_value_t = 10, value_parser = value_parser!(u32).range(1..=100_000))]
    steps: u32,
    /// Stream: milliseconds the handler sleeps before each flush (0: none, the flushes go out
    /// back to back); `cpu_us_per_commit` in the results is the framework's cost without it.
    #[arg(long, default_value_t = 0, value_parser = value_parser!(u64).range(0..=60_000))]
    step_ms: u64,
    /// Loopback source addresses (127.0.0.2, …) the idle and reconnect connections are spread
    /// over.
    #[arg(long, default_value_t = 8, value_parser = value_parser!(u8).range(1..=i64::from(loadtests::MAX_SOURCES)))]
    sources: u8,
    /// Threads of the load generator's runtime (it shares the machine with the stack).
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    gen_threads: usize,
    /// The `refract-probe` binary (default: beside this one).
    #[arg(long)]
    probe: Option<PathBuf>,
    /// Where the results go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    results: PathBuf,
    /// Logs of the processes and the embedded mode's frontend build (default: `loadtests/`
    /// in the target folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.gen_threads)
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let fds = procfs::raise_fd_limit();
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("the binary's folder")?
        .to_owned();
    let probe = args
        .probe
        .clone()
        .unwrap_or_else(|| exe_dir.join("refract-probe"));
    if !probe.exists() {
        bail!(
            "{} not found: build it (cargo build --release -p refract-probe) or pass --probe",
            probe.display()
        );
    }
    let work_dir = args.work_dir.clone().unwrap_or_else(|| {
        exe_dir
            .parent()
            .map_or_else(|| exe_dir.join("loadtests"), |t| t.join("loadtests"))
    });
    let need = match args.scenario {
        Scenario::Idle => args.connections,
        _ => args.clients.unwrap_or(1000),
    }
    .saturating_add(100);
    if fds < need {
        tracing::warn!(
            fds,
            need,
            "the open-file limit is lower than the connections need"
        );
    }
    let workers = match args.mode {
        Mode::Embedded => 0,
        Mode::Distributed => args.workers,
    };
    let config = StackConfig {
        probe,
        mode: args.mode,
        workers,
        work_dir,
        ready_timeout: match args.mode {
            Mode::Embedded => Duration::from_secs(600),
            Mode::Distributed => Duration::from_secs(30),
        },
    };
    tracing::info!(
        scenario = args.scenario.name(),
        mode = args.mode.name(),
        workers,
        "starting the stack"
    );
    let mut stack = Stack::start(config).await?;
    loadtests::scenario::warm_up(stack.addr, Duration::from_secs(30))
        .await
        .context("the stack does not serve events")?;
    let result = tokio::select! {
        r = measure(&args, &mut stack) => r,
        () = refract_process::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    stack.stop(Duration::from_secs(5)).await;
    let (outcome, processes, params) = result?;
    let mismatches = outcome
        .extra
        .get("count_mismatches")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let errors = outcome.errors;
    write(&args, workers, outcome, processes, params)?;
    if errors > 0 || mismatches > 0 {
        bail!("the run failed: {errors} errors, {mismatches} count mismatches (results written)");
    }
    Ok(())
}

/// What a measurement gives: the outcome, CPU and memory by role, and the scenario's parameters.
type Measured = (Outcome, BTreeMap<String, ProcUsage>, Map<String, Value>);

/// Readings of the stack's processes and of this one at one moment.
struct Snapshot {
    procs: Vec<Reading>,
    loadgen: ProcSample,
}

impl Snapshot {
    fn take(stack: &Stack) -> anyhow::Result<Snapshot> {
        Ok(Snapshot {
            procs: stack.sample(),
            loadgen: procfs::sample(std::process::id())?,
        })
    }

    /// The reading of the first process with one of `roles`.
    fn of(&self, roles: &[Role]) -> Option<ProcSample> {
        self.procs
            .iter()
            .find(|r| roles.contains(&r.role))
            .map(|r| r.sample)
    }
}

/// The readings at the start and the end of the window the CPU is counted over (see
/// [`ProcUsage`]).
struct Window {
    before: Snapshot,
    after: Snapshot,
}

async fn measure(args: &Args, stack: &mut Stack) -> anyhow::Result<Measured> {
    let max_time = Duration::from_secs(args.max_secs);
    let mut target = Target::new(stack.addr);
    let label = args.scenario.name();
    let mut old_gateway = None;
    let mut params = Map::new();
    let (outcome, window) = match args.scenario {
        Scenario::Counter => {
            let (c, e) = (args.clients.unwrap_or(100), args.events.unwrap_or(1000));
            params.insert("events_per_client".into(), json!(e));
            closed_loop(stack, &target, &ClosedLoop::counter(c, e, max_time), label).await?
        }
        Scenario::BigState => {
            let (c, e) = (args.clients.unwrap_or(100), args.events.unwrap_or(500));
            params.insert("events_per_client".into(), json!(e));
            params.insert("rows".into(), json!(args.rows));
            let hit = if args.hit == Hit::Big { "big" } else { "small" };
            params.insert("hit".into(), json!(hit));
            let spec = ClosedLoop::big_state(c, e, args.rows, args.hit == Hit::Big, max_time);
            closed_loop(stack, &target, &spec, label).await?
        }
        Scenario::Stream => {
            let (c, e) = (args.clients.unwrap_or(50), args.events.unwrap_or(1500));
            params.insert("events_per_client".into(), json!(e));
            params.insert("steps".into(), json!(args.steps));
            params.insert("step_ms".into(), json!(args.step_ms));
            let spec = ClosedLoop::stream(c, e, args.steps, args.step_ms, max_time);
            closed_loop(stack, &target, &spec, label).await?
        }
        Scenario::Idle => {
            params.insert("connections".into(), json!(args.connections));
            target.sources = loadtests::source_addresses(args.sources);
            target.connect_concurrency = 256;
            idle(stack, &target, args.connections, max_time).await?
        }
        Scenario::Reconnect => {
            let (c, e) = (args.clients.unwrap_or(1000), args.events.unwrap_or(3));
            params.insert("events_before".into(), json!(e));
            target.sources = loadtests::source_addresses(args.sources);
            let set = ReconnectSet::prepare(&target, c, e, max_time).await;
            tracing::info!(ready = set.ready, "clients ready: restarting the gateway");
            let before = Snapshot::take(stack)?;
            let t0 = Instant::now();
            set.arm(t0);
            let (old, down) = stack.restart_gateway(Duration::from_secs(5)).await?;
            let mut out = set.finish(t0).await;
            let after = Snapshot::take(stack)?;
            out.extra
                .insert("gateway_down_s".into(), json!(down.as_secs_f64()));
            if let Some(old) = &old {
                // Its CPU counts with its role's; its memory is reported here.
                out.extra.insert(
                    "old_gateway_peak_rss_mib".into(),
                    json!(mib(old.sample.peak_rss_bytes)),
                );
            }
            old_gateway = old;
            (out, Window { before, after })
        }
    };
    stack
        .check_alive()
        .context("a process of the stack died during the run")?;
    let processes = usage(&window, old_gateway.as_ref());
    Ok((outcome, processes, params))
}

/// Runs a closed-loop scenario, with the CPU window from the start of the events (after
/// connecting and setup) to the end.
async fn closed_loop(
    stack: &Stack,
    target: &Target,
    spec: &ClosedLoop,
    label: &str,
) -> anyhow::Result<(Outcome, Window)> {
    let prepared = spec.prepare(target, label).await;
    let before = Snapshot::take(stack)?;
    let outcome = prepared.run().await;
    let after = Snapshot::take(stack)?;
    Ok((outcome, Window { before, after }))
}

/// CPU (from `window.before` to `window.after`) and memory (at `window.after`) by role, with the
/// load generator's, and the CPU of the gateway `old_gateway` stopped meanwhile.
fn usage(window: &Window, old_gateway: Option<&Reading>) -> BTreeMap<String, ProcUsage> {
    /// A role's sums, memory still in bytes.
    #[derive(Default)]
    struct Sum {
        count: usize,
        cpu_s: f64,
        peak_rss_bytes: u64,
        rss_bytes: u64,
    }
    let cpu_before: HashMap<u32, f64> = window
        .before
        .procs
        .iter()
        .map(|r| (r.pid, r.sample.cpu_s))
        .collect();
    let mut sums: BTreeMap<&str, Sum> = BTreeMap::new();
    let mut add = |role: &'static str, cpu_s: f64, s: &ProcSample| {
        let u = sums.entry(role).or_default();
        u.count += 1;
        u.cpu_s += cpu_s;
        u.peak_rss_bytes = u.peak_rss_bytes.saturating_add(s.peak_rss_bytes);
        u.rss_bytes = u.rss_bytes.saturating_add(s.rss_bytes);
    };
    // A process started during the window (the restarted gateway) counts from its start.
    let since = |r: &Reading| r.sample.cpu_s - cpu_before.get(&r.pid).copied().unwrap_or(0.0);
    for r in &window.after.procs {
        add(r.role.key(), since(r), &r.sample);
    }
    let loadgen = &window.after.loadgen;
    add(
        "loadgen",
        loadgen.cpu_s - window.before.loadgen.cpu_s,
        loadgen,
    );
    if let Some(old) = old_gateway {
        sums.entry(old.role.key()).or_default().cpu_s += since(old);
    }
    sums.into_iter()
        .map(|(role, u)| {
            let usage = ProcUsage {
                count: u.count,
                cpu_s: (u.cpu_s * 1000.0).round() / 1000.0,
                peak_rss_mib: mib(u.peak_rss_bytes),
                rss_mib: mib(u.rss_bytes),
            };
            (role.to_owned(), usage)
        })
        .collect()
}

/// The idle scenario: baseline RSS, ramp, settle, RSS per connection, a liveness check through
/// one connection in a hundred, close. The CPU window is the ramp.
async fn idle(
    stack: &Stack,
    target: &Target,
    n: u64,
    max_time: Duration,
) -> anyhow::Result<(Outcome, Window)> {
    const FRONT: &[Role] = &[Role::Gateway, Role::Embedded];
    const REDIS: &[Role] = &[Role::Redis];
    let before = Snapshot::take(stack)?;
    let mut set = IdleSet::open(target, n, max_time).await;
    let after = Snapshot::take(stack)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = Snapshot::take(stack)?;
    let open = set.still_open();
    let (ok, failed, check) = set.check((n / 100).max(1), Duration::from_secs(30)).await;
    let mut out = Outcome {
        clients: n,
        events: set.opened,
        errors: set.failed_count + failed,
        duration: set.ramp,
        histogram: set.histogram.clone(),
        extra: Map::new(),
        failures: set.failed.clone(),
    };
    let per_conn = |a: u64, b: u64| {
        if open == 0 {
            0.0
        } else {
            ((a.saturating_sub(b)) as f64 / open as f64 / 1024.0 * 10.0).round() / 10.0
        }
    };
    let (base, front_held) = (
        before.of(FRONT).unwrap_or_default(),
        held.of(FRONT).unwrap_or_default(),
    );
    out.extra.insert("open_after_ramp".into(), json!(open));
    out.extra
        .insert("gateway_rss_before_mib".into(), json!(mib(base.rss_bytes)));
    out.extra.insert(
        "gateway_rss_held_mib".into(),
        json!(mib(front_held.rss_bytes)),
    );
    out.extra.insert(
        "gateway_kib_per_connection".into(),
        json!(per_conn(front_held.rss_bytes, base.rss_bytes)),
    );
    if let (Some(b), Some(h)) = (before.of(REDIS), held.of(REDIS)) {
        out.extra
            .insert("redis_rss_held_mib".into(), json!(mib(h.rss_bytes)));
        out.extra.insert(
            "redis_kib_per_connection".into(),
            json!(per_conn(h.rss_bytes, b.rss_bytes)),
        );
    }
    out.extra.insert("check_events_ok".into(), json!(ok));
    out.extra
        .insert("check_events_failed".into(), json!(failed));
    if !check.is_empty() {
        out.extra.insert(
            "check_p50_ms".into(),
            json!(check.value_at_quantile(0.5) as f64 / 1000.0),
        );
    }
    set.close(Duration::from_secs(30)).await;
    Ok((out, Window { before, after }))
}

#[allow(clippy::print_stdout, reason = "the report is the command's output")]
fn write(
    args: &Args,
    workers: usize,
    outcome: Outcome,
    processes: BTreeMap<String, ProcUsage>,
    params: Map<String, Value>,
) -> anyhow::Result<()> {
    let scenario = args.scenario.name();
    let mut extra = outcome.extra;
    if !outcome.failures.is_empty() {
        extra.insert("first_failure".into(), json!(outcome.failures[0]));
        for f in &outcome.failures {
            tracing::warn!(failure = %f, "failure");
        }
    }
    extra.insert("gen_threads".into(), json!(args.gen_threads));
    if args.scenario == Scenario::Stream {
        // The framework's cost of a delta, whatever the handler waited between its steps: every
        // role's CPU over the measured phase per commit (each flush, and each event's answer).
        let count = |key: &str| extra.get(key).and_then(Value::as_u64).unwrap_or(0);
        let commits = count("flushes") + count("flushes_covered") + outcome.events;
        let cpu_s: f64 = processes.values().map(|p| p.cpu_s).sum();
        if commits > 0 {
            let us = (cpu_s / commits as f64 * 1e6).round();
            extra.insert("cpu_us_per_commit".into(), json!(us));
        }
    }
    let latency = Latency::of(&outcome.histogram);
    let duration_s = outcome.duration.as_secs_f64();
    if args.scenario == Scenario::BigState {
        // The target compares the big-state median with the counter's at the same load.
        let counter = std::fs::read_to_string(args.results.join("counter.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        let same = counter.as_ref().and_then(|c| {
            c["runs"].as_array()?.iter().find(|r| {
                r["mode"] == args.mode.name()
                    && r["workers"] == json!(workers)
                    && r["clients"] == json!(outcome.clients)
            })
        });
        if let Some(p50) = same.and_then(|r| r["latency_ms"]["p50"].as_f64()) {
            extra.insert("counter_p50_ms".into(), json!(p50));
            if p50 > 0.0 {
                extra.insert(
                    "p50_vs_counter".into(),
                    json!((latency.p50 / p50 * 100.0).round() / 100.0),
                );
            }
        }
    }
    let key = format!(
        "{} w{} c{} {}",
        args.mode.name(),
        workers,
        outcome.clients,
        params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let run = Run {
        key,
        scenario: scenario.to_owned(),
        mode: args.mode.name().to_owned(),
        workers,
        clients: outcome.clients,
        events: outcome.events,
        errors: outcome.errors,
        duration_s: (duration_s * 1000.0).round() / 1000.0,
        events_per_s: if duration_s > 0.0 {
            (outcome.events as f64 / duration_s).round()
        } else {
            0.0
        },
        latency_ms: latency,
        processes,
        machine: procfs::machine(),
        params,
        extra,
        measured_at_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let md = report::write(&args.results, &run)?;
    println!("{md}");
    println!(
        "{scenario}: {} events in {:.2} s = {} events/s, p50 {} ms, p99 {} ms, {} errors → {}",
        run.events,
        run.duration_s,
        run.events_per_s,
        run.latency_ms.p50,
        run.latency_ms.p99,
        run.errors,
        args.results.join(format!("{scenario}.json")).display()
    );
    if args.scenario == Scenario::Stream {
        let x = |key: &str| run.extra.get(key).cloned().unwrap_or(Value::Null);
        println!(
            "stream: {} intermediate deltas/s ({} with the answers), delta latency p50 {} ms, \
             p99 {} ms, max {} ms; {} resyncs covered {} flushes; {} µs CPU per commit; {} step \
             errors",
            x("flushes_per_s"),
            x("all_deltas_per_s"),
            x("delta_p50_ms"),
            x("delta_p99_ms"),
            x("delta_max_ms"),
            x("resyncs"),
            x("flushes_covered"),
            x("cpu_us_per_commit"),
            x("step_errors"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_arguments_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn out_of_range_arguments_are_refused() {
        let parse = |extra: &[&str]| {
            Args::try_parse_from(["loadtests-run", "counter"].iter().chain(extra)).map(|_| ())
        };
        assert!(parse(&[]).is_ok());
        for bad in [
            ["--max-secs", "0"],
            ["--max-secs", "86401"],
            ["--sources", "0"],
            ["--sources", "254"],
            ["--clients", "0"],
            ["--events", "0"],
            ["--connections", "0"],
            ["--workers", "0"],
            ["--gen-threads", "0"],
            ["--rows", "0"],
            ["--steps", "0"],
            ["--step-ms", "60001"],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }
}
