//! The Redis state store of the distributed mode, on the key layout of `refract_proto::layout`.
//!
//! `--redis` takes `redis://host:port[/db]` for one server, or `redis-cluster://host:port,host:port`
//! (seed nodes) for a Redis Cluster; on a cluster the delta is published with `SPUBLISH` (sharded
//! pub/sub, Redis 7), so it stays on the token's shard, where gateways `SSUBSCRIBE`.
//!
//! One event costs two scripted round trips: `acquire.lua` (take the lock and load the shards) and
//! `commit.lua` (check the lock is still ours, write the changed shards, the version and seq,
//! publish the delta, release). Events share a few multiplexed connections, which deadpool-redis
//! opens and health-checks (`UNWATCH` + `PING`) when one is taken, not on every event, so two
//! round trips is all an event costs. A held lock is waited for with exponential backoff
//! capped at 50 ms and at the lease left, never spinning; a long handler's lease is renewed every
//! third of the lease by `renew.lua`.

mod conn;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use redis::{Script, Value};
use refract_proto::layout::{
    TASKS_KEY, Target, lock_key, meta_key, shard_key, then_key, updates_channel,
};

use conn::{Conn, Pool};

use crate::store::{Commit, Lease, Loaded, StateStore, StoreError, TABS_KEPT};

/// Settings of the Redis store, with the defaults [`RedisConfig::new`] gives.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db` of one server, or `redis-cluster://host:port,host:port` of a cluster.
    pub url: String,
    /// How long a token's lock is held without renewal (default 5 s); a worker that dies holding
    /// it blocks the token at most this long.
    pub lock_lease: Duration,
    /// How long an event waits for a held lock before failing with `busy` (default 10 s).
    pub lock_wait: Duration,
    /// How long a token's state is kept after its last event (default 1 h).
    pub token_expiry: Duration,
    /// Connections to Redis that this worker's events share (default 2): each is multiplexed, so
    /// it carries any number of events at once, and commands queued together go out in one write.
    pub connections: usize,
    /// How long a command may wait for Redis's answer before the event fails with `unavailable`
    /// (default 5 s; redis-rs's own default of 500 ms is shorter than Redis takes to write a burst
    /// of megabyte-sized states).
    pub command_timeout: Duration,
}

impl RedisConfig {
    /// The defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            lock_lease: Duration::from_secs(5),
            lock_wait: Duration::from_secs(10),
            token_expiry: Duration::from_secs(3600),
            connections: 2,
            command_timeout: Duration::from_secs(5),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

struct Scripts {
    acquire: Script,
    snapshot: Script,
    commit: Script,
    renew: Script,
    keep_task: Script,
    expired_tasks: Script,
}

struct Inner {
    pool: Pool,
    config: RedisConfig,
    /// Every state of the app: the commit refreshes the expiry of those it did not write.
    states: Vec<String>,
    scripts: Scripts,
    owner_prefix: String,
    acquisitions: AtomicU64,
}

/// The Redis state store: cheap to clone, shares one connection pool.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

impl RedisStore {
    /// A store for an app whose states are `states`, on the server of `config`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL is invalid (connections are made lazily).
    pub fn new(config: RedisConfig, states: Vec<String>) -> Result<Self, StoreError> {
        let pool = Pool::new(
            &Target::parse(&config.url).map_err(unavailable)?,
            config.connections,
            config.command_timeout,
        )?;
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).map_err(unavailable)?;
        let owner_prefix: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let scripts = Scripts {
            acquire: Script::new(include_str!("acquire.lua")),
            snapshot: Script::new(include_str!("snapshot.lua")),
            commit: Script::new(include_str!("commit.lua")),
            renew: Script::new(include_str!("renew.lua")),
            keep_task: Script::new(include_str!("keep_task.lua")),
            expired_tasks: Script::new(include_str!("expired_tasks.lua")),
        };
        let inner = Inner {
            pool,
            config,
            states,
            scripts,
            owner_prefix,
            acquisitions: AtomicU64::new(0),
        };
        Ok(RedisStore {
            inner: Arc::new(inner),
        })
    }

    /// Checks that Redis answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.inner.pool.get().await?;
        redis::cmd("PING")
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }
}

impl Inner {
    async fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().await
    }

    fn owner(&self) -> String {
        format!(
            "{}:{}",
            self.owner_prefix,
            self.acquisitions.fetch_add(1, Ordering::Relaxed)
        )
    }
}

fn int(v: &Value) -> Result<u64, StoreError> {
    match v {
        Value::Int(i) => Ok(u64::try_from(*i).unwrap_or(0)),
        other => Err(StoreError::Unavailable(format!(
            "unexpected reply from Redis: {other:?}"
        ))),
    }
}

fn shard(v: Value) -> Result<Option<Arc<[u8]>>, StoreError> {
    match v {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => Ok(Some(bytes.into())),
        other => Err(StoreError::Unavailable(format!(
            "unexpected shard reply from Redis: {other:?}"
        ))),
    }
}

/// `{version, last_seq, stored_bytes, then, shard...}` → [`Loaded`].
fn loaded(mut reply: std::vec::IntoIter<Value>) -> Result<Loaded, StoreError> {
    let version = int(&reply.next().unwrap_or(Value::Nil))?;
    let last_seq = int(&reply.next().unwrap_or(Value::Nil))?;
    let stored_bytes = int(&reply.next().unwrap_or(Value::Nil))?;
    let then = reply
        .next()
        .map(shard)
        .transpose()?
        .flatten()
        .map(|bytes| Arc::from(String::from_utf8_lossy(&bytes).as_ref()));
    let shards = reply.map(shard).collect::<Result<_, _>>()?;
    Ok(Loaded {
        version,
        last_seq,
        shards,
        stored_bytes,
        then,
    })
}

#[async_trait]
impl StateStore for RedisStore {
    async fn acquire(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<(Loaded, Box<dyn Lease>), StoreError> {
        let inner = &self.inner;
        let owner = inner.owner();
        let lease_ms = inner.config.lock_lease.as_millis() as u64;
        let deadline = Instant::now() + inner.config.lock_wait;
        let mut backoff = Duration::from_millis(1);
        let mut retried = false;
        let mut conn = inner.conn().await?;
        // Until the lock is handed over, a failure or cancellation releases what the script may
        // still take (see `Abandoned`).
        let mut abandoned = Abandoned {
            token: token.to_owned(),
            owner: owner.clone(),
            conn: Some(conn.clone()),
        };
        loop {
            let mut call = inner.scripts.acquire.key(lock_key(token));
            call.key(meta_key(token)).key(then_key(token));
            for s in states {
                call.key(shard_key(token, s));
            }
            call.arg(&owner).arg(lease_ms).arg(tab);
            let reply: Vec<Value> = match call.invoke_async(&mut conn).await {
                Ok(reply) => reply,
                // The lane's connection was gone (Redis restarted, or a failover): once, on a fresh
                // one. The script is re-entrant for `owner`, so a lock taken just before the drop
                // is ours again rather than waited for.
                Err(e) if conn::broken(&e) && !retried => {
                    retried = true;
                    conn = inner.pool.reopen(&conn).await?;
                    abandoned.conn = Some(conn.clone());
                    continue;
                }
                Err(e) => return Err(unavailable(e)),
            };
            let mut reply = reply.into_iter();
            if int(&reply.next().unwrap_or(Value::Nil))? == 1 {
                let loaded = loaded(reply)?;
                abandoned.conn = None;
                let lease = RedisLease::start(self.inner.clone(), token, owner, conn);
                return Ok((loaded, Box::new(lease)));
            }
            let left = Duration::from_millis(int(&reply.next().unwrap_or(Value::Int(0)))?.max(1));
            if Instant::now() + backoff.min(left) > deadline {
                // Every script sent was answered "not yours": nothing to release.
                abandoned.conn = None;
                return Err(StoreError::LockTimeout);
            }
            tokio::time::sleep(backoff.min(left)).await;
            backoff = (backoff * 2).min(Duration::from_millis(50));
        }
    }

    async fn snapshot(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<Loaded, StoreError> {
        let mut conn = self.inner.conn().await?;
        let mut call = self.inner.scripts.snapshot.key(meta_key(token));
        call.key(then_key(token));
        for s in states {
            call.key(shard_key(token, s));
        }
        call.arg(tab);
        let reply: Vec<Value> = match call.invoke_async(&mut conn).await {
            // A read: once more on a fresh connection when the lane's was gone.
            Err(e) if conn::broken(&e) => call
                .invoke_async(&mut self.inner.pool.reopen(&conn).await?)
                .await
                .map_err(unavailable)?,
            reply => reply.map_err(unavailable)?,
        };
        loaded(reply.into_iter())
    }

    async fn touch(&self, tokens: &[&str]) -> Result<(), StoreError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let expiry_ms = self.inner.config.token_expiry.as_millis() as u64;
        // PEXPIRE leaves a missing key missing. Not atomic, nor need it be: each command only
        // pushes an expiry further. (On a cluster each command is routed by its own key.)
        let mut pipe = redis::pipe();
        for token in tokens {
            for key in [meta_key(token), then_key(token)] {
                pipe.cmd("PEXPIRE").arg(key).arg(expiry_ms).ignore();
            }
            for state in &self.inner.states {
                pipe.cmd("PEXPIRE")
                    .arg(shard_key(token, state))
                    .arg(expiry_ms)
                    .ignore();
            }
        }
        let mut conn = self.inner.conn().await?;
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn keep_task(
        &self,
        task: &str,
        lease: Duration,
        renew: bool,
    ) -> Result<bool, StoreError> {
        let kept: u8 = self
            .inner
            .scripts
            .keep_task
            .key(TASKS_KEY)
            .arg(task)
            .arg(lease.as_millis() as u64)
            .arg(u8::from(renew))
            .invoke_async(&mut self.inner.conn().await?)
            .await
            .map_err(unavailable)?;
        Ok(kept == 1)
    }

    async fn expired_tasks(&self, max: usize) -> Result<Vec<String>, StoreError> {
        self.inner
            .scripts
            .expired_tasks
            .key(TASKS_KEY)
            .arg(max)
            .invoke_async(&mut self.inner.conn().await?)
            .await
            .map_err(unavailable)
    }

    async fn forget_task(&self, task: &str) -> Result<(), StoreError> {
        redis::cmd("ZREM")
            .arg(TASKS_KEY)
            .arg(task)
            .query_async::<()>(&mut self.inner.conn().await?)
            .await
            .map_err(unavailable)
    }
}

/// A held lock: its lease is renewed by [`Lease::keep_alive`] while the handler runs; the lock is
/// released by the commit, by [`Lease::release`], or, when dropped mid-event, by a release spawned
/// from `Drop`. The commit goes over the connection the lock was taken on.
struct RedisLease {
    inner: Arc<Inner>,
    token: String,
    owner: String,
    conn: Conn,
    done: bool,
}

impl RedisLease {
    /// Runs `commit.lua` for `commit`, releasing the lock when `release` (a flush keeps it).
    async fn write(&self, commit: &Commit, release: bool) -> Result<(), StoreError> {
        let token = &self.token;
        let mut call = self.inner.scripts.commit.key(lock_key(token));
        call.key(meta_key(token))
            .key(updates_channel(token))
            .key(then_key(token));
        for (state, _) in &commit.changed {
            call.key(shard_key(token, state));
        }
        for state in self
            .inner
            .states
            .iter()
            .filter(|s| !commit.changed.iter().any(|(c, _)| c == *s))
        {
            call.key(shard_key(token, state));
        }
        call.arg(&self.owner)
            .arg(commit.version)
            .arg(commit.seq.map_or_else(String::new, |seq| seq.to_string()))
            .arg(self.inner.config.token_expiry.as_millis() as u64)
            .arg(commit.frame.as_bytes())
            .arg(if self.inner.pool.is_cluster() {
                "SPUBLISH"
            } else {
                "PUBLISH"
            })
            .arg(commit.changed.len());
        for (_, bytes) in &commit.changed {
            call.arg(bytes.as_slice());
        }
        call.arg(&commit.tab)
            .arg(TABS_KEPT)
            .arg(commit.stored_bytes)
            .arg(commit.then.as_deref().unwrap_or(""))
            .arg(u8::from(release))
            .arg(u8::from(commit.replaces_then))
            .arg(u8::from(commit.closes_stream));
        // The lease's connection is multiplexed: a clone shares it.
        let ok: i64 = call
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        if ok == 1 {
            Ok(())
        } else {
            Err(StoreError::LockLost)
        }
    }

    fn start(inner: Arc<Inner>, token: &str, owner: String, conn: Conn) -> Self {
        RedisLease {
            inner,
            token: token.to_owned(),
            owner,
            conn,
            done: false,
        }
    }
}

#[async_trait]
impl Lease for RedisLease {
    fn keep_alive(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let lease_ms = self.inner.config.lock_lease.as_millis() as u64;
            let lock = lock_key(&self.token);
            loop {
                tokio::time::sleep(self.inner.config.lock_lease / 3).await;
                let Ok(mut conn) = self.inner.conn().await else {
                    continue;
                };
                let kept: Result<i64, _> = self
                    .inner
                    .scripts
                    .renew
                    .key(&lock)
                    .arg(&self.owner)
                    .arg(lease_ms)
                    .invoke_async(&mut conn)
                    .await;
                if let Ok(0) = kept {
                    tracing::warn!("lost the token's lock while the handler ran");
                    return;
                }
            }
        })
    }

    async fn load(&self, states: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StoreError> {
        // The token's keys share one hash slot, so one MGET reads them on a cluster too.
        let keys: Vec<String> = states.iter().map(|s| shard_key(&self.token, s)).collect();
        let reply: Vec<Value> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        reply.into_iter().map(shard).collect()
    }

    async fn flush(&self, commit: &Commit) -> Result<(), StoreError> {
        self.write(commit, false).await
    }

    async fn commit(mut self: Box<Self>, commit: Commit) -> Result<(), StoreError> {
        self.done = true;
        self.write(&commit, true).await
    }

    async fn release(mut self: Box<Self>) {
        self.done = true;
        let mut conn = self.conn.clone();
        release(&mut conn, &self.token, &self.owner).await;
    }
}

/// `release.lua`, sent whole (`EVAL`), not by its hash: a release may be the caller's last word to
/// a Redis that has not answered (stalled, or restarted and so without cached scripts), and
/// `EVALSHA`'s fallback (load the script on `NOSCRIPT`) needs an answer, so it would never run.
const RELEASE: &str = include_str!("release.lua");

/// Releases `token`'s lock if `owner` holds it, on `conn`: on the connection the lock was asked
/// for, so Redis runs the release after any acquire still queued there.
async fn release(conn: &mut Conn, token: &str, owner: &str) {
    let released: Result<i64, _> = redis::cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg(lock_key(token))
        .arg(owner)
        .query_async(conn)
        .await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "could not release a lock; it expires with its lease");
    }
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        if !self.done {
            // Dropped mid-event (the call was cancelled): free the token now rather than at expiry.
            spawn_release(self.conn.clone(), &self.token, &self.owner);
        }
    }
}

/// Releases in the background (from `Drop`, which cannot wait).
fn spawn_release(mut conn: Conn, token: &str, owner: &str) {
    let (token, owner) = (token.to_owned(), owner.to_owned());
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move { release(&mut conn, &token, &owner).await });
    }
}

/// An acquire that has not handed its lock over yet. When it ends otherwise (Redis did not answer
/// in time, the connection failed, or the caller gave up and dropped the call), its script may
/// still run later: queued during a Redis stall, it takes the lock for nobody, and the token would
/// wait a whole lease. So it releases the lock for its owner id, on the same connection, which
/// Redis serves in order: after the acquire, and only if the lock is this owner's.
struct Abandoned {
    token: String,
    owner: String,
    /// The connection the last acquire went on; `None` once nothing needs releasing.
    conn: Option<Conn>,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            spawn_release(conn, &self.token, &self.owner);
        }
    }
}

/// The store's contract is checked on this store and on the memory store by
/// `tests/store_conformance.rs`; what only this store does is checked here, on a real Redis.
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn acquire_is_re_entrant_for_its_owner_only() {
        let (_server, url) = refract_process::launch::start_local_redis().await.unwrap();
        let store = RedisStore::new(RedisConfig::new(url), Vec::new()).unwrap();
        let mut conn = store.inner.conn().await.unwrap();
        let acquire = |owner: &str| {
            let mut call = store.inner.scripts.acquire.key(lock_key("t"));
            call.key(meta_key("t"))
                .key(then_key("t"))
                .arg(owner)
                .arg(5000)
                .arg("");
            call
        };
        let mine: Vec<Value> = acquire("o1").invoke_async(&mut conn).await.unwrap();
        assert_eq!(mine[0], Value::Int(1));
        // The same owner asking again (its reply was lost with its connection) gets it again.
        let again: Vec<Value> = acquire("o1").invoke_async(&mut conn).await.unwrap();
        assert_eq!(again[0], Value::Int(1));
        // Another owner waits: it is told the lease left.
        let other: Vec<Value> = acquire("o2").invoke_async(&mut conn).await.unwrap();
        assert_eq!(other[0], Value::Int(0));
        assert!(
            matches!(other[1], Value::Int(ms) if ms > 0 && ms <= 5000),
            "{other:?}"
        );
    }
}
