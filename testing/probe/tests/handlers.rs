//! Handlers beyond one state and one commit, through the distributed stack (a gateway, worker
//! processes, Redis): a streaming handler's flushes reach the page as deltas before the event's
//! answer, and one that runs longer than its lock's lease keeps the lock (renewed) and commits; a
//! handler that changes two states commits them together, once, even when its worker dies
//! between the change and the commit; a substate's handler reads its parent.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_states_changed_by_one_event_commit_together_even_when_the_worker_dies_between() {
    let redis = Redis::start();
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut workers = [
        worker(&redis.url, ports[0], 500),
        worker(&redis.url, ports[1], 500),
    ];
    let gw = gateway(&redis.url, &addrs);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();

    // Both states are changed at once, then the handler waits 1.5 s: both workers are killed
    // in that window and started again, so the event's first run never commits.
    let call = tokio::spawn(async move {
        let args = json!({"amount": 10, "ms": 1500});
        let answer = c.deliver(1, "account_state.save", args, 0).await.unwrap();
        (c, answer)
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for (w, port) in workers.iter_mut().zip(ports) {
        w.child.kill();
        *w = worker(&redis.url, port, 500);
    }
    let (c, answer) = call.await.unwrap();
    assert!(
        matches!(
            answer,
            Answer::Delta { .. } | Answer::Ack | Answer::Resynced { .. }
        ),
        "{answer:?}"
    );
    let fresh = TestClient::connect(addr(&gw), Some(&c.token))
        .await
        .unwrap();
    // Applied exactly once, both states together.
    assert_eq!(fresh.var("account_state", "balance"), &json!(-10));
    assert_eq!(fresh.var("savings_state", "balance"), &json!(10));
    assert_eq!(fresh.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substates_handler_reads_its_parent_loaded_with_it() {
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, 2000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    c.call("account_state.save", json!({"amount": 25, "ms": 0}))
        .await
        .unwrap();
    let answer = c.call("savings_state.check", json!({})).await.unwrap();
    let Answer::Delta { delta, version } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(version, 2);
    // The parent was read, not written: the delta holds the substate only.
    assert_eq!(
        serde_json::Value::Object(delta),
        json!({"savings_state": {"seen": -25}})
    );
    let fresh = TestClient::connect(addr(&gw), Some(&c.token))
        .await
        .unwrap();
    assert_eq!(fresh.var("account_state", "balance"), &json!(-25));
    assert_eq!(fresh.var("savings_state", "seen"), &json!(-25));
}
