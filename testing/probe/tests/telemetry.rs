//! One event is one trace across processes: an OTLP receiver in this test process collects the
//! spans that a real gateway and a real worker export, and one trace must hold the gateway's
//! receive, route and relay spans and the worker's lock, handler and commit spans. Also checks
//! both processes' Prometheus `/metrics`, and what an operator relies on (both OTLP protocols,
//! instance ids, span kinds and statuses, integer attributes, rejected-frame counts).

mod roles;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use refract::testing::{Answer, ErrorCode, ServerFrame, TestClient};
use refract_gateway::pool::rendezvous_weight;
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

/// What the OTLP receivers of [`an_operator_can_trust_the_exported_telemetry`] got, with the
/// protocol each export came over.
#[derive(Default)]
struct Received {
    spans: Vec<(&'static str, ResourceSpans)>,
    metrics: Vec<(&'static str, ResourceMetrics)>,
}

type Store = Arc<Mutex<Received>>;

/// OTLP/gRPC: the collector's trace and metrics services.
#[derive(Clone)]
struct GrpcReceiver(Store);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request.into_inner().resource_spans;
        let mut store = self.0.lock().unwrap();
        store.spans.extend(spans.into_iter().map(|r| (GRPC, r)));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let metrics = request.into_inner().resource_metrics;
        let mut store = self.0.lock().unwrap();
        store.metrics.extend(metrics.into_iter().map(|r| (GRPC, r)));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

const GRPC: &str = "grpc";
const HTTP: &str = "http/protobuf";

/// OTLP/HTTP with protobuf bodies: `POST /v1/traces` and `POST /v1/metrics`.
fn http_receiver(store: Store) -> axum::Router {
    use axum::http::StatusCode;
    use prost::Message as _;
    let traces = {
        let store = store.clone();
        move |body: axum::body::Bytes| async move {
            let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                return StatusCode::BAD_REQUEST;
            };
            let mut store = store.lock().unwrap();
            let spans = request.resource_spans.into_iter().map(|r| (HTTP, r));
            store.spans.extend(spans);
            StatusCode::OK
        }
    };
    let metrics = move |body: axum::body::Bytes| async move {
        let Ok(request) = ExportMetricsServiceRequest::decode(body) else {
            return StatusCode::BAD_REQUEST;
        };
        let mut store = store.lock().unwrap();
        let metrics = request.resource_metrics.into_iter().map(|r| (HTTP, r));
        store.metrics.extend(metrics);
        StatusCode::OK
    };
    axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .route("/v1/metrics", axum::routing::post(metrics))
}

/// The value of attribute `key` among `attributes`.
fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The string attribute `key` among `attributes`.
fn text<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attributes, key) {
        Some(AnyValue::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// `(service.name, service.instance.id)` of an export's resource.
fn who(resource: Option<&Resource>) -> (String, String) {
    let attributes = resource
        .map(|r| r.attributes.as_slice())
        .unwrap_or_default();
    let get = |key| text(attributes, key).unwrap_or_default().to_owned();
    (get("service.name"), get("service.instance.id"))
}

/// A span with the service that exported it.
struct Exported<'a> {
    service: String,
    instance: String,
    span: &'a Span,
}

impl Received {
    fn spans(&self) -> Vec<Exported<'_>> {
        let mut out = Vec::new();
        for (_, rs) in &self.spans {
            let (service, instance) = who(rs.resource.as_ref());
            for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
                out.push(Exported {
                    service: service.clone(),
                    instance: instance.clone(),
                    span,
                });
            }
        }
        out
    }

    /// The data points of the sum `name` that `service` exported, as `(attributes, value)`.
    fn sums(&self, service: &str, name: &str) -> Vec<(Vec<KeyValue>, i64)> {
        let mut out = Vec::new();
        for (_, rm) in &self.metrics {
            if who(rm.resource.as_ref()).0 != service {
                continue;
            }
            for metric in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
                if metric.name != name {
                    continue;
                }
                if let Some(metric::Data::Sum(sum)) = &metric.data {
                    for point in &sum.data_points {
                        if let Some(number_data_point::Value::AsInt(v)) = point.value {
                            out.push((point.attributes.clone(), v));
                        }
                    }
                }
            }
        }
        out
    }

    /// Whether `service` exported a metric named `name`.
    fn has_metric(&self, service: &str, name: &str) -> bool {
        self.metrics.iter().any(|(_, rm)| {
            who(rm.resource.as_ref()).0 == service
                && rm
                    .scope_metrics
                    .iter()
                    .flat_map(|s| &s.metrics)
                    .any(|m| m.name == name)
        })
    }

    /// Checks everything the test expects of what arrived so far; says what is still missing.
    fn check(&self, failed_code: &str) -> Result<(), String> {
        for protocol in [GRPC, HTTP] {
            if !self.spans.iter().any(|(p, _)| *p == protocol) {
                return Err(format!("no spans over {protocol}"));
            }
            if !self.metrics.iter().any(|(p, _)| *p == protocol) {
                return Err(format!("no metrics over {protocol}"));
            }
        }
        let spans = self.spans();
        let rpc = |e: &Exported<'_>, kind: SpanKind| {
            let a = &e.span.attributes;
            e.span.name == "refract.v1.Worker/ProcessEvent"
                && e.span.kind == kind as i32
                && text(a, "rpc.system") == Some("grpc")
                && text(a, "rpc.service") == Some("refract.v1.Worker")
                && text(a, "rpc.method") == Some("ProcessEvent")
        };
        let servers: Vec<&Exported<'_>> = spans
            .iter()
            .filter(|e| e.service == "refract-worker" && rpc(e, SpanKind::Server))
            .collect();
        let instances: BTreeSet<&str> = servers.iter().map(|e| e.instance.as_str()).collect();
        if instances.len() != 2 || instances.contains("") {
            return Err(format!("worker instances seen serving: {instances:?}"));
        }
        let gateway_instance = spans
            .iter()
            .find(|e| e.service == "refract-gateway")
            .map(|e| e.instance.as_str())
            .ok_or("no gateway span")?;
        if instances.contains(gateway_instance) {
            return Err("the gateway shares an instance id with a worker".into());
        }
        // Each worker SERVER span is the child of a gateway CLIENT span, with integer seq.
        for server in &servers {
            let client = spans
                .iter()
                .find(|e| e.span.span_id == server.span.parent_span_id)
                .ok_or("a SERVER span without its CLIENT span")?;
            if client.service != "refract-gateway" || !rpc(client, SpanKind::Client) {
                return Err(format!("the parent of a SERVER span: {:?}", client.span));
            }
            if !matches!(
                attr(&client.span.attributes, "server.port"),
                Some(AnyValue::IntValue(_))
            ) {
                return Err("a CLIENT span without an integer server.port".into());
            }
            if !matches!(
                attr(&server.span.attributes, "seq"),
                Some(AnyValue::IntValue(_))
            ) {
                return Err("a SERVER span without an integer seq".into());
            }
        }
        let applied = servers.iter().any(|e| {
            matches!(
                attr(&e.span.attributes, "version"),
                Some(AnyValue::IntValue(_))
            )
        });
        if !applied {
            return Err("no SERVER span with an integer version".into());
        }
        // The gateway's event spans: SERVER, integer seq; the failed one an ERROR with its code.
        let events: Vec<&Exported<'_>> = spans
            .iter()
            .filter(|e| e.service == "refract-gateway" && e.span.name == "event")
            .collect();
        if events.iter().any(|e| {
            e.span.kind != SpanKind::Server as i32
                || !matches!(attr(&e.span.attributes, "seq"), Some(AnyValue::IntValue(_)))
        }) {
            return Err("an event span not SERVER or without an integer seq".into());
        }
        let error = |e: &Exported<'_>| {
            e.span.status.as_ref().map(|s| s.code) == Some(StatusCode::Error as i32)
                && text(&e.span.attributes, "error.type") == Some(failed_code)
        };
        let failed = events
            .iter()
            .find(|e| error(e))
            .ok_or("no event span with an ERROR status and its code")?;
        if !servers
            .iter()
            .any(|e| e.span.trace_id == failed.span.trace_id && error(e))
        {
            return Err("the failed event's worker span is not an ERROR".into());
        }
        if !events.iter().any(|e| {
            matches!(
                attr(&e.span.attributes, "version"),
                Some(AnyValue::IntValue(_))
            ) && e
                .span
                .status
                .as_ref()
                .is_none_or(|s| s.code != StatusCode::Error as i32)
        }) {
            return Err("no applied event span with an integer version".into());
        }
        // Rejected frames are counted by code, and the queue wait is measured.
        let rejected = self.sums("refract-gateway", "refract.frames.rejected");
        for code in ["malformed_frame", "frame_too_large"] {
            if !rejected
                .iter()
                .any(|(a, v)| text(a, "code") == Some(code) && *v >= 1)
            {
                return Err(format!("no rejected-frame count for {code}: {rejected:?}"));
            }
        }
        if !self.has_metric("refract-gateway", "refract.event.queue_wait") {
            return Err("no queue-wait histogram".into());
        }
        Ok(())
    }
}

/// Point 6 of issue 14 against real processes: a gateway exporting over OTLP/HTTP, one worker
/// over OTLP/gRPC and one over OTLP/HTTP, to receivers in this test. Both protocols deliver
/// traces and metrics; the two workers are two instances; the gRPC hop is a CLIENT span in the
/// gateway and a SERVER span in the worker with the RPC attributes; a failed event's spans are
/// errors with its code; `seq` and `version` are integers; rejected frames are counted by code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_trust_the_exported_telemetry() {
    let store = Store::default();
    let grpc = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    grpc.set_nonblocking(true).unwrap();
    let receiver = GrpcReceiver(store.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream_listener(grpc)),
    );
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = http.local_addr().unwrap();
    tokio::spawn(axum::serve(http, http_receiver(store.clone())).into_future());
    let otel = |launch: Launch, protocol: &str| {
        let endpoint = match protocol {
            GRPC => format!("http://{grpc_addr}"),
            _ => format!("http://{http_addr}"),
        };
        launch
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
    };

    let redis = Redis::start();
    let ports = [free_port(), free_port()];
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut workers = Vec::new();
    for (port, protocol) in ports.into_iter().zip([GRPC, HTTP]) {
        let (launch, addr) = worker_launch(&redis.url, port, 5000);
        workers.push(Role::start(otel(launch, protocol), addr));
    }
    let args = gateway_args(&redis.url, &addrs);
    let launch = refract_test_support::gateway(Path::new(roles::PROBE), &args, roles::SECRET);
    let _gateway = Role::start(otel(launch, HTTP), args.listen.addr());
    let gw = args.listen.addr();

    // One client whose token each worker serves first (rendezvous order, as the gateway
    // computes it): both workers serve an event.
    let mut clients = Vec::new();
    for addr in &addrs {
        let client = loop {
            assert!(clients.len() < 64, "no token routed to {addr}");
            let c = TestClient::connect(gw, None).await.unwrap();
            let key = roles::store_key(&c.token);
            let first = addrs
                .iter()
                .max_by_key(|a| rendezvous_weight(&key, a))
                .unwrap();
            if first == addr {
                break c;
            }
            clients.push(c);
        };
        clients.push(client);
    }
    let mut served = 0;
    for c in clients.iter_mut().rev().take(2) {
        let answer = c.call("probe_state.add", json!({"n": 1})).await.unwrap();
        assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
        served += 1;
    }
    assert_eq!(served, 2);

    // A failed event: the worker refuses its argument.
    let c = clients.last_mut().unwrap();
    let answer = c
        .call("probe_state.add", json!({"n": "two"}))
        .await
        .unwrap();
    let Answer::Error(failure) = answer else {
        panic!("a bad argument is refused: {answer:?}");
    };
    let failed_code = failure.code.as_str();

    // Frames the gateway refuses at the socket.
    c.send_text("{not json").await.unwrap();
    let frame = c.recv().await.unwrap();
    assert!(
        matches!(&frame, ServerFrame::Error { code, .. } if *code == ErrorCode::MalformedFrame),
        "{frame:?}"
    );
    c.send_text("x".repeat(70 * 1024)).await.unwrap();
    let frame = c.recv().await.unwrap();
    assert!(
        matches!(&frame, ServerFrame::Error { code, .. } if *code == ErrorCode::FrameTooLarge),
        "{frame:?}"
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let verdict = store.lock().unwrap().check(failed_code);
        match verdict {
            Ok(()) => break,
            Err(missing) => assert!(
                std::time::Instant::now() < deadline,
                "within 20 s: {missing}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Prometheus says the same.
    let metrics = http_get(
        ([127, 0, 0, 1], args.metrics.metrics_port).into(),
        "/metrics",
    )
    .await;
    let rejected = metrics
        .lines()
        .find(|l| l.starts_with("refract_frames_rejected_total{") && l.contains("malformed_frame"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(rejected.ends_with(" 1"), "{rejected}");
    assert!(
        metrics.contains("refract_event_queue_wait_milliseconds"),
        "{metrics}"
    );
}

/// A collector that cannot be reached is said in the logs once per signal, however many exports
/// fail, and every failure is counted in `/metrics`; with `REFRACT_LOG_FORMAT=json` every line
/// the process writes is a JSON object (and no colour codes in a file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_is_reported_in_json_logs() {
    let redis = Redis::start();
    let nobody = format!("http://127.0.0.1:{}", free_port());
    // A worker that is not there: the gateway's health checks record its health gauge, so
    // there are metrics to export.
    let args = gateway_args(&redis.url, &[format!("127.0.0.1:{}", free_port())]);
    let log = std::env::temp_dir().join(format!("refract-otlp-{}.log", std::process::id()));
    let launch = refract_test_support::gateway(Path::new(roles::PROBE), &args, roles::SECRET)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &nobody)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
        .env("RUST_LOG", "warn")
        .env("REFRACT_LOG_FORMAT", "json")
        .output(refract_process::launch::Output::File(log.clone()));
    let _gateway = Role::start(launch, args.listen.addr());

    let failures = || -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            !text.contains('\x1b'),
            "no colour codes in a file: {text:?}"
        );
        text.lines()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .filter(|line| {
                line["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("OTLP export failed"))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while failures().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no export failure logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // More exports fail meanwhile (one every 200 ms): counted, not logged again.
    let failed_exports = || async {
        let text = http_get(
            ([127, 0, 0, 1], args.metrics.metrics_port).into(),
            "/metrics",
        )
        .await;
        text.lines()
            .find(|l| l.starts_with("refract_otlp_export_failures_total{") && l.contains("metrics"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    while failed_exports().await < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "failed exports are not counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = failures();
    let metrics: Vec<_> = logged
        .iter()
        .filter(|l| l["fields"]["signal"] == "metrics")
        .collect();
    assert_eq!(metrics.len(), 1, "{logged:?}");
    assert_eq!(metrics[0]["level"], "WARN");
    assert_eq!(metrics[0]["fields"]["endpoint"], nobody.as_str());
    std::fs::remove_file(&log).ok();
}
