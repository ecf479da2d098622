//! The gateway ↔ worker contract, independent of transport: in embedded mode the gateway calls the
//! engine directly; in distributed mode the same calls travel over gRPC ([`crate::convert`]).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use serde_json::{Map, Value};

use refract_core::{EventContext, FollowUp};

use crate::error::{ErrorCode, Failure};

/// One client event to process.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRequest {
    /// The client's token (already verified by the gateway).
    pub token: String,
    /// The tab that numbered the event (see [`crate::frame::ClientFrame::Hello`]); `""` for a
    /// client that names none.
    pub tab: String,
    /// The event's sequence number within its tab (1 ≤ seq ≤ [`crate::frame::MAX_SEQ`]), given by
    /// the browser runtime.
    pub seq: u64,
    /// `state_name.method`.
    pub handler: String,
    /// The arguments: a JSON object keyed by parameter name, or `null` for none.
    pub args: Value,
    /// The event's depth in its event chain: 0 for an event a page's trigger sent, its parent's
    /// + 1 for a follow-up a handler returned.
    pub depth: u32,
    /// What the gateway knows of the event's client: its page, address, headers and the time it
    /// received the event. `session`, `tab`, `route` and `params` are left empty here: the
    /// processor fills them (from `token`, `tab`, and the page's path against the app's routes)
    /// before a handler sees the context.
    pub context: EventContext,
}

/// What became of an event that did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The event ran and was committed as `version`; `frame` is the encoded `delta` frame that was
    /// published.
    Applied {
        /// The token's state version after the event.
        version: u64,
        /// The published delta frame, JSON text.
        frame: Arc<str>,
    },
    /// The event's sequence number was already applied: it was not run again.
    Duplicate {
        /// The follow-ups that event returned, when it was its tab's last applied event (a
        /// resend whose first answer was lost), so its chain goes on; empty otherwise.
        then: Vec<FollowUp>,
    },
}

/// A token's full state, for a `hydrate` frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Hydration {
    /// The state version.
    pub version: u64,
    /// The last applied event sequence number of the tab asked about (0 when none).
    pub last_seq: u64,
    /// `{state_name: {var: value}}`: frontend and computed vars of every state.
    pub state: Map<String, Value>,
    /// The follow-ups of the tab's last applied event (`last_seq`), for a tab whose answer to
    /// that event was lost.
    pub then: Vec<FollowUp>,
}

/// What the browser said of one file it uploads (`POST /_upload`), checked by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// The token's store key, as in [`EventRequest::token`].
    pub token: String,
    /// The file's name as the browser gave it, not yet sanitised (the processor does that).
    pub name: String,
    /// The file's media type as the browser gave it (`""` when it gave none).
    pub content_type: String,
    /// The file's size in bytes, as declared: the body must be exactly this long.
    pub size: u64,
}

/// A file the processor holds for a token after an upload, until an event's argument names it
/// (`{"$upload": id}`) or it expires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Uploaded {
    /// The upload's id (32 lowercase hex digits, random).
    pub id: String,
    /// The file's sanitised name.
    pub name: String,
    /// Its media type as the browser gave it.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why an upload's body stopped before its end: the client went away or cancelled, or it
/// stalled.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("the upload's body broke off: {0}")]
pub struct BodyError(pub String);

/// The bytes of an uploaded file, in order, as they arrive; an `Err` ends it early.
pub type UploadBody = BoxStream<'static, Result<Bytes, BodyError>>;

/// Processes events and reads whole states: implemented by the engine and, in distributed mode,
/// by the gateway's pool of gRPC workers.
#[async_trait]
pub trait Processor: Send + Sync {
    /// Processes one event: exactly once per `(token, tab, seq)`, under the token's lock.
    ///
    /// # Errors
    /// The [`Failure`] to send the client; the stored state is then as before the event.
    async fn process(&self, event: EventRequest) -> Result<Outcome, Failure>;

    /// The token's full state, with the last applied seq of `tab`.
    ///
    /// # Errors
    /// A [`Failure`]: `unavailable` when the store cannot be read, `corrupt_state` when a stored
    /// state does not decode.
    async fn hydrate(&self, token: &str, tab: &str) -> Result<Hydration, Failure>;

    /// Restarts the expiry of `tokens`' stored states, as an event would: the gateway calls it
    /// periodically for the tokens whose sockets are open, so a tab left open does not lose its
    /// state. Tokens with nothing stored are left alone.
    ///
    /// # Errors
    /// `unavailable` when the store cannot be reached.
    async fn touch(&self, tokens: &[String]) -> Result<(), Failure>;

    /// Keeps one uploaded file for `request.token`, streamed from `body` without holding all of
    /// it: the processor stores it as it arrives and names it by a new id. Nothing is kept when
    /// it fails (a partial file is deleted), whatever the reason. The default refuses every
    /// upload (`unavailable`): a processor that keeps no files.
    ///
    /// # Errors
    /// `upload_too_large` over the size limit (declared, or while streaming), `malformed_upload`
    /// when the body is not as long as declared or the header is unusable, `unavailable` when
    /// the body broke off or the file could not be written (or the worker was lost).
    async fn upload(&self, request: UploadRequest, body: UploadBody) -> Result<Uploaded, Failure> {
        let _ = (request, body);
        Err(Failure::new(
            ErrorCode::Unavailable,
            "this server takes no uploads",
        ))
    }
}

/// One published commit of a token: its version, the event it answers, and its encoded `delta`
/// frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The state version the commit made.
    pub version: u64,
    /// The event the commit answers (`None` for a change no event of a client caused).
    pub seq: Option<u64>,
    /// The tab that numbered that event (`None`: the unnamed tab).
    pub tab: Option<String>,
    /// The `delta` frame, JSON text, as the browser gets it.
    pub frame: Arc<str>,
}

/// The commits published for one token, in the order published.
pub type Subscription = BoxStream<'static, Published>;

/// Why a subscription could not be made.
#[derive(thiserror::Error, Debug)]
#[error("delta feed unavailable: {0}")]
pub struct FeedError(pub String);

/// The deltas published for tokens: an in-process bus in embedded mode, Redis pub/sub in
/// distributed mode. A subscriber that falls behind sees a gap in versions and resyncs.
#[async_trait]
pub trait DeltaFeed: Send + Sync {
    /// Subscribes to the deltas of `token` published from now on. The stream ends when the feed
    /// loses the subscription (the subscriber should then resync).
    ///
    /// # Errors
    /// [`FeedError`] when the feed is unreachable.
    async fn subscribe(&self, token: &str) -> Result<Subscription, FeedError>;
}
