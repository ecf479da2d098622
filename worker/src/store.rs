//! The state store contract: a token's lock, shards, version and last applied sequence.
//!
//! A worker calls [`StateStore::acquire`] (take the token's lock and load the shards it needs), runs
//! the handler, then either [`Lease::commit`]s (write the changed shards, the new version and the
//! event's sequence number with its follow-ups, publish the delta and release the lock, all at once and only while it
//! still owns the lock) or [`Lease::release`]s.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;

/// What a store failure was.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store could not be reached or answered with an error.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// The lock was lost (its lease expired and another worker took it): nothing was written.
    #[error("lost the lock of the token before committing; the event was not applied")]
    LockLost,
    /// The lock could not be taken in time.
    #[error("timed out waiting for the token's lock")]
    LockTimeout,
}

/// How many tabs' last applied seqs a store keeps per token: past that, the tab whose last commit
/// is oldest is forgotten (its page was closed long ago; a page that resends after that long
/// would have its event applied again).
pub const TABS_KEPT: usize = 32;

/// What [`StateStore::acquire`] or [`StateStore::snapshot`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The token's state version (0 for a token with nothing stored).
    pub version: u64,
    /// The last applied event sequence number of the tab asked about (0 when none).
    pub last_seq: u64,
    /// The stored bytes of each requested state, in the order requested; `None` when not stored.
    pub shards: Vec<Option<Arc<[u8]>>>,
    /// How many bytes the token's stored states take together, as its last commit recorded it
    /// (0 when nothing is stored): the size of the whole token's state, known without loading
    /// the states an event does not touch.
    pub stored_bytes: u64,
    /// The follow-ups the tab's last applied event returned (a JSON array), if any.
    pub then: Option<Arc<str>>,
}

/// The writes of one applied event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The shards whose bytes changed: `(state_name, bytes)`.
    pub changed: Vec<(String, Vec<u8>)>,
    /// The tab that numbered the event.
    pub tab: String,
    /// The event's sequence number, recorded as the tab's last applied; `None` for a commit of
    /// no event (a background task's section), which records nothing for any tab.
    pub seq: Option<u64>,
    /// The new version: the loaded version + 1.
    pub version: u64,
    /// How many bytes the token's stored states take together after this commit.
    pub stored_bytes: u64,
    /// The event's follow-ups (a JSON array), kept with the tab's seq until its next commit, so
    /// a resent event's `ack` (or a hydrate) can carry them; `None` when there are none.
    pub then: Option<Arc<str>>,
    /// Whether the tab has follow-ups stored (of its previous event) that this commit replaces:
    /// without them and without `then`, the store has nothing to write about follow-ups.
    pub replaces_then: bool,
    /// Whether this is the commit of an event that flushed (a streaming handler's end): the
    /// store stops reporting the event as still running.
    pub closes_stream: bool,
    /// The delta frame to publish on the token's channel.
    pub frame: Arc<str>,
}

/// A held token lock, with what was loaded under it.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Keeps the lock while the handler runs: poll this beside the handler and drop it when the
    /// handler is done. It renews the lease every third of it and completes only when a renewal
    /// finds the lock taken by another owner (the commit will then fail with
    /// [`StoreError::LockLost`]). The default, for locks without a lease, never completes and does
    /// nothing.
    fn keep_alive(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }

    /// Reads the stored shards of `states` under this lock (a handler asking for another state
    /// of the token), in the order asked; `None` for a shard not stored.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store fails.
    async fn load(&self, states: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StoreError>;

    /// Commits `commit` and keeps the lock: a streaming handler's flush, which records the event's
    /// seq (a resend is then a duplicate) and publishes its delta.
    ///
    /// # Errors
    /// As [`Lease::commit`].
    async fn flush(&self, commit: &Commit) -> Result<(), StoreError>;

    /// Commits `commit` and releases the lock.
    ///
    /// # Errors
    /// [`StoreError::LockLost`] if the lock is no longer this lease's (nothing written);
    /// [`StoreError::Unavailable`] if the store failed.
    async fn commit(self: Box<Self>, commit: Commit) -> Result<(), StoreError>;

    /// Releases the lock without writing.
    async fn release(self: Box<Self>);
}

/// A store of token states.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Takes the lock of `token` (waiting while another holder has it) and loads the shards of
    /// `states`, the version and `tab`'s last applied sequence.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails or the lock cannot be had in time.
    async fn acquire(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<(Loaded, Box<dyn Lease>), StoreError>;

    /// Reads the shards of `states`, the version and `tab`'s last applied sequence without taking
    /// the lock (one consistent snapshot).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store fails.
    async fn snapshot(&self, token: &str, tab: &str, states: &[&str])
    -> Result<Loaded, StoreError>;

    /// Restarts the expiry of everything stored for `tokens` (their shards, version and seq), as
    /// a commit does; tokens with nothing stored stay so.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store fails.
    async fn touch(&self, tokens: &[&str]) -> Result<(), StoreError>;

    /// Records the background task `task` (an id the engine makes, opaque here) as alive for
    /// `lease` from now, by the store's own clock (so that workers' clocks never meet). With
    /// `renew` (a heartbeat), only a task still recorded is: answers `false` when it is gone
    /// (recorded interrupted by a worker that found its deadline passed). The registry is one
    /// for all tokens.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store fails.
    async fn keep_task(
        &self,
        task: &str,
        lease: std::time::Duration,
        renew: bool,
    ) -> Result<bool, StoreError>;

    /// Up to `max` recorded tasks whose lease has run out, earliest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store fails.
    async fn expired_tasks(&self, max: usize) -> Result<Vec<String>, StoreError>;

    /// Forgets `task` (it ended, or was recorded interrupted); a task not recorded stays so.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store fails.
    async fn forget_task(&self, task: &str) -> Result<(), StoreError>;
}
