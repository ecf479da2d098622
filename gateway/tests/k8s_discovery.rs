//! Kubernetes discovery against a fake API server on loopback: the gateway's pool follows the
//! workers' EndpointSlices as workers are added, start draining (terminating) and are removed.
//! Endpoint addresses are loopback addresses, since the pool health-checks them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;
use refract_gateway::k8s;
use refract_gateway::pool::{Discovery, PoolConfig, WorkerPool};
use serde_json::{Value, json};
use tokio::sync::broadcast;

const SELECTOR: &str = "kubernetes.io/service-name=refract-worker";

#[derive(Clone)]
struct Fake {
    slices: Arc<Mutex<BTreeMap<String, Value>>>,
    /// Every watch event sent, with its resource version: a watch that starts after a change
    /// (from the version its list returned) still gets it, as from a real API server.
    log: Arc<Mutex<Vec<(u64, String)>>>,
    events: broadcast::Sender<(u64, String)>,
    version: Arc<Mutex<u64>>,
}

impl Fake {
    /// Stores `slice` and sends the watch event `kind` (`ADDED`, `MODIFIED`, `DELETED`).
    fn change(&self, kind: &str, mut slice: Value) {
        let mut version = self.version.lock().unwrap();
        *version += 1;
        slice["metadata"]["resourceVersion"] = json!(version.to_string());
        let name = slice["metadata"]["name"].as_str().unwrap().to_owned();
        let mut slices = self.slices.lock().unwrap();
        if kind == "DELETED" {
            slices.remove(&name);
        } else {
            slices.insert(name, slice.clone());
        }
        let line = json!({"type": kind, "object": slice}).to_string() + "\n";
        self.log.lock().unwrap().push((*version, line.clone()));
        let _ = self.events.send((*version, line));
    }
}

async fn endpoint_slices(
    State(fake): State<Fake>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(
        q.get("labelSelector").map(String::as_str),
        Some(SELECTOR),
        "the watcher selects the Service's slices"
    );
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        // Subscribed before the log is read, so no event falls between the two.
        let live = tokio_stream::wrappers::BroadcastStream::new(fake.events.subscribe());
        let from: u64 = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let missed: Vec<(u64, String)> = fake
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(v, _)| *v > from)
            .cloned()
            .collect();
        let seen = missed.last().map_or(from, |(v, _)| *v);
        let live = live.filter_map(move |e| async move {
            e.ok().filter(|(v, _)| *v > seen).map(|(_, line)| line)
        });
        let events = futures_util::stream::iter(missed.into_iter().map(|(_, line)| line))
            .chain(live)
            .map(Ok::<_, std::io::Error>);
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(events))
            .unwrap();
    }
    let items: Vec<Value> = fake.slices.lock().unwrap().values().cloned().collect();
    let version = fake.version.lock().unwrap().to_string();
    let list = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSliceList",
        "metadata": {"resourceVersion": version},
        "items": items,
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(list.to_string()))
        .unwrap()
}

fn endpoint(ip: &str, ready: bool, terminating: bool) -> Value {
    json!({"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": terminating}})
}

fn slice(name: &str, endpoints: Vec<Value>) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "apps", "labels": {"kubernetes.io/service-name": "refract-worker"}},
        "addressType": "IPv4",
        "ports": [{"name": "metrics", "port": 9090, "protocol": "TCP"}, {"name": "grpc", "port": 50051, "protocol": "TCP"}],
        "endpoints": endpoints,
    })
}

async fn wait_for(pool: &WorkerPool, expected: &[&str]) {
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    for _ in 0..200 {
        let now: BTreeSet<String> = pool.workers().into_iter().map(|(a, _)| a).collect();
        if now == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the pool never became {expected:?}; it is {:?}",
        pool.workers()
    );
}

#[tokio::test]
async fn the_pool_follows_the_workers_endpoint_slices() {
    let fake = Fake {
        slices: Default::default(),
        log: Default::default(),
        events: broadcast::channel(64).0,
        version: Arc::new(Mutex::new(1)),
    };
    fake.change(
        "ADDED",
        slice(
            "w-1",
            vec![
                endpoint("127.0.0.11", true, false),
                endpoint("127.0.0.12", true, false),
                endpoint("127.0.0.19", false, false),
            ],
        ),
    );
    let app = Router::new()
        .route(
            "/apis/discovery.k8s.io/v1/namespaces/apps/endpointslices",
            get(endpoint_slices),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut config = kube::Config::new(format!("http://{api}").parse().unwrap());
    config.default_namespace = "apps".into();
    let client = kube::Client::try_from(config).unwrap();
    let pool = WorkerPool::start(PoolConfig::new(Discovery::External));
    tokio::spawn(k8s::watch(
        client,
        "apps",
        "refract-worker",
        k8s::DEFAULT_PORT_NAME,
        Arc::downgrade(&pool),
    ));

    // The initial list: ready endpoints only, on the port named grpc.
    wait_for(&pool, &["127.0.0.11:50051", "127.0.0.12:50051"]).await;
    // A worker is added; another starts draining (terminating).
    fake.change(
        "MODIFIED",
        slice(
            "w-1",
            vec![
                endpoint("127.0.0.11", true, false),
                endpoint("127.0.0.12", false, true),
                endpoint("127.0.0.13", true, false),
            ],
        ),
    );
    wait_for(&pool, &["127.0.0.11:50051", "127.0.0.13:50051"]).await;
    // A second slice of the same Service (IPv6).
    let mut v6 = slice("w-2", vec![endpoint("::1", true, false)]);
    v6["addressType"] = json!("IPv6");
    fake.change("ADDED", v6);
    wait_for(
        &pool,
        &["127.0.0.11:50051", "127.0.0.13:50051", "[::1]:50051"],
    )
    .await;
    // The first slice goes away.
    fake.change("DELETED", slice("w-1", vec![]));
    wait_for(&pool, &["[::1]:50051"]).await;
}
