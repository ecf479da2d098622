//! The measurements of a run and the result files: `results/SCENARIO.json` (every run of the
//! scenario, a new run replacing an older one with the same key) and `results/SCENARIO.md` (a
//! table of them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::procfs::Machine;

/// A histogram of durations in microseconds, from 1 µs to 10 minutes, 3 significant digits.
///
/// # Panics
/// Never: the bounds are valid constants.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Records `d` (saturating at the histogram's top) in a histogram of [`histogram`]'s kind.
pub fn record(h: &mut Histogram<u64>, d: std::time::Duration) {
    h.saturating_record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
}

/// `bytes` in MiB, rounded to a tenth.
pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Number of samples.
    pub count: u64,
}

impl Latency {
    /// The summary of a histogram of microseconds (see [`histogram`]).
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean().round() / 1000.0,
            count: h.len(),
        }
    }
}

/// CPU and memory of the processes of one role (gateway, workers, redis, loadgen).
///
/// The CPU window is the measured phase of [`Run::duration_s`], give or take the closing of the
/// sockets at its end:
/// * counter, big-state and stream: from the start signal (every client already connected and, for
///   big-state, its ~1 MB state filled and re-hydrated) until the last client finished its events
///   and closed its socket;
/// * idle: the ramp, from before the first connection until every connection is open or has
///   failed (the settle, the liveness check and the close are not in it);
/// * reconnect: from just before the gateway is stopped until every client has resynced or given
///   up; the old gateway's CPU is counted until just before its SIGTERM (its shutdown is not in
///   it), the new one's from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcUsage {
    /// How many processes.
    pub count: usize,
    /// CPU seconds (user + system) they spent during the window above, summed.
    pub cpu_s: f64,
    /// Their peak resident memory (`VmHWM`) over their lifetime, summed, in MiB.
    pub peak_rss_mib: f64,
    /// Their resident memory at the end of the window above, summed, in MiB.
    pub rss_mib: f64,
}

/// One run of a scenario: what `SCENARIO.json` holds a list of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// What identifies the run among the scenario's runs (mode, workers, clients, parameters).
    pub key: String,
    /// `counter`, `idle`, `big-state`, `reconnect` or `stream`.
    pub scenario: String,
    /// `embedded` or `distributed`.
    pub mode: String,
    /// Worker processes (0 in embedded mode).
    pub workers: usize,
    /// Simulated clients (connections in the idle scenario).
    pub clients: u64,
    /// Events completed (connections opened in the idle scenario, resyncs in reconnect).
    pub events: u64,
    /// Events or connections that failed.
    pub errors: u64,
    /// Wall time of the measured phase, in seconds.
    pub duration_s: f64,
    /// `events / duration_s`.
    pub events_per_s: f64,
    /// Latency percentiles in milliseconds (event round trip, for stream from sending to the
    /// answer after every flush; connect-to-hydrate for idle; restart-to-resync for reconnect).
    pub latency_ms: Latency,
    /// CPU and memory by role: `gateway`, `workers`, `redis`, `embedded`, `loadgen`.
    pub processes: BTreeMap<String, ProcUsage>,
    /// The machine.
    pub machine: Machine,
    /// The scenario's parameters.
    pub params: Map<String, Value>,
    /// Scenario-specific results.
    pub extra: Map<String, Value>,
    /// When it was measured, in seconds since the Unix epoch.
    pub measured_at_unix_s: u64,
}

/// Why the result files could not be written.
#[derive(thiserror::Error, Debug)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The existing results file is not a list of runs; it is left as it is.
    #[error("{path} is not a results file ({reason}): fix or move it, it holds earlier runs")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A run could not be serialised.
    #[error("serialising the results: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.to_owned();
    move |source| ReportError::Io { path, source }
}

/// Adds `run` to `dir/SCENARIO.json` (replacing a run with the same key) and rewrites
/// `dir/SCENARIO.md`, each through a temporary file in `dir` renamed over it. Returns the markdown.
///
/// # Errors
/// [`ReportError::Corrupt`] when the existing JSON file is not a list of runs (it is left
/// untouched), [`ReportError::Io`] when a file cannot be read or written.
pub fn write(dir: &Path, run: &Run) -> Result<String, ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let json_path = dir.join(format!("{}.json", run.scenario));
    let mut runs = read_runs(&json_path)?;
    runs.retain(|r| r.get("key").and_then(Value::as_str) != Some(run.key.as_str()));
    runs.push(serde_json::to_value(run)?);
    runs.sort_by_key(sort_key);
    let file = serde_json::json!({"scenario": run.scenario, "runs": runs});
    replace(&json_path, &(serde_json::to_string_pretty(&file)? + "\n"))?;
    let md = markdown(&run.scenario, &runs);
    replace(&dir.join(format!("{}.md", run.scenario)), &md)?;
    Ok(md)
}

/// The runs of an existing results file; none when there is no file.
fn read_runs(path: &Path) -> Result<Vec<Value>, ReportError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let corrupt = |reason: String| ReportError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    value
        .get("runs")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| corrupt("no `runs` list".into()))
}

/// Writes `text` to `path` atomically: to `path.PID.tmp` in the same folder, then renamed.
fn replace(path: &Path, text: &str) -> Result<(), ReportError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    if let Err(e) = std::fs::write(&tmp, text) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(path)(e)
    })
}

fn sort_key(run: &Value) -> (String, u64, u64, String) {
    (
        run["mode"].as_str().unwrap_or_default().to_owned(),
        run["workers"].as_u64().unwrap_or(0),
        run["clients"].as_u64().unwrap_or(0),
        run["key"].as_str().unwrap_or_default().to_owned(),
    )
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 1.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.3}"),
        None => v.as_str().map_or_else(|| v.to_string(), str::to_owned),
    }
}

fn usage(run: &Value, role: &str) -> String {
    let p = &run["processes"][role];
    if p.is_null() {
        return "–".into();
    }
    format!("{} s / {} MiB", num(&p["cpu_s"]), num(&p["peak_rss_mib"]))
}

fn pairs(map: &Value) -> String {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", num(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// What the stream scenario's numbers are, above its table.
const STREAM_NOTE: &str = "Each event is `progress_state.run {steps, ms: step_ms}`: the handler \
    flushes `steps` intermediate deltas (sleeping `step_ms` before each) and then answers. events/s \
    and p50…max are of whole events, from sending to the answer. **Delta latency** \
    (`delta_p50_ms` … `delta_max_ms`) is, for each intermediate delta, the time from the previous \
    frame of its event (or from sending the event, for its first) to its arrival: the gap between \
    deltas the client sees. `flushes_per_s` counts the intermediate deltas of all clients \
    together, `all_deltas_per_s` the answers by delta too. An event's answer that overtakes its \
    last flushes on their way to the gateway waits there for them (up to 250 ms); past that the \
    gateway resyncs the socket with a `hydrate` that covers them and answers the event: \
    `resyncs` counts those events, `flushes_covered` the flushes they did not get as deltas. Every event must show steps 1, 2, …, `steps` in order \
    (by delta, or covered by a resync) and end at the last with `done`; `step_errors` counts \
    those that did not, and fails the run. `cpu_us_per_commit` is every role's CPU per commit \
    (flush or answer): the framework's cost, which the handler's waits between steps do not \
    change.\n\n";

/// The markdown table of a scenario's runs (as stored in its JSON file).
pub fn markdown(scenario: &str, runs: &[Value]) -> String {
    let mut out = format!("# Load test: {scenario}\n\n");
    if let Some(m) = runs.last().map(|r| &r["machine"]) {
        out += &format!(
            "Machine: {} cores ({}), {} MiB memory, Linux {}. Latencies in ms; CPU in seconds \
             over the measured phase (counter, big-state, stream: from the start of the events, \
             after connecting and setup, to the last one; idle: the ramp; reconnect: from the \
             gateway's stop to the last resync); memory is each role's peak RSS (summed over its \
             processes). The load generator runs on the same machine.\n\n",
            num(&m["cores"]),
            m["cpu"].as_str().unwrap_or("?"),
            num(&m["memory_mib"]),
            m["kernel"].as_str().unwrap_or("?"),
        );
    }
    if scenario == "stream" {
        out += STREAM_NOTE;
    }
    out += "| mode | workers | clients | params | events | errors | duration s | events/s | p50 | p90 | p99 | p999 | max | gateway | workers | redis | embedded | loadgen | extra |\n";
    out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for r in runs {
        let l = &r["latency_ms"];
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r["mode"].as_str().unwrap_or("?"),
            num(&r["workers"]),
            num(&r["clients"]),
            pairs(&r["params"]),
            num(&r["events"]),
            num(&r["errors"]),
            num(&r["duration_s"]),
            num(&r["events_per_s"]),
            num(&l["p50"]),
            num(&l["p90"]),
            num(&l["p99"]),
            num(&l["p999"]),
            num(&l["max"]),
            usage(r, "gateway"),
            usage(r, "workers"),
            usage(r, "redis"),
            usage(r, "embedded"),
            usage(r, "loadgen"),
            pairs(&r["extra"]),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(key: &str, clients: u64) -> Run {
        let mut h = histogram();
        for us in [100, 200, 300, 4000] {
            h.record(us).unwrap();
        }
        Run {
            key: key.into(),
            scenario: "counter".into(),
            mode: "distributed".into(),
            workers: 2,
            clients,
            events: 4,
            errors: 0,
            duration_s: 1.0,
            events_per_s: 4.0,
            latency_ms: Latency::of(&h),
            processes: BTreeMap::from([(
                "gateway".to_owned(),
                ProcUsage {
                    count: 1,
                    cpu_s: 0.5,
                    peak_rss_mib: 12.0,
                    rss_mib: 10.0,
                },
            )]),
            machine: crate::procfs::machine(),
            params: Map::new(),
            extra: Map::new(),
            measured_at_unix_s: 0,
        }
    }

    #[test]
    fn latency_is_in_milliseconds() {
        let l = run("a", 1).latency_ms;
        assert_eq!(l.count, 4);
        assert!((l.p50 - 0.2).abs() < 0.01, "{l:?}");
        assert!((l.max - 4.0).abs() < 0.01, "{l:?}");
    }

    #[test]
    fn a_run_replaces_the_one_with_its_key() {
        let dir = std::env::temp_dir().join(format!("loadtests-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write(&dir, &run("a", 10)).unwrap();
        write(&dir, &run("b", 1)).unwrap();
        let md = write(&dir, &run("a", 10)).unwrap();
        let file: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("counter.json")).unwrap())
                .unwrap();
        let keys: Vec<&str> = file["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(
            md.lines()
                .filter(|l| l.starts_with("| distributed"))
                .count(),
            2
        );
        assert!(md.contains("0.500 s / 12 MiB"), "{md}");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_results_file_that_does_not_parse_is_kept() {
        let dir = std::env::temp_dir().join(format!("loadtests-corrupt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("counter.json");
        std::fs::write(&path, "{ not json").unwrap();
        let err = write(&dir, &run("a", 1)).unwrap_err();
        assert!(matches!(err, ReportError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
        std::fs::write(&path, r#"{"runs": 3}"#).unwrap();
        assert!(matches!(
            write(&dir, &run("a", 1)),
            Err(ReportError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_stream_table_says_what_delta_latency_is() {
        let runs = [serde_json::to_value(run("a", 1)).unwrap()];
        assert!(markdown("stream", &runs).contains("**Delta latency**"));
        assert!(!markdown("counter", &runs).contains("Delta latency"));
    }

    #[test]
    fn bytes_are_rounded_to_a_tenth_of_a_mib() {
        assert_eq!(mib(0), 0.0);
        assert_eq!(mib(1_048_576), 1.0);
        assert_eq!(mib(1_572_864), 1.5);
    }
}
