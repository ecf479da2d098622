//! One event is one trace across processes: an OTLP receiver in this test process collects the
//! spans that a real gateway and a real worker export, and one trace must hold the gateway's
//! receive, route and relay spans and the worker's lock, handler and commit spans. Also checks
//! both processes' Prometheus `/metrics`.

mod roles;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use refract::testing::{Answer, TestClient};
use refract_process::launch::Launch;
use refract_test_support::Role;
use refract_test_support::redis::Redis;
use roles::{free_port, gateway_args, http_get, worker_launch};
use serde_json::json;

/// `(trace id, service name, span name)` of every span received.
type Spans = Arc<Mutex<Vec<(Vec<u8>, String, String)>>>;

struct Receiver(Spans);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(
                    |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(AnyValue::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    },
                )
                .unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push((span.trace_id, service.clone(), span.name));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_is_one_trace_across_gateway_and_worker() {
    let spans = Spans::default();
    let otlp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let otlp_addr = otlp.local_addr().unwrap();
    otlp.set_nonblocking(true).unwrap();
    let incoming = tokio_stream_listener(otlp);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Receiver(spans.clone())))
            .serve_with_incoming(incoming),
    );
    // Both processes export their spans to this test's receiver, quickly.
    let otel = |launch: Launch| {
        launch
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp_addr}"))
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
    };
    let redis = Redis::start();
    let port = free_port();
    let (launch, addr) = worker_launch(&redis.url, port, 5000);
    let _worker = Role::start(otel(launch), addr);
    let args = gateway_args(&redis.url, &[format!("127.0.0.1:{port}")]);
    let launch = refract_test_support::gateway(std::path::Path::new(roles::PROBE), &args, "t");
    let gw = Role::start(otel(launch), args.listen.addr());
    let mut c = TestClient::connect(gw.addr, None).await.unwrap();
    let answer = c.call("probe_state.add", json!({"n": 2})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");

    let gateway_spans: BTreeSet<&str> =
        ["event", "route", "refract.v1.Worker/ProcessEvent", "relay"].into();
    let worker_spans: BTreeSet<&str> = [
        "refract.v1.Worker/ProcessEvent",
        "process",
        "acquire",
        "handler",
        "commit",
    ]
    .into();
    let complete = || {
        let spans = spans.lock().unwrap();
        let mut traces: BTreeMap<&[u8], BTreeSet<(&str, &str)>> = BTreeMap::new();
        for (trace, service, name) in spans.iter() {
            traces.entry(trace).or_default().insert((service, name));
        }
        traces.values().any(|t| {
            gateway_spans
                .iter()
                .all(|n| t.contains(&("refract-gateway", n)))
                && worker_spans
                    .iter()
                    .all(|n| t.contains(&("refract-worker", n)))
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !complete() {
        assert!(
            std::time::Instant::now() < deadline,
            "no trace holds the gateway's and the worker's spans; got {:?}",
            spans
                .lock()
                .unwrap()
                .iter()
                .map(|(_, s, n)| format!("{s}/{n}"))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let metrics = http_get(
        ([127, 0, 0, 1], args.metrics.metrics_port).into(),
        "/metrics",
    )
    .await;
    assert!(metrics.contains("refract_events_total"), "{metrics}");
    assert!(metrics.contains("refract_connections"), "{metrics}");
    assert!(metrics.contains("refract_worker_healthy"), "{metrics}");
}

/// A tonic incoming stream over a std listener.
fn tokio_stream_listener(
    listener: std::net::TcpListener,
) -> tokio_stream::wrappers::TcpListenerStream {
    tokio_stream::wrappers::TcpListenerStream::new(
        tokio::net::TcpListener::from_std(listener).unwrap(),
    )
}
