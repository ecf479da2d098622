//! How one event's changes become commits: [`Committed`] is where the event's states stand in the
//! store, [`EventOf::step`] the writes that move them on (a streaming handler's flush, or the
//! event's final commit), and [`Running`] the engine's side of a running handler: its
//! [`Emitter`](refract_core::Emitter) flushes and its [`States`](refract_core::States).
//!
//! A flush commits like an event's final commit (fenced by the lock, the version bumped, the
//! delta published, the event's seq recorded), but keeps the lock and answers no event (its
//! delta's `seq` is `null`): the handler goes on, and the final commit starts from the flushed
//! states. Other states a handler asks for are loaded under the same lock and committed in the
//! same commits as its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use refract_core::{
    BoxFuture, EventSink, FlushError, FollowUp, StateAccessError, StateDescriptor, StateObject,
    StateRegistry, diff,
};
use refract_proto::{ErrorCode, Failure, ServerFrame};
use serde_json::{Map, Value};
use tokio::sync::OwnedMutexGuard;

use crate::store::{Commit, Lease, StoreError};

/// Where one state stands: its vars as the browser was last sent them, its stored bytes.
#[derive(Debug, Clone)]
pub(crate) struct StateAt {
    pub vars: Map<String, Value>,
    pub bytes: Option<Arc<[u8]>>,
}

/// Where an event's states stand in the store, with the token's version and the size of all its
/// states.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub states: BTreeMap<&'static str, StateAt>,
    pub version: u64,
    pub stored_bytes: u64,
    /// Whether the tab has follow-ups stored.
    pub then_stored: bool,
    /// Whether the event has flushed.
    pub streamed: bool,
}

impl Committed {
    /// Whether `change` is where its state stands already (nothing to write).
    pub fn holds(&self, change: &Change<'_>) -> bool {
        self.states.get(change.desc.name).is_some_and(|was| {
            was.vars == change.vars && was.bytes.as_deref() == Some(&change.bytes[..])
        })
    }
}

/// A state as the handler left it: its vars and stored form.
pub(crate) struct Change<'a> {
    pub desc: &'a StateDescriptor,
    pub vars: Map<String, Value>,
    pub bytes: Vec<u8>,
}

impl<'a> Change<'a> {
    /// `state` (of `desc`) as it is now.
    ///
    /// # Errors
    /// `internal` when it does not serialise.
    pub fn of(desc: &'a StateDescriptor, state: &dyn StateObject) -> Result<Self, Failure> {
        use crate::engine::internal;
        Ok(Change {
            desc,
            vars: state.vars().map_err(internal)?,
            bytes: state.encode().map_err(internal)?,
        })
    }
}

/// The event a step belongs to (`seq: None`: a background task's section, of no event).
pub(crate) struct EventOf<'a> {
    pub tab: &'a str,
    pub seq: Option<u64>,
    pub max_state_bytes: u64,
}

/// The writes of one step, and where the states stand after them.
pub(crate) struct Step {
    pub commit: Commit,
    pub after: Committed,
}

impl EventOf<'_> {
    /// The step from `at` to the `changes`: the changed shards, the next version, and the delta
    /// frame, answering the event when `answers` (its final commit) with its follow-ups `then`
    /// (of which `kept` is stored).
    ///
    /// # Errors
    /// `handler_failed` when a state does not read back from its stored form (a non-finite
    /// number), `state_too_large` when the states would pass the size limit.
    pub fn step(
        &self,
        at: &Committed,
        changes: Vec<Change<'_>>,
        answers: bool,
        then: Vec<FollowUp>,
        kept: Option<Arc<str>>,
    ) -> Result<Step, Failure> {
        let mut after = at.clone();
        let mut changed = Vec::new();
        let mut by_state = Map::new();
        for Change { desc, vars, bytes } in changes {
            if !round_trips(desc, &bytes) {
                return Err(Failure::new(
                    ErrorCode::HandlerFailed,
                    format!(
                        "`{}` was left in a form that cannot be stored and read back (a \
                         non-finite number?); the event was not applied",
                        desc.name
                    ),
                ));
            }
            for storage in desc.storage {
                let bytes = vars
                    .get(storage.var)
                    .map_or(0, |v| storage.size(&v.to_string()));
                if bytes > storage.max_bytes() {
                    return Err(Failure::new(
                        ErrorCode::HandlerFailed,
                        format!(
                            "`{}.{}` would take {bytes} bytes in the browser, over the {} it \
                             may take; the event was not applied",
                            desc.name,
                            storage.var,
                            storage.max_bytes()
                        ),
                    ));
                }
            }
            let was = at.states.get(desc.name);
            let was_bytes = was.and_then(|w| w.bytes.as_deref());
            after.stored_bytes = after
                .stored_bytes
                .saturating_sub(was_bytes.map_or(0, |b| b.len() as u64))
                + bytes.len() as u64;
            let delta = diff(was.map_or(&Map::new(), |w| &w.vars), vars.clone());
            if !delta.is_empty() {
                by_state.insert(desc.name.to_owned(), Value::Object(delta));
            }
            if was_bytes != Some(&bytes[..]) {
                changed.push((desc.name.to_owned(), bytes.clone()));
            }
            after.states.insert(
                desc.name,
                StateAt {
                    vars,
                    bytes: Some(bytes.into()),
                },
            );
        }
        let kept_bytes = kept.as_ref().map_or(0, |t| t.len() as u64);
        if after.stored_bytes + kept_bytes > self.max_state_bytes {
            return Err(Failure::new(
                ErrorCode::StateTooLarge,
                format!(
                    "the event would make this session's state {} bytes (its follow-ups \
                     included), over the limit of {} bytes; it was not applied",
                    after.stored_bytes + kept_bytes,
                    self.max_state_bytes
                ),
            ));
        }
        after.version = at.version + 1;
        after.then_stored = kept.is_some();
        after.streamed = at.streamed || !answers;
        let frame: Arc<str> = ServerFrame::Delta {
            version: after.version,
            seq: self.seq.filter(|_| answers),
            tab: Some(self.tab.to_owned()).filter(|t| answers && !t.is_empty()),
            delta: by_state,
            then,
        }
        .encode()
        .into();
        Ok(Step {
            commit: Commit {
                changed,
                tab: self.tab.to_owned(),
                seq: self.seq,
                version: after.version,
                stored_bytes: after.stored_bytes,
                then: kept,
                replaces_then: at.then_stored,
                closes_stream: answers && at.streamed,
                frame,
            },
            after,
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

/// Another state a running handler asked for: its descriptor and the state, which the handler
/// holds while it has its guard.
pub(crate) type Other<'a> = (
    &'a StateDescriptor,
    Arc<tokio::sync::Mutex<Box<dyn StateObject>>>,
);

/// A running event: its flushes, each a [`Step`] committed under the event's lock without
/// releasing it, and the other states its handler asked for.
pub(crate) struct Running<'a> {
    pub event: EventOf<'a>,
    pub own: &'a StateDescriptor,
    pub states: &'a StateRegistry,
    pub token: &'a str,
    pub lease: &'a dyn Lease,
    pub at: tokio::sync::Mutex<Committed>,
    pub others: Mutex<BTreeMap<&'static str, Other<'a>>>,
    /// The failure of a flush whose write may or may not have happened (the store did not
    /// answer, or the lock was lost): the event cannot go on from an unknown position, so later
    /// flushes fail at once and the event answers with this (retryable) failure.
    pub doubt: Mutex<Option<Failure>>,
}

impl<'a> Running<'a> {
    /// Where the states stand after the flushes so far; the other states as the handler left
    /// them (read by the app's code, so the caller runs this caught); and the failure of a flush
    /// in doubt, if one was.
    ///
    /// The changes are `internal` when a guard of another state outlived the handler (moved into
    /// a task).
    pub fn finish(self) -> (Committed, Result<Vec<Change<'a>>, Failure>, Option<Failure>) {
        let doubt = self
            .doubt
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let others = self
            .others
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let changes = others
            .into_values()
            .map(|(desc, state)| {
                let state = state.try_lock().map_err(|_| {
                    Failure::new(
                        ErrorCode::Internal,
                        format!("a guard of `{}` outlived its handler", desc.name),
                    )
                })?;
                Change::of(desc, &**state)
            })
            .collect();
        (self.at.into_inner(), changes, doubt)
    }

    fn others(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Other<'a>>> {
        self.others.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the state of `desc` under the event's lock (see [`Running::adopt`]).
    async fn load(&self, desc: &'a StateDescriptor) -> Result<Other<'a>, StateAccessError> {
        let shard = self
            .lease
            .load(&[desc.name])
            .await
            .map_err(|e| StateAccessError::Unavailable(desc.name, e.to_string()))?
            .pop()
            .flatten();
        self.adopt(desc, shard).await
    }

    /// Takes the state of `desc` from its stored `shard` (loaded under the event's lock: a
    /// substate's parent comes with the event's own), records where it stands, and holds it
    /// for the handler's guards.
    ///
    /// # Errors
    /// [`StateAccessError::Unavailable`] when it cannot be decoded.
    pub async fn adopt(
        &self,
        desc: &'a StateDescriptor,
        shard: Option<Arc<[u8]>>,
    ) -> Result<Other<'a>, StateAccessError> {
        let unavailable = |e: String| StateAccessError::Unavailable(desc.name, e);
        let state = crate::engine::decode(desc, shard.as_deref(), self.token)
            .map_err(|f| unavailable(f.message))?;
        let vars = state.vars().map_err(|e| unavailable(e.to_string()))?;
        self.at
            .lock()
            .await
            .states
            .insert(desc.name, StateAt { vars, bytes: shard });
        let other = (desc, Arc::new(tokio::sync::Mutex::new(state)));
        self.others().insert(desc.name, other.clone());
        Ok(other)
    }
}

impl EventSink for Running<'_> {
    fn flush<'s>(&'s self, state: &'s dyn StateObject) -> BoxFuture<'s, Result<(), FlushError>> {
        Box::pin(async move {
            if let Some(doubt) = self
                .doubt
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
            {
                return Err(FlushError::Unavailable(doubt.message.clone()));
            }
            let refused = |e: Failure| FlushError::Refused(e.message);
            let mut changes = vec![Change::of(self.own, state).map_err(refused)?];
            // The other states the handler holds no guard of go with it; a held one goes with
            // the next flush, or the event's commit.
            let others: Vec<Other<'_>> = self.others().values().cloned().collect();
            for (desc, other) in others {
                if let Ok(other) = other.try_lock() {
                    changes.push(Change::of(desc, &**other).map_err(refused)?);
                }
            }
            let mut at = self.at.lock().await;
            if changes.iter().all(|c| at.holds(c)) {
                return Ok(());
            }
            let step = self
                .event
                .step(&at, changes, false, Vec::new(), None)
                .map_err(refused)?;
            self.lease.flush(&step.commit).await.map_err(|e| match e {
                StoreError::LockLost => FlushError::LockLost,
                other => FlushError::Unavailable(other.to_string()),
            })?;
            *at = step.after;
            Ok(())
        })
    }

    fn state(
        &self,
        name: &'static str,
    ) -> BoxFuture<'_, Result<OwnedMutexGuard<Box<dyn StateObject>>, StateAccessError>> {
        Box::pin(async move {
            if name == self.own.name {
                return Err(StateAccessError::Own(name));
            }
            let held = self.others().get(name).map(|(_, state)| state.clone());
            let state = match held {
                Some(state) => state,
                None => {
                    let desc = self
                        .states
                        .get(name)
                        .ok_or(StateAccessError::Unknown(name))?;
                    self.load(desc).await?.1
                }
            };
            state
                .try_lock_owned()
                .map_err(|_| StateAccessError::InUse(name))
        })
    }
}
