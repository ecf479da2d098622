//! One simulated browser tab: a WebSocket to `/_event`, its token, its state version and its event
//! sequence numbers, speaking the frames of `docs/protocol.md`.
//!
//! A [`Client`] connects (optionally from a chosen loopback source address), sends `hello` and waits
//! for `hydrate`; [`Client::event`] sends one event and waits for the frame that completes it
//! (`delta`, `ack`, `error`, or a `hydrate` whose `last_seq` covers it). Every wait is bounded by
//! the client's timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long a client waits for one answer before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes a client reads from its socket at a time.
const READ_BUFFER: usize = 8 * 1024;

/// Why a client operation failed.
#[derive(thiserror::Error, Debug)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// The gateway's address.
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
    /// The server answered `hello` with an `error` frame.
    #[error("hello refused: {code}: {message}")]
    HelloRefused {
        /// The protocol's error code.
        code: String,
        /// The server's message.
        message: String,
    },
}

/// A frame from the server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame {
    Hydrate {
        token: String,
        version: u64,
        last_seq: u64,
        state: Value,
    },
    Delta {
        version: u64,
        seq: Option<u64>,
        delta: Value,
    },
    Ack {
        seq: u64,
    },
    Error {
        seq: Option<u64>,
        code: String,
        message: String,
    },
}

/// What completed an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The event was applied: the state's `version` after it, and its `delta` (`{state: {var: value}}`).
    Delta {
        /// The version after the event.
        version: u64,
        /// The vars that changed, by state.
        delta: Value,
    },
    /// The event had already been applied (a resend).
    Ack,
    /// The event failed with this protocol error code and message.
    Error {
        /// The protocol's error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server resynced the socket with a `hydrate` covering the event (its delta was folded in).
    Resynced {
        /// The version of the hydrate.
        version: u64,
    },
}

/// One simulated browser tab.
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    timeout: Duration,
    /// The token this socket uses (issued by the server on the first `hello`).
    pub token: String,
    /// The state version the client shows (from the last `hydrate` or `delta`).
    pub version: u64,
    /// The last applied event sequence number known to the client.
    pub last_seq: u64,
    /// `probe_state.count` as last seen, if the app has it.
    pub count: Option<i64>,
    /// Bytes of the last `hydrate` frame.
    pub hydrate_bytes: usize,
}

/// Opens a TCP connection to `addr`, from `source` (port chosen by the kernel) if given, with
/// Nagle's algorithm off as browsers do.
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
    stream.set_nodelay(true).map_err(err)?;
    Ok(stream)
}

impl Client {
    /// Connects to the gateway at `addr` (from `source` if given), sends `hello` with `token`
    /// (`None`: be issued one) and waits for the `hydrate`. Each step waits at most `timeout`.
    ///
    /// # Errors
    /// [`ClientError`] when the connection, the handshake or the hello fails.
    pub async fn connect(
        addr: SocketAddr,
        source: Option<IpAddr>,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let stream = bounded(timeout, tcp(addr, source)).await?;
        let url = format!("ws://{addr}/_event");
        // Small read buffers (tungstenite's default is 128 KiB a socket) let one process hold
        // tens of thousands of idle clients; larger messages still arrive whole.
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let (ws, _) = bounded(timeout, async {
            Ok(tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?)
        })
        .await?;
        let mut client = Client {
            ws,
            timeout,
            token: String::new(),
            version: 0,
            last_seq: 0,
            count: None,
            hydrate_bytes: 0,
        };
        client.hello(token).await?;
        Ok(client)
    }

    /// Sends `hello` with `token` and waits for its `hydrate`, which sets the token, version,
    /// last sequence number and count.
    ///
    /// # Errors
    /// [`ClientError::HelloRefused`] on an `error` frame, or a transport error.
    pub async fn hello(&mut self, token: Option<&str>) -> Result<(), ClientError> {
        let frame = serde_json::json!({"type": "hello", "token": token}).to_string();
        self.send(frame).await?;
        loop {
            match self.recv().await? {
                ServerFrame::Hydrate { .. } => return Ok(()),
                ServerFrame::Error { code, message, .. } => {
                    return Err(ClientError::HelloRefused { code, message });
                }
                // A delta published before the hydrate was taken is covered by it.
                ServerFrame::Delta { .. } | ServerFrame::Ack { .. } => {}
            }
        }
    }

    /// Sends the event `seq = last_seq + 1` calling `handler` with `args` (a JSON object, as
    /// text) and waits for the frame that completes it.
    ///
    /// # Errors
    /// A transport error, a timeout, or [`ClientError::Protocol`] for an answer to another event.
    pub async fn event(&mut self, handler: &str, args: &str) -> Result<Answer, ClientError> {
        let seq = self.last_seq + 1;
        let frame =
            format!(r#"{{"type":"event","seq":{seq},"handler":"{handler}","args":{args}}}"#);
        self.send(frame).await?;
        loop {
            match self.recv().await? {
                ServerFrame::Delta {
                    version,
                    seq: Some(s),
                    delta,
                } if s == seq => {
                    self.last_seq = seq;
                    return Ok(Answer::Delta { version, delta });
                }
                ServerFrame::Delta { seq: Some(s), .. } if s > seq => {
                    return Err(ClientError::Protocol(format!(
                        "delta of event {s} while waiting for {seq}"
                    )));
                }
                ServerFrame::Delta { .. } => {}
                ServerFrame::Ack { seq: s } if s == seq => {
                    self.last_seq = seq;
                    return Ok(Answer::Ack);
                }
                ServerFrame::Ack { .. } => {}
                ServerFrame::Error {
                    seq: Some(s),
                    code,
                    message,
                } if s == seq => return Ok(Answer::Error { code, message }),
                ServerFrame::Error { code, message, .. } => {
                    return Err(ClientError::Protocol(format!(
                        "error frame while waiting for event {seq}: {code}: {message}"
                    )));
                }
                ServerFrame::Hydrate { .. } if self.last_seq >= seq => {
                    return Ok(Answer::Resynced {
                        version: self.version,
                    });
                }
                ServerFrame::Hydrate { .. } => {}
            }
        }
    }

    /// Waits until the server closes the socket (or it fails), at most `limit`; frames that arrive
    /// meanwhile are applied.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] when the socket is still open after `limit`.
    pub async fn wait_closed(&mut self, limit: Duration) -> Result<(), ClientError> {
        let deadline =
            tokio::time::Instant::from_std(crate::deadline(std::time::Instant::now(), limit));
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err(ClientError::Timeout(limit)),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Ok(()),
                Ok(Some(Ok(Message::Text(text)))) => {
                    if let Ok(frame) = serde_json::from_str::<ServerFrame>(text.as_str()) {
                        self.apply(&frame, text.len());
                    }
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Closes the socket politely (best effort).
    pub async fn close(mut self) {
        let _ = bounded(Duration::from_secs(2), async {
            Ok(self.ws.close(None).await?)
        })
        .await;
    }

    async fn send(&mut self, text: String) -> Result<(), ClientError> {
        let timeout = self.timeout;
        bounded(timeout, async {
            Ok(self.ws.send(Message::Text(text.into())).await?)
        })
        .await
    }

    /// The next frame, applied to the client's view.
    async fn recv(&mut self) -> Result<ServerFrame, ClientError> {
        let timeout = self.timeout;
        loop {
            let msg = match tokio::time::timeout(timeout, self.ws.next()).await {
                Err(_) => return Err(ClientError::Timeout(timeout)),
                Ok(None) => return Err(ClientError::Closed),
                Ok(Some(msg)) => msg?,
            };
            match msg {
                Message::Text(text) => {
                    let frame: ServerFrame = serde_json::from_str(text.as_str())
                        .map_err(|e| ClientError::Protocol(format!("bad frame: {e}")))?;
                    self.apply(&frame, text.len());
                    return Ok(frame);
                }
                Message::Close(_) => return Err(ClientError::Closed),
                Message::Binary(_) => {
                    return Err(ClientError::Protocol("binary frame".into()));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Updates the token, version, last sequence number and count from a frame.
    fn apply(&mut self, frame: &ServerFrame, bytes: usize) {
        match frame {
            ServerFrame::Hydrate {
                token,
                version,
                last_seq,
                state,
            } => {
                self.token.clone_from(token);
                self.version = *version;
                self.last_seq = *last_seq;
                self.count = state["probe_state"]["count"].as_i64();
                self.hydrate_bytes = bytes;
            }
            ServerFrame::Delta { version, delta, .. } => {
                self.version = self.version.max(*version);
                if let Some(count) = delta["probe_state"]["count"].as_i64() {
                    self.count = Some(count);
                }
            }
            ServerFrame::Ack { .. } | ServerFrame::Error { .. } => {}
        }
    }
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
