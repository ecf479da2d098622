//! Testing an app over the real protocol (feature `testing`): [`TestClient`] speaks the frame
//! protocol of `docs/protocol.md` to a running server, as the browser runtime does, and keeps the
//! state it was sent.
//!
//! ```no_run
//! # async fn demo(app: refract::App) {
//! use refract::testing::TestClient;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let server = app.serve(listener, Default::default()).unwrap();
//! let mut client = TestClient::connect(server.addr).await;
//! client.call("counter_state.add", serde_json::json!({"n": 2})).await;
//! assert_eq!(client.var("counter_state", "count"), &serde_json::json!(2));
//! # }
//! ```
//!
//! Its methods panic with a clear message when the server misbehaves or takes longer than 10 s:
//! they are meant for tests.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any one frame is waited for.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// A protocol client of one token, holding the state it was sent.
pub struct TestClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The token the server issued or accepted.
    pub token: String,
    /// The state version last applied.
    pub version: u64,
    /// The last applied event sequence number the server reported.
    pub last_seq: u64,
    /// `{state_name: {var: value}}` as hydrated and updated by deltas.
    pub state: Map<String, Value>,
    next_seq: u64,
}

impl TestClient {
    /// Connects to the server at `addr` and says hello without a token (a new one is issued).
    ///
    /// # Panics
    /// When the socket cannot be opened or the server does not hydrate.
    pub async fn connect(addr: SocketAddr) -> Self {
        Self::connect_with(addr, None).await
    }

    /// Connects and resumes `token` (or gets a new one for `None`).
    ///
    /// # Panics
    /// When the socket cannot be opened or the server does not hydrate.
    pub async fn connect_with(addr: SocketAddr, token: Option<&str>) -> Self {
        let mut client = Self::open(addr).await;
        client
            .send_json(&json!({"type": "hello", "token": token}))
            .await;
        let frame = client.recv().await;
        assert_eq!(frame["type"], "hydrate", "expected hydrate, got {frame}");
        client.apply(&frame);
        client
    }

    /// Opens the socket without sending anything (to test what happens before `hello`).
    ///
    /// # Panics
    /// When the socket cannot be opened.
    pub async fn open(addr: SocketAddr) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/_event"))
            .await
            .unwrap_or_else(|e| panic!("cannot open ws://{addr}/_event: {e}"));
        TestClient {
            ws,
            token: String::new(),
            version: 0,
            last_seq: 0,
            state: Map::new(),
            next_seq: 1,
        }
    }

    /// Sends a raw text frame.
    ///
    /// # Panics
    /// When the socket is closed.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        self.ws
            .send(Message::text(text))
            .await
            .expect("socket closed while sending");
    }

    /// Sends a binary frame.
    ///
    /// # Panics
    /// When the socket is closed.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::binary(bytes))
            .await
            .expect("socket closed while sending");
    }

    /// Sends a JSON frame.
    ///
    /// # Panics
    /// When the socket is closed.
    pub async fn send_json(&mut self, frame: &Value) {
        self.send_text(frame.to_string()).await;
    }

    /// The next text frame, parsed, without applying it.
    ///
    /// # Panics
    /// When none comes within 10 s, the socket closes, or the frame is not JSON.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("no frame from the server within 10 s")
                .expect("the server closed the socket")
                .expect("socket error");
            match msg {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("frame is not JSON ({e}): {text}"));
                }
                Message::Close(c) => panic!("the server closed the socket: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Sends an event with the next sequence number and returns the frame that completes it
    /// (its `delta`, `ack` or `error`), applying deltas and hydrates received meanwhile.
    ///
    /// # Panics
    /// As [`TestClient::recv`].
    pub async fn call(&mut self, handler: &str, args: Value) -> Value {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.call_seq(seq, handler, args).await
    }

    /// Sends an event with the given sequence number; see [`TestClient::call`].
    ///
    /// # Panics
    /// As [`TestClient::recv`].
    pub async fn call_seq(&mut self, seq: u64, handler: &str, args: Value) -> Value {
        self.send_json(&json!({"type": "event", "seq": seq, "handler": handler, "args": args}))
            .await;
        self.answer_to(seq).await
    }

    /// Waits for the frame completing event `seq`, applying deltas and hydrates meanwhile.
    ///
    /// # Panics
    /// As [`TestClient::recv`].
    pub async fn answer_to(&mut self, seq: u64) -> Value {
        loop {
            let frame = self.recv().await;
            self.apply(&frame);
            if frame["seq"] == json!(seq) {
                return frame;
            }
        }
    }

    /// Applies a `hydrate` or `delta` frame to the held state (other frames are ignored).
    ///
    /// # Panics
    /// When a delta's version is not the next one: the server broke ordering.
    pub fn apply(&mut self, frame: &Value) {
        match frame["type"].as_str() {
            Some("hydrate") => {
                self.token = frame["token"].as_str().unwrap_or_default().to_owned();
                self.version = frame["version"].as_u64().unwrap_or_default();
                self.last_seq = frame["last_seq"].as_u64().unwrap_or_default();
                self.next_seq = self.next_seq.max(self.last_seq + 1);
                self.state = frame["state"].as_object().cloned().unwrap_or_default();
            }
            Some("delta") => {
                let version = frame["version"].as_u64().unwrap_or_default();
                assert_eq!(version, self.version + 1, "delta out of order: {frame}");
                self.version = version;
                for (state, vars) in frame["delta"].as_object().into_iter().flatten() {
                    let held = self.state.entry(state.clone()).or_insert_with(|| json!({}));
                    for (var, value) in vars.as_object().into_iter().flatten() {
                        held[var] = value.clone();
                    }
                }
            }
            _ => {}
        }
    }

    /// Waits for the server to close the socket and returns its close code (`None` when it closed
    /// without one). Frames received meanwhile are applied.
    ///
    /// # Panics
    /// When the socket is not closed within 10 s.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let msg = tokio::time::timeout(FRAME_TIMEOUT, self.ws.next())
                .await
                .expect("the server did not close the socket within 10 s");
            match msg {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(Message::Text(text))) => {
                    if let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) {
                        self.apply(&frame);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The sequence number [`TestClient::call`] gives the next event.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The held value of `state.var` (`null` when absent).
    pub fn var(&self, state: &str, var: &str) -> &Value {
        self.state
            .get(state)
            .and_then(|s| s.get(var))
            .unwrap_or(&Value::Null)
    }
}
