//! Worker discovery on Kubernetes: watches the EndpointSlices of the workers' Service (label
//! `kubernetes.io/service-name`) and keeps the pool's routing set to the endpoints that are ready
//! and not terminating, so workers that start are used at once, draining ones get no new tokens,
//! and removed ones are forgotten. Needs `get`, `list` and `watch` on
//! `discovery.k8s.io/endpointslices` in the namespace (the Helm chart's Role grants them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;

use futures_util::StreamExt;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::pool::WorkerPool;

/// Where the workers' gRPC port is found in a slice: the port named `port_name`, else the first.
pub const DEFAULT_PORT_NAME: &str = "grpc";

/// The `host:port` of every ready, non-terminating endpoint of `slice`.
pub fn ready_endpoints(slice: &EndpointSlice, port_name: &str) -> BTreeSet<String> {
    let ports = slice.ports.as_deref().unwrap_or_default();
    let Some(port) = ports
        .iter()
        .find(|p| p.name.as_deref() == Some(port_name))
        .or_else(|| ports.first())
        .and_then(|p| p.port)
    else {
        return BTreeSet::new();
    };
    slice
        .endpoints
        .iter()
        .filter(|e| {
            let c = e.conditions.as_ref();
            c.and_then(|c| c.ready) != Some(false) && c.and_then(|c| c.terminating) != Some(true)
        })
        .flat_map(|e| &e.addresses)
        .map(|a| {
            if a.contains(':') {
                format!("[{a}]:{port}")
            } else {
                format!("{a}:{port}")
            }
        })
        .collect()
}

/// Watches the EndpointSlices of `service` in `namespace` and updates `pool` on every change, until
/// the pool is dropped. Reconnects with backoff when the API server is unreachable.
pub async fn watch(
    client: Client,
    namespace: &str,
    service: &str,
    port_name: &str,
    pool: Weak<WorkerPool>,
) {
    let api: Api<EndpointSlice> = Api::namespaced(client, namespace);
    let config =
        watcher::Config::default().labels(&format!("kubernetes.io/service-name={service}"));
    let mut slices: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut initial: Option<BTreeMap<String, BTreeSet<String>>> = None;
    let mut events = watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let Some(pool) = pool.upgrade() else { return };
        let name = |s: &EndpointSlice| s.metadata.name.clone().unwrap_or_default();
        match event {
            Ok(watcher::Event::Init) => initial = Some(BTreeMap::new()),
            Ok(watcher::Event::InitApply(s)) => {
                if let Some(init) = initial.as_mut() {
                    init.insert(name(&s), ready_endpoints(&s, port_name));
                }
                continue;
            }
            Ok(watcher::Event::InitDone) => slices = initial.take().unwrap_or_default(),
            Ok(watcher::Event::Apply(s)) => {
                slices.insert(name(&s), ready_endpoints(&s, port_name));
            }
            Ok(watcher::Event::Delete(s)) => {
                slices.remove(&name(&s));
            }
            Err(e) => {
                tracing::warn!(error = %e, service, "watching the workers' EndpointSlices");
                continue;
            }
        }
        pool.set_members(slices.values().flatten().cloned().collect());
    }
}

/// The namespace this pod runs in (from the service account), or `default`.
pub fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}
