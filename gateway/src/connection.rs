//! One browser socket: its frames, its token, its event queue and its delta relay.
//!
//! Three tasks serve a socket: the reader (this module's [`serve_socket`]) validates frames and
//! queues events; the event loop processes queued events one at a time, in order; the relay
//! forwards the deltas published on the token's feed. Both deliver through [`Conn::deliver`], which
//! sends each version once, in order, and resyncs the socket with a `hydrate` when it sees a gap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures_util::{SinkExt, StreamExt};
use refract_worker::{EventRequest, Outcome};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::Shared;
use crate::frame::{self, ClientFrame, Rejection};

/// A queued event and the span its trace started with; boxed, because a channel allocates room
/// for 32 items up front and most sockets never queue more than one.
type Queued = Box<(EventRequest, tracing::Span)>;

/// Frames waiting to be written to one socket before senders wait.
const OUTBOX: usize = 256;

/// What the socket has been sent: its token and the state version it shows.
struct View {
    token: Option<String>,
    version: u64,
}

struct Conn {
    shared: Arc<Shared>,
    out: mpsc::Sender<Message>,
    view: Mutex<View>,
}

/// Serves one upgraded socket until it closes.
pub(crate) async fn serve_socket(socket: WebSocket, shared: Arc<Shared>) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(msg) = outbox.recv().await {
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let conn = Arc::new(Conn {
        shared,
        out,
        view: Mutex::new(View {
            token: None,
            version: 0,
        }),
    });
    let mut tasks = JoinSet::new();
    let mut queue: Option<mpsc::Sender<Queued>> = None;
    let metrics = refract_telemetry::metrics();
    metrics.connections(1);
    loop {
        let msg = tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(msg)) => msg,
                _ => break,
            },
            () = conn.shared.draining.cancelled() => {
                let close = CloseFrame { code: close_code::RESTART, reason: "gateway restarting".into() };
                let _ = conn.out.send(Message::Close(Some(close))).await;
                break;
            }
        };
        match msg {
            Message::Text(text) => conn.on_text(text.as_str(), &mut queue, &mut tasks).await,
            Message::Binary(_) => {
                conn.reject(
                    None,
                    Rejection::MalformedFrame,
                    "binary frames are not accepted",
                )
                .await
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    tasks.abort_all();
    metrics.connections(-1);
    drop(queue);
    drop(conn);
    let _ = writer.await;
}

impl Conn {
    async fn send(&self, text: String) {
        // A closed outbox means the socket is gone; the reader ends on its own.
        let _ = self.out.send(Message::Text(text.into())).await;
    }

    async fn reject(&self, seq: Option<u64>, why: Rejection, message: &str) {
        tracing::debug!(code = why.code(), message, "rejected frame");
        self.send(frame::error(seq, why.code(), message)).await;
    }

    async fn on_text(
        self: &Arc<Self>,
        text: &str,
        queue: &mut Option<mpsc::Sender<Queued>>,
        tasks: &mut JoinSet<()>,
    ) {
        let limit = self.shared.config.max_frame_bytes;
        if text.len() > limit {
            let message = format!(
                "frame of {} bytes exceeds the limit of {limit} bytes",
                text.len()
            );
            return self.reject(None, Rejection::FrameTooLarge, &message).await;
        }
        match frame::parse(text) {
            Err(message) => self.reject(None, Rejection::MalformedFrame, &message).await,
            Ok(ClientFrame::Hello { token }) => self.hello(token, queue, tasks).await,
            Ok(ClientFrame::Event { seq, handler, args }) => {
                let Some(tx) = queue else {
                    return self
                        .reject(Some(seq), Rejection::NotReady, "send hello first")
                        .await;
                };
                if !(args.is_object() || args.is_null()) {
                    let message = format!(
                        "handler `{handler}`: `args` must be an object keyed by parameter name"
                    );
                    return self
                        .reject(Some(seq), Rejection::BadArguments, &message)
                        .await;
                }
                let token = self.view.lock().await.token.clone().unwrap_or_default();
                // The event's trace starts when its frame is received.
                let span = tracing::info_span!("event", handler = %handler, seq);
                if tx
                    .try_send(Box::new((
                        EventRequest {
                            token,
                            seq,
                            handler,
                            args,
                        },
                        span,
                    )))
                    .is_err()
                {
                    let message = format!(
                        "more than {} events queued on this socket; this event was not run",
                        self.shared.config.max_queued_events
                    );
                    self.reject(Some(seq), Rejection::Overloaded, &message)
                        .await;
                }
            }
        }
    }

    async fn hello(
        self: &Arc<Self>,
        token: Option<String>,
        queue: &mut Option<mpsc::Sender<Queued>>,
        tasks: &mut JoinSet<()>,
    ) {
        let issuer = &self.shared.issuer;
        let token = match token {
            Some(t) if issuer.verify(&t) => t,
            Some(_) => {
                let message =
                    "this token was not issued by this server; send hello with a null token";
                return self.reject(None, Rejection::InvalidToken, message).await;
            }
            None => match issuer.issue() {
                Ok(t) => t,
                Err(e) => {
                    return self
                        .send(frame::error(None, "internal", &e.to_string()))
                        .await;
                }
            },
        };
        let mut view = self.view.lock().await;
        match &view.token {
            Some(current) if *current != token => {
                drop(view);
                let message = "a socket keeps the token it started with";
                return self.reject(None, Rejection::TokenMismatch, message).await;
            }
            Some(_) => {}
            None => {
                view.token = Some(token.clone());
                // Subscribe before the snapshot: nothing published after it is missed.
                let feed = self.subscribe(&token).await;
                let span = tracing::info_span!("socket", token = %&token[..8]);
                tasks.spawn(
                    self.clone()
                        .relay(token.clone(), feed)
                        .instrument(span.clone()),
                );
                let (tx, rx) = mpsc::channel::<Queued>(self.shared.config.max_queued_events);
                *queue = Some(tx);
                tasks.spawn(self.clone().event_loop(rx).instrument(span));
            }
        }
        self.rehydrate(&mut view).await;
    }

    /// Sends the token's full state and records its version. When the state cannot be read, says
    /// why and closes the socket: the browser reconnects with backoff and asks again, rather than
    /// showing a state the gateway cannot vouch for.
    async fn rehydrate(&self, view: &mut View) {
        let Some(token) = view.token.clone() else {
            return;
        };
        match self.shared.processor.hydrate(&token).await {
            Ok(h) => {
                view.version = h.version;
                self.send(frame::hydrate(&token, &h)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot hydrate; closing the socket");
                self.send(frame::error(None, e.code(), &e.to_string()))
                    .await;
                let _ = self.out.send(Message::Close(None)).await;
            }
        }
    }

    /// Sends the delta frame of `version` unless the socket already has it; on a gap, resyncs.
    async fn deliver(&self, version: u64, delta: &str) {
        let mut view = self.view.lock().await;
        if version <= view.version {
            return;
        }
        if version == view.version + 1 {
            view.version = version;
            self.send(delta.to_owned()).await;
        } else {
            tracing::debug!(have = view.version, got = version, "version gap: resync");
            self.rehydrate(&mut view).await;
        }
    }

    async fn event_loop(self: Arc<Self>, mut queue: mpsc::Receiver<Queued>) {
        while let Some(queued) = queue.recv().await {
            let (event, span) = *queued;
            self.run(event).instrument(span).await;
        }
    }

    /// Processes one event and answers the socket.
    async fn run(&self, event: EventRequest) {
        let seq = event.seq;
        let started = Instant::now();
        let result = self.shared.processor.process(event).await;
        let outcome = match &result {
            Ok(Outcome::Applied { .. }) => "applied",
            Ok(Outcome::Duplicate) => "duplicate",
            Err(e) => e.code(),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        refract_telemetry::metrics().event("gateway", outcome, ms);
        let relay = tracing::info_span!("relay", outcome);
        async {
            match result {
                Ok(Outcome::Applied { version, frame }) => self.deliver(version, &frame).await,
                Ok(Outcome::Duplicate) => self.send(frame::ack(seq)).await,
                Err(e) => {
                    self.send(frame::error(Some(seq), e.code(), &e.to_string()))
                        .await
                }
            }
        }
        .instrument(relay)
        .await;
    }

    async fn subscribe(&self, token: &str) -> Option<refract_worker::Subscription> {
        match self.shared.feed.subscribe(token).await {
            Ok(sub) => Some(sub),
            Err(e) => {
                tracing::warn!(error = %e, "delta feed unavailable; retrying");
                None
            }
        }
    }

    /// Relays the token's published deltas; when the feed drops the subscription, resubscribes
    /// (with backoff) and resyncs, since deltas may have been missed meanwhile.
    async fn relay(self: Arc<Self>, token: String, mut feed: Option<refract_worker::Subscription>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Some(mut sub) = feed.take() {
                let since = Instant::now();
                while let Some(delta) = sub.next().await {
                    match frame::delta_version(&delta) {
                        Some(version) => self.deliver(version, &delta).await,
                        None => tracing::warn!("ignored a published frame without a version"),
                    }
                }
                if since.elapsed() > Duration::from_secs(1) {
                    backoff = Duration::from_millis(100);
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            feed = self.subscribe(&token).await;
            if feed.is_some() {
                self.rehydrate(&mut *self.view.lock().await).await;
            }
        }
    }
}
