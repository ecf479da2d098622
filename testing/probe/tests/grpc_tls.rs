//! Mutual TLS between gateways and workers, with real processes: a worker that requires client
//! certificates serves a gateway presenting one signed by the deployment's authority, and refuses
//! gateways without one (their browsers' `hello` gets `unavailable`, and they retry); the `healthcheck` command
//! checks such a worker with the worker's own settings.

mod roles;

use refract::testing::{Answer, ClientError, ErrorCode, TestClient};
use refract_process::grpc_tls::GrpcTlsArgs;
use refract_test_support::Role;
use refract_test_support::redis::Redis;
use refract_test_support::tls::TestCa;
use roles::{PROBE, addr, free_port};
use serde_json::json;

/// The options of a side that presents `name`'s certificate and trusts `ca`.
fn mutual(ca: &TestCa, name: &str) -> GrpcTlsArgs {
    let files = ca.issue(name);
    GrpcTlsArgs {
        grpc_tls_cert: Some(files.cert),
        grpc_tls_key: Some(files.key),
        grpc_tls_ca: Some(ca.ca_file()),
        ..GrpcTlsArgs::default()
    }
}

/// A gateway in front of `worker` with `tls`.
fn gateway(redis: &Redis, worker: &Role, tls: GrpcTlsArgs) -> Role {
    let mut args = roles::gateway_args(&redis.url, &[worker.addr.to_string()]);
    args.tls = tls;
    roles::gateway_with(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_gateways_with_the_deployments_certificate_reach_the_workers() {
    let ca = TestCa::new();
    let redis = Redis::start();
    let mut worker_args = roles::worker_args(&redis.url, free_port(), 5000);
    worker_args.tls = mutual(&ca, "refract-worker");
    let worker = roles::worker_with(&worker_args);

    let trusted = gateway(&redis, &worker, mutual(&ca, "gateway"));
    let mut c = TestClient::connect(addr(&trusted), None).await.unwrap();
    let answer = c.call("probe_state.add", json!({"n": 2})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("probe_state", "count"), &json!(2));

    // A gateway that checks the worker but has no certificate of its own, one whose certificate
    // another authority signed, and one speaking plain gRPC: the worker refuses each.
    let stranger = TestCa::new();
    let refused = [
        GrpcTlsArgs {
            grpc_tls_ca: Some(ca.ca_file()),
            ..GrpcTlsArgs::default()
        },
        GrpcTlsArgs {
            grpc_tls_ca: Some(ca.ca_file()),
            ..mutual(&stranger, "intruder")
        },
        GrpcTlsArgs::default(),
    ];
    for tls in refused {
        let what = format!("{tls:?}");
        let untrusted = gateway(&redis, &worker, tls);
        // The page's `hello` cannot be hydrated: `unavailable`, which the runtime retries.
        let refused = TestClient::connect(addr(&untrusted), None).await;
        assert!(
            matches!(&refused, Err(ClientError::Refused(f)) if f.code == ErrorCode::Unavailable && f.code.retryable()),
            "{what}: {:?}",
            refused.map(|c| c.version)
        );
    }
    let answer = c.call("probe_state.add", json!({"n": 2})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(
        c.var("probe_state", "count"),
        &json!(4),
        "only the trusted events applied"
    );

    // The container health check, with the worker's own settings, and without them.
    let check = |tls: &GrpcTlsArgs| {
        std::process::Command::new(PROBE)
            .args(["healthcheck".to_owned(), format!("--grpc={}", worker.addr)])
            .args(tls.to_args())
            .env_remove("RUST_LOG")
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(check(&worker_args.tls), "healthy over mutual TLS");
    assert!(!check(&GrpcTlsArgs::default()), "a plain check is refused");
}
