//! One browser socket as an explicit state machine: awaiting `hello`, then ready (a token, an
//! event queue and a delta relay). It speaks [`Inbound`] and [`Outbound`] frames over channels, so
//! it is tested without a socket; [`serve_socket`] plugs it into an axum WebSocket.
//!
//! Once ready, three tasks serve the session: the reader ([`run`]) validates frames and queues
//! events; the event loop processes queued events one at a time, in order; the relay forwards the
//! deltas published on the token's feed. Both deliver through [`View::deliver`], which sends each
//! version once, in order, and resyncs the socket with a `hydrate` when it sees a gap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures_util::{SinkExt, Stream, StreamExt};
use refract_core::EventContext;
use refract_proto::{
    ClientFrame, ErrorCode, EventRequest, Failure, Outcome, Published, ServerFrame, Subscription,
};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::Shared;

/// A frame from the browser, whatever carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A text frame.
    Text(String),
    /// A binary frame (refused: the protocol is text).
    Binary,
    /// A frame over the hard cap (16 × the frame limit, at least 1 MiB): the socket stops reading
    /// it, so the session answers `frame_too_large` and closes the socket with 1009.
    TooLarge,
    /// The connection failed; the session ends.
    Broken,
    /// A ping or pong: the peer is there.
    Alive,
}

/// A frame to the browser, whatever carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// An encoded [`ServerFrame`].
    Text(String),
    /// Close the socket with this close code (RFC 6455 §7.4) and reason, or with none.
    Close(Option<(u16, &'static str)>),
    /// A ping, which a browser answers with a pong by itself.
    Ping,
}

/// A queued event, the span its trace started with and when its frame arrived; boxed, because a
/// channel allocates room for 32 items up front and most sockets never queue more than one.
type Queued = Box<(EventRequest, tracing::Span, Instant)>;

/// Frames waiting to be written to one socket before senders wait.
const OUTBOX: usize = 256;

/// The initial read buffer of one socket, in bytes.
const READ_BUFFER_BYTES: usize = 1024;

/// Where a session is.
enum Phase {
    /// No valid `hello` yet: events are refused with `not_ready`.
    AwaitingHello,
    /// Serving a token: events go to the queue of its event loop.
    Ready {
        /// The token and tab the socket started with; a later `hello` must carry them.
        id: Arc<Identity>,
        /// The event loop's queue.
        queue: mpsc::Sender<Queued>,
        /// Counts this socket among its token's open sockets while it lives.
        _connected: crate::Connected,
    },
}

/// Whose a ready socket is: its token, and the tab (page load) that numbers its events.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    /// What the browser holds; it goes back in `hydrate` frames, nowhere else.
    token: String,
    /// The token's name behind the gateway ([`crate::TokenIssuer::store_key`]): in every call
    /// to the processor, on the feed, in the open-socket registry.
    key: String,
    /// `""` for a client that names no tab.
    tab: String,
}

/// What the socket has been sent, shared by the reader, the event loop and the relay.
struct View {
    shared: Arc<Shared>,
    out: mpsc::Sender<Outbound>,
    /// What the socket shows.
    shown: Mutex<Shown>,
    /// Woken each time the socket is sent a newer version.
    advanced: tokio::sync::Notify,
}

/// How long the answer to a socket's own event waits for the deltas before it (a streaming
/// handler's flushes, another tab's events) to come through the feed, when it overtook them,
/// before the socket is resynced with a full hydrate instead.
const GAP_WAIT: Duration = Duration::from_millis(250);

/// The state a socket shows: its version, and the highest event seq its frames answered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Shown {
    /// The state version of the last hydrate or delta sent.
    version: u64,
    /// The highest seq answered by a delta sent, or covered by the last hydrate's `last_seq`.
    answered: u64,
}

/// Serves one upgraded socket of `client` (its address and headers) until it closes.
pub(crate) async fn serve_socket(socket: WebSocket, shared: Arc<Shared>, client: EventContext) {
    let (mut sink, stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Outbound>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(frame) = outbox.recv().await {
            let msg = match frame {
                Outbound::Text(text) => Message::Text(text.into()),
                Outbound::Close(close) => Message::Close(close.map(|(code, reason)| CloseFrame {
                    code,
                    reason: reason.into(),
                })),
                Outbound::Ping => Message::Ping(Default::default()),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let inbound = stream
        .take_while(|msg| std::future::ready(!matches!(msg, Ok(Message::Close(_)))))
        .map(|msg| match msg {
            Ok(Message::Text(text)) => Some(Inbound::Text(text.as_str().to_owned())),
            Ok(Message::Binary(_)) => Some(Inbound::Binary),
            Ok(Message::Ping(_) | Message::Pong(_)) => Some(Inbound::Alive),
            Ok(_) => None,
            Err(e) if too_large(&e) => Some(Inbound::TooLarge),
            Err(_) => Some(Inbound::Broken),
        })
        .take_while(|frame| std::future::ready(*frame != Some(Inbound::Broken)))
        .filter_map(std::future::ready);
    run(shared, client, inbound, out).await;
    let _ = writer.await;
}

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The size past which a frame is not even read: 16 × the frame limit, at least 1 MiB.
fn hard_cap(max_frame_bytes: usize) -> usize {
    max_frame_bytes.saturating_mul(16).max(1 << 20)
}

/// Whether a read failed because a frame passed the socket's size cap.
fn too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(tungstenite::Error::Capacity(_)) = error.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// The axum upgrade of `/_event` from `client`: small read buffers, the frame size caps, then
/// [`serve_socket`].
pub(crate) fn upgrade(
    shared: Arc<Shared>,
    ws: axum::extract::WebSocketUpgrade,
    slot: crate::Slot,
    client: EventContext,
) -> axum::response::Response {
    let hard_cap = hard_cap(shared.config.max_frame_bytes);
    // Client frames are small: a 1 KiB read buffer (a larger frame is read whole once its header
    // is in) instead of tungstenite's 128 KiB default is what lets one gateway hold many idle
    // sockets.
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| {
            let sockets = shared.sockets.clone();
            sockets.track_future(async move {
                serve_socket(socket, shared, client).await;
                drop(slot);
            })
        })
}

/// Runs one session of `client` (the context its events start from: address and headers; the
/// page comes with `hello` and events): reads `inbound` until it ends, writing every answer to
/// `out`. The session
/// also ends, with a close frame, when the gateway drains (1012), when no valid `hello` came within
/// the hello timeout (1008), and when nothing at all came within the idle timeout (1001; it pings
/// every third of it, and browsers answer pings by themselves). Returns when the session is over;
/// its tasks are stopped.
pub(crate) async fn run(
    shared: Arc<Shared>,
    client: EventContext,
    inbound: impl Stream<Item = Inbound>,
    out: mpsc::Sender<Outbound>,
) {
    let mut inbound = std::pin::pin!(inbound);
    let view = Arc::new(View {
        shared,
        out,
        shown: Mutex::new(Shown::default()),
        advanced: tokio::sync::Notify::new(),
    });
    let mut session = Session {
        view,
        phase: Phase::AwaitingHello,
        tasks: JoinSet::new(),
        client,
        client_errors: 0,
    };
    let metrics = refract_telemetry::metrics();
    metrics.connections(1);
    let config = &session.view.shared.config;
    let hello_by = tokio::time::sleep(config.hello_timeout);
    tokio::pin!(hello_by);
    let mut ping = tokio::time::interval(config.idle_timeout / 3);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut heard = Instant::now();
    loop {
        let close = |code, reason| Outbound::Close(Some((code, reason)));
        let frame = tokio::select! {
            frame = inbound.next() => match frame {
                Some(frame) => frame,
                None => break,
            },
            () = session.view.shared.draining.cancelled() => {
                let _ = session.view.out.send(close(close_code::RESTART, "gateway restarting")).await;
                break;
            }
            () = &mut hello_by, if matches!(session.phase, Phase::AwaitingHello) => {
                let _ = session.view.out.send(close(close_code::POLICY, "no hello in time")).await;
                break;
            }
            _ = ping.tick() => {
                if heard.elapsed() >= session.view.shared.config.idle_timeout {
                    let _ = session.view.out.send(close(close_code::AWAY, "idle")).await;
                    break;
                }
                let _ = session.view.out.send(Outbound::Ping).await;
                continue;
            }
        };
        heard = Instant::now();
        match frame {
            Inbound::Text(text) => session.on_text(&text).await,
            Inbound::Binary => {
                let failure =
                    Failure::new(ErrorCode::MalformedFrame, "binary frames are not accepted");
                session.view.refuse(None, failure).await;
            }
            Inbound::TooLarge => {
                let message = format!(
                    "a frame over {} bytes closes the socket",
                    hard_cap(session.view.shared.config.max_frame_bytes)
                );
                let failure = Failure::new(ErrorCode::FrameTooLarge, message);
                session.view.refuse(None, failure).await;
                let close = Outbound::Close(Some((close_code::SIZE, "frame too large")));
                let _ = session.view.out.send(close).await;
                break;
            }
            Inbound::Broken => break,
            Inbound::Alive => {}
        }
    }
    session.tasks.abort_all();
    metrics.connections(-1);
}

/// The reader's side of a session: its phase and the tasks of a ready session.
struct Session {
    view: Arc<View>,
    phase: Phase,
    tasks: JoinSet<()>,
    /// What the next event's context starts from: the client's address and headers, and the
    /// page it last said it shows.
    client: EventContext,
    /// How many rendering errors the page reported (the first few are logged).
    client_errors: u32,
}

/// How many of a socket's reported rendering errors are logged (all are counted): a page stuck
/// in a failing render must not flood the logs.
const CLIENT_ERRORS_LOGGED: u32 = 5;

/// How many reported rendering errors the whole gateway logs a minute, whatever the sockets:
/// clients opening socket after socket cannot flood the logs either.
const CLIENT_ERRORS_LOGGED_PER_MINUTE: u32 = 30;

/// Whether one more reported rendering error may be logged this minute (a fixed window, shared
/// by the gateway's sockets).
fn client_error_budget() -> bool {
    static WINDOW: std::sync::Mutex<Option<(Instant, u32)>> = std::sync::Mutex::new(None);
    let mut window = WINDOW
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = Instant::now();
    let (start, count) = window.get_or_insert((now, 0));
    if now.duration_since(*start) >= Duration::from_secs(60) {
        (*start, *count) = (now, 0);
    }
    *count += 1;
    *count <= CLIENT_ERRORS_LOGGED_PER_MINUTE
}

/// The first `max` bytes of `text` (cut on a character boundary).
fn clipped(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Session {
    /// Counts a rendering error the page reported, and logs the first few of the socket's.
    fn client_error(&mut self, message: &str, stack: Option<&str>) {
        refract_telemetry::metrics().client_error();
        self.client_errors += 1;
        // Debug formatting: the client's text cannot forge log lines with its newlines.
        if self.client_errors <= CLIENT_ERRORS_LOGGED && client_error_budget() {
            tracing::warn!(
                page = ?clipped(&self.client.page.path, 256),
                error = ?clipped(message, 1024),
                stack = ?clipped(stack.unwrap_or("-"), 4096),
                "a page failed to render"
            );
        }
    }

    async fn on_text(&mut self, text: &str) {
        let limit = self.view.shared.config.max_frame_bytes;
        if text.len() > limit {
            let message = format!(
                "frame of {} bytes exceeds the limit of {limit} bytes",
                text.len()
            );
            let failure = Failure::new(ErrorCode::FrameTooLarge, message);
            // Answer the event itself when its seq can be read, so the browser's queue moves on.
            let seq = refract_proto::frame::event_seq(text);
            return self.view.refuse(seq, failure).await;
        }
        match ClientFrame::parse(text) {
            Err(rejected) => self.view.refuse(rejected.seq, rejected.failure).await,
            Ok(ClientFrame::ClientError { message, stack }) => {
                self.client_error(&message, stack.as_deref());
            }
            Ok(ClientFrame::Hello { token, tab, page }) => {
                if let Some(page) = page {
                    self.client.page = page;
                }
                self.hello(token, tab.unwrap_or_default()).await
            }
            Ok(ClientFrame::Event {
                seq,
                handler,
                args,
                page,
                depth,
            }) => {
                let Phase::Ready { id, queue, .. } = &self.phase else {
                    let failure = Failure::new(ErrorCode::NotReady, "send hello first");
                    return self.view.refuse(Some(seq), failure).await;
                };
                if let Some(page) = page {
                    self.client.page = page;
                }
                // The event's trace starts when its frame is received: the gateway serves it.
                let span = tracing::info_span!(
                    "event",
                    otel.kind = "server",
                    handler = %handler,
                    seq = refract_telemetry::int(seq),
                    version = tracing::field::Empty,
                );
                let event = EventRequest {
                    token: id.key.clone(),
                    tab: id.tab.clone(),
                    seq,
                    handler,
                    args,
                    depth,
                    context: EventContext {
                        received_at_ms: now_ms(),
                        ..self.client.clone()
                    },
                };
                if let Err(full) = queue.try_send(Box::new((event, span, Instant::now()))) {
                    let message = format!(
                        "more than {} events queued on this socket; this event was not run",
                        self.view.shared.config.max_queued_events
                    );
                    let failure = Failure::new(ErrorCode::Overloaded, message);
                    let (_, span, _) = *full.into_inner();
                    refract_telemetry::failed(&span, failure.code.as_str(), &failure.message);
                    self.view.refuse(Some(seq), failure).await;
                }
            }
        }
    }

    async fn hello(&mut self, token: Option<String>, tab: String) {
        let issuer = &self.view.shared.issuer;
        let token = match token {
            Some(t) if issuer.verify(&t) => t,
            Some(_) => {
                let message =
                    "this token was not issued by this server; send hello with a null token";
                let failure = Failure::new(ErrorCode::InvalidToken, message);
                return self.view.refuse(None, failure).await;
            }
            None => match issuer.issue() {
                Ok(t) => t,
                Err(e) => {
                    let failure = Failure::new(ErrorCode::Internal, e.to_string());
                    return self.view.reject(None, failure).await;
                }
            },
        };
        let key = issuer.store_key(&token);
        let id = Identity { token, key, tab };
        if let Phase::Ready { id: current, .. } = &self.phase {
            if **current != id {
                let failure = Failure::new(
                    ErrorCode::TokenMismatch,
                    "a socket keeps the token and tab it started with",
                );
                return self.view.refuse(None, failure).await;
            }
            let mut shown = self.view.shown.lock().await;
            self.view.rehydrate(&id, &mut shown).await;
            return;
        }
        let id = Arc::new(id);
        // Hold the view while subscribing and hydrating, so no delta overtakes the hydrate.
        let mut shown = self.view.shown.lock().await;
        // Subscribe before the snapshot: nothing published after it is missed.
        let feed = self.view.subscribe(&id.key).await;
        if !self.view.rehydrate(&id, &mut shown).await {
            // Stay awaiting hello: the browser reconnects and says hello again.
            return;
        }
        drop(shown);
        let span = tracing::info_span!("socket", key = %&id.key[..id.key.len().min(8)]);
        self.tasks.spawn(
            self.view
                .clone()
                .relay(id.clone(), feed)
                .instrument(span.clone()),
        );
        let (queue, rx) = mpsc::channel::<Queued>(self.view.shared.config.max_queued_events);
        self.tasks.spawn(
            self.view
                .clone()
                .event_loop(id.clone(), rx)
                .instrument(span),
        );
        let connected = self.view.shared.connect(&id.key);
        self.phase = Phase::Ready {
            id,
            queue,
            _connected: connected,
        };
    }
}

impl View {
    async fn send(&self, frame: &ServerFrame) {
        // A closed outbox means the socket is gone; the reader ends on its own.
        let _ = self.out.send(Outbound::Text(frame.encode())).await;
    }

    /// Answers with the error frame of `failure`. A failure of the platform's own gets a message
    /// for users in the frame; its detail is logged here, with the trace id the frame carries.
    async fn reject(&self, seq: Option<u64>, failure: Failure) {
        let trace = refract_telemetry::trace_id();
        if failure.code.public_message().is_some() {
            tracing::warn!(code = %failure.code, detail = %failure.message, trace = trace.as_deref().unwrap_or("-"), seq, "event failed");
        } else {
            tracing::debug!(code = %failure.code, message = %failure.message, "refused");
        }
        self.send(&ServerFrame::error(seq, failure, trace)).await;
    }

    /// Refuses a frame at the socket, without running it: counted by its code
    /// (`refract_frames_rejected_total`), then answered as [`View::reject`] does.
    async fn refuse(&self, seq: Option<u64>, failure: Failure) {
        refract_telemetry::metrics().frame_rejected(failure.code.as_str());
        self.reject(seq, failure).await;
    }

    /// Sends the token's full state and records its version; returns whether it could. When the
    /// state cannot be read, says why; for a retryable failure (the store unavailable) it also
    /// closes the socket, so the browser reconnects with backoff and asks again rather than show a
    /// state the gateway cannot vouch for. Other failures (`corrupt_state`) would fail the same
    /// way again: the socket stays open, unhydrated, instead of reconnecting in a loop.
    async fn rehydrate(&self, id: &Identity, shown: &mut Shown) -> bool {
        match self.shared.processor.hydrate(&id.key, &id.tab).await {
            Ok(h) => {
                *shown = Shown {
                    version: h.version,
                    answered: h.last_seq,
                };
                self.advanced.notify_waiters();
                let frame = ServerFrame::Hydrate {
                    token: id.token.clone(),
                    version: h.version,
                    last_seq: h.last_seq,
                    state: h.state,
                    then: h.then,
                };
                self.send(&frame).await;
                true
            }
            Err(failure) => {
                tracing::warn!(code = %failure.code, error = %failure.message, "cannot hydrate; closing the socket");
                let retry = failure.code.retryable();
                self.reject(None, failure).await;
                if retry {
                    let _ = self.out.send(Outbound::Close(None)).await;
                }
                false
            }
        }
    }

    /// Sends the delta frame of `version` (answering this socket's tab's event `answers`, if any)
    /// unless the socket already has it; on a gap, resyncs.
    async fn deliver(&self, id: &Identity, version: u64, answers: Option<u64>, delta: &str) {
        let mut shown = self.shown.lock().await;
        self.deliver_to(&mut shown, id, version, answers, delta)
            .await;
    }

    /// [`View::deliver`] with the view already locked.
    async fn deliver_to(
        &self,
        shown: &mut Shown,
        id: &Identity,
        version: u64,
        answers: Option<u64>,
        delta: &str,
    ) {
        if version <= shown.version {
            return;
        }
        if version == shown.version + 1 {
            shown.version = version;
            shown.answered = shown.answered.max(answers.unwrap_or(0));
            let _ = self.out.send(Outbound::Text(delta.to_owned())).await;
            self.advanced.notify_waiters();
        } else {
            tracing::debug!(have = shown.version, got = version, "version gap: resync");
            self.rehydrate(id, shown).await;
        }
    }

    /// Answers this socket's own event `seq`, applied as `version`. Usually that is
    /// [`View::deliver`]; but a version the socket already passed that answered no delta it was
    /// sent means the token's history started over (its state expired, or Redis lost it): the
    /// socket is resynced, which also answers the event (the hydrate's `last_seq` covers it),
    /// instead of the event going unanswered and the browser's queue stalling behind it.
    ///
    /// An answer that overtook deltas before it (they were published before it, and are on
    /// their way through the feed) waits for them up to [`GAP_WAIT`]: a streaming handler's
    /// last flushes then reach the page as deltas, not as a resync.
    async fn answer(&self, id: &Identity, seq: u64, version: u64, delta: &str) {
        let deadline = tokio::time::Instant::now() + GAP_WAIT;
        loop {
            let advanced = self.advanced.notified();
            let mut advanced = std::pin::pin!(advanced);
            // Registered before looking, so a delivery in between still wakes it.
            advanced.as_mut().enable();
            {
                let mut shown = self.shown.lock().await;
                if version <= shown.version && shown.answered < seq {
                    tracing::warn!(
                        have = shown.version,
                        got = version,
                        "the token's state started over: resync"
                    );
                    self.rehydrate(id, &mut shown).await;
                    return;
                }
                if version <= shown.version + 1 || tokio::time::Instant::now() >= deadline {
                    self.deliver_to(&mut shown, id, version, Some(seq), delta)
                        .await;
                    return;
                }
            }
            let _ = tokio::time::timeout_at(deadline, advanced).await;
        }
    }

    async fn event_loop(self: Arc<Self>, id: Arc<Identity>, mut queue: mpsc::Receiver<Queued>) {
        while let Some(queued) = queue.recv().await {
            let (event, span, received) = *queued;
            self.process(&id, event, received).instrument(span).await;
        }
    }

    /// Processes one event whose frame arrived at `received` and answers the socket. Its duration
    /// counts from `received`, so the time it waited behind the socket's earlier events is in it
    /// (and recorded apart as the queue wait); its span (the current one) gets the outcome.
    async fn process(&self, id: &Identity, event: EventRequest, received: Instant) {
        let seq = event.seq;
        let metrics = refract_telemetry::metrics();
        metrics.queue_wait(received.elapsed().as_secs_f64() * 1000.0);
        let result = self.shared.processor.process(event).await;
        let span = tracing::Span::current();
        let outcome = match &result {
            Ok(Outcome::Applied { version, .. }) => {
                span.record("version", refract_telemetry::int(*version));
                "applied"
            }
            Ok(Outcome::Duplicate { .. }) => "duplicate",
            Err(e) => {
                refract_telemetry::failed(&span, e.code.as_str(), &e.message);
                e.code.as_str()
            }
        };
        metrics.event(
            "gateway",
            outcome,
            received.elapsed().as_secs_f64() * 1000.0,
        );
        let relay = tracing::info_span!("relay", outcome);
        async {
            match result {
                Ok(Outcome::Applied { version, frame }) => {
                    self.answer(id, seq, version, &frame).await
                }
                Ok(Outcome::Duplicate { then }) => self.send(&ServerFrame::Ack { seq, then }).await,
                Err(failure) => self.reject(Some(seq), failure).await,
            }
        }
        .instrument(relay)
        .await;
    }

    async fn subscribe(&self, token: &str) -> Option<Subscription> {
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
    async fn relay(self: Arc<Self>, id: Arc<Identity>, mut feed: Option<Subscription>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            if let Some(mut sub) = feed.take() {
                let since = Instant::now();
                while let Some(published) = sub.next().await {
                    let Published {
                        version,
                        seq,
                        tab,
                        frame,
                    } = published;
                    // Only this socket's tab's seqs answer its events.
                    let ours = tab.as_deref().unwrap_or_default() == id.tab;
                    let answers = seq.filter(|_| ours);
                    self.deliver(&id, version, answers, &frame).await;
                }
                if since.elapsed() > Duration::from_secs(1) {
                    backoff = Duration::from_millis(100);
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            feed = self.subscribe(&id.key).await;
            if feed.is_some() {
                self.rehydrate(&id, &mut *self.shown.lock().await).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as SyncMutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use async_trait::async_trait;
    use refract_core::PageContext;
    use refract_proto::{DeltaFeed, FeedError, Hydration, Processor, Published};
    use serde_json::{Map, json};
    use tokio::sync::broadcast;
    use tokio_stream::wrappers::{BroadcastStream, ReceiverStream};

    use super::*;
    use crate::{Gateway, GatewayConfig, TokenIssuer};

    /// A processor that counts versions: `s.ok` applies, `s.dup` is a duplicate, `s.busy` fails
    /// with `busy`; hydrates fail while `down` is set.
    #[derive(Default)]
    struct Fake {
        version: AtomicU64,
        down: AtomicBool,
        corrupt: AtomicBool,
        seen: SyncMutex<Vec<EventRequest>>,
        published: SyncMutex<Option<broadcast::Sender<Published>>>,
        touched: SyncMutex<Vec<Vec<String>>>,
    }

    fn toast_follow_up() -> refract_core::FollowUp {
        refract_core::FollowUp {
            handler: "_toast".into(),
            args: Map::from_iter([("message".to_owned(), json!("again"))]),
        }
    }

    #[async_trait]
    impl Processor for Fake {
        async fn process(&self, event: EventRequest) -> Result<Outcome, Failure> {
            self.seen.lock().unwrap().push(event.clone());
            match event.handler.as_str() {
                "s.dup" => Ok(Outcome::Duplicate {
                    then: vec![toast_follow_up()],
                }),
                "s.busy" => Err(Failure::new(ErrorCode::Busy, "locked")),
                handler => {
                    let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
                    let frame: Arc<str> = ServerFrame::Delta {
                        version,
                        seq: Some(event.seq),
                        tab: None,
                        delta: Map::new(),
                        then: vec![],
                    }
                    .encode()
                    .into();
                    if handler == "s.raced" {
                        // Pub/sub outruns the reply: the relay sees the commit first.
                        let feed = self.published.lock().unwrap().clone().unwrap();
                        let published = Published {
                            version,
                            seq: Some(event.seq),
                            tab: Some(event.tab.clone()),
                            frame: frame.clone(),
                        };
                        feed.send(published).unwrap();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Ok(Outcome::Applied { version, frame })
                }
            }
        }

        async fn touch(&self, tokens: &[String]) -> Result<(), Failure> {
            self.touched.lock().unwrap().push(tokens.to_vec());
            Ok(())
        }

        async fn hydrate(&self, _token: &str, _tab: &str) -> Result<Hydration, Failure> {
            if self.down.load(Ordering::SeqCst) {
                return Err(Failure::new(ErrorCode::Unavailable, "store down"));
            }
            if self.corrupt.load(Ordering::SeqCst) {
                return Err(Failure::new(ErrorCode::CorruptState, "does not decode"));
            }
            Ok(Hydration {
                version: self.version.load(Ordering::SeqCst),
                last_seq: 0,
                state: Map::from_iter([("s".to_owned(), json!({"n": 0}))]),
                then: vec![],
            })
        }
    }

    #[async_trait]
    impl DeltaFeed for Fake {
        async fn subscribe(&self, _token: &str) -> Result<Subscription, FeedError> {
            let rx = self
                .published
                .lock()
                .unwrap()
                .get_or_insert_with(|| broadcast::channel(16).0)
                .subscribe();
            Ok(BroadcastStream::new(rx)
                .filter_map(|r| std::future::ready(r.ok()))
                .boxed())
        }
    }

    /// A session over channels: what the test sends in, what the session sends out.
    struct Harness {
        fake: Arc<Fake>,
        gateway: Gateway,
        inbound: mpsc::Sender<Inbound>,
        out: mpsc::Receiver<Outbound>,
        session: tokio::task::JoinHandle<()>,
    }

    fn harness() -> Harness {
        harness_with(|_| {})
    }

    fn harness_with(tune: impl FnOnce(&mut GatewayConfig)) -> Harness {
        let fake = Arc::new(Fake::default());
        let mut config = GatewayConfig {
            max_frame_bytes: 256,
            max_queued_events: 4,
            assets: None,
            touch_every: Duration::from_millis(50),
            allowed_origins: Vec::new(),
            hello_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            ..GatewayConfig::default()
        };
        tune(&mut config);
        let issuer = TokenIssuer::from_secret("session tests");
        let gateway = Gateway::new(config, issuer, fake.clone(), fake.clone());
        let (inbound, inbound_rx) = mpsc::channel(16);
        let (out_tx, out) = mpsc::channel(16);
        let shared = gateway.shared.clone();
        let client = EventContext {
            client_ip: Some([203, 0, 113, 7].into()),
            headers: refract_core::ClientHeaders {
                user_agent: Some("test-agent".into()),
                ..Default::default()
            },
            ..EventContext::default()
        };
        let session = tokio::spawn(run(shared, client, ReceiverStream::new(inbound_rx), out_tx));
        Harness {
            fake,
            gateway,
            inbound,
            out,
            session,
        }
    }

    impl Harness {
        async fn send(&self, text: &str) {
            self.inbound
                .send(Inbound::Text(text.to_owned()))
                .await
                .unwrap();
        }

        async fn next(&mut self) -> Outbound {
            tokio::time::timeout(Duration::from_secs(5), self.out.recv())
                .await
                .expect("the session answers")
                .expect("the session is running")
        }

        async fn frame(&mut self) -> ServerFrame {
            match self.next().await {
                Outbound::Text(text) => ServerFrame::parse(&text).unwrap(),
                close => panic!("expected a frame, got {close:?}"),
            }
        }

        async fn hello(&mut self, token: Option<&str>) -> ServerFrame {
            let hello = ClientFrame::Hello {
                token: token.map(str::to_owned),
                tab: Some("tab-1".to_owned()),
                page: Some(page("/first", "")),
            };
            self.send(&hello.encode()).await;
            self.frame().await
        }

        async fn event(&self, seq: u64, handler: &str) {
            self.event_on(seq, handler, None).await;
        }

        async fn event_on(&self, seq: u64, handler: &str, page: Option<PageContext>) {
            let event = ClientFrame::Event {
                seq,
                handler: handler.to_owned(),
                args: json!({}),
                page,
                depth: 0,
            };
            self.send(&event.encode()).await;
        }
    }

    fn page(path: &str, query: &str) -> PageContext {
        PageContext {
            path: path.into(),
            query: query.into(),
        }
    }

    #[tokio::test]
    async fn events_carry_the_sockets_client_and_the_page_it_last_named() {
        let mut h = harness();
        h.hello(None).await;
        h.event(1, "s.ok").await;
        h.frame().await;
        h.event_on(2, "s.ok", Some(page("/posts/7", "tab=comments")))
            .await;
        h.frame().await;
        h.event(3, "s.ok").await;
        h.frame().await;
        let seen = h.fake.seen.lock().unwrap().clone();
        let pages: Vec<&str> = seen.iter().map(|e| e.context.page.path.as_str()).collect();
        assert_eq!(pages, ["/first", "/posts/7", "/posts/7"]);
        assert_eq!(seen[2].context.page.query, "tab=comments");
        for event in &seen {
            let cx = &event.context;
            assert_eq!(cx.client_ip, Some([203, 0, 113, 7].into()));
            assert_eq!(cx.headers.user_agent.as_deref(), Some("test-agent"));
            assert!(
                cx.received_at_ms > 1_700_000_000_000,
                "{}",
                cx.received_at_ms
            );
            assert!(cx.session.is_empty(), "the processor names the session");
        }
    }

    fn error_code(frame: &ServerFrame) -> (Option<u64>, ErrorCode) {
        match frame {
            ServerFrame::Error { seq, code, .. } => (*seq, *code),
            other => panic!("expected an error frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn before_hello_events_are_not_ready_and_bad_frames_are_refused() {
        let mut h = harness();
        h.event(1, "s.ok").await;
        assert_eq!(error_code(&h.frame().await), (Some(1), ErrorCode::NotReady));
        h.send("{").await;
        assert_eq!(
            error_code(&h.frame().await),
            (None, ErrorCode::MalformedFrame)
        );
        h.inbound.send(Inbound::Binary).await.unwrap();
        assert_eq!(
            error_code(&h.frame().await),
            (None, ErrorCode::MalformedFrame)
        );
        h.send(&"x".repeat(300)).await;
        assert_eq!(
            error_code(&h.frame().await),
            (None, ErrorCode::FrameTooLarge)
        );
        h.send(r#"{"type":"hello","token":"forged"}"#).await;
        assert_eq!(
            error_code(&h.frame().await),
            (None, ErrorCode::InvalidToken)
        );
        assert!(
            h.fake.seen.lock().unwrap().is_empty(),
            "nothing reached the processor"
        );
    }

    #[tokio::test]
    async fn a_reported_rendering_error_gets_no_answer_before_or_after_hello() {
        let mut h = harness();
        let report = r#"{"type":"client_error","message":"Cannot read properties of undefined","stack":"at Page"}"#;
        for _ in 0..(CLIENT_ERRORS_LOGGED + 2) {
            h.send(report).await;
        }
        // The next frame is the hydrate: the reports were taken without an answer.
        assert!(matches!(h.hello(None).await, ServerFrame::Hydrate { .. }));
        h.send(report).await;
        h.event(1, "s.ok").await;
        assert!(matches!(
            h.frame().await,
            ServerFrame::Delta { seq: Some(1), .. }
        ));
        assert!(
            h.fake.seen.lock().unwrap().len() == 1,
            "no report reached the processor"
        );
    }

    #[test]
    fn the_gateway_logs_a_bounded_number_of_reports_a_minute() {
        let allowed = (0..=CLIENT_ERRORS_LOGGED_PER_MINUTE)
            .filter(|_| client_error_budget())
            .count();
        assert!(allowed < (CLIENT_ERRORS_LOGGED_PER_MINUTE + 1) as usize);
        assert!(
            !client_error_budget(),
            "over the budget, nothing more is logged"
        );
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clipped("héllo", 2), "h");
        assert_eq!(clipped("héllo", 3), "hé");
        assert_eq!(clipped("abc", 10), "abc");
    }

    #[tokio::test]
    async fn a_ready_session_runs_events_in_order_and_answers_each() {
        let mut h = harness();
        let ServerFrame::Hydrate {
            token, version: 0, ..
        } = h.hello(None).await
        else {
            panic!("not hydrated");
        };
        h.event(1, "s.ok").await;
        h.event(2, "s.dup").await;
        h.event(3, "s.busy").await;
        assert!(matches!(
            h.frame().await,
            ServerFrame::Delta {
                version: 1,
                seq: Some(1),
                ..
            }
        ));
        // A resent event's chain goes on: the ack carries its follow-ups.
        assert_eq!(
            h.frame().await,
            ServerFrame::Ack {
                seq: 2,
                then: vec![toast_follow_up()]
            }
        );
        let busy = h.frame().await;
        assert_eq!(error_code(&busy), (Some(3), ErrorCode::Busy));
        assert!(matches!(
            busy,
            ServerFrame::Error {
                retryable: true,
                ..
            }
        ));
        let seen = h.fake.seen.lock().unwrap().clone();
        assert_eq!(seen.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let key = TokenIssuer::from_secret("session tests").store_key(&token);
        assert!(
            seen.iter().all(|e| e.token == key),
            "events carry the socket's token's store key, never the token"
        );
    }

    #[tokio::test]
    async fn a_socket_keeps_its_token_and_a_hello_again_resyncs() {
        let mut h = harness();
        let ServerFrame::Hydrate { token, .. } = h.hello(None).await else {
            panic!("not hydrated");
        };
        let other = TokenIssuer::from_secret("session tests").issue().unwrap();
        assert_eq!(
            error_code(&h.hello(Some(&other)).await),
            (None, ErrorCode::TokenMismatch)
        );
        h.event(1, "s.ok").await;
        h.frame().await;
        let again = h.hello(Some(&token)).await;
        assert!(
            matches!(again, ServerFrame::Hydrate { version: 1, .. }),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_hydrate_that_would_fail_again_does_not_close_the_socket() {
        let mut h = harness();
        h.fake.corrupt.store(true, Ordering::SeqCst);
        assert_eq!(
            error_code(&h.hello(None).await),
            (None, ErrorCode::CorruptState)
        );
        // No close: the next thing out answers the next frame.
        h.event(1, "s.ok").await;
        assert_eq!(error_code(&h.frame().await), (Some(1), ErrorCode::NotReady));
    }

    #[tokio::test]
    async fn a_failed_hydrate_closes_the_socket_and_stays_awaiting_hello() {
        let mut h = harness();
        h.fake.down.store(true, Ordering::SeqCst);
        assert_eq!(
            error_code(&h.hello(None).await),
            (None, ErrorCode::Unavailable)
        );
        assert_eq!(h.next().await, Outbound::Close(None));
        h.event(1, "s.ok").await;
        assert_eq!(error_code(&h.frame().await), (Some(1), ErrorCode::NotReady));
        h.fake.down.store(false, Ordering::SeqCst);
        assert!(matches!(h.hello(None).await, ServerFrame::Hydrate { .. }));
    }

    #[tokio::test]
    async fn published_deltas_are_relayed_once_in_order_and_a_gap_resyncs() {
        let mut h = harness();
        assert!(matches!(
            h.hello(None).await,
            ServerFrame::Hydrate { version: 0, .. }
        ));
        let feed = h.fake.published.lock().unwrap().clone().unwrap();
        let publish = |version: u64| {
            let frame = ServerFrame::Delta {
                version,
                seq: None,
                tab: None,
                delta: Map::new(),
                then: vec![],
            };
            feed.send(Published {
                version,
                seq: None,
                tab: None,
                frame: frame.encode().into(),
            })
            .unwrap();
        };
        publish(1);
        assert!(matches!(
            h.frame().await,
            ServerFrame::Delta { version: 1, .. }
        ));
        publish(1);
        // Version 3 after 1: a delta was missed, so the socket gets the whole state instead.
        h.fake.version.store(3, Ordering::SeqCst);
        publish(3);
        assert!(matches!(
            h.frame().await,
            ServerFrame::Hydrate { version: 3, .. }
        ));
    }

    #[tokio::test]
    async fn a_reply_the_relay_already_delivered_is_not_sent_twice() {
        let mut h = harness();
        h.hello(None).await;
        h.event(1, "s.raced").await;
        h.event(2, "s.dup").await;
        assert!(matches!(
            h.frame().await,
            ServerFrame::Delta {
                version: 1,
                seq: Some(1),
                ..
            }
        ));
        // Next comes the answer to event 2: no second delta, no resync in between.
        assert!(matches!(h.frame().await, ServerFrame::Ack { seq: 2, .. }));
    }

    #[tokio::test]
    async fn an_event_applied_on_a_history_that_started_over_is_answered_by_a_resync() {
        let mut h = harness();
        h.hello(None).await;
        h.event(1, "s.ok").await;
        h.event(2, "s.ok").await;
        h.frame().await;
        assert!(matches!(
            h.frame().await,
            ServerFrame::Delta { version: 2, .. }
        ));
        // The token's state is lost (expired, Redis flushed): the next commit is version 1 again.
        h.fake.version.store(0, Ordering::SeqCst);
        h.event(3, "s.ok").await;
        let answer = h.frame().await;
        assert!(
            matches!(answer, ServerFrame::Hydrate { version: 1, .. }),
            "{answer:?}"
        );
        // And the socket goes on from the new history.
        h.event(4, "s.ok").await;
        assert!(matches!(
            h.frame().await,
            ServerFrame::Delta {
                version: 2,
                seq: Some(4),
                ..
            }
        ));
    }

    #[tokio::test]
    async fn the_tokens_of_open_sockets_are_touched_until_they_close() {
        let mut h = harness();
        let ServerFrame::Hydrate { token, .. } = h.hello(None).await else {
            panic!("not hydrated");
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rounds = h.fake.touched.lock().unwrap().clone();
        assert!(rounds.len() >= 2, "{rounds:?}");
        let key = TokenIssuer::from_secret("session tests").store_key(&token);
        assert!(
            rounds.iter().all(|r| r == std::slice::from_ref(&key)),
            "{rounds:?}"
        );
        drop(h.inbound);
        h.session.await.unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let before = h.fake.touched.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = h.fake.touched.lock().unwrap().clone();
        assert!(
            after[before..].iter().all(Vec::is_empty),
            "a closed socket's token is no longer touched: {after:?}"
        );
    }

    #[tokio::test]
    async fn a_socket_without_hello_in_time_is_closed_with_policy_violation() {
        let mut h = harness_with(|c| c.hello_timeout = Duration::from_millis(100));
        h.event(1, "s.ok").await;
        assert_eq!(error_code(&h.frame().await), (Some(1), ErrorCode::NotReady));
        assert_eq!(
            h.next().await,
            Outbound::Close(Some((1008, "no hello in time")))
        );
        // With a hello, the deadline no longer applies.
        let mut h = harness_with(|c| c.hello_timeout = Duration::from_millis(100));
        h.hello(None).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        h.event(1, "s.ok").await;
        assert!(matches!(h.frame().await, ServerFrame::Delta { .. }));
    }

    #[tokio::test]
    async fn a_silent_socket_is_pinged_then_closed_and_an_answering_one_is_kept() {
        let mut h = harness_with(|c| c.idle_timeout = Duration::from_millis(300));
        h.hello(None).await;
        assert_eq!(h.next().await, Outbound::Ping);
        // It answers the pings: kept past the idle timeout.
        for _ in 0..4 {
            h.inbound.send(Inbound::Alive).await.unwrap();
            assert_eq!(h.next().await, Outbound::Ping);
        }
        // Silent from now on: closed.
        let closed = loop {
            match h.next().await {
                Outbound::Ping => continue,
                other => break other,
            }
        };
        assert_eq!(closed, Outbound::Close(Some((1001, "idle"))));
    }

    #[tokio::test]
    async fn draining_closes_with_service_restart() {
        let mut h = harness();
        h.hello(None).await;
        h.gateway.drain();
        assert_eq!(
            h.next().await,
            Outbound::Close(Some((1012, "gateway restarting")))
        );
        tokio::time::timeout(Duration::from_secs(5), h.session)
            .await
            .expect("the session ends")
            .unwrap();
    }
}
