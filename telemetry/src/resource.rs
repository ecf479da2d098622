//! Who exports: the OpenTelemetry resource of a process (its service name, and an instance id of
//! its own so that two workers' metrics never merge and a trace says which one served an event).

use std::sync::OnceLock;

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::EnvResourceDetector;

const SERVICE_NAME: &str = "service.name";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// An attribute of `OTEL_RESOURCE_ATTRIBUTES`.
fn from_env_attributes(key: &'static str) -> Option<String> {
    Resource::builder_empty()
        .with_detector(Box::new(EnvResourceDetector::new()))
        .build()
        .get(&Key::from_static_str(key))
        .map(|v| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The service name the environment gives: `OTEL_SERVICE_NAME`, else `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` (OpenTelemetry's order); `None` when neither does.
pub fn configured_service_name() -> Option<String> {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| from_env_attributes(SERVICE_NAME))
}

/// The service name for a child process of `role` (`gateway`, `worker`) started by this one
/// (`stack`): `<configured name>-<role>` when the environment names the service, which the child
/// would otherwise inherit and share with every other role; `None` when the roles' own default
/// names apply.
pub fn role_service_name(role: &str) -> Option<String> {
    configured_service_name().map(|name| format!("{name}-{role}"))
}

/// This process's `service.instance.id`: the one `OTEL_RESOURCE_ATTRIBUTES` gives, else a random
/// UUID (version 4) made on first use. Unique per process, so a restarted process is a new
/// instance.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| from_env_attributes(SERVICE_INSTANCE_ID).unwrap_or_else(random_uuid))
}

/// A random UUID, version 4 (RFC 9562): 122 random bits. Without randomness (it never happens on
/// the platforms Refract runs on), the process id and the clock keep it unique enough.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..4].copy_from_slice(&std::process::id().to_be_bytes());
        b[4..].copy_from_slice(&nanos.to_be_bytes()[4..]);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The resource of this process: its service name ([`configured_service_name`], else
/// `default_service`), [`instance_id`], `process.pid`, and the rest of `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) fn resource(default_service: &str) -> Resource {
    Resource::builder()
        .with_service_name(configured_service_name().unwrap_or_else(|| default_service.to_owned()))
        .with_attributes([
            KeyValue::new(SERVICE_INSTANCE_ID, instance_id()),
            KeyValue::new("process.pid", i64::from(std::process::id())),
        ])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (random_uuid(), random_uuid());
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 36, "{id}");
            assert_eq!(id.as_bytes()[14], b'4', "version 4: {id}");
            assert!(
                matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
                "{id}"
            );
        }
    }

    #[test]
    fn the_resource_names_the_instance() {
        let resource = resource("refract-test");
        let get = |k: &'static str| resource.get(&Key::from_static_str(k));
        assert_eq!(
            get(SERVICE_INSTANCE_ID).map(|v| v.to_string()).as_deref(),
            Some(instance_id())
        );
        assert_eq!(
            get("process.pid"),
            Some(opentelemetry::Value::I64(i64::from(std::process::id())))
        );
        assert_eq!(instance_id(), instance_id(), "made once");
    }
}
