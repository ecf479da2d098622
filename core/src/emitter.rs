//! A running handler's ties to its event: an [`Emitter`] sends what it changed so far
//! (`emit.flush(self).await?`), each flush committed and published as a delta before it returns;
//! [`States`] gives it the token's other states (`states.get::<CartState>().await?`), loaded under
//! the event's lock and committed with it.
//!
//! A handler takes them as parameters `emit: &Emitter` and `states: &States` (the macro fills
//! them in, as it does the event context). The engine binds both to the event's lock, so what they
//! write is fenced and versioned like any commit.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use tokio::sync::{OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::state::{BoxFuture, Handlers, State, StateObject, Substate};

/// Why a flush failed. After [`FlushError::Refused`] the handler may go on (its final commit is
/// tried as usual); after [`FlushError::LockLost`] or [`FlushError::Unavailable`] the write may or
/// may not have happened, so nothing more of the event is written: further flushes fail the same
/// way, and the event answers with a retryable failure (the tab resends it: a duplicate when
/// something was flushed, run again when nothing was).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum FlushError {
    /// The event's lock was lost (its lease expired and another worker took it): nothing was
    /// written, and nothing more of this event will be.
    #[error("the event lost its lock; nothing more of it is saved")]
    LockLost,
    /// The state store could not be reached, or did not answer (the write may have happened).
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The state cannot be stored now (too large, or holding a value that does not read back).
    #[error("{0}")]
    Refused(String),
    /// The emitter is not bound to a running event (a handler called outside the engine).
    #[error("flush outside a running event")]
    Detached,
}

/// Why another state of the token could not be had.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StateAccessError {
    /// The app registered no such state.
    #[error("the app has no state `{0}`")]
    Unknown(&'static str),
    /// The handler asked for its own state (it has it: `self`).
    #[error("`{0}` is the handler's own state: use `self`")]
    Own(&'static str),
    /// The handler already holds a guard of that state.
    #[error("`{0}` is already borrowed by this handler")]
    InUse(&'static str),
    /// The state store could not be read, or the stored state cannot be decoded.
    #[error("state `{0}` could not be loaded: {1}")]
    Unavailable(&'static str, String),
    /// Not bound to a running event (a handler called outside the engine).
    #[error("no running event")]
    Detached,
}

/// The engine's side of a running event: implemented for each event, bound to its lock.
pub trait EventSink: Send + Sync {
    /// Commits and publishes the changes of `state` (the event's own state) and of the other
    /// states the handler holds no guard of, since the last flush (or the event's start).
    ///
    /// # Errors
    /// [`FlushError`] when nothing was written.
    fn flush<'a>(&'a self, state: &'a dyn StateObject) -> BoxFuture<'a, Result<(), FlushError>>;

    /// The token's state `name` (not the handler's own), loaded under the event's lock on first
    /// use; the event commits its changes with its own.
    ///
    /// # Errors
    /// [`StateAccessError`].
    fn state(
        &self,
        name: &'static str,
    ) -> BoxFuture<'_, Result<OwnedMutexGuard<Box<dyn StateObject>>, StateAccessError>>;
}

/// What a streaming handler sends its progress through; see the module docs.
#[derive(Clone, Copy)]
pub struct Emitter<'a> {
    sink: Option<&'a dyn EventSink>,
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
    pub fn new(sink: &'a dyn EventSink) -> Self {
        Emitter { sink: Some(sink) }
    }

    /// The other states of the same event.
    pub fn states(&self) -> States<'a> {
        States { event: *self }
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

/// The token's other states, for a handler that changes more than its own; see the module docs.
/// Bound to the same event as its [`Emitter`].
#[derive(Clone, Copy, Debug)]
pub struct States<'a> {
    event: Emitter<'a>,
}

impl States<'_> {
    /// The state `T` of the event's token, to read and change: loaded under the event's lock the
    /// first time (one more store read), its changes committed with the event's own, in the same
    /// fenced commit, and sent in the same delta. Drop the guard before asking for `T` again.
    ///
    /// # Errors
    /// [`StateAccessError`]: `T` is not the app's, is the handler's own, is already held, or
    /// cannot be loaded.
    pub async fn get<T: Handlers>(&self) -> Result<StateGuard<T>, StateAccessError> {
        let sink = self.event.sink.ok_or(StateAccessError::Detached)?;
        let guard = sink.state(<T as State>::NAME).await?;
        OwnedMutexGuard::try_map(guard, |state| state.as_any_mut().downcast_mut::<T>())
            .map(|inner| StateGuard {
                inner,
                _state: PhantomData,
            })
            .map_err(|_| StateAccessError::Unknown(<T as State>::NAME))
    }
}

impl States<'_> {
    /// The parent of the substate `S`, read-only: loaded with `S` (see [`Substate`]). What a
    /// handler's `parent: &Parent<P>` parameter receives.
    ///
    /// # Errors
    /// [`StateAccessError`] as [`States::get`] (the handler also holds a guard of the parent).
    pub async fn parent<S: Substate>(&self) -> Result<Parent<S::Parent>, StateAccessError> {
        self.get::<S::Parent>().await.map(|guard| Parent { guard })
    }
}

/// The parent of a substate, read-only (`*parent`, or its fields through it): what a substate's
/// handler receives as `parent: &Parent<AuthState>`.
pub struct Parent<T> {
    guard: StateGuard<T>,
}

impl<T> Deref for Parent<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

/// Another state of the token, held by a handler: read and change it through `*guard`.
pub struct StateGuard<T> {
    inner: OwnedMappedMutexGuard<Box<dyn StateObject>, T>,
    _state: PhantomData<T>,
}

impl<T> Deref for StateGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for StateGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
