//! Spans as OpenTelemetry's semantic conventions describe them: the gateway→worker hop as a CLIENT
//! span in the gateway and a SERVER span in the worker, both named `refract.v1.Worker/<Method>`
//! with `rpc.system`, `rpc.service` and `rpc.method`; failed events with an ERROR status and
//! their Refract error code as `error.type`.
//!
//! The attributes that only OpenTelemetry needs are set on the OpenTelemetry span, not as
//! `tracing` fields, so log lines stay short.

use opentelemetry::trace::Status;
use tonic::metadata::MetadataMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The gRPC service of the gateway→worker hop (`rpc.service`).
const WORKER_SERVICE: &str = "refract.v1.Worker";

/// `value` as an integer span attribute. tracing-opentelemetry 0.34 exports `u64` fields as
/// strings (it has no `record_u64`: tokio-rs/tracing-opentelemetry#267) and `i64` ones as
/// integers, so counters such as `seq` and `version` are recorded through this. Saturates at
/// `i64::MAX`.
pub fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Sets the integer attribute `key` to `value` on `span`, for spans whose `tracing` fields are
/// fixed (those of [`rpc_server_span`]); saturates as [`int`] does.
pub fn set_int(span: &tracing::Span, key: &'static str, value: u64) {
    span.set_attribute(key, int(value));
}

/// Sets the attributes of the RPC conventions on `span`.
fn rpc_attributes(span: &tracing::Span, method: &'static str) {
    span.set_attribute("rpc.system", "grpc");
    span.set_attribute("rpc.service", WORKER_SERVICE);
    span.set_attribute("rpc.method", method);
}

/// The CLIENT span of one call of `method` (`ProcessEvent`, `Hydrate`, …) of the workers' service
/// to `server` (`host:port`, also `server.address` and `server.port`). A call retried on
/// another worker is another span. Make the call's request inside it, so that [`crate::inject`]
/// gives the worker this span as its parent.
pub fn rpc_client_span(method: &'static str, server: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        otel.kind = "client",
        otel.name = %format_args!("{WORKER_SERVICE}/{method}"),
        worker = %server,
    );
    rpc_attributes(&span, method);
    if let Some((host, port)) = server.rsplit_once(':') {
        span.set_attribute("server.address", host.trim_matches(['[', ']']).to_owned());
        if let Ok(port) = port.parse::<u16>() {
            span.set_attribute("server.port", i64::from(port));
        }
    }
    span
}

/// The SERVER span of a worker's call of `method`, the child of the CLIENT span whose trace
/// context `metadata` carries.
pub fn rpc_server_span(method: &'static str, metadata: &MetadataMap) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        otel.kind = "server",
        otel.name = %format_args!("{WORKER_SERVICE}/{method}"),
    );
    crate::extract(metadata, &span);
    rpc_attributes(&span, method);
    span
}

/// Records how a call ended on its RPC span: `rpc.grpc.status_code`, and an ERROR status unless
/// it is `OK`.
pub fn rpc_status(span: &tracing::Span, status: Result<(), &tonic::Status>) {
    match status {
        Ok(()) => span.set_attribute("rpc.grpc.status_code", tonic::Code::Ok as i64),
        Err(status) => {
            span.set_attribute("rpc.grpc.status_code", status.code() as i64);
            span.set_status(Status::error(status.message().to_owned()));
        }
    }
}

/// Marks `span` failed: an ERROR status described by `message`, and `error.type` = `code`
/// (Refract's error code, e.g. `handler_failed`, `overloaded`).
pub fn failed(span: &tracing::Span, code: &str, message: &str) {
    span.set_attribute("error.type", code.to_owned());
    span.set_status(Status::error(message.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_saturates() {
        assert_eq!(int(7), 7);
        assert_eq!(int(u64::MAX), i64::MAX);
    }
}
