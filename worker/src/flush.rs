//! How one event's changes become commits: [`Committed`] is where the event's state stands in the
//! store, [`Step`] the writes that move it on (a streaming handler's flush, or the event's final
//! commit), and [`Flusher`] the engine's side of a handler's [`Emitter`](refract_core::Emitter).
//!
//! A flush commits like an event's final commit (fenced by the lock, the version bumped, the
//! delta published, the event's seq recorded), but keeps the lock and answers no event (its
//! delta's `seq` is `null`): the handler goes on, and the final commit starts from the flushed
//! state.

use std::sync::Arc;

use refract_core::{FlushError, FlushSink, FollowUp, StateDescriptor, StateObject, diff};
use refract_proto::{ErrorCode, Failure, ServerFrame};
use serde_json::{Map, Value};

use crate::store::{Commit, Lease, StoreError};

/// Where an event's state stands in the store: its vars as the browser was last sent them, its
/// stored bytes, the token's version and the size of all its states.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub vars: Map<String, Value>,
    pub bytes: Option<Arc<[u8]>>,
    pub version: u64,
    pub stored_bytes: u64,
}

/// The event a step belongs to.
pub(crate) struct EventOf<'a> {
    pub desc: &'a StateDescriptor,
    pub tab: &'a str,
    pub seq: u64,
    pub max_state_bytes: u64,
}

/// The writes of one step, and where the state stands after them.
pub(crate) struct Step {
    pub commit: Commit,
    pub after: Committed,
}

impl EventOf<'_> {
    /// The step from `at` to `state` (its `vars` and stored `bytes`): the changed shard, the next
    /// version, and the delta frame, answering the event when `answers` (its final commit) with
    /// its follow-ups `then` (of which `kept` is stored).
    ///
    /// # Errors
    /// `handler_failed` when the state does not read back from its stored form (a non-finite
    /// number), `state_too_large` when it would pass the size limit.
    pub fn step(
        &self,
        at: &Committed,
        vars: Map<String, Value>,
        bytes: Vec<u8>,
        answers: bool,
        then: Vec<FollowUp>,
        kept: Option<Arc<str>>,
    ) -> Result<Step, Failure> {
        let desc = self.desc;
        if !round_trips(desc, &bytes) {
            return Err(Failure::new(
                ErrorCode::HandlerFailed,
                format!(
                    "`{}` was left in a form that cannot be stored and read back (a non-finite \
                     number?); the event was not applied",
                    desc.name
                ),
            ));
        }
        let before_bytes = at.bytes.as_ref().map_or(0, |b| b.len() as u64);
        let stored_bytes = at.stored_bytes.saturating_sub(before_bytes) + bytes.len() as u64;
        let kept_bytes = kept.as_ref().map_or(0, |t| t.len() as u64);
        if stored_bytes + kept_bytes > self.max_state_bytes {
            return Err(Failure::new(
                ErrorCode::StateTooLarge,
                format!(
                    "the event would make this session's state {} bytes (its follow-ups \
                     included), over the limit of {} bytes; it was not applied",
                    stored_bytes + kept_bytes,
                    self.max_state_bytes
                ),
            ));
        }
        let delta = diff(&at.vars, vars.clone());
        let mut by_state = Map::new();
        if !delta.is_empty() {
            by_state.insert(desc.name.to_owned(), Value::Object(delta));
        }
        let version = at.version + 1;
        let frame: Arc<str> = ServerFrame::Delta {
            version,
            seq: answers.then_some(self.seq),
            tab: Some(self.tab.to_owned()).filter(|t| answers && !t.is_empty()),
            delta: by_state,
            then,
        }
        .encode()
        .into();
        let unchanged = at.bytes.as_deref() == Some(&bytes[..]);
        let bytes: Arc<[u8]> = bytes.into();
        let changed = if unchanged {
            Vec::new()
        } else {
            vec![(desc.name.to_owned(), bytes.to_vec())]
        };
        Ok(Step {
            commit: Commit {
                changed,
                tab: self.tab.to_owned(),
                seq: self.seq,
                version,
                stored_bytes,
                then: kept,
                frame,
            },
            after: Committed {
                vars,
                bytes: Some(bytes),
                version,
                stored_bytes,
            },
        })
    }
}

/// Whether the stored form `bytes` of a state of `desc` reads back. serde_json writes a
/// non-finite float (`f64::INFINITY`, NaN) as `null`, which does not read back as a number:
/// stored, it would be reset to its default on the next load while the browser kept showing
/// `null`. Only bytes holding a `null` can be affected, so other states skip the decode.
fn round_trips(desc: &StateDescriptor, bytes: &[u8]) -> bool {
    !bytes.windows(4).any(|w| w == b"null") || (desc.decode)(bytes).is_ok()
}

/// A running event's flushes: each a [`Step`] committed under the event's lock, without
/// releasing it.
pub(crate) struct Flusher<'a> {
    pub event: EventOf<'a>,
    pub lease: &'a dyn Lease,
    pub at: tokio::sync::Mutex<Committed>,
}

impl Flusher<'_> {
    /// Where the state stands after the flushes so far.
    pub fn into_committed(self) -> Committed {
        self.at.into_inner()
    }
}

impl FlushSink for Flusher<'_> {
    fn flush<'a>(
        &'a self,
        state: &'a dyn StateObject,
    ) -> refract_core::BoxFuture<'a, Result<(), FlushError>> {
        Box::pin(async move {
            let mut at = self.at.lock().await;
            let refused = |e: Failure| FlushError::Refused(e.message);
            let vars = state
                .vars()
                .map_err(|e| FlushError::Refused(e.to_string()))?;
            let bytes = state
                .encode()
                .map_err(|e| FlushError::Refused(e.to_string()))?;
            // Nothing new: nothing to commit or send.
            if at.vars == vars && at.bytes.as_deref() == Some(&bytes[..]) {
                return Ok(());
            }
            let step = self
                .event
                .step(&at, vars, bytes, false, Vec::new(), None)
                .map_err(refused)?;
            self.lease.flush(&step.commit).await.map_err(|e| match e {
                StoreError::LockLost => FlushError::LockLost,
                other => FlushError::Unavailable(other.to_string()),
            })?;
            *at = step.after;
            Ok(())
        })
    }
}
