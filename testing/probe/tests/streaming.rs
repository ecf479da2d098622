//! Streaming handlers through the distributed stack (a gateway, a worker process, Redis): each
//! flush reaches the page as a delta before the event's answer, and a handler that runs longer
//! than its lock's lease keeps the lock (renewed) and commits.

mod roles;

use refract::testing::{Answer, ServerFrame, TestClient};
use refract_test_support::redis::Redis;
use roles::{addr, free_port, gateway, worker};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_handler_longer_than_its_lease_sends_each_step_and_commits() {
    const LEASE_MS: u64 = 300;
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, LEASE_MS);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    // A second tab of the token watches the steps arrive.
    let mut watcher = TestClient::connect(addr(&gw), Some(&c.token))
        .await
        .unwrap();

    // 10 steps of 100 ms: three times the lease.
    let answer = c
        .call("progress_state.run", json!({"steps": 10, "ms": 100}))
        .await
        .unwrap();
    // The answer may come as a resync when the worker's reply overtakes the flushes' deltas on
    // their way through pub/sub; either way the tab ends at version 11.
    assert!(
        matches!(answer, Answer::Delta { .. } | Answer::Resynced { .. }),
        "{answer:?}"
    );
    assert_eq!(c.version, 11);
    assert_eq!(c.var("progress_state", "step"), &json!(10));
    assert_eq!(c.var("progress_state", "done"), &json!(true));

    let mut steps = Vec::new();
    while watcher.version < 11 {
        if let ServerFrame::Delta { delta, .. } = watcher.recv().await.unwrap()
            && let Some(step) = delta.get("progress_state").and_then(|s| s.get("step"))
        {
            steps.push(step.as_u64().unwrap());
        }
    }
    assert_eq!(
        steps,
        (1..=10).collect::<Vec<_>>(),
        "every flush arrived, in order"
    );
    assert_eq!(watcher.version, 11);
}
