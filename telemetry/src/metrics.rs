//! The metrics of Refract's processes (OpenTelemetry instruments; exported as OTLP and Prometheus).
//!
//! | name (Prometheus) | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `refract_events_total` | counter | `role`, `outcome` | events processed (`applied`, `duplicate`, or an error code) |
//! | `refract_event_duration_milliseconds` | histogram | `role` | one event, from the gateway's or the worker's view |
//! | `refract_lock_wait_milliseconds` | histogram | | time to take a token's lock and load its shards |
//! | `refract_connections` | up-down counter | | open WebSockets on a gateway |
//! | `refract_worker_healthy` | gauge | `worker` | 1 when a gateway sees the worker serving, else 0 |
//! | `refract_state_migrations_total` | counter | `state` | stored states that no longer decoded and were migrated (fields that decode kept, others defaulted) |
//! | `refract_worker_lost_total` | counter | `worker` | calls a gateway gave up on a worker for a transport failure (unreachable, died, drained) and sent to the next one |

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, UpDownCounter};

/// The instruments.
pub struct Metrics {
    events: Counter<u64>,
    event_duration: Histogram<f64>,
    lock_wait: Histogram<f64>,
    connections: UpDownCounter<i64>,
    worker_healthy: Gauge<u64>,
    worker_lost: Counter<u64>,
    state_migrations: Counter<u64>,
    client_errors: Counter<u64>,
}

/// Latency buckets in ms, from 0.1 ms to 10 s.
const MS_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0,
];

/// The process's instruments, made on first use from the global meter provider (so after
/// [`init`](crate::init); before it they record nothing).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("refract");
        Metrics {
            events: meter
                .u64_counter("refract.events")
                .with_description("Events processed")
                .build(),
            event_duration: meter
                .f64_histogram("refract.event.duration")
                .with_unit("ms")
                .with_description("Time to process one event")
                .with_boundaries(MS_BUCKETS.to_vec())
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
            worker_healthy: meter
                .u64_gauge("refract.worker.healthy")
                .with_description("1 when the gateway sees the worker serving")
                .build(),
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
        }
    })
}

impl Metrics {
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
        self.worker_healthy.record(
            u64::from(healthy),
            &[KeyValue::new("worker", worker.to_owned())],
        );
    }
}
