//! `loadtests-run SCENARIO`: starts the probe app (embedded, or Redis + one gateway + W workers as
//! processes), runs one load-test scenario against it, stops everything it started, and writes
//! `results/SCENARIO.json` and `results/SCENARIO.md`. `loadtests/run` builds the release binaries
//! and calls this.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use loadtests::procfs::{self, ProcSample};
use loadtests::report::{self, Latency, ProcUsage, Run};
use loadtests::scenario::{self, ClosedLoop, IdleSet, Outcome, ReconnectSet, Target};
use loadtests::stack::{Mode, Role, Stack, StackConfig};
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
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Counter => "counter",
            Scenario::Idle => "idle",
            Scenario::BigState => "big-state",
            Scenario::Reconnect => "reconnect",
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
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Clients (counter, big-state: 100; reconnect: 1000).
    #[arg(long)]
    clients: Option<u64>,
    /// Events per client (counter: 1000; big-state: 500; reconnect: events before the restart, 3).
    #[arg(long)]
    events: Option<u64>,
    /// Idle connections to open (idle scenario).
    #[arg(long, default_value_t = 10_000)]
    connections: u64,
    /// Upper bound of the measured phase, in seconds.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    /// Big-state: which state the events change.
    #[arg(long, value_enum, default_value_t = Hit::Small)]
    hit: Hit,
    /// Big-state: rows of 64 characters in the big state (16,384 ≈ 1 MB).
    #[arg(long, default_value_t = 16_384)]
    rows: u64,
    /// Loopback source addresses (127.0.0.2, …) the idle connections are spread over.
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// Threads of the load generator's runtime (it shares the machine with the stack).
    #[arg(long, default_value_t = 1)]
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
        .worker_threads(args.gen_threads.max(1))
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

/// Readings keyed by pid, to subtract the start of the measured phase from its end.
type Readings = HashMap<u32, (Role, ProcSample)>;

fn readings(stack: &Stack) -> Readings {
    stack
        .pids()
        .into_iter()
        .filter_map(|(role, pid)| procfs::sample(pid).ok().map(|s| (pid, (role, s))))
        .collect()
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
        Scenario::Idle => args.connections + 100,
        _ => args.clients.unwrap_or(1000) + 100,
    };
    if fds < need {
        tracing::warn!(
            fds,
            need,
            "the open-file limit is lower than the connections need"
        );
    }
    let workers = match args.mode {
        Mode::Embedded => 0,
        Mode::Distributed => args.workers.max(1),
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
    scenario::warm_up(stack.addr, Duration::from_secs(30))
        .await
        .context("the stack does not serve events")?;
    let result = tokio::select! {
        r = measure(&args, &mut stack) => r,
        () = refract_gateway::serve::shutdown_signal() => Err(anyhow::anyhow!("interrupted")),
    };
    stack.stop(Duration::from_secs(5)).await;
    let (outcome, processes, params) = result?;
    write(&args, workers, outcome, processes, params)
}

/// What a measurement gives: the outcome, CPU and memory by role, and the scenario's parameters.
type Measured = (Outcome, BTreeMap<String, ProcUsage>, Map<String, Value>);

async fn measure(args: &Args, stack: &mut Stack) -> anyhow::Result<Measured> {
    let max_time = Duration::from_secs(args.max_secs);
    let mut target = Target::new(stack.addr);
    let label = args.scenario.name();
    let me = std::process::id();
    let gen_before = procfs::sample(me)?;
    let before = readings(stack);
    let mut old_gateway: Option<(u32, ProcSample)> = None;
    let mut params = Map::new();
    let outcome = match args.scenario {
        Scenario::Counter => {
            let (c, e) = (args.clients.unwrap_or(100), args.events.unwrap_or(1000));
            params.insert("events_per_client".into(), json!(e));
            scenario::closed_loop(&target, &ClosedLoop::counter(c, e, max_time), label).await
        }
        Scenario::BigState => {
            let (c, e) = (args.clients.unwrap_or(100), args.events.unwrap_or(500));
            params.insert("events_per_client".into(), json!(e));
            params.insert("rows".into(), json!(args.rows));
            let hit = if args.hit == Hit::Big { "big" } else { "small" };
            params.insert("hit".into(), json!(hit));
            let spec = ClosedLoop::big_state(c, e, args.rows, args.hit == Hit::Big, max_time);
            scenario::closed_loop(&target, &spec, label).await
        }
        Scenario::Idle => {
            params.insert("connections".into(), json!(args.connections));
            target.sources = loadtests::source_addresses(args.sources);
            target.connect_concurrency = 256;
            idle(stack, &target, args.connections, max_time).await
        }
        Scenario::Reconnect => {
            let (c, e) = (args.clients.unwrap_or(1000), args.events.unwrap_or(3));
            params.insert("events_before".into(), json!(e));
            target.sources = loadtests::source_addresses(args.sources);
            let set = ReconnectSet::prepare(&target, c, e, max_time).await;
            tracing::info!(ready = set.ready, "clients ready: restarting the gateway");
            let gw_pid = stack
                .pids()
                .into_iter()
                .find(|(r, _)| matches!(r, Role::Gateway | Role::Embedded))
                .map(|(_, p)| p);
            let t0 = Instant::now();
            set.arm(t0);
            let (old, down) = stack.restart_gateway(Duration::from_secs(5)).await?;
            if let (Some(pid), Some(old)) = (gw_pid, old) {
                old_gateway = Some((pid, old));
            }
            let mut out = set.finish(t0).await;
            out.extra
                .insert("gateway_down_s".into(), json!(down.as_secs_f64()));
            out
        }
    };
    let after = readings(stack);
    let gen_after = procfs::sample(me)?;
    let mut processes: BTreeMap<String, ProcUsage> = BTreeMap::new();
    let add =
        |processes: &mut BTreeMap<String, ProcUsage>, role: &str, cpu: f64, s: &ProcSample| {
            let u = processes.entry(role.to_owned()).or_default();
            u.count += 1;
            u.cpu_s += cpu;
            u.peak_rss_mib += s.peak_rss_bytes as f64 / 1048576.0;
            u.rss_mib += s.rss_bytes as f64 / 1048576.0;
        };
    for (pid, (role, s)) in &after {
        let cpu0 = before.get(pid).map_or(0.0, |(_, b)| b.cpu_s);
        add(&mut processes, role.key(), s.cpu_s - cpu0, s);
    }
    if let Some((pid, old)) = old_gateway {
        let cpu0 = before.get(&pid).map_or(0.0, |(_, b)| b.cpu_s);
        let role = if args.mode == Mode::Embedded {
            "embedded"
        } else {
            "gateway"
        };
        // The old process's CPU counts; its memory is reported as `old_gateway_peak_rss_mib`.
        if let Some(u) = processes.get_mut(role) {
            u.cpu_s += old.cpu_s - cpu0;
        }
    }
    add(
        &mut processes,
        "loadgen",
        gen_after.cpu_s - gen_before.cpu_s,
        &gen_after,
    );
    for u in processes.values_mut() {
        u.cpu_s = (u.cpu_s * 1000.0).round() / 1000.0;
        u.peak_rss_mib = (u.peak_rss_mib * 10.0).round() / 10.0;
        u.rss_mib = (u.rss_mib * 10.0).round() / 10.0;
    }
    let mut outcome = outcome;
    if let Some((_, old)) = old_gateway {
        outcome.extra.insert(
            "old_gateway_peak_rss_mib".into(),
            json!((old.peak_rss_bytes as f64 / 1048576.0 * 10.0).round() / 10.0),
        );
    }
    Ok((outcome, processes, params))
}

/// The idle scenario: baseline RSS, ramp, settle, RSS per connection, a liveness check through
/// one connection in a hundred, close.
async fn idle(stack: &Stack, target: &Target, n: u64, max_time: Duration) -> Outcome {
    let front = |stack: &Stack| {
        stack
            .sample()
            .into_iter()
            .find(|(r, _)| matches!(r, Role::Gateway | Role::Embedded))
            .map(|(_, s)| s)
            .unwrap_or_default()
    };
    let redis = |stack: &Stack| {
        stack
            .sample()
            .into_iter()
            .find(|(r, _)| *r == Role::Redis)
            .map(|(_, s)| s)
    };
    let base = front(stack);
    let redis_base = redis(stack);
    let mut set = IdleSet::open(target, n, max_time).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = front(stack);
    let redis_held = redis(stack);
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
    let mib = |b: u64| (b as f64 / 1048576.0 * 10.0).round() / 10.0;
    let per_conn = |a: u64, b: u64| {
        if open == 0 {
            0.0
        } else {
            ((a.saturating_sub(b)) as f64 / open as f64 / 1024.0 * 10.0).round() / 10.0
        }
    };
    out.extra.insert("open_after_ramp".into(), json!(open));
    out.extra
        .insert("gateway_rss_before_mib".into(), json!(mib(base.rss_bytes)));
    out.extra
        .insert("gateway_rss_held_mib".into(), json!(mib(held.rss_bytes)));
    out.extra.insert(
        "gateway_kib_per_connection".into(),
        json!(per_conn(held.rss_bytes, base.rss_bytes)),
    );
    if let (Some(b), Some(h)) = (redis_base, redis_held) {
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
    out
}

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
    Ok(())
}
