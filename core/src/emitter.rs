//! Streaming handlers: an [`Emitter`] lets a running handler send what it changed so far
//! (`emit.flush(self).await?`), each flush committed and published as a delta, before it returns.
//!
//! A handler takes it as a parameter `emit: &Emitter` (the macro fills it in, as it does the
//! event context). The engine gives each event its own emitter, bound to the event's lock, so a
//! flush is fenced and versioned like any commit.

use std::fmt;

use crate::state::{BoxFuture, StateObject};

/// Why a flush did not happen. The handler may go on (its final commit is tried as usual) or
/// return the error with `?`.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FlushError {
    /// The event's lock was lost (its lease expired and another worker took it): nothing was
    /// written, and nothing more of this event will be.
    #[error("the event lost its lock; nothing more of it is saved")]
    LockLost,
    /// The state store could not be reached.
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The state cannot be stored now (too large, or holding a value that does not read back).
    #[error("{0}")]
    Refused(String),
    /// The emitter is not bound to a running event (a handler called outside the engine).
    #[error("flush outside a running event")]
    Detached,
}

/// Where a flush goes: implemented by the engine for the running event.
pub trait FlushSink: Send + Sync {
    /// Commits and publishes the changes of `state` (the event's own state) since the last flush
    /// (or the event's start).
    ///
    /// # Errors
    /// [`FlushError`] when nothing was written.
    fn flush<'a>(&'a self, state: &'a dyn StateObject) -> BoxFuture<'a, Result<(), FlushError>>;
}

/// What a streaming handler sends its progress through; see the module docs.
#[derive(Clone, Copy)]
pub struct Emitter<'a> {
    sink: Option<&'a dyn FlushSink>,
}

impl fmt::Debug for Emitter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("bound", &self.sink.is_some())
            .finish()
    }
}

impl<'a> Emitter<'a> {
    /// An emitter whose flushes go to `sink`.
    pub fn new(sink: &'a dyn FlushSink) -> Self {
        Emitter { sink: Some(sink) }
    }

    /// An emitter bound to no event (for calling a handler directly, in a unit test): every flush
    /// answers [`FlushError::Detached`].
    pub fn detached() -> Self {
        Emitter { sink: None }
    }

    /// Commits what `state` changed so far and sends it to the browser as a delta (the page shows
    /// it at once); the handler goes on running and holding the token's lock. Each flush bumps
    /// the state's version, as an event does.
    ///
    /// # Errors
    /// [`FlushError`] when nothing was written: the lock was lost, the store is unreachable, the
    /// state is too large or cannot be stored, or the emitter is [`Emitter::detached`].
    pub async fn flush(&self, state: &dyn StateObject) -> Result<(), FlushError> {
        match self.sink {
            Some(sink) => sink.flush(state).await,
            None => Err(FlushError::Detached),
        }
    }
}
