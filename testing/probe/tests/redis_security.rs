//! Redis that takes only an ACL user with a password, and only TLS, against real worker and
//! gateway processes: the state store and the delta feed both work through it, and a worker that
//! cannot authenticate or cannot trust the server's certificate stops with a clear error that does
//! not print the password.

mod roles;

use std::path::Path;
use std::time::{Duration, Instant};

use refract::testing::{Answer, TestClient};
use refract_process::launch::{Launch, Output};
use refract_test_support::Role;
use refract_test_support::redis::Redis;
use refract_test_support::tls::TestCa;
use roles::{PROBE, addr, free_port};
use serde_json::json;

const PASSWORD: &str = "correct-horse-battery";

/// `launch`, trusting the certificates of `ca` (as an operator points `SSL_CERT_FILE` at a private
/// authority's certificate).
fn trusting(launch: Launch, ca: &TestCa) -> Launch {
    launch.env("SSL_CERT_FILE", ca.ca_file().display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_and_the_feed_work_through_a_redis_with_a_password_and_tls() {
    let ca = TestCa::new();
    let redis = Redis::start_protected("refract", PASSWORD, Some(&ca));
    assert!(redis.url.starts_with("rediss://refract:"), "{}", redis.url);
    let worker_args = roles::worker_args(&redis.url, free_port(), 5000);
    let _worker = Role::start(
        trusting(
            refract_test_support::worker(Path::new(PROBE), &worker_args),
            &ca,
        ),
        worker_args.listen,
    );
    let gateway_args = roles::gateway_args(&redis.url, &[worker_args.listen.to_string()]);
    let gateway = Role::start(
        trusting(
            refract_test_support::gateway(Path::new(PROBE), &gateway_args, "redis-security"),
            &ca,
        ),
        gateway_args.listen.addr(),
    );
    let mut first = TestClient::connect(addr(&gateway), None).await.unwrap();
    let mut second = TestClient::connect(addr(&gateway), Some(&first.token))
        .await
        .unwrap();
    for n in 1..=3 {
        let answer = first
            .call("probe_state.add", json!({"n": 1}))
            .await
            .unwrap();
        assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
        assert_eq!(first.var("probe_state", "count"), &json!(n));
    }
    // The other socket of the token hears the deltas through the gateway's pub/sub connection.
    while second.var("probe_state", "count") != &json!(3) {
        second.recv().await.unwrap();
    }
    let keys = redis.command_all(&["DBSIZE"]);
    assert!(
        matches!(keys[0], redis::Value::Int(n) if n > 0),
        "the state is in the protected Redis: {keys:?}"
    );
}

/// Starts a worker of `url` with its log in a file, waits until it exits (at most 30 s) and
/// returns its log.
fn worker_exit_log(url: &str, ca: Option<&TestCa>, name: &str) -> String {
    let log = std::env::temp_dir().join(format!("refract-{name}-{}.log", std::process::id()));
    let args = roles::worker_args(url, free_port(), 5000);
    let mut launch =
        refract_test_support::worker(Path::new(PROBE), &args).output(Output::File(log.clone()));
    if let Some(ca) = ca {
        launch = trusting(launch, ca);
    }
    let mut child = launch.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker of {name} kept running"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "{name}: {status}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    text
}

#[test]
fn a_worker_that_cannot_authenticate_or_trust_redis_stops_with_a_clear_error() {
    let ca = TestCa::new();
    let redis = Redis::start_protected("refract", PASSWORD, Some(&ca));
    let wrong = redis.url.replace(PASSWORD, "wrong-password");
    let (bad_password, untrusted) = std::thread::scope(|s| {
        let bad_password = s.spawn(|| worker_exit_log(&wrong, Some(&ca), "bad-password"));
        let untrusted = s.spawn(|| worker_exit_log(&redis.url, None, "untrusted"));
        (bad_password.join().unwrap(), untrusted.join().unwrap())
    });
    assert!(
        bad_password.to_lowercase().contains("password"),
        "says why: {bad_password}"
    );
    assert!(!bad_password.contains("wrong-password"), "{bad_password}");
    assert!(
        untrusted.to_lowercase().contains("certificate"),
        "says why: {untrusted}"
    );
    assert!(!untrusted.contains(PASSWORD), "{untrusted}");
}
