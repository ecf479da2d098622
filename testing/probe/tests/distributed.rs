//! The distributed mode's invariants, against a real Redis and real worker and gateway processes:
//! exactly once under worker kills, fencing, per-token order across gateways, and resync after the
//! pub/sub connection is cut.

mod roles;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use refract::testing::{Answer, ClientError, ErrorCode, TestClient};
use refract_process::launch::Signal;
use refract_test_support::redis::Redis;
use refract_test_support::wait_until;
use roles::{KillingWorkers, addr, free_port, gateway, http_get, worker};
use serde_json::{Value, json};

/// Sends event `seq` until it is applied or acknowledged, resending the same seq after a
/// retryable error (as the browser runtime does).
async fn deliver(c: &mut TestClient, seq: u64, handler: &str, args: Value) {
    let answer = c.deliver(seq, handler, args, 0).await.unwrap();
    assert!(
        !matches!(answer, Answer::Error(_)),
        "only infrastructure errors are retried: {answer:?}"
    );
}

/// Runs each scenario against one Redis server and against a three-master Redis Cluster.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod single {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(&super::Redis::start()).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario(&super::Redis::cluster()).await;
                }
            )*
        }
    };
}

on_both!(
    every_event_applies_exactly_once_while_workers_are_killed,
    a_handler_that_outlives_its_lease_cannot_overwrite_newer_state,
    a_handler_longer_than_its_lease_keeps_the_lock_by_renewing_it,
    each_clients_events_apply_in_order_across_two_gateways,
    clients_resync_after_the_gateways_pubsub_connection_is_cut,
    a_worker_replaces_its_cut_redis_connections_without_failing_events,
    rolling_every_worker_under_load_loses_no_event,
);

async fn every_event_applies_exactly_once_while_workers_are_killed(redis: &Redis) {
    const CLIENTS: u64 = 10;
    const EVENTS: u64 = 100;
    const LEASE_MS: u64 = 400;
    let stack = KillingWorkers::start(&redis.url, LEASE_MS, 50..250);
    let gw_addr = stack.addr();

    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        clients.spawn(async move {
            let mut c = TestClient::connect(gw_addr, None).await.unwrap();
            for seq in 1..=EVENTS {
                deliver(&mut c, seq, "probe_state.add", json!({"n": 1})).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (c.token, c.tab)
        });
    }
    let tokens = clients.join_all().await;
    let (kills, _gateway, _workers) = stack.stop().await;
    eprintln!(
        "{kills} worker kills (SIGKILL, then restart) while {CLIENTS} clients sent {EVENTS} events each"
    );
    assert!(
        kills >= 10,
        "only {kills} worker kills happened while the clients sent"
    );

    let mut total = 0;
    for (token, tab) in &tokens {
        let c = TestClient::resume(gw_addr, token, tab).await.unwrap();
        assert_eq!(
            c.var("probe_state", "count"),
            &json!(EVENTS),
            "token {token}"
        );
        assert_eq!(c.last_seq, EVENTS);
        total += c.var("probe_state", "count").as_u64().unwrap();
    }
    assert_eq!(total, CLIENTS * EVENTS);
}

async fn a_handler_that_outlives_its_lease_cannot_overwrite_newer_state(redis: &Redis) {
    const LEASE_MS: u64 = 300;
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    // Only the first worker runs at first, so the slow event lands on it.
    let first = worker(&redis.url, ports[0], LEASE_MS);
    let gw = gateway(&redis.url, &addrs);
    let mut a = TestClient::connect(addr(&gw), None).await.unwrap();
    a.call("probe_state.add", json!({"n": 100})).await.unwrap();
    a.send_text(
        json!({"type": "event", "seq": 2, "handler": "probe_state.slow", "args": {"ms": 1000}})
            .to_string(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Freeze the worker mid-handler: it can no longer renew its lease.
    first.child.signal(Signal::STOP).unwrap();
    let _second = worker(&redis.url, ports[1], LEASE_MS);
    // Let the gateway's health checks see the frozen worker and the new one.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut b = TestClient::connect(addr(&gw), Some(&a.token))
        .await
        .unwrap();
    let answer = b.call("probe_state.add", json!({"n": 10})).await.unwrap();
    assert!(
        matches!(answer, Answer::Delta { .. }),
        "the other worker took the expired lock and committed: {answer:?}"
    );
    assert_eq!(b.var("probe_state", "count"), &json!(110));

    first.child.signal(Signal::CONT).unwrap();
    let answer = a.answer_to(2).await.unwrap();
    assert!(
        matches!(&answer, Answer::Error(f) if f.code == ErrorCode::LockLost),
        "{answer:?}"
    );

    // Each tab's last applied seq: `a`'s fenced event 2 is not recorded, `b`'s event 1 is.
    let fresh = TestClient::resume(addr(&gw), &a.token, &a.tab)
        .await
        .unwrap();
    assert_eq!(
        fresh.var("probe_state", "count"),
        &json!(110),
        "the stale handler's write was fenced off"
    );
    assert_eq!(fresh.last_seq, 1);
    let fresh = TestClient::resume(addr(&gw), &b.token, &b.tab)
        .await
        .unwrap();
    assert_eq!(fresh.last_seq, 1);
}

async fn a_handler_longer_than_its_lease_keeps_the_lock_by_renewing_it(redis: &Redis) {
    const LEASE_MS: u64 = 300;
    let port = free_port();
    let _worker = worker(&redis.url, port, LEASE_MS);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    // Without renewal the lock would expire after 300 ms and the commit would be fenced off.
    let answer = c
        .call("probe_state.slow", json!({"ms": 1000}))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("probe_state", "count"), &json!(1));
    let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    assert!(
        matches!(answer, Answer::Delta { .. }),
        "the lock was released: {answer:?}"
    );
    assert_eq!(c.var("probe_state", "count"), &json!(2));
}

async fn each_clients_events_apply_in_order_across_two_gateways(redis: &Redis) {
    const CLIENTS: usize = 50;
    const EVENTS: u64 = 20;
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let _workers = [
        worker(&redis.url, ports[0], 5000),
        worker(&redis.url, ports[1], 5000),
    ];
    let gateways = [gateway(&redis.url, &addrs), gateway(&redis.url, &addrs)];
    let targets: Vec<SocketAddr> = gateways.iter().map(addr).collect();

    let mut clients = tokio::task::JoinSet::new();
    for i in 0..CLIENTS {
        let target = targets[i % 2];
        clients.spawn(async move {
            let mut c = TestClient::connect(target, None).await.unwrap();
            // All events at once: the gateway queues them and must apply them in order.
            for n in 1..=EVENTS {
                c.send_text(json!({"type": "event", "seq": n, "handler": "probe_state.record", "args": {"n": n}}).to_string()).await.unwrap();
            }
            let last = c.answer_to(EVENTS).await.unwrap();
            assert!(matches!(last, Answer::Delta { .. }), "{last:?}");
            c.token
        });
    }
    let tokens = clients.join_all().await;
    for (i, token) in tokens.iter().enumerate() {
        // Read back through the other gateway.
        let c = TestClient::connect(targets[(i + 1) % 2], Some(token))
            .await
            .unwrap();
        let expected: Vec<u64> = (1..=EVENTS).collect();
        assert_eq!(c.var("probe_state", "log"), &json!(expected), "client {i}");
    }
}

async fn a_worker_replaces_its_cut_redis_connections_without_failing_events(redis: &Redis) {
    let port = free_port();
    let _worker = worker(&redis.url, port, 5000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    for _ in 0..8 {
        c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    }
    assert_eq!(c.var("probe_state", "count"), &json!(8));

    // Cut every command connection (the worker's; the gateways' subscribers are of type pubsub).
    let killed = redis.kill_clients("normal");
    assert!(killed >= 1, "the worker's connections are cut: {killed}");
    // Each of the worker's connections is found broken by the next event using it, which is
    // then sent again on a fresh connection: no event fails.
    for n in 9..=16 {
        let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
        assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
        assert_eq!(c.var("probe_state", "count"), &json!(n));
    }
}

async fn clients_resync_after_the_gateways_pubsub_connection_is_cut(redis: &Redis) {
    let port = free_port();
    let addrs = vec![format!("127.0.0.1:{port}")];
    let _worker = worker(&redis.url, port, 5000);
    let (g1, g2) = (gateway(&redis.url, &addrs), gateway(&redis.url, &addrs));
    let mut watcher = TestClient::connect(addr(&g1), None).await.unwrap();
    let mut actor = TestClient::connect(addr(&g2), Some(&watcher.token))
        .await
        .unwrap();

    // A change made through the other gateway reaches the watcher over pub/sub.
    actor
        .call_seq(1, "probe_state.add", json!({"n": 1}))
        .await
        .unwrap();
    while watcher.var("probe_state", "count") != &json!(1) {
        watcher.recv().await.unwrap();
    }

    // Cut every pub/sub connection; changes made meanwhile must still reach the watcher.
    let killed = redis.kill_clients("pubsub");
    assert!(
        killed >= 2,
        "both gateways' subscriber connections are cut: {killed}"
    );
    actor
        .call_seq(2, "probe_state.add", json!({"n": 10}))
        .await
        .unwrap();
    actor
        .call_seq(3, "probe_state.add", json!({"n": 100}))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while watcher.var("probe_state", "count") != &json!(111) {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher did not resync: {:?}",
            watcher.state
        );
        watcher.recv().await.unwrap();
    }
    // And the feed works again afterwards.
    actor
        .call_seq(4, "probe_state.add", json!({"n": 1000}))
        .await
        .unwrap();
    while watcher.var("probe_state", "count") != &json!(1111) {
        watcher.recv().await.unwrap();
    }
}

async fn rolling_every_worker_under_load_loses_no_event(redis: &Redis) {
    const CLIENTS: usize = 8;
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let workers = vec![
        worker(&redis.url, ports[0], 5000),
        worker(&redis.url, ports[1], 5000),
    ];
    let gw = gateway(&redis.url, &addrs);
    let gw_addr = addr(&gw);

    let rolled = Arc::new(AtomicBool::new(false));
    let roller = {
        let (rolled, url) = (rolled.clone(), redis.url.clone());
        tokio::task::spawn_blocking(move || {
            let mut workers = workers;
            // Two rounds: every worker is replaced twice, one at a time, as a rollout does.
            for i in [0, 1, 0, 1] {
                std::thread::sleep(Duration::from_millis(400));
                workers[i].child.signal(Signal::TERM).unwrap();
                wait_until(
                    "the worker to drain and exit",
                    Duration::from_secs(15),
                    || workers[i].child.try_wait().is_some(),
                );
                workers[i] = worker(&url, ports[i], 5000);
            }
            rolled.store(true, Ordering::SeqCst);
            workers
        })
    };

    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let rolled = rolled.clone();
        clients.spawn(async move {
            let mut c = TestClient::connect(gw_addr, None).await.unwrap();
            let mut sent = 0;
            while !rolled.load(Ordering::SeqCst) {
                sent += 1;
                deliver(&mut c, sent, "probe_state.add", json!({"n": 1})).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (c.token, sent)
        });
    }
    let results = clients.join_all().await;
    let _workers = roller.await.unwrap();
    for (token, sent) in results {
        assert!(sent > 20, "the clients sent during the whole rollout");
        let c = TestClient::connect(gw_addr, Some(&token)).await.unwrap();
        assert_eq!(
            c.var("probe_state", "count"),
            &json!(sent),
            "every event of {token} applied once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draining_gateway_closes_sockets_with_service_restart() {
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, 5000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    gw.child.signal(Signal::TERM).unwrap();
    assert_eq!(
        c.closed(Duration::from_secs(10)).await.unwrap(),
        Some(1012),
        "closed with 1012 (service restart): reconnect elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_answers_for_workers_and_gateways() {
    let redis = Redis::start();
    let port = free_port();
    let worker = worker(&redis.url, port, 5000);
    let gw = gateway(&redis.url, &[worker.addr.to_string()]);
    let (worker, gw) = (worker.addr.to_string(), gw.addr.to_string());
    let check = |args: &[&str]| {
        std::process::Command::new(roles::PROBE)
            .arg("healthcheck")
            .args(args)
            .env("RUST_LOG", "error")
            .status()
            .unwrap()
            .success()
    };
    assert!(check(&["--grpc", &worker]), "a serving worker is healthy");
    assert!(
        check(&["--http", &gw]),
        "a gateway answering /_health is healthy"
    );
    assert!(
        !check(&["--grpc", &format!("127.0.0.1:{}", free_port())]),
        "nothing listening is unhealthy"
    );
    assert!(!check(&["--http", &worker]), "a worker is not a gateway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_answers_unavailable_keeps_workers_healthy_and_heals() {
    let mut redis = Redis::start_durable();
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let _workers = [
        worker(&redis.url, ports[0], 5000),
        worker(&redis.url, ports[1], 5000),
    ];
    let gateway_args = roles::gateway_args(&redis.url, &addrs);
    let gw = roles::gateway_with(&gateway_args);
    let metrics_addr = SocketAddr::from(([127, 0, 0, 1], gateway_args.metrics.metrics_port));
    let mut a = TestClient::connect(addr(&gw), None).await.unwrap();
    for _ in 0..3 {
        a.call("probe_state.add", json!({"n": 1})).await.unwrap();
    }

    redis.kill();
    // Events and hellos while Redis is down: each answered `unavailable` (retryable), promptly.
    for _ in 0..3 {
        let answer = a.call("probe_state.add", json!({"n": 1})).await.unwrap();
        assert!(
            matches!(&answer, Answer::Error(f) if f.code == ErrorCode::Unavailable && f.code.retryable()),
            "{answer:?}"
        );
        // The browser is told what happened, not the Redis client's message or addresses.
        let Answer::Error(f) = &answer else {
            unreachable!()
        };
        assert_eq!(
            Some(f.message.as_str()),
            ErrorCode::Unavailable.public_message()
        );
        match TestClient::connect(addr(&gw), None).await {
            Err(ClientError::Refused(f)) => assert_eq!(f.code, ErrorCode::Unavailable, "{f}"),
            Err(e) => panic!("hello during the outage: {e}"),
            Ok(_) => panic!("hello hydrated while Redis was down"),
        }
        match TestClient::connect(addr(&gw), Some(&a.token)).await {
            Err(ClientError::Refused(f)) => assert_eq!(f.code, ErrorCode::Unavailable, "{f}"),
            other => panic!("resuming hello during the outage: {:?}", other.err()),
        }
    }
    // The store's failure is the worker's answer, not a lost worker: none was given up on.
    let metrics = http_get(metrics_addr, "/metrics").await;
    let lost: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("refract_worker_lost_total"))
        .collect();
    assert!(lost.is_empty(), "workers were given up on: {lost:?}");
    let healthy: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("refract_worker_healthy"))
        .collect();
    assert_eq!(healthy.len(), 2, "{metrics}");
    assert!(healthy.iter().all(|l| l.ends_with(" 1")), "{healthy:?}");

    redis.restart();
    // Without restarting anything else: the same socket's resent event applies once, the state
    // kept by Redis is there, and new sockets hydrate.
    let seq = a.next_seq();
    deliver(&mut a, seq, "probe_state.add", json!({"n": 1})).await;
    assert_eq!(a.var("probe_state", "count"), &json!(4));
    let b = TestClient::resume(addr(&gw), &a.token, &a.tab)
        .await
        .unwrap();
    assert_eq!(b.var("probe_state", "count"), &json!(4));
    assert_eq!(b.last_seq, seq);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    let answer = c.call("probe_state.add", json!({"n": 5})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_acquire_abandoned_during_a_redis_stall_leaves_no_lock_behind() {
    const LEASE_MS: u64 = 10_000;
    let redis = Redis::start();
    let port = free_port();
    let mut args = roles::worker_args(&redis.url, port, LEASE_MS);
    // The worker gives up on a silent Redis after 300 ms.
    args.store.redis_timeout_ms = 300;
    let _worker = roles::worker_with(&args);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    c.call("probe_state.add", json!({"n": 1})).await.unwrap();

    // Freeze Redis while an event asks for the token's lock: its acquire script waits in Redis's
    // input buffer after the worker has given up on it.
    redis.signal(Signal::STOP);
    let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    assert!(
        matches!(&answer, Answer::Error(f) if f.code == ErrorCode::Unavailable),
        "{answer:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.signal(Signal::CONT);

    // When Redis resumes, the queued acquire runs and takes the lock for nobody; the release the
    // worker queued behind it frees it at once, not after the 10 s lease.
    let lock = refract_proto::layout::lock_key(&roles::store_key(&c.token));
    let locked = || {
        !matches!(
            redis.command_all(&["EXISTS", &lock])[0],
            redis::Value::Int(0)
        )
    };
    let started = std::time::Instant::now();
    while locked() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the abandoned acquire's lock is still held"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("probe_state", "count"), &json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stored_state_of_an_older_shape_is_migrated_not_bricked() {
    let redis = Redis::start();
    let port = free_port();
    let mut args = roles::worker_args(&redis.url, port, 5000);
    args.metrics.metrics_port = free_port();
    let _worker = roles::worker_with(&args);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    c.call("probe_state.add", json!({"n": 7})).await.unwrap();
    // As an older deploy left it: `log` had another type, `legacy` is gone from the struct.
    // Redis knows the session only by its store key, never by the token itself.
    let key = roles::store_key(&c.token);
    let names = redis.command_all(&["KEYS", "*"]);
    let names = format!("{names:?}");
    assert!(!names.contains(&c.token), "a token in Redis: {names}");
    assert!(names.contains(&key), "{names}");
    let shard = refract_proto::layout::shard_key(&key, "probe_state");
    redis.command_all(&[
        "SET",
        &shard,
        r#"{"count": 7, "log": "not a list", "legacy": 1}"#,
    ]);
    let mut again = TestClient::connect(addr(&gw), Some(&c.token))
        .await
        .unwrap();
    assert_eq!(again.var("probe_state", "count"), &json!(7));
    assert_eq!(again.var("probe_state", "log"), &json!([]));
    let answer = again
        .call("probe_state.record", json!({"n": 1}))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(again.var("probe_state", "log"), &json!([1]));
    // Counted where it happened, the worker.
    let metrics = http_get(
        ([127, 0, 0, 1], args.metrics.metrics_port).into(),
        "/metrics",
    )
    .await;
    let migrations: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("refract_state_migrations_total{") && l.contains("probe_state"))
        .collect();
    assert_eq!(migrations.len(), 1, "{metrics}");
    assert!(!migrations[0].ends_with(" 0"), "{migrations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_click_after_the_tokens_state_was_lost_is_answered_not_left_hanging() {
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, 5000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    for _ in 0..3 {
        c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    }
    // Redis loses everything (FLUSHALL: as a restart without persistence would).
    redis.command_all(&["FLUSHALL"]);
    // The tab's numbering went with the state: the event is refused as a gap, and the client, as
    // the runtime does, resyncs and sends it again as the tab's event 1 of the new history.
    let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    assert!(
        matches!(answer, Answer::Delta { version: 1, .. }),
        "{answer:?}"
    );
    assert_eq!(c.var("probe_state", "count"), &json!(1), "the new history");
    assert_eq!(c.last_seq, 1);
    let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    assert!(
        matches!(answer, Answer::Delta { version: 2, .. }),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_tab_keeps_its_state_past_the_token_expiry() {
    let redis = Redis::start();
    let port = free_port();
    let mut worker_args = roles::worker_args(&redis.url, port, 5000);
    worker_args.store.token_expiry_secs = 3;
    let _worker = roles::worker_with(&worker_args);
    let mut gateway_args = roles::gateway_args(&redis.url, &[format!("127.0.0.1:{port}")]);
    gateway_args.sockets.touch_every_secs = 1;
    let gw = roles::gateway_with(&gateway_args);
    let mut open = TestClient::connect(addr(&gw), None).await.unwrap();
    let mut closed = TestClient::connect(addr(&gw), None).await.unwrap();
    for c in [&mut open, &mut closed] {
        c.call("probe_state.add", json!({"n": 1})).await.unwrap();
    }
    let closed_token = closed.token.clone();
    closed.close().await;
    // Longer than the expiry, with no event: the open tab's token is touched by the gateway.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let answer = open.call("probe_state.add", json!({"n": 1})).await.unwrap();
    assert!(
        matches!(answer, Answer::Delta { version: 2, .. }),
        "{answer:?}"
    );
    assert_eq!(open.var("probe_state", "count"), &json!(2));
    let reopened = TestClient::connect(addr(&gw), Some(&closed_token))
        .await
        .unwrap();
    assert_eq!(reopened.version, 0, "the closed tab's state expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_cannot_grow_past_its_limit() {
    let redis = Redis::start();
    let port = free_port();
    let mut args = roles::worker_args(&redis.url, port, 5000);
    args.store.max_state_bytes = 300;
    let _worker = roles::worker_with(&args);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    // Each `record` makes the stored log longer, until the token's states would pass 300 bytes.
    let mut recorded = 0;
    let refused = loop {
        match c
            .call("probe_state.record", json!({"n": 123456}))
            .await
            .unwrap()
        {
            Answer::Delta { .. } => recorded += 1,
            Answer::Error(f) => break f,
            other => panic!("{other:?}"),
        }
        assert!(recorded < 100, "never refused");
    };
    assert_eq!(refused.code, ErrorCode::StateTooLarge, "{refused}");
    assert!(recorded > 5, "{recorded}");
    let again = TestClient::connect(addr(&gw), Some(&c.token))
        .await
        .unwrap();
    let log = again.var("probe_state", "log").as_array().unwrap().len();
    assert_eq!(log, recorded, "the refused event changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_port_not_to_browsers() {
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, 5000);
    let args = roles::gateway_args(&redis.url, &[format!("127.0.0.1:{port}")]);
    let gw = roles::gateway_with(&args);
    // The worker's gauge appears with the gateway's first health check of it.
    let metrics_addr = ([127, 0, 0, 1], args.metrics.metrics_port).into();
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http_get(metrics_addr, "/metrics").await;
        if metrics.contains("refract_worker_healthy") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(metrics.contains("refract_worker_healthy"), "{metrics}");
    let public = http_get(addr(&gw), "/metrics").await;
    assert!(
        !public.contains("refract_"),
        "the browsers' port serves no metrics: {public}"
    );
}
