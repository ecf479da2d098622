//! Logs, traces and metrics of Refract's processes.
//!
//! [`init`] installs the `tracing` subscriber of a process: logs on stderr (filtered by
//! `RUST_LOG`, default `info`; [`LogFormat`] text, coloured only on a terminal, or JSON), and,
//! when OpenTelemetry export is configured by the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `_METRICS_ENDPOINT` for one signal; off when
//! `OTEL_SDK_DISABLED=true`), every span exported as an OTLP trace and the metrics too, over gRPC
//! or HTTP/protobuf (`OTEL_EXPORTER_OTLP_PROTOCOL`, or `_TRACES_PROTOCOL` / `_METRICS_PROTOCOL`:
//! `grpc`, the default, or `http/protobuf`). Export failures are counted and logged: one warning
//! when exports start failing, one line when they work again.
//! The metrics are always kept for Prometheus: [`prometheus_text`] is what `/metrics` serves.
//! [`init_logs`] installs the logs alone, for commands that export nothing (health checks).
//!
//! Each process is its own instance: `service.instance.id` is a random UUID ([`instance_id`]),
//! and `process.pid` is set; `OTEL_SERVICE_NAME` overrides the service name each role gives.
//!
//! One event is one trace across processes: the gateway's span context travels to the worker in
//! the gRPC metadata as W3C `traceparent`/`tracestate` ([`inject`], [`extract`]; the W3C Trace
//! Context recommendation), and the hop's spans follow the RPC semantic conventions
//! ([`rpc_client_span`], [`rpc_server_span`]).

mod export;
mod logs;
mod metrics;
mod propagation;
mod resource;
mod spans;

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use export::Signal;

pub use logs::{LogFormat, ParseLogFormatError};
pub use metrics::{Metrics, metrics};
pub use propagation::{extract, inject, trace_id};
pub use resource::{configured_service_name, instance_id, role_service_name};
pub use spans::{failed, int, rpc_client_span, rpc_server_span, rpc_status, set_int};

static REGISTRY: OnceLock<prometheus::Registry> = OnceLock::new();

/// The telemetry of a process; flushes and shuts the exporters down when dropped.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

/// The log layer of `format` on stderr, filtered by `RUST_LOG` (default `info`; see
/// [`log_filter`]).
fn log_layer(format: LogFormat) -> Box<dyn Layer<Registry> + Send + Sync> {
    let filter = EnvFilter::try_new(log_filter(env("RUST_LOG").as_deref()))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    logs::layer(format, logs::colour(), std::io::stderr)
        .with_filter(filter)
        .boxed()
}

/// The log filter for `RUST_LOG` (none: `info`): the OpenTelemetry SDK's own lines are kept from
/// `warn` up (spans or exports dropped), not its start-up chatter at `info`, when the default
/// level would show that chatter (`info`, `debug`, `trace`) and no directive names an
/// `opentelemetry…` target itself. Otherwise `RUST_LOG` stands as given.
fn log_filter(rust_log: Option<&str>) -> String {
    const LEVELS: [&str; 3] = ["info", "debug", "trace"];
    let given = rust_log
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    let directives = || given.split(',').map(str::trim);
    let names_sdk = directives().any(|d| d.starts_with("opentelemetry"));
    let chatty = directives().any(|d| LEVELS.iter().any(|l| d.eq_ignore_ascii_case(l)));
    if chatty && !names_sdk {
        format!("{given},opentelemetry=warn")
    } else {
        given.to_owned()
    }
}

/// Installs the logs alone, in `format`: no export, no metrics. For commands such as
/// `healthcheck` that run for a moment and have nothing to export.
pub fn init_logs(format: LogFormat) {
    let _ = tracing_subscriber::registry()
        .with(log_layer(format))
        .try_init();
}

/// The process's environment, for [`export`]'s functions.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The protocol `signal` is exported with and the runtime its exporter runs on, when export of
/// `signal` is configured and possible; a problem otherwise goes to `problems`.
fn export_plan(
    signal: Signal,
    problems: &mut Vec<String>,
) -> Option<(export::Protocol, tokio::runtime::Handle)> {
    if !export::configured(signal, env) {
        return None;
    }
    let plan = tokio::runtime::Handle::try_current()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            export::protocol(signal, env)
                .map(|protocol| (protocol, runtime))
                .map_err(|e| e.to_string())
        });
    plan.map_err(|e| problems.push(format!("OTLP {signal:?} export disabled: {e}")))
        .ok()
}

/// Installs logging in `format`, tracing and metrics for a process whose service name is
/// `default_service` (e.g. `refract-gateway`). Call once, inside a multi-threaded tokio runtime
/// (the gRPC exporters' connections and the OTLP/HTTP requests run on it, while the SDK's own
/// threads wait for them). Export problems are logged, never fatal: the process runs without
/// export.
pub fn init(default_service: &str, format: LogFormat) -> Telemetry {
    let resource = resource::resource(default_service);
    let mut problems = Vec::new();
    let mut exporting = Vec::new();

    let tracer = export_plan(Signal::Traces, &mut problems).and_then(|(protocol, runtime)| {
        match export::spans(protocol, runtime) {
            Ok(exporter) => {
                exporting.push(format!(
                    "traces: {}",
                    export::describe(Signal::Traces, protocol)
                ));
                Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_resource(resource.clone())
                        .build(),
                )
            }
            Err(e) => {
                problems.push(format!("OTLP trace export disabled: {e}"));
                None
            }
        }
    });
    let otel_layer = tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("refract"))
            .with_filter(EnvFilter::new("info"))
    });
    let _ = tracing_subscriber::registry()
        .with(log_layer(format))
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
    if let Some((protocol, runtime)) = export_plan(Signal::Metrics, &mut problems) {
        match export::metrics(protocol, runtime) {
            Ok(exporter) => {
                exporting.push(format!(
                    "metrics: {}",
                    export::describe(Signal::Metrics, protocol)
                ));
                meter = meter.with_reader(PeriodicReader::builder(exporter).build());
            }
            Err(e) => problems.push(format!("OTLP metric export disabled: {e}")),
        }
    }
    let meter = meter.build();
    opentelemetry::global::set_meter_provider(meter.clone());
    for problem in problems {
        tracing::warn!("{problem}");
    }
    tracing::info!(
        service = %configured_service_name().unwrap_or_else(|| default_service.to_owned()),
        instance = instance_id(),
        otlp = %if exporting.is_empty() { "off".to_owned() } else { exporting.join(", ") },
        "telemetry"
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_logs_from_warn_unless_rust_log_names_it() {
        assert_eq!(log_filter(None), "info,opentelemetry=warn");
        assert_eq!(log_filter(Some(" ")), "info,opentelemetry=warn");
        assert_eq!(
            log_filter(Some("debug,refract_worker=trace")),
            "debug,refract_worker=trace,opentelemetry=warn"
        );
        assert_eq!(
            log_filter(Some("info,opentelemetry_sdk=debug")),
            "info,opentelemetry_sdk=debug"
        );
        // What the user turned down stays down.
        assert_eq!(log_filter(Some("off")), "off");
        assert_eq!(log_filter(Some("error")), "error");
        assert_eq!(
            log_filter(Some("refract_gateway=debug")),
            "refract_gateway=debug"
        );
        // Another crate's name containing the word is no directive for the SDK.
        assert_eq!(
            log_filter(Some("info,tracing_opentelemetry=debug")),
            "info,tracing_opentelemetry=debug,opentelemetry=warn"
        );
    }
}
