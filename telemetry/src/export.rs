//! OTLP export: which signals and over which protocol (the standard `OTEL_EXPORTER_OTLP_*`
//! variables), the exporters, and their failures reported through `tracing` (the SDK drops what
//! it could not send without a word).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    fn endpoint_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        }
    }

    fn protocol_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        }
    }
}

/// The OTLP transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318; `/v1/traces`, `/v1/metrics`).
    HttpProtobuf,
}

/// Why a signal is not exported.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    /// The protocol variable names a protocol this build does not speak.
    #[error("{var}={value} is not supported: use grpc or http/protobuf")]
    Protocol {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The endpoint asks for TLS, which this build's exporters do not speak.
    #[error(
        "{endpoint}: OTLP over TLS (https) is not supported; export to a collector on the node \
         or in the cluster over http://"
    )]
    Tls {
        /// The endpoint.
        endpoint: String,
    },
    /// The exporter could not be made.
    #[error(transparent)]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// The value of `var` in `env`, unless empty.
fn var(env: &impl Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var).filter(|v| !v.trim().is_empty())
}

/// Whether `signal` is exported, by the variables `env` gives: an endpoint for it or for all
/// signals, and the SDK not disabled (`OTEL_SDK_DISABLED=true`).
pub(crate) fn configured(signal: Signal, env: impl Fn(&str) -> Option<String>) -> bool {
    let disabled = var(&env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled
        && (var(&env, "OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || var(&env, signal.endpoint_var()).is_some())
}

/// The protocol of `signal`: its own variable, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else gRPC.
/// An `https://` endpoint is refused: the exporters are built without TLS.
pub(crate) fn protocol(
    signal: Signal,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Protocol, ExportError> {
    let endpoint = [signal.endpoint_var(), "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .into_iter()
        .find_map(|name| var(&env, name));
    if let Some(endpoint) = endpoint.filter(|e| e.trim().to_ascii_lowercase().starts_with("https:"))
    {
        return Err(ExportError::Tls { endpoint });
    }
    let given = [signal.protocol_var(), "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .into_iter()
        .find_map(|name| var(&env, name).map(|value| (name, value)));
    match given {
        None => Ok(Protocol::Grpc),
        Some((_, value)) if value.trim().eq_ignore_ascii_case("grpc") => Ok(Protocol::Grpc),
        Some((_, value)) if value.trim().eq_ignore_ascii_case("http/protobuf") => {
            Ok(Protocol::HttpProtobuf)
        }
        Some((var, value)) => Err(ExportError::Protocol { var, value }),
    }
}

/// Where `signal` goes, for messages: its endpoint variable, else the general one.
fn endpoint(signal: Signal) -> String {
    [signal.endpoint_var(), "OTEL_EXPORTER_OTLP_ENDPOINT"]
        .into_iter()
        .find_map(|name| var(&|k: &str| std::env::var(k).ok(), name))
        .unwrap_or_default()
}

/// How a process exports one signal: the protocol and the endpoint, for its start-up log line.
pub(crate) fn describe(signal: Signal, protocol: Protocol) -> String {
    let protocol = match protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http/protobuf",
    };
    format!("{protocol} {}", endpoint(signal))
}

/// How long one OTLP/HTTP request may take (OTLP's default export timeout).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of the OTLP/HTTP exporters: hyper, its requests run on the process's tokio
/// runtime. The SDK exports from threads of its own, outside any runtime, where hyper cannot
/// open a connection.
#[derive(Debug)]
struct OnRuntime {
    client: opentelemetry_http::hyper::HyperClient,
    runtime: tokio::runtime::Handle,
}

impl OnRuntime {
    fn new(runtime: tokio::runtime::Handle) -> Self {
        OnRuntime {
            client: opentelemetry_http::hyper::HyperClient::with_default_connector(
                HTTP_TIMEOUT,
                None,
            ),
            runtime,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move { client.send_bytes(request).await })
            .await?
    }
}

/// The span exporter by the environment, on `runtime`.
pub(crate) fn spans(
    protocol: Protocol,
    runtime: tokio::runtime::Handle,
) -> Result<Reported<opentelemetry_otlp::SpanExporter>, ExportError> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let exporter = match protocol {
        Protocol::Grpc => builder.with_tonic().build()?,
        Protocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(OnRuntime::new(runtime))
            .build()?,
    };
    Ok(Reported::new(exporter, Signal::Traces))
}

/// The metric exporter by the environment, on `runtime`.
pub(crate) fn metrics(
    protocol: Protocol,
    runtime: tokio::runtime::Handle,
) -> Result<Reported<opentelemetry_otlp::MetricExporter>, ExportError> {
    let builder = opentelemetry_otlp::MetricExporter::builder();
    let exporter = match protocol {
        Protocol::Grpc => builder.with_tonic().build()?,
        Protocol::HttpProtobuf => builder
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_http_client(OnRuntime::new(runtime))
            .build()?,
    };
    Ok(Reported::new(exporter, Signal::Metrics))
}

/// The least time between two warnings of one exporter, so a flapping collector cannot flood the
/// logs.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The state of one exporter's outage: its failures since it last worked.
#[derive(Debug, Default)]
struct Failures {
    /// Failures since the exporter last worked (0: it works).
    since_working: u64,
    /// When the last warning was logged.
    warned_at: Option<Instant>,
    /// Whether this outage was warned about (so its end is said too).
    warned: bool,
}

impl Failures {
    /// Records a failure at `now`. Returns whether to warn now: at the first failure of an outage,
    /// or, when that came under [`WARN_EVERY`] after the last warning, at the first failure a
    /// minute after it. An outage is warned about once, however long it lasts (the failures are
    /// counted in `refract_otlp_export_failures_total`).
    fn failed(&mut self, now: Instant) -> bool {
        self.since_working += 1;
        if self.warned
            || self
                .warned_at
                .is_some_and(|at| now.duration_since(at) < WARN_EVERY)
        {
            return false;
        }
        self.warned_at = Some(now);
        self.warned = true;
        true
    }

    /// Records a success. Returns `Some(failures of the outage)` when it ends an outage that was
    /// warned about, `None` otherwise.
    fn succeeded(&mut self) -> Option<u64> {
        let failures = std::mem::take(&mut self.since_working);
        std::mem::take(&mut self.warned).then_some(failures)
    }
}

/// An exporter whose failures are counted (`refract_otlp_export_failures_total`) and logged: one
/// warning when exports start failing, one line when they work again.
#[derive(Debug)]
pub(crate) struct Reported<E> {
    inner: E,
    signal: Signal,
    failures: Mutex<Failures>,
}

impl<E> Reported<E> {
    fn new(inner: E, signal: Signal) -> Self {
        Reported {
            inner,
            signal,
            failures: Mutex::new(Failures::default()),
        }
    }

    /// Counts and logs what `result` says, if it needs saying.
    fn report(&self, result: &OTelSdkResult) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let signal = self.signal.name();
        match result {
            Err(error) => {
                crate::metrics().export_failed(signal);
                if failures.failed(Instant::now()) {
                    tracing::warn!(
                        signal,
                        endpoint = %endpoint(self.signal),
                        %error,
                        "OTLP export failed; data is dropped until the collector answers (failures \
                         counted in refract_otlp_export_failures_total; a line follows when \
                         export works again)"
                    );
                }
            }
            Ok(()) => {
                if let Some(failures) = failures.succeeded() {
                    tracing::info!(signal, failures, "OTLP export works again");
                }
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.report(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.report(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn protocol_by_signal_then_general_then_grpc() {
        assert_eq!(protocol(Signal::Traces, env(&[])).unwrap(), Protocol::Grpc);
        let general = env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]);
        assert_eq!(
            protocol(Signal::Metrics, &general).unwrap(),
            Protocol::HttpProtobuf
        );
        let both = env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        assert_eq!(protocol(Signal::Traces, &both).unwrap(), Protocol::Grpc);
        assert_eq!(
            protocol(Signal::Metrics, &both).unwrap(),
            Protocol::HttpProtobuf
        );
        let tls = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317")]);
        let err = protocol(Signal::Traces, tls).unwrap_err().to_string();
        assert!(err.contains("https://collector:4317"), "{err}");
        let json = env(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")]);
        let err = protocol(Signal::Metrics, json).unwrap_err().to_string();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/json"),
            "{err}"
        );
    }

    #[test]
    fn configured_by_an_endpoint_unless_disabled() {
        assert!(!configured(Signal::Traces, env(&[])));
        let all = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")];
        assert!(configured(Signal::Traces, env(&all)));
        assert!(configured(Signal::Metrics, env(&all)));
        let traces = [("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317")];
        assert!(configured(Signal::Traces, env(&traces)));
        assert!(!configured(Signal::Metrics, env(&traces)));
        let off = [all[0], ("OTEL_SDK_DISABLED", "TRUE")];
        assert!(!configured(Signal::Traces, env(&off)));
    }

    #[test]
    fn an_outage_is_warned_once_and_its_end_once() {
        let mut f = Failures::default();
        let t0 = Instant::now();
        assert!(f.failed(t0), "the first failure at once");
        assert!(!f.failed(t0 + Duration::from_secs(5)));
        assert!(
            !f.failed(t0 + Duration::from_secs(600)),
            "an outage is said once, however long"
        );
        assert_eq!(f.succeeded(), Some(3), "its end, with its failures");
        assert_eq!(f.succeeded(), None, "said once");
        // Failing again within the minute of the last warning stays quiet, and so does its end:
        // a flapping collector cannot flood the logs.
        assert!(!f.failed(t0 + Duration::from_secs(30)));
        assert_eq!(f.succeeded(), None);
        // A new outage a minute after the last warning is said again.
        assert!(f.failed(t0 + Duration::from_secs(61)));
        assert_eq!(f.succeeded(), Some(1));
        // An outage that starts within the minute and lasts is said once the minute is over.
        let t1 = t0 + Duration::from_secs(100);
        assert!(!f.failed(t1), "within a minute of the last warning");
        assert!(!f.failed(t1 + Duration::from_secs(10)));
        assert!(f.failed(t1 + Duration::from_secs(21)), "a minute after it");
        assert!(!f.failed(t1 + Duration::from_secs(600)));
        assert_eq!(f.succeeded(), Some(4));
    }
}
