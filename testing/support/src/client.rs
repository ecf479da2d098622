//! A protocol client of one browser tab, built on the contract's frames
//! ([`refract_proto::ClientFrame`], [`refract_proto::ServerFrame`]): a WebSocket to `/_event`, its
//! token, the state it was sent (hydrates and deltas applied, in version order) and its event
//! sequence numbers. Tests, the probe's fault tests and the load generator all use it.
//!
//! Every wait is bounded by the client's timeout ([`ClientOptions::timeout`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;

use refract_core::{FollowUp, PageContext};
use refract_proto::{ClientFrame, ErrorCode, Failure, ServerFrame};
use serde_json::{Map, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Bytes a client reads from its socket at a time: small, so one process holds tens of thousands
/// of idle clients (tungstenite's default is 128 KiB a socket); larger messages still arrive whole.
const READ_BUFFER: usize = 8 * 1024;

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The local address to connect from (a loopback address other than 127.0.0.1 has its own
    /// ephemeral ports); `None`: the kernel's choice.
    pub source: Option<IpAddr>,
    /// How long any one step (connect, send, one answer) may take (default 10 s).
    pub timeout: Duration,
    /// The tab id the client says `hello` with: the same one to resume a tab's numbering, as a
    /// reconnecting page does; `None` for a new one, as a new page load (default).
    pub tab: Option<String>,
    /// The `Origin` header to send, as a browser page of that origin does; `None` sends none
    /// (default).
    pub origin: Option<String>,
    /// More request headers of the handshake (`("cookie", "a=1")`, `("user-agent", …)`), as a
    /// browser or a proxy sends them (default: none).
    pub headers: Vec<(String, String)>,
    /// The page the client says it shows, sent with `hello` and each event (default: none).
    pub page: Option<PageContext>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            source: None,
            timeout: Duration::from_secs(10),
            tab: None,
            origin: None,
            headers: Vec::new(),
            page: None,
        }
    }
}

/// A new tab id: 16 random characters of the protocol's alphabet.
fn new_tab() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Unique in this process and across processes started at other times: enough for tests.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "{:x}-{:x}",
        nanos ^ u64::from(std::process::id()) << 32,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Why a client operation failed.
#[derive(thiserror::Error, Debug)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// The server's address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The WebSocket handshake or a frame failed.
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server closed the socket.
    #[error("the server closed the socket")]
    Closed,
    /// No answer within the client's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server sent something the protocol does not allow here.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server answered with an `error` frame about no event (e.g. refusing `hello`).
    #[error("refused: {0}")]
    Refused(Failure),
}

/// What completed an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The event was applied: the state's `version` after it, and its `delta`.
    Delta {
        /// The version after the event.
        version: u64,
        /// The vars that changed, by state.
        delta: Map<String, Value>,
    },
    /// The event had already been applied (a resend).
    Ack,
    /// The event failed and was not applied.
    Error(Failure),
    /// The server resynced the socket with a `hydrate` covering the event.
    Resynced {
        /// The version of the hydrate.
        version: u64,
    },
}

/// One simulated browser tab.
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    timeout: Duration,
    /// The token the server issued or accepted.
    pub token: String,
    /// The page the client says it shows, sent with `hello` and each event.
    pub page: Option<PageContext>,
    /// The tab id this client says `hello` with (its events are numbered within it).
    pub tab: String,
    /// The state version the client shows.
    pub version: u64,
    /// The last applied event sequence number the server reported.
    pub last_seq: u64,
    /// `{state_name: {var: value}}` as hydrated and updated by deltas.
    pub state: Map<String, Value>,
    /// Bytes of the last `hydrate` frame.
    pub hydrate_bytes: usize,
    /// The follow-ups of the last completed event (its delta's or ack's `then`, or a covering
    /// hydrate's): what a browser would run next.
    pub then: Vec<FollowUp>,
    /// The `then` of the last `hydrate`: the follow-ups of the tab's last applied event.
    pub hydrate_then: Vec<FollowUp>,
    next_seq: u64,
}

async fn tcp(addr: SocketAddr, source: Option<IpAddr>) -> Result<TcpStream, ClientError> {
    let err = |source| ClientError::Connect { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(err)?;
    }
    let stream = socket.connect(addr).await.map_err(err)?;
    // Nagle's algorithm off, as browsers do.
    stream.set_nodelay(true).map_err(err)?;
    Ok(stream)
}

/// Runs `fut`, failing with [`ClientError::Timeout`] after `limit`.
async fn bounded<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or(Err(ClientError::Timeout(limit)))
}

impl Client {
    /// Connects to the server at `addr` with the default options and says `hello` with `token`
    /// (`None`: be issued one), waiting for the `hydrate`.
    ///
    /// # Errors
    /// [`ClientError`] when the connection, the handshake or the hello fails.
    pub async fn connect(addr: SocketAddr, token: Option<&str>) -> Result<Client, ClientError> {
        Self::connect_with(addr, token, &ClientOptions::default()).await
    }

    /// Connects as the page of `tab` on `token` reconnecting: its events go on being numbered
    /// where they were, and the hydrate's `last_seq` is that tab's.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn resume(addr: SocketAddr, token: &str, tab: &str) -> Result<Client, ClientError> {
        let options = ClientOptions {
            tab: Some(tab.to_owned()),
            ..ClientOptions::default()
        };
        Self::connect_with(addr, Some(token), &options).await
    }

    /// [`Client::connect`] with `options`.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_with(
        addr: SocketAddr,
        token: Option<&str>,
        options: &ClientOptions,
    ) -> Result<Client, ClientError> {
        let mut client = Self::open(addr, options).await?;
        client.hello(token).await?;
        Ok(client)
    }

    /// Opens the socket without sending anything (to test what happens before `hello`).
    ///
    /// # Errors
    /// When the connection or the handshake fails.
    pub async fn open(addr: SocketAddr, options: &ClientOptions) -> Result<Client, ClientError> {
        let timeout = options.timeout;
        let stream = bounded(timeout, tcp(addr, options.source)).await?;
        let mut request = format!("ws://{addr}/_event").into_client_request()?;
        let origin = options.origin.iter().map(|o| ("origin", o.as_str()));
        let more = options
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        for (name, value) in origin.chain(more) {
            let name: tokio_tungstenite::tungstenite::http::HeaderName = name
                .parse()
                .map_err(|_| ClientError::Protocol(format!("`{name}` is no header name")))?;
            let value = value
                .parse()
                .map_err(|_| ClientError::Protocol(format!("`{value}` is no header value")))?;
            request.headers_mut().insert(name, value);
        }
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let (ws, _) = bounded(timeout, async {
            Ok(tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?)
        })
        .await?;
        Ok(Client {
            ws,
            timeout,
            token: String::new(),
            page: options.page.clone(),
            tab: options.tab.clone().unwrap_or_else(new_tab),
            version: 0,
            last_seq: 0,
            state: Map::new(),
            hydrate_bytes: 0,
            next_seq: 1,
            then: Vec::new(),
            hydrate_then: Vec::new(),
        })
    }

    /// Sends `hello` with `token` and waits for its `hydrate`.
    ///
    /// # Errors
    /// [`ClientError::Refused`] on an `error` frame, or a transport error.
    pub async fn hello(&mut self, token: Option<&str>) -> Result<(), ClientError> {
        let token = token.map(str::to_owned);
        let tab = Some(self.tab.clone());
        let page = self.page.clone();
        self.send(&ClientFrame::Hello { token, tab, page }).await?;
        loop {
            match self.recv().await? {
                ServerFrame::Hydrate { .. } => return Ok(()),
                ServerFrame::Error {
                    code,
                    message,
                    seq: None,
                    ..
                } => return Err(ClientError::Refused(Failure::new(code, message))),
                // A delta published before the hydrate was taken is covered by it.
                _ => {}
            }
        }
    }

    /// Sends a frame.
    ///
    /// # Errors
    /// When the socket is closed or the send times out.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        self.send_message(Message::Text(frame.encode().into()))
            .await
    }

    /// Sends a raw text frame (to test what the server does with bad input).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), ClientError> {
        self.send_message(Message::Text(text.into().into())).await
    }

    /// Sends a binary frame.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.send_message(Message::Binary(bytes.into())).await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), ClientError> {
        let timeout = self.timeout;
        bounded(timeout, async { Ok(self.ws.send(message).await?) }).await
    }

    /// The next frame, applied to the client's state.
    ///
    /// # Errors
    /// [`ClientError::Timeout`], [`ClientError::Closed`], or [`ClientError::Protocol`] for a frame
    /// that is not one of the protocol's or a delta out of version order.
    pub async fn recv(&mut self) -> Result<ServerFrame, ClientError> {
        let timeout = self.timeout;
        loop {
            let msg = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return Err(ClientError::Timeout(timeout)),
                Ok(None) => return Err(ClientError::Closed),
                Ok(Some(msg)) => msg?,
            };
            match msg {
                Message::Text(text) => {
                    let frame = ServerFrame::parse(text.as_str())
                        .map_err(|e| ClientError::Protocol(format!("bad frame ({e}): {text}")))?;
                    self.apply(&frame, text.len())?;
                    return Ok(frame);
                }
                Message::Close(_) => return Err(ClientError::Closed),
                Message::Binary(_) => return Err(ClientError::Protocol("binary frame".into())),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Sends an event calling `handler` with `args` (an object, or `null` for none) under the next
    /// sequence number, and waits for the frame that completes it. The next number is one above
    /// the last event that completed without error (a failed event's number is free again, since
    /// the server did not apply it). An event refused as a `seq_gap` is sent again, as the browser
    /// runtime does, after a resync and numbered after the tab's last applied event.
    ///
    /// # Errors
    /// A transport error, a timeout, or [`ClientError::Refused`] for an error frame about no event.
    pub async fn call(&mut self, handler: &str, args: Value) -> Result<Answer, ClientError> {
        let answer = self.call_seq(self.next_seq, handler, args.clone()).await?;
        if matches!(&answer, Answer::Error(f) if f.code == ErrorCode::SeqGap) {
            // As the browser runtime does: the server lost this tab's numbering (its state was
            // lost or forgotten), so resync and send the event again, numbered after the tab's
            // last applied one.
            let token = self.token.clone();
            self.hello(Some(&token)).await?;
            self.next_seq = self.last_seq + 1;
            return self.call_seq(self.next_seq, handler, args).await;
        }
        Ok(answer)
    }

    /// [`Client::call`] with the sequence number `seq`.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn call_seq(
        &mut self,
        seq: u64,
        handler: &str,
        args: Value,
    ) -> Result<Answer, ClientError> {
        self.call_at_depth(seq, handler, args, 0).await
    }

    /// [`Client::call_seq`] for an event at `depth` in its event chain (0: a trigger's).
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn call_at_depth(
        &mut self,
        seq: u64,
        handler: &str,
        args: Value,
        depth: u32,
    ) -> Result<Answer, ClientError> {
        let handler = handler.to_owned();
        let page = self.page.clone();
        self.send(&ClientFrame::Event {
            seq,
            handler,
            args,
            page,
            depth,
        })
        .await?;
        self.answer_to(seq).await
    }

    /// Sends event `seq` (at `depth` in its chain) until it is answered, resending the same seq
    /// 50 ms after each retryable error, as the browser runtime does. The answer is never a
    /// retryable error.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn deliver(
        &mut self,
        seq: u64,
        handler: &str,
        args: Value,
        depth: u32,
    ) -> Result<Answer, ClientError> {
        loop {
            match self
                .call_at_depth(seq, handler, args.clone(), depth)
                .await?
            {
                Answer::Error(f) if f.code.retryable() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                answer => return Ok(answer),
            }
        }
    }

    /// Runs `handler` and its event chain as the browser runtime does: each event is resent with
    /// its seq after a retryable error until it is answered, and an answered event's follow-up
    /// events run next (depth-first, one deeper). Returns the answer of each event and the client
    /// actions met, in order.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn run_chain(
        &mut self,
        handler: &str,
        args: Value,
    ) -> Result<(Vec<Answer>, Vec<FollowUp>), ClientError> {
        let mut queue = VecDeque::from([(
            FollowUp {
                handler: handler.to_owned(),
                args: args.as_object().cloned().unwrap_or_default(),
            },
            0,
        )]);
        let (mut answers, mut actions) = (Vec::new(), Vec::new());
        while let Some((item, depth)) = queue.pop_front() {
            if item.handler.starts_with('_') {
                actions.push(item);
                continue;
            }
            let args = Value::Object(item.args.clone());
            let answer = self
                .deliver(self.next_seq, &item.handler, args, depth)
                .await?;
            if !matches!(answer, Answer::Error(_)) {
                for (i, next) in std::mem::take(&mut self.then).into_iter().enumerate() {
                    queue.insert(i, (next, depth + 1));
                }
            }
            answers.push(answer);
        }
        Ok((answers, actions))
    }

    /// Waits for the frame completing event `seq`, applying the frames that come before it
    /// (including deltas of other sockets' events on the same token).
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn answer_to(&mut self, seq: u64) -> Result<Answer, ClientError> {
        loop {
            let answer = match self.recv().await? {
                // Another tab of the token gets its own numbers: only our tab's seq answers us.
                ServerFrame::Delta {
                    version,
                    seq: Some(s),
                    tab,
                    delta,
                    then,
                } if s == seq && tab.as_deref() == Some(self.tab.as_str()) => {
                    self.then = then;
                    Answer::Delta { version, delta }
                }
                ServerFrame::Ack { seq: s, then } if s == seq => {
                    self.then = then;
                    Answer::Ack
                }
                ServerFrame::Error {
                    seq: Some(s),
                    code,
                    message,
                    then,
                    ..
                } if s == seq => {
                    let failure = Failure {
                        then,
                        ..Failure::new(code, message)
                    };
                    return Ok(Answer::Error(failure));
                }
                ServerFrame::Error {
                    seq: None,
                    code,
                    message,
                    ..
                } => return Err(ClientError::Refused(Failure::new(code, message))),
                ServerFrame::Hydrate { .. } if self.last_seq >= seq => {
                    // The event was applied: the hydrate's follow-ups are those of the tab's
                    // last event, this one when it was the last sent.
                    self.then = if self.last_seq == seq {
                        std::mem::take(&mut self.hydrate_then)
                    } else {
                        Vec::new()
                    };
                    Answer::Resynced {
                        version: self.version,
                    }
                }
                _ => continue,
            };
            self.next_seq = self.next_seq.max(seq + 1);
            self.last_seq = self.last_seq.max(seq);
            return Ok(answer);
        }
    }

    /// Applies a `hydrate` or `delta` frame to the held state; other frames change nothing.
    fn apply(&mut self, frame: &ServerFrame, bytes: usize) -> Result<(), ClientError> {
        match frame {
            ServerFrame::Hydrate {
                token,
                version,
                last_seq,
                state,
                then,
            } => {
                self.hydrate_then.clone_from(then);
                self.token.clone_from(token);
                self.version = *version;
                self.last_seq = *last_seq;
                self.next_seq = self.next_seq.max(last_seq + 1);
                self.state.clone_from(state);
                self.hydrate_bytes = bytes;
            }
            ServerFrame::Delta { version, delta, .. } => {
                if *version != self.version + 1 {
                    return Err(ClientError::Protocol(format!(
                        "delta of version {version} after version {}",
                        self.version
                    )));
                }
                self.version = *version;
                for (state, vars) in delta {
                    let held = self
                        .state
                        .entry(state.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let (Value::Object(held), Value::Object(vars)) = (held, vars) {
                        for (var, value) in vars {
                            held.insert(var.clone(), value.clone());
                        }
                    }
                }
            }
            ServerFrame::Ack { .. } | ServerFrame::Error { .. } => {}
        }
        Ok(())
    }

    /// Waits until the server closes the socket, at most `limit`, applying the frames that
    /// arrive meanwhile; returns the close code (`None` when it closed without one or the
    /// connection dropped).
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when the socket is still open after `limit`.
    pub async fn closed(&mut self, limit: Duration) -> Result<Option<u16>, ClientError> {
        let deadline = tokio::time::Instant::now() + limit.min(Duration::from_secs(365 * 86_400));
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err(ClientError::Timeout(limit)),
                Ok(Some(Ok(Message::Close(frame)))) => return Ok(frame.map(|f| u16::from(f.code))),
                Ok(None | Some(Err(_))) => return Ok(None),
                Ok(Some(Ok(Message::Text(text)))) => {
                    if let Ok(frame) = ServerFrame::parse(text.as_str()) {
                        self.apply(&frame, text.len())?;
                    }
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Closes the socket politely (best effort, at most 2 s).
    pub async fn close(mut self) {
        let _ = bounded(Duration::from_secs(2), async {
            Ok(self.ws.close(None).await?)
        })
        .await;
    }

    /// The sequence number [`Client::call`] gives the next event.
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
