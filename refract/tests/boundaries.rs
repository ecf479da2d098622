//! Every boundary of the socket: bad input gets an error frame; the connection, other clients and
//! the stored state are untouched.

use refract::testing::{Answer, ErrorCode, ServerFrame, TestClient};
use refract::{App, Server};
use refract_gateway::GatewayConfig;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The state the tests poke at: a counter and a secret backend var.
#[derive(refract::State, Default, Serialize, Deserialize)]
pub struct CounterState {
    count: i64,
    #[backend]
    secret: String,
}

#[refract::handlers]
impl CounterState {
    pub fn add(&mut self, n: i64) {
        self.count += n;
    }

    pub fn fail(&mut self) -> Result<(), String> {
        self.count = -1;
        Err("not today".into())
    }

    pub async fn slow(&mut self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        self.count += 1;
    }

    pub fn remember(&mut self, secret: String) {
        self.secret = secret;
    }

    #[computed]
    pub fn doubled(&self) -> i64 {
        self.count * 2
    }
}

const MAX_FRAME: usize = 4096;

/// A server whose sockets may queue 4 events and send frames of up to 4 KiB.
async fn server() -> Server {
    server_with(GatewayConfig {
        max_frame_bytes: MAX_FRAME,
        max_queued_events: 4,
        assets: None,
        touch_every: std::time::Duration::from_millis(50),
        allowed_origins: vec!["https://friend.example".into()],
        ..GatewayConfig::default()
    })
    .await
}

async fn server_with(config: GatewayConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    App::new("boundaries")
        .state::<CounterState>()
        .serve(listener, config)
        .unwrap()
}

/// A client with count 5 (two events applied).
async fn client_at_five(server: &Server) -> TestClient {
    let mut c = TestClient::connect(server.addr, None).await.unwrap();
    c.call("counter_state.add", json!({"n": 2})).await.unwrap();
    c.call("counter_state.add", json!({"n": 3})).await.unwrap();
    assert_eq!(c.var("counter_state", "count"), &json!(5));
    c
}

/// The connection still works and the state is still 5, seen by this socket and a fresh one.
async fn assert_untouched(server: &Server, c: &mut TestClient) {
    let answer = c.call("counter_state.add", json!({"n": 0})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("counter_state", "count"), &json!(5));
    let fresh = TestClient::connect(server.addr, Some(&c.token))
        .await
        .unwrap();
    assert_eq!(fresh.var("counter_state", "count"), &json!(5));
}

/// `frame` is an error frame of `code` answering `seq`, with a message.
fn assert_error(frame: &ServerFrame, seq: Option<u64>, code: ErrorCode) {
    let ServerFrame::Error {
        seq: got_seq,
        code: got_code,
        message,
        retryable,
        ..
    } = frame
    else {
        panic!("not an error frame: {frame:?}");
    };
    assert_eq!((*got_seq, *got_code), (seq, code), "{frame:?}");
    assert!(!message.is_empty(), "{frame:?}");
    assert!(!retryable, "{frame:?}");
}

/// `answer` is a failure of `code`.
fn assert_failed(answer: &Answer, code: ErrorCode) {
    assert!(
        matches!(answer, Answer::Error(f) if f.code == code && !f.message.is_empty()),
        "expected {code}, got {answer:?}"
    );
}

fn event(seq: u64, handler: &str, args: Value) -> String {
    json!({"type": "event", "seq": seq, "handler": handler, "args": args}).to_string()
}

#[tokio::test]
async fn hydrate_sends_frontend_and_computed_vars_but_no_backend_var() {
    let server = server().await;
    let mut c = TestClient::connect(server.addr, None).await.unwrap();
    assert_eq!(c.state["counter_state"], json!({"count": 0, "doubled": 0}));
    c.call("counter_state.remember", json!({"secret": "hunter2"}))
        .await
        .unwrap();
    let answer = c.call("counter_state.add", json!({"n": 4})).await.unwrap();
    let Answer::Delta { delta, .. } = answer else {
        panic!("not applied: {answer:?}");
    };
    assert_eq!(
        Value::Object(delta),
        json!({"counter_state": {"count": 4, "doubled": 8}})
    );
    let again = TestClient::resume(server.addr, &c.token, &c.tab)
        .await
        .unwrap();
    assert!(
        !Value::Object(again.state.clone())
            .to_string()
            .contains("hunter2")
    );
    assert_eq!(again.last_seq, 2);
}

#[tokio::test]
async fn malformed_json_is_rejected() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    for bad in [
        "{",
        "not json",
        "[1,2]",
        r#"{"type":"launch"}"#,
        r#"{"type":"event","seq":"x","handler":"counter_state.add"}"#,
        r#"{"type":"event","seq":0,"handler":"counter_state.add","args":{}}"#,
    ] {
        c.send_text(bad).await.unwrap();
        assert_error(&c.recv().await.unwrap(), None, ErrorCode::MalformedFrame);
    }
    c.send_binary(vec![0, 159, 146, 150]).await.unwrap();
    assert_error(&c.recv().await.unwrap(), None, ErrorCode::MalformedFrame);
    assert_untouched(&server, &mut c).await;
}

#[tokio::test]
async fn unknown_handlers_are_rejected() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    for handler in [
        "counter_state.nope",
        "other_state.add",
        "add",
        "counter_state.__handler_add",
        "counter_state.doubled",
    ] {
        let answer = c.call(handler, json!({})).await.unwrap();
        assert_failed(&answer, ErrorCode::UnknownHandler);
    }
    assert_untouched(&server, &mut c).await;
}

#[tokio::test]
async fn wrong_argument_types_are_rejected() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    for args in [
        json!({"n": "five"}),
        json!({}),
        json!({"n": 1, "extra": true}),
        json!({"n": 1.5}),
        json!([1]),
        json!("n"),
    ] {
        let answer = c.call("counter_state.add", args.clone()).await.unwrap();
        assert_failed(&answer, ErrorCode::BadArguments);
    }
    // A seq that skips ahead is refused, so that an `ack` always means "applied".
    let seq = c.next_seq() + 100;
    let answer = c
        .call_seq(seq, "counter_state.add", json!({"n": 1}))
        .await
        .unwrap();
    assert_failed(&answer, ErrorCode::SeqGap);
    assert_untouched(&server, &mut c).await;
}

#[tokio::test]
async fn a_failing_handler_changes_nothing() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    let answer = c.call("counter_state.fail", json!({})).await.unwrap();
    assert_failed(&answer, ErrorCode::HandlerFailed);
    let Answer::Error(failure) = answer else {
        unreachable!()
    };
    assert_eq!(failure.message, "not today");
    // As under `run`: a toast with the handler's message.
    let toast = json!([{"handler": "_toast", "args": {"level": "error", "message": "not today"}}]);
    assert_eq!(serde_json::to_value(&failure.then).unwrap(), toast);
    assert_untouched(&server, &mut c).await;
}

#[tokio::test]
async fn the_apps_error_hook_chooses_what_the_page_runs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = App::new("hooked")
        .state::<CounterState>()
        .on_error(|failure| {
            vec![refract::actions::redirect(format!(
                "/oops?code={}",
                failure.code
            ))]
        })
        .serve(listener, GatewayConfig::default())
        .unwrap();
    let mut c = TestClient::connect(server.addr, None).await.unwrap();
    let Answer::Error(failure) = c.call("counter_state.fail", json!({})).await.unwrap() else {
        panic!("the handler fails")
    };
    let redirect = json!([{"handler": "_redirect", "args": {"path": "/oops?code=handler_failed", "replace": false}}]);
    assert_eq!(serde_json::to_value(&failure.then).unwrap(), redirect);
}

#[tokio::test]
async fn oversize_frames_are_rejected_and_the_socket_stays_open() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    let big = event(
        9,
        "counter_state.remember",
        json!({"secret": "x".repeat(MAX_FRAME)}),
    );
    c.send_text(big).await.unwrap();
    assert_error(&c.recv().await.unwrap(), Some(9), ErrorCode::FrameTooLarge);
    assert_untouched(&server, &mut c).await;
}

#[tokio::test]
async fn tokens_the_server_did_not_issue_are_rejected() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    let mut forged = TestClient::open(server.addr, &Default::default())
        .await
        .unwrap();
    let mut fake = c.token.clone();
    fake.replace_range(0..2, if fake.starts_with("AA") { "BB" } else { "AA" });
    for token in [fake.as_str(), "made-up", ""] {
        forged
            .send_text(json!({"type": "hello", "token": token}).to_string())
            .await
            .unwrap();
        assert_error(&forged.recv().await.unwrap(), None, ErrorCode::InvalidToken);
    }
    // Events before a successful hello are refused.
    forged
        .send_text(event(1, "counter_state.add", json!({"n": 1})))
        .await
        .unwrap();
    assert_error(&forged.recv().await.unwrap(), Some(1), ErrorCode::NotReady);
    // A socket keeps its token.
    c.send_text(r#"{"type":"hello","token":null}"#)
        .await
        .unwrap();
    assert_error(&c.recv().await.unwrap(), None, ErrorCode::TokenMismatch);
    assert_untouched(&server, &mut c).await;
}

#[tokio::test]
async fn a_flood_is_refused_without_dropping_the_connection() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    // One slow event in flight, then more than the queue holds.
    let first = c.next_seq();
    for seq in first..first + 10 {
        let frame = if seq == first {
            event(seq, "counter_state.slow", json!({"ms": 300}))
        } else {
            event(seq, "counter_state.add", json!({"n": 0}))
        };
        c.send_text(frame).await.unwrap();
    }
    let mut overloaded = 0;
    let mut applied = 0;
    while overloaded + applied < 10 {
        match c.recv().await.unwrap() {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, ErrorCode::Overloaded);
                overloaded += 1;
            }
            ServerFrame::Delta { .. } => applied += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(overloaded > 0, "some events were refused");
    assert!(applied >= 1, "queued events still ran");
    assert_eq!(c.var("counter_state", "count"), &json!(6));
    // The applied events were the slow one and those queued right behind it: the next is after.
    let answer = c
        .call_seq(first + applied, "counter_state.add", json!({"n": -1}))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("counter_state", "count"), &json!(5));
}

#[tokio::test]
async fn clients_have_separate_states_and_a_bad_client_does_not_disturb_others() {
    let server = server().await;
    let mut good = client_at_five(&server).await;
    let mut other = TestClient::connect(server.addr, None).await.unwrap();
    assert_ne!(good.token, other.token);
    assert_eq!(other.var("counter_state", "count"), &json!(0));
    other.send_text("garbage").await.unwrap();
    other.recv().await.unwrap();
    other
        .call("counter_state.add", json!({"n": 100}))
        .await
        .unwrap();
    assert_untouched(&server, &mut good).await;
}

#[tokio::test]
async fn events_of_one_token_apply_in_order_and_exactly_once() {
    let server = server_with(GatewayConfig::default()).await;
    let mut c = TestClient::connect(server.addr, None).await.unwrap();
    for seq in 1..=20u64 {
        c.send_text(event(seq, "counter_state.add", json!({"n": seq})))
            .await
            .unwrap();
    }
    c.answer_to(20).await.unwrap();
    assert_eq!(c.var("counter_state", "count"), &json!(210));
    assert_eq!(c.version, 20);
    // A resend of an applied event is acknowledged, not run again.
    let answer = c
        .call_seq(7, "counter_state.add", json!({"n": 7}))
        .await
        .unwrap();
    assert_eq!(answer, Answer::Ack);
    let again = TestClient::connect(server.addr, Some(&c.token))
        .await
        .unwrap();
    assert_eq!(again.var("counter_state", "count"), &json!(210));
}

#[tokio::test]
async fn a_click_after_the_tokens_state_expired_is_answered_not_left_hanging() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    // The token's state is dropped while its socket stays open (idle past the token expiry).
    assert_eq!(server.store.evict_idle(std::time::Duration::ZERO), 1);
    // The server has forgotten the tab's numbering: the event is refused as a gap, and the client
    // (as the runtime does) resyncs and sends it again as the tab's event 1 of the new history.
    let answer = c.call("counter_state.add", json!({"n": 1})).await.unwrap();
    assert!(
        matches!(answer, Answer::Delta { version: 1, .. }),
        "{answer:?}"
    );
    assert_eq!(c.var("counter_state", "count"), &json!(1));
    assert_eq!(c.last_seq, 1);
}

#[tokio::test]
async fn an_open_socket_keeps_its_tokens_state_from_expiring() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    let idle = TestClient::connect(server.addr, None).await.unwrap();
    drop(idle);
    // Idle for longer than the expiry, but the gateway touches the open socket's token every
    // 50 ms: it is kept; the closed socket's token is not.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        server
            .store
            .evict_idle(std::time::Duration::from_millis(300)),
        1
    );
    let answer = c.call("counter_state.add", json!({"n": 1})).await.unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("counter_state", "count"), &json!(6));
}

#[tokio::test]
async fn two_tabs_sharing_a_token_lose_no_click() {
    let server = server().await;
    let mut first = TestClient::connect(server.addr, None).await.unwrap();
    // "Duplicate tab" copies the token; the copy is another page, so another tab id.
    let mut second = TestClient::connect(server.addr, Some(&first.token))
        .await
        .unwrap();
    assert_ne!(first.tab, second.tab);
    for _ in 0..5 {
        for tab in [&mut first, &mut second] {
            let answer = tab
                .call("counter_state.add", json!({"n": 1}))
                .await
                .unwrap();
            assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
        }
    }
    let seen = TestClient::connect(server.addr, Some(&first.token))
        .await
        .unwrap();
    assert_eq!(seen.var("counter_state", "count"), &json!(10));
}

#[tokio::test]
async fn pages_of_other_origins_cannot_open_sockets() {
    let server = server().await;
    let from = |origin: Option<String>| refract::testing::ClientOptions {
        origin,
        ..Default::default()
    };
    let own = format!("http://{}", server.addr);
    for origin in [None, Some(own), Some("https://friend.example".to_owned())] {
        let c = TestClient::connect_with(server.addr, None, &from(origin.clone())).await;
        assert!(c.is_ok(), "{origin:?}: {:?}", c.err());
    }
    for origin in ["https://evil.example", "http://127.0.0.1:1"] {
        let refused = TestClient::connect_with(server.addr, None, &from(Some(origin.into()))).await;
        let err = refused.err().expect("refused");
        assert!(err.to_string().contains("403"), "{origin}: {err}");
    }
}

#[tokio::test]
async fn a_frame_over_the_hard_cap_is_answered_then_closed_with_1009() {
    let server = server().await;
    let mut c = client_at_five(&server).await;
    let huge = event(
        9,
        "counter_state.remember",
        json!({"secret": "x".repeat(1 << 20)}),
    );
    c.send_text(huge).await.unwrap();
    assert_error(&c.recv().await.unwrap(), None, ErrorCode::FrameTooLarge);
    assert_eq!(
        c.closed(std::time::Duration::from_secs(5)).await.unwrap(),
        Some(1009)
    );
    // Nothing else was touched.
    let fresh = TestClient::connect(server.addr, Some(&c.token))
        .await
        .unwrap();
    assert_eq!(fresh.var("counter_state", "count"), &json!(5));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Only an app that runs scripts (call_script) lets its pages evaluate JavaScript.
    for (allow_eval, policy) in [
        (false, refract_gateway::CONTENT_SECURITY_POLICY),
        (true, refract_gateway::CONTENT_SECURITY_POLICY_WITH_EVAL),
    ] {
        let server = server_with(GatewayConfig {
            allow_eval,
            ..GatewayConfig::default()
        })
        .await;
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /_health HTTP/1.0\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        let answer = answer.to_ascii_lowercase();
        assert_eq!(answer.contains("'unsafe-eval'"), allow_eval, "{answer}");
        for header in [
            format!("content-security-policy: {}", policy.to_ascii_lowercase()),
            "x-content-type-options: nosniff".into(),
            "x-frame-options: sameorigin".into(),
            "referrer-policy: strict-origin-when-cross-origin".into(),
        ] {
            assert!(answer.contains(&header), "{header} in {answer}");
        }
    }
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let server = server_with(GatewayConfig {
        max_connections_per_ip: 3,
        ..GatewayConfig::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TestClient::connect(server.addr, None).await.unwrap());
    }
    let refused = TestClient::connect(server.addr, None)
        .await
        .err()
        .expect("refused");
    assert!(refused.to_string().contains("503"), "{refused}");
    // A closed socket frees its place.
    held.pop().unwrap().close().await;
    let mut again = None;
    for _ in 0..50 {
        if let Ok(c) = TestClient::connect(server.addr, None).await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place was freed");
}
