//! The in-memory state store of the embedded mode, with its in-process delta feed.
//!
//! Each token has an async mutex (its lock: waiters queue in FIFO order, no spinning, and give up
//! with [`StoreError::LockTimeout`] after the lock wait, as with Redis) and its data (shards,
//! version, last applied sequence) behind a short synchronous mutex, so a snapshot never waits for
//! a running handler. Deltas are published on a per-token broadcast channel that exists
//! while someone subscribes. Tokens idle longer than the configured expiry are evicted by
//! [`MemoryStore::evict_idle`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::{OwnedMutexGuard, broadcast};
use tokio_stream::wrappers::BroadcastStream;

use refract_proto::{DeltaFeed, FeedError, Published, Subscription};

use crate::store::{Commit, Lease, Loaded, StateStore, StoreError, TABS_KEPT};

/// How many published deltas a slow subscriber may lag behind before it misses some (and
/// resyncs).
const FEED_CAPACITY: usize = 256;

#[derive(Default)]
struct TokenData {
    shards: HashMap<String, Arc<[u8]>>,
    version: u64,
    /// What the last commit recorded as the size of all the token's states.
    stored_bytes: u64,
    /// Each tab's last applied event.
    tabs: HashMap<String, TabRecord>,
    touched: Option<Instant>,
}

/// A tab's last applied event: its seq, the version its commit made, its follow-ups, and whether
/// its streaming handler is still running (it flushed and has not committed).
struct TabRecord {
    seq: u64,
    version: u64,
    then: Option<Arc<str>>,
    open: bool,
}

#[derive(Default)]
struct TokenSlot {
    lock: Arc<tokio::sync::Mutex<()>>,
    data: Mutex<TokenData>,
}

/// The embedded mode's store: all tokens in this process's memory.
pub struct MemoryStore {
    tokens: Mutex<HashMap<String, Arc<TokenSlot>>>,
    channels: Mutex<HashMap<String, broadcast::Sender<Published>>>,
    /// The background tasks' registry: task → deadline.
    tasks: Mutex<HashMap<String, Instant>>,
    lock_wait: Duration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_lock_wait(Duration::from_secs(10))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data is plain values updated in single statements: a panic elsewhere cannot leave it
    // half-written, so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store whose events wait up to 10 s for a held lock (the Redis store's default).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose events wait up to `lock_wait` for a held lock before failing with
    /// [`StoreError::LockTimeout`].
    pub fn with_lock_wait(lock_wait: Duration) -> Self {
        MemoryStore {
            tokens: Mutex::default(),
            channels: Mutex::default(),
            tasks: Mutex::default(),
            lock_wait,
        }
    }

    fn slot(&self, token: &str) -> Arc<TokenSlot> {
        lock(&self.tokens)
            .entry(token.to_owned())
            .or_default()
            .clone()
    }

    /// What is stored for `tab` and `states`; with `settled`, an event still running (its
    /// streaming handler flushed) is not reported as applied (what a hydrate reads).
    fn read(slot: &TokenSlot, tab: &str, states: &[&str], settled: bool) -> Loaded {
        let mut data = lock(&slot.data);
        data.touched = Some(Instant::now());
        let record = data.tabs.get(tab);
        Loaded {
            stored_bytes: data.stored_bytes,
            version: data.version,
            last_seq: record.map_or(0, |r| r.seq - u64::from(settled && r.open)),
            then: record.and_then(|r| r.then.clone()),
            shards: states
                .iter()
                .map(|s| data.shards.get(*s).cloned())
                .collect(),
        }
    }

    /// Evicts tokens untouched for `expiry` whose lock is free. Returns how many were evicted.
    pub fn evict_idle(&self, expiry: Duration) -> usize {
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        let before = tokens.len();
        tokens.retain(|_, slot| {
            let idle = lock(&slot.data)
                .touched
                .is_none_or(|t| now.duration_since(t) >= expiry);
            !(idle && slot.lock.try_lock().is_ok())
        });
        before - tokens.len()
    }

    /// The number of tokens held.
    pub fn len(&self) -> usize {
        lock(&self.tokens).len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn publish(&self, token: &str, published: Published) {
        let mut channels = lock(&self.channels);
        if let Some(tx) = channels.get(token)
            && tx.send(published).is_err()
        {
            channels.remove(token);
        }
    }
}

struct MemoryLease {
    store: Arc<MemoryStore>,
    token: String,
    slot: Arc<TokenSlot>,
    _guard: OwnedMutexGuard<()>,
}

impl MemoryLease {
    /// Writes `commit` and publishes its delta (the lock stays held by the caller); `open`: a
    /// flush, whose event is still running.
    fn write(&self, commit: &Commit, open: bool) {
        {
            let mut data = lock(&self.slot.data);
            for (state, bytes) in &commit.changed {
                data.shards.insert(state.clone(), bytes.as_slice().into());
            }
            data.version = commit.version;
            data.stored_bytes = commit.stored_bytes;
            if let Some(seq) = commit.seq {
                let record = TabRecord {
                    seq,
                    version: commit.version,
                    then: commit.then.clone(),
                    open,
                };
                data.tabs.insert(commit.tab.clone(), record);
            }
            if data.tabs.len() > TABS_KEPT {
                let oldest = data
                    .tabs
                    .iter()
                    .min_by_key(|(_, r)| r.version)
                    .map(|(tab, _)| tab.clone());
                if let Some(oldest) = oldest {
                    data.tabs.remove(&oldest);
                }
            }
            data.touched = Some(Instant::now());
        }
        // Published while the lock is still held, so deltas go out in version order. A flush
        // (`open`) answers no event, nor does a task's section (no seq).
        let seq = commit.seq.filter(|_| !open);
        let published = Published {
            version: commit.version,
            seq,
            tab: Some(commit.tab.clone()).filter(|t| seq.is_some() && !t.is_empty()),
            frame: commit.frame.clone(),
        };
        self.store.publish(&self.token, published);
    }
}

#[async_trait]
impl Lease for MemoryLease {
    async fn load(&self, states: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StoreError> {
        let data = lock(&self.slot.data);
        Ok(states
            .iter()
            .map(|s| data.shards.get(*s).cloned())
            .collect())
    }

    async fn flush(&self, commit: &Commit) -> Result<(), StoreError> {
        self.write(commit, true);
        Ok(())
    }

    async fn commit(self: Box<Self>, commit: Commit) -> Result<(), StoreError> {
        self.write(&commit, false);
        Ok(())
    }

    async fn release(self: Box<Self>) {}
}

#[async_trait]
impl StateStore for Arc<MemoryStore> {
    async fn acquire(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<(Loaded, Box<dyn Lease>), StoreError> {
        let slot = self.slot(token);
        let guard = tokio::time::timeout(self.lock_wait, slot.lock.clone().lock_owned())
            .await
            .map_err(|_| StoreError::LockTimeout)?;
        let loaded = MemoryStore::read(&slot, tab, states, false);
        let lease = MemoryLease {
            store: self.clone(),
            token: token.to_owned(),
            slot,
            _guard: guard,
        };
        Ok((loaded, Box::new(lease)))
    }

    async fn snapshot(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<Loaded, StoreError> {
        Ok(MemoryStore::read(&self.slot(token), tab, states, true))
    }

    async fn touch(&self, tokens: &[&str]) -> Result<(), StoreError> {
        let slots: Vec<Arc<TokenSlot>> = {
            let held = lock(&self.tokens);
            tokens
                .iter()
                .filter_map(|t| held.get(*t).cloned())
                .collect()
        };
        let now = Instant::now();
        for slot in slots {
            lock(&slot.data).touched = Some(now);
        }
        Ok(())
    }

    async fn keep_task(
        &self,
        task: &str,
        lease: Duration,
        renew: bool,
    ) -> Result<bool, StoreError> {
        let mut tasks = lock(&self.tasks);
        let deadline = Instant::now() + lease;
        match tasks.get_mut(task) {
            Some(kept) => *kept = deadline,
            None if renew => return Ok(false),
            None => {
                tasks.insert(task.to_owned(), deadline);
            }
        }
        Ok(true)
    }

    async fn expired_tasks(&self, max: usize) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        let tasks = lock(&self.tasks);
        let mut expired: Vec<(&String, &Instant)> =
            tasks.iter().filter(|(_, d)| **d < now).collect();
        expired.sort_by_key(|(_, d)| **d);
        Ok(expired
            .into_iter()
            .take(max)
            .map(|(t, _)| t.clone())
            .collect())
    }

    async fn forget_task(&self, task: &str) -> Result<(), StoreError> {
        lock(&self.tasks).remove(task);
        Ok(())
    }
}

#[async_trait]
impl DeltaFeed for MemoryStore {
    async fn subscribe(&self, token: &str) -> Result<Subscription, FeedError> {
        let rx = lock(&self.channels)
            .entry(token.to_owned())
            .or_insert_with(|| broadcast::channel(FEED_CAPACITY).0)
            .subscribe();
        // A lagged receiver ends its stream: the subscriber resyncs rather than skip deltas.
        let stream = BroadcastStream::new(rx)
            .take_while(|r| std::future::ready(r.is_ok()))
            .filter_map(|r| async { r.ok() });
        Ok(stream.boxed())
    }
}

/// The store's contract is checked on this store and on Redis by `tests/store_conformance.rs`;
/// what only this store does is checked here.
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_tokens_are_evicted_but_not_locked_ones() {
        let store = Arc::new(MemoryStore::new());
        store.snapshot("idle", "", &[]).await.unwrap();
        let (_, held) = store.acquire("held", "", &[]).await.unwrap();
        assert_eq!(store.evict_idle(Duration::ZERO), 1);
        assert_eq!(store.len(), 1);
        held.release().await;
        assert_eq!(store.evict_idle(Duration::from_secs(3600)), 0);
    }
}
