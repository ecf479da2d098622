//! Logs, traces and metrics of Refract's processes.
//!
//! [`init`] installs the `tracing` subscriber of a process: human-readable logs on stderr (filtered
//! by `RUST_LOG`, default `info`), and, when OpenTelemetry export is configured by the standard
//! variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; off when
//! `OTEL_SDK_DISABLED=true`), every span exported as an OTLP trace over gRPC, and the metrics too.
//! The metrics are always kept for Prometheus: [`prometheus_text`] is what `/metrics` serves.
//! `OTEL_SERVICE_NAME` overrides the service name each role gives.
//!
//! One event is one trace across processes: the gateway's span context travels to the worker in
//! the gRPC metadata as W3C `traceparent`/`tracestate` ([`inject`], [`extract`]; the W3C Trace
//! Context recommendation).

mod metrics;
mod propagation;

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use metrics::{Metrics, metrics};
pub use propagation::{extract, inject, trace_id};

static REGISTRY: OnceLock<prometheus::Registry> = OnceLock::new();

/// The telemetry of a process; flushes and shuts the exporters down when dropped.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// Whether OTLP export is configured by the environment.
fn otlp_configured() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

fn resource(default_service: &str) -> Resource {
    let builder = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_ok() {
        builder.build()
    } else {
        builder
            .with_service_name(default_service.to_owned())
            .build()
    }
}

/// Installs logging, tracing and metrics for a process whose service name is `default_service`
/// (e.g. `refract-gateway`). Call once, inside a tokio runtime (the exporters run on it). Export
/// problems are logged, never fatal: the process runs without export.
pub fn init(default_service: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let resource = resource(default_service);
    let mut problems = Vec::new();

    let tracer = if otlp_configured() {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.clone())
                    .build(),
            ),
            Err(e) => {
                problems.push(format!("OTLP trace export disabled: {e}"));
                None
            }
        }
    } else {
        None
    };
    let otel_layer = tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("refract"))
            .with_filter(EnvFilter::new("info"))
    });
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel_layer)
        .try_init();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = &tracer {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }

    let registry = REGISTRY.get_or_init(prometheus::Registry::new).clone();
    let mut meter = SdkMeterProvider::builder().with_resource(resource);
    match opentelemetry_prometheus::exporter()
        .with_registry(registry)
        .build()
    {
        Ok(reader) => meter = meter.with_reader(reader),
        Err(e) => problems.push(format!("Prometheus metrics disabled: {e}")),
    }
    if otlp_configured() {
        match opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => meter = meter.with_reader(PeriodicReader::builder(exporter).build()),
            Err(e) => problems.push(format!("OTLP metric export disabled: {e}")),
        }
    }
    let meter = meter.build();
    opentelemetry::global::set_meter_provider(meter.clone());
    for problem in problems {
        tracing::warn!("{problem}");
    }
    Telemetry {
        tracer,
        meter: Some(meter),
    }
}

/// The metrics in the Prometheus text exposition format (empty before [`init`]).
pub fn prometheus_text() -> String {
    use prometheus::Encoder as _;
    let Some(registry) = REGISTRY.get() else {
        return String::new();
    };
    let mut out = Vec::new();
    if let Err(e) = prometheus::TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::warn!(error = %e, "cannot encode the metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(tracer) = self.tracer.take() {
            let _ = tracer.shutdown();
        }
        if let Some(meter) = self.meter.take() {
            let _ = meter.shutdown();
        }
    }
}
