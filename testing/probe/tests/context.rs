//! The event context reaches handlers in both modes: the page path and query the tab names (and
//! the route it matches, with its params), the client's address (the peer, or a trusted proxy's header when configured), its headers, the
//! session (never the token itself), the tab and the time of receipt.

mod roles;

use refract::testing::{ClientOptions, TestClient};
use refract_core::PageContext;
use refract_gateway::GatewayConfig;
use roles::{addr, free_port};
use serde_json::{Value, json};

/// Calls `visit_state.visit` through the server at `server` as a browser on `/posts/42?q=…`
/// behind a proxy that says the client is 198.51.100.23; returns the client and what the
/// handler saw.
async fn visit(server: std::net::SocketAddr) -> (TestClient, Value) {
    let options = ClientOptions {
        headers: vec![
            ("user-agent".into(), "probe-agent/1".into()),
            ("cookie".into(), "theme=dark; other=1".into()),
            ("accept-language".into(), "de-CH, de;q=0.9".into()),
            ("x-forwarded-for".into(), "198.51.100.23".into()),
        ],
        page: Some(PageContext {
            path: "/posts/42".into(),
            query: "q=hello%20world&x=1".into(),
        }),
        ..ClientOptions::default()
    };
    let mut c = TestClient::connect_with(server, None, &options)
        .await
        .unwrap();
    c.call("visit_state.visit", Value::Null).await.unwrap();
    let seen = c.state["visit_state"].clone();
    (c, seen)
}

/// What every mode must show; the address is checked by each test.
fn check(c: &TestClient, seen: &Value) {
    assert_eq!(seen["path"], json!("/posts/42"));
    assert_eq!(seen["route"], json!("/posts/:id"));
    assert_eq!(seen["id"], json!("42"));
    assert_eq!(seen["q"], json!("hello world"));
    assert_eq!(seen["user_agent"], json!("probe-agent/1"));
    assert_eq!(seen["theme"], json!("dark"));
    assert_eq!(seen["language"], json!("de-CH, de;q=0.9"));
    assert_eq!(seen["tab"], json!(c.tab));
    let session = seen["session"].as_str().unwrap();
    assert!(!session.is_empty(), "{seen}");
    assert!(
        !c.token.contains(session),
        "the handler never sees the token: {seen}"
    );
    assert!(
        seen["received_at_ms"].as_u64().unwrap() > 1_700_000_000_000,
        "{seen}"
    );
}

#[tokio::test]
async fn an_embedded_handler_reads_its_context_with_a_trusted_proxy_header() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = GatewayConfig {
        client_ip_header: Some("x-forwarded-for".into()),
        ..GatewayConfig::default()
    };
    let server = refract_probe::app().serve(listener, config).unwrap();
    let (c, seen) = visit(server.addr).await;
    check(&c, &seen);
    assert_eq!(
        seen["ip"],
        json!("198.51.100.23"),
        "the proxy's header is trusted"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_on_a_worker_reads_its_context_through_the_gateway() {
    let redis = refract_test_support::redis::Redis::start();
    let port = free_port();
    let _worker = roles::worker(&redis.url, port, 5000);
    let gw = roles::gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let (c, seen) = visit(addr(&gw)).await;
    check(&c, &seen);
    assert_eq!(
        seen["ip"],
        json!("127.0.0.1"),
        "without --client-ip-header the connection's peer is the client, whatever a header says"
    );
}
