//! Background tasks, embedded and through the distributed stack (a gateway, worker processes,
//! Redis): a task's sections interleave with ordinary events of the same token and both counts
//! come out exact; a handler cancels a task; a task whose worker is SIGKILLed is recorded
//! `interrupted` by another worker once its heartbeat lapses, and the token keeps working, while
//! a live one outlasts its lease through its heartbeat; a
//! worker that shuts down records its tasks interrupted; a second start while one runs is
//! refused.

mod roles;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use refract::testing::{Answer, ErrorCode, TestClient};
use refract_gateway::GatewayConfig;
use refract_process::launch::Signal;
use refract_test_support::Role;
use refract_test_support::redis::Redis;
use roles::{TASK_LEASE_MS, addr, free_port, gateway, worker};
use serde_json::{Value, json};

/// The task's status as `c` last heard it.
fn phase(c: &TestClient) -> String {
    c.var("task_state", "job")["phase"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Reads frames until the task's phase is `want`; panics after `limit`.
async fn until_phase(c: &mut TestClient, want: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while phase(c) != want {
        assert!(
            Instant::now() < deadline,
            "the task is {:?}, not {want}, after {limit:?}: {:?}",
            phase(c),
            c.var("task_state", "job")
        );
        let _ = c.recv().await;
    }
}

/// Starts counting to `to` (one section per step, `ms` apart), clicks `clicks` times meanwhile,
/// waits for the task to end, and checks both counts.
async fn interleave(gateway: SocketAddr, to: u32, ms: u64, clicks: u64) {
    let mut c = TestClient::connect(gateway, None).await.unwrap();
    let answer = c
        .call("task_state.run", json!({"to": to, "ms": ms}))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(phase(&c), "running", "the start answers with the status");
    let mut slowest = Duration::ZERO;
    for _ in 0..clicks {
        let sent = Instant::now();
        let answer = c.call("task_state.click", Value::Null).await.unwrap();
        slowest = slowest.max(sent.elapsed());
        assert!(
            matches!(answer, Answer::Delta { .. } | Answer::Resynced { .. }),
            "{answer:?}"
        );
    }
    until_phase(&mut c, "done", Duration::from_secs(30)).await;
    // A fresh tab reads what is stored.
    let fresh = TestClient::connect(gateway, Some(&c.token)).await.unwrap();
    assert_eq!(fresh.var("task_state", "count"), &json!(to));
    assert_eq!(fresh.var("task_state", "clicks"), &json!(clicks));
    assert_eq!(phase(&fresh), "done");
    assert!(
        c.var("task_state", "count") == &json!(to),
        "every section reached the tab"
    );
    eprintln!("slowest click beside the task: {slowest:?}");
}

/// Two workers of the probe app on `redis` (a 2 s lock lease) and a gateway in front of them.
fn two_workers(redis: &Redis) -> ([Role; 2], Role) {
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let workers = ports.map(|port| worker(&redis.url, port, 2000));
    (workers, gateway(&redis.url, &addrs))
}

async fn embedded() -> refract::Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    refract_probe::app()
        .serve(listener, GatewayConfig::default())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_task_sections_interleave_with_clicks() {
    let server = embedded().await;
    interleave(server.addr, 50, 20, 100).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_stops_and_a_second_start_is_refused_while_one_runs() {
    let server = embedded().await;
    let mut c = TestClient::connect(server.addr, None).await.unwrap();
    c.call("task_state.run", json!({"to": 10_000, "ms": 5}))
        .await
        .unwrap();
    let again = c
        .call("task_state.run", json!({"to": 1, "ms": 0}))
        .await
        .unwrap();
    let Answer::Error(failure) = again else {
        panic!("a second start while one runs: {again:?}")
    };
    assert_eq!(failure.code, ErrorCode::HandlerFailed);
    assert!(failure.message.contains("already running"), "{failure:?}");
    let bad = c
        .call("task_state.run", json!({"to": "many"}))
        .await
        .unwrap();
    assert!(
        matches!(&bad, Answer::Error(f) if f.code == ErrorCode::BadArguments),
        "{bad:?}"
    );

    c.call("task_state.cancel", Value::Null).await.unwrap();
    until_phase(&mut c, "cancelled", Duration::from_secs(10)).await;
    let counted = c.var("task_state", "count").as_u64().unwrap();
    assert!(counted < 10_000, "stopped early: {counted}");
    // Nothing counts after the cancel.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = TestClient::connect(server.addr, Some(&c.token))
        .await
        .unwrap();
    assert_eq!(fresh.var("task_state", "count"), &json!(counted));

    // Ended, it starts again.
    c.call("task_state.run", json!({"to": 3, "ms": 0}))
        .await
        .unwrap();
    until_phase(&mut c, "done", Duration::from_secs(10)).await;
    assert_eq!(c.var("task_state", "count"), &json!(counted + 3));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_task_sections_interleave_with_200_events_across_two_workers() {
    let redis = Redis::start();
    let (_workers, gw) = two_workers(&redis);
    interleave(addr(&gw), 50, 20, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_task_is_recorded_interrupted_and_the_token_keeps_working() {
    let redis = Redis::start();
    let (mut workers, gw) = two_workers(&redis);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    c.call("task_state.run", json!({"to": 100_000, "ms": 20}))
        .await
        .unwrap();
    // It counts.
    while c.var("task_state", "count").as_u64().unwrap_or(0) < 3 {
        c.recv().await.unwrap();
    }
    // SIGKILL every worker (the task's among them), then start one again.
    for w in &mut workers {
        w.child.kill();
    }
    let killed = Instant::now();
    let _again = worker(&redis.url, workers[0].addr.port(), 2000);
    until_phase(&mut c, "interrupted", Duration::from_secs(30)).await;
    let took = killed.elapsed();
    eprintln!("recorded interrupted {took:?} after the kill (task lease {TASK_LEASE_MS} ms)");
    assert!(
        took < Duration::from_millis(TASK_LEASE_MS) + Duration::from_secs(5),
        "interrupted within the lease (and a sweep, and a worker's start): {took:?}"
    );
    assert!(
        !c.var("task_state", "job")["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "it says why"
    );
    // The token keeps working: clicks apply, and the task starts again.
    let click = c.call("task_state.click", Value::Null).await.unwrap();
    assert!(matches!(click, Answer::Delta { .. }), "{click:?}");
    c.call("task_state.run", json!({"to": 2, "ms": 0}))
        .await
        .unwrap();
    until_phase(&mut c, "done", Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_shuts_down_records_its_running_task_interrupted() {
    let redis = Redis::start();
    let port = free_port();
    let w = worker(&redis.url, port, 2000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    c.call("task_state.run", json!({"to": 100_000, "ms": 20}))
        .await
        .unwrap();
    while c.var("task_state", "count").as_u64().unwrap_or(0) < 2 {
        c.recv().await.unwrap();
    }
    // SIGTERM: the worker drains (its task would run for ~30 min: it waits the drain's 2 s,
    // then stops it and records it interrupted itself, without waiting for the lease).
    w.child.signal(Signal::TERM).unwrap();
    until_phase(&mut c, "interrupted", Duration::from_secs(20)).await;
    assert_eq!(
        c.var("task_state", "job")["message"],
        json!("the worker shut down before the task finished")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_longer_than_its_lease_is_kept_alive_by_its_heartbeat() {
    let redis = Redis::start();
    // Both workers sweep the registry while the task runs 3 leases long.
    let (_workers, gw) = two_workers(&redis);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    let steps = (3 * TASK_LEASE_MS / 100) as u32;
    c.call("task_state.run", json!({"to": steps, "ms": 100}))
        .await
        .unwrap();
    until_phase(&mut c, "done", Duration::from_secs(30)).await;
    assert_eq!(c.var("task_state", "count"), &json!(steps));
}
