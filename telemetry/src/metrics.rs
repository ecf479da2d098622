//! The metrics of Refract's processes (OpenTelemetry instruments; exported as OTLP and Prometheus).
//!
//! | name (Prometheus) | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `refract_events_total` | counter | `role`, `outcome` | events processed (`applied`, `duplicate`, or an error code) |
//! | `refract_event_duration_milliseconds` | histogram | `role` | one event: on a gateway from its frame's arrival to the worker's answer (queue wait included), on a worker from its call to its answer |
//! | `refract_event_queue_wait_milliseconds` | histogram | | on a gateway, how long an event waited in its socket's queue behind the socket's earlier events |
//! | `refract_frames_rejected_total` | counter | `code` | frames a gateway refused at the socket without running them: `malformed_frame`, `bad_arguments`, `frame_too_large`, `overloaded`, `not_ready`, `invalid_token`, `token_mismatch` |
//! | `refract_lock_wait_milliseconds` | histogram | | time to take a token's lock and load its shards |
//! | `refract_connections` | up-down counter | | open WebSockets on a gateway |
//! | `refract_worker_healthy` | gauge | `worker` | 1 when a gateway sees the worker serving, else 0; a worker that leaves the set has no series |
//! | `refract_state_migrations_total` | counter | `state` | stored states that no longer decoded and were migrated (fields that decode kept, others defaulted) |
//! | `refract_otlp_export_failures_total` | counter | `signal` | OTLP exports that failed (`traces`, `metrics`); their data was dropped |
//! | `refract_worker_lost_total` | counter | `worker` | calls a gateway gave up on a worker for a transport failure (unreachable, died, drained) and sent to the next one |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};

/// The instruments.
pub struct Metrics {
    events: Counter<u64>,
    event_duration: Histogram<f64>,
    queue_wait: Histogram<f64>,
    frames_rejected: Counter<u64>,
    lock_wait: Histogram<f64>,
    connections: UpDownCounter<i64>,
    /// The workers a gateway knows and whether each serves, observed at each collection, so a
    /// worker removed from the set stops being reported.
    workers: Arc<Mutex<BTreeMap<String, bool>>>,
    worker_lost: Counter<u64>,
    state_migrations: Counter<u64>,
    client_errors: Counter<u64>,
    export_failures: Counter<u64>,
}

/// Latency buckets in ms, from 0.1 ms to 10 s.
const MS_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0,
];

/// The process's instruments, made on first use from the global meter provider (so after
/// [`init`](crate::init); before it they record nothing).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new(&opentelemetry::global::meter("refract")))
}

impl Metrics {
    fn new(meter: &Meter) -> Self {
        let workers = Arc::new(Mutex::new(BTreeMap::<String, bool>::new()));
        let observed = workers.clone();
        meter
            .u64_observable_gauge("refract.worker.healthy")
            .with_description("1 when the gateway sees the worker serving")
            .with_callback(move |gauge| {
                let workers = observed.lock().unwrap_or_else(PoisonError::into_inner);
                for (worker, healthy) in workers.iter() {
                    gauge.observe(
                        u64::from(*healthy),
                        &[KeyValue::new("worker", worker.clone())],
                    );
                }
            })
            .build();
        Metrics {
            events: meter
                .u64_counter("refract.events")
                .with_description("Events processed")
                .build(),
            event_duration: meter
                .f64_histogram("refract.event.duration")
                .with_unit("ms")
                .with_description("Time to process one event (on a gateway, queue wait included)")
                .with_boundaries(MS_BUCKETS.to_vec())
                .build(),
            queue_wait: meter
                .f64_histogram("refract.event.queue_wait")
                .with_unit("ms")
                .with_description("Time an event waited in its socket's queue on a gateway")
                .with_boundaries(MS_BUCKETS.to_vec())
                .build(),
            frames_rejected: meter
                .u64_counter("refract.frames.rejected")
                .with_description("Frames a gateway refused without running them, by error code")
                .build(),
            lock_wait: meter
                .f64_histogram("refract.lock.wait")
                .with_unit("ms")
                .with_description("Time to take a token's lock and load its shards")
                .with_boundaries(MS_BUCKETS.to_vec())
                .build(),
            connections: meter
                .i64_up_down_counter("refract.connections")
                .with_description("Open WebSockets")
                .build(),
            workers,
            worker_lost: meter
                .u64_counter("refract.worker.lost")
                .with_description("Calls given up on a worker for a transport failure")
                .build(),
            state_migrations: meter
                .u64_counter("refract.state.migrations")
                .with_description("Stored states that no longer decoded and were migrated")
                .build(),
            client_errors: meter
                .u64_counter("refract.client.errors")
                .with_description(
                    "Rendering errors pages reported (their error boundary caught them)",
                )
                .build(),
            export_failures: meter
                .u64_counter("refract.otlp.export.failures")
                .with_description("OTLP exports that failed (their data was dropped)")
                .build(),
        }
    }

    /// Records one event processed by `role` (`gateway` or `worker`) in `ms` with `outcome`.
    pub fn event(&self, role: &'static str, outcome: &'static str, ms: f64) {
        self.events.add(
            1,
            &[
                KeyValue::new("role", role),
                KeyValue::new("outcome", outcome),
            ],
        );
        self.event_duration
            .record(ms, &[KeyValue::new("role", role)]);
    }

    /// Records how long an event waited in its socket's queue on a gateway, in ms.
    pub fn queue_wait(&self, ms: f64) {
        self.queue_wait.record(ms, &[]);
    }

    /// Records an OTLP export of `signal` (`traces`, `metrics`) that failed.
    pub fn export_failed(&self, signal: &'static str) {
        self.export_failures
            .add(1, &[KeyValue::new("signal", signal)]);
    }

    /// Records a frame a gateway refused with the error `code` (`overloaded`, `malformed_frame`,
    /// …) without running it.
    pub fn frame_rejected(&self, code: &'static str) {
        self.frames_rejected.add(1, &[KeyValue::new("code", code)]);
    }

    /// Records the time taken to acquire a lock and load shards, in ms.
    pub fn lock_wait(&self, ms: f64) {
        self.lock_wait.record(ms, &[]);
    }

    /// A WebSocket opened (`+1`) or closed (`-1`).
    pub fn connections(&self, delta: i64) {
        self.connections.add(delta, &[]);
    }

    /// Records a call given up on `worker` for a transport failure (it is retried on the next
    /// worker).
    pub fn worker_lost(&self, worker: &str) {
        self.worker_lost
            .add(1, &[KeyValue::new("worker", worker.to_owned())]);
    }

    /// Records a stored state of `state` (its name) that no longer decoded and was migrated.
    pub fn state_migrated(&self, state: &'static str) {
        self.state_migrations
            .add(1, &[KeyValue::new("state", state)]);
    }

    /// Records a rendering error a page reported.
    pub fn client_error(&self) {
        self.client_errors.add(1, &[]);
    }

    /// Records whether `worker` is serving.
    pub fn worker_healthy(&self, worker: &str, healthy: bool) {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(worker.to_owned(), healthy);
    }

    /// Forgets `worker`, which left the worker set: its `refract_worker_healthy` series goes.
    pub fn worker_removed(&self, worker: &str) {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(worker);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    use super::*;

    #[test]
    fn a_removed_worker_has_no_health_series() {
        let registry = prometheus::Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .unwrap();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let metrics = Metrics::new(&provider.meter("test"));
        let text = || {
            use prometheus::Encoder as _;
            let mut out = Vec::new();
            prometheus::TextEncoder::new()
                .encode(&registry.gather(), &mut out)
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        metrics.worker_healthy("10.0.0.1:50051", true);
        metrics.worker_healthy("10.0.0.2:50051", true);
        let before = text();
        let series = |text: &str, worker: &str| {
            text.lines()
                .find(|l| l.starts_with("refract_worker_healthy{") && l.contains(worker))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        assert_eq!(
            series(&before, "10.0.0.1:50051").as_deref(),
            Some("1"),
            "{before}"
        );
        assert_eq!(
            series(&before, "10.0.0.2:50051").as_deref(),
            Some("1"),
            "{before}"
        );

        metrics.worker_healthy("10.0.0.1:50051", false);
        metrics.worker_removed("10.0.0.2:50051");
        let after = text();
        assert_eq!(
            series(&after, "10.0.0.1:50051").as_deref(),
            Some("0"),
            "{after}"
        );
        assert_eq!(
            series(&after, "10.0.0.2:50051"),
            None,
            "the removed worker is gone: {after}"
        );
    }
}
