//! A short run of the load generator against the probe app served in this process (embedded mode
//! on a free loopback port): every event must get its delta (and, streamed, each of its steps in
//! order) and every count must add up. No timing is asserted.

use std::time::Duration;

use loadtests::scenario::{self, ClosedLoop, IdleSet, Target};
use serde_json::Value;

async fn probe_server() -> refract::Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    refract_probe::app()
        .serve(listener, Default::default())
        .unwrap()
}

fn extra(outcome: &scenario::Outcome, key: &str) -> u64 {
    outcome.extra.get(key).and_then(Value::as_u64).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_the_counter_scenario_gets_its_delta() {
    let server = probe_server().await;
    let target = Target::new(server.addr);
    scenario::warm_up(server.addr, Duration::from_secs(5))
        .await
        .unwrap();
    let spec = ClosedLoop::counter(4, 100, Duration::from_secs(8));
    let out = scenario::closed_loop(&target, &spec, "smoke").await;
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.errors, 0);
    assert_eq!(out.events, 400);
    assert_eq!(extra(&out, "deltas"), 400, "{:?}", out.extra);
    assert_eq!(extra(&out, "count_mismatches"), 0, "{:?}", out.extra);
    assert_eq!(out.histogram.len(), 400);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_state_and_idle_connections_work_end_to_end() {
    let server = probe_server().await;
    let mut target = Target::new(server.addr);

    // A small "big" state keeps the test short; the path is the same as with 1 MB.
    let rows = 512;
    let spec = ClosedLoop::big_state(2, 20, rows, false, Duration::from_secs(8));
    let out = scenario::closed_loop(&target, &spec, "smoke-big").await;
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(extra(&out, "deltas"), 40, "{:?}", out.extra);
    assert_eq!(extra(&out, "count_mismatches"), 0, "{:?}", out.extra);
    // The hydrate after the setup carries the filled state.
    assert!(
        extra(&out, "hydrate_bytes_max") > rows * 64,
        "{:?}",
        out.extra
    );

    target.sources = loadtests::source_addresses(2);
    let mut idle = IdleSet::open(&target, 20, Duration::from_secs(5)).await;
    assert_eq!(idle.opened, 20, "{:?}", idle.failed);
    assert_eq!(idle.still_open(), 20);
    let (ok, failed, _) = idle.check(5, Duration::from_secs(5)).await;
    assert_eq!((ok, failed), (4, 0));
    // A second check is answered too, by as many connections.
    let (ok, failed, _) = idle.check(3, Duration::from_secs(5)).await;
    assert_eq!((ok, failed), (7, 0));
    idle.close(Duration::from_secs(5)).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_the_stream_scenario_arrives_in_order() {
    let server = probe_server().await;
    let target = Target::new(server.addr);
    let (clients, events, steps) = (3, 20, 5);
    let spec = ClosedLoop::stream(clients, events, steps, 0, Duration::from_secs(8));
    let out = scenario::closed_loop(&target, &spec, "smoke-stream").await;
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.errors, 0);
    assert_eq!(out.events, clients * events);
    // An answer that overtakes the last flushes comes as a resync covering them.
    assert_eq!(
        extra(&out, "deltas") + extra(&out, "resyncs"),
        clients * events,
        "{:?}",
        out.extra
    );
    assert_eq!(
        extra(&out, "flushes") + extra(&out, "flushes_covered"),
        clients * events * u64::from(steps),
        "{:?}",
        out.extra
    );
    assert_eq!(extra(&out, "step_errors"), 0, "{:?}", out.extra);
    for key in ["flushes_per_s", "all_deltas_per_s", "delta_p99_ms"] {
        assert!(
            out.extra.get(key).and_then(Value::as_f64).unwrap_or(0.0) > 0.0,
            "{key}: {:?}",
            out.extra
        );
    }

    // A client expecting one step more than the handler flushes fails every event.
    let mut short = ClosedLoop::stream(2, 3, steps, 0, Duration::from_secs(8));
    short.steps = Some(steps + 1);
    let out = scenario::closed_loop(&target, &short, "smoke-stream-short").await;
    assert_eq!(out.errors, 6, "{:?}", out.failures);
    assert_eq!(out.events, 0);
    assert_eq!(extra(&out, "step_errors"), 6, "{:?}", out.extra);
    assert!(
        out.failures[0].contains("after 5 steps of 6"),
        "{:?}",
        out.failures
    );
    server.stop();
}
