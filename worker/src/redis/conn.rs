//! One server or a cluster, behind one connection type: the pool of either, and a connection that
//! runs commands and scripts on either (a cluster routes each script by its keys' slot, which a
//! token's keys share). Events share a few multiplexed connections ([`Pool`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::store::StoreError;

/// Where Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One server: `redis://host:port[/db]`.
    Single(String),
    /// A cluster, by seed nodes: `redis-cluster://host:port,host:port`.
    Cluster(Vec<String>),
}

impl Target {
    /// Parses `redis://…` (also `rediss://…`) or `redis-cluster://host:port[,host:port…]`.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(url: &str) -> Result<Target, String> {
        if let Some(seeds) = url.strip_prefix("redis-cluster://") {
            let nodes: Vec<String> = seeds
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| format!("redis://{s}"))
                .collect();
            if nodes.is_empty() {
                return Err(format!("`{url}` names no cluster node"));
            }
            Ok(Target::Cluster(nodes))
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            Ok(Target::Single(url.to_owned()))
        } else {
            Err(format!(
                "`{url}` is not redis://host:port or redis-cluster://host:port,host:port"
            ))
        }
    }
}

/// Connections to one server or to a cluster. deadpool-redis opens them and health-checks each
/// one (`UNWATCH` + `PING`) when it is taken; events then share a few taken connections
/// ("lanes", round robin) instead of taking one each: a multiplexed connection carries any
/// number of concurrent commands and writes those queued together in one system call, and the
/// per-checkout health check would otherwise cost every event a third round trip. A lane whose
/// connection fails is emptied, and the next event on it takes a fresh, checked connection.
pub(super) struct Pool {
    deadpool: Deadpool,
    lanes: Arc<[Mutex<Lane>]>,
    /// One per lane: held while the lane takes a connection, so that a lane never takes two and
    /// the pool (one connection per lane) always has one for a lane that needs it.
    filling: Box<[tokio::sync::Mutex<()>]>,
    next: AtomicUsize,
}

enum Deadpool {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
}

/// A connection taken from the pool, kept by a lane until it fails.
enum Taken {
    Single(deadpool_redis::Connection),
    Cluster(deadpool_redis::cluster::Connection),
}

#[derive(Default)]
struct Lane {
    /// Bumped whenever the lane takes a new connection, so a failure reported by a user of an
    /// older one does not empty the lane again.
    generation: u64,
    taken: Option<Taken>,
}

/// How long a lane waits for the pool to hand it a connection before the event fails; with one
/// connection per lane it never waits unless Redis is unreachable.
const POOL_WAIT: Duration = Duration::from_secs(5);

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Pool {
    /// A pool of `lanes` shared connections (at least one) to `target`, whose commands fail after
    /// `timeout` without an answer (on a cluster, redis-rs's default of 500 ms: deadpool-redis's
    /// cluster manager takes no connection settings).
    pub(super) fn new(
        target: &Target,
        lanes: usize,
        timeout: Duration,
    ) -> Result<Pool, StoreError> {
        let lanes = lanes.max(1);
        let deadpool = match target {
            Target::Single(url) => Deadpool::Single(
                deadpool_redis::Pool::builder(
                    deadpool_redis::Manager::new_with_config(
                        no_delay(url).map_err(unavailable)?,
                        AsyncConnectionConfig::new().set_response_timeout(Some(timeout)),
                    )
                    .map_err(unavailable)?,
                )
                .max_size(lanes)
                .wait_timeout(Some(POOL_WAIT))
                .runtime(deadpool_redis::Runtime::Tokio1)
                .build()
                .map_err(unavailable)?,
            ),
            Target::Cluster(nodes) => Deadpool::Cluster(
                deadpool_redis::cluster::Config::from_urls(nodes.clone())
                    .builder()
                    .map_err(unavailable)?
                    .max_size(lanes)
                    .wait_timeout(Some(POOL_WAIT))
                    .runtime(deadpool_redis::cluster::Runtime::Tokio1)
                    .build()
                    .map_err(unavailable)?,
            ),
        };
        Ok(Pool {
            deadpool,
            lanes: (0..lanes).map(|_| Mutex::new(Lane::default())).collect(),
            filling: (0..lanes).map(|_| tokio::sync::Mutex::new(())).collect(),
            next: AtomicUsize::new(0),
        })
    }

    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.deadpool, Deadpool::Cluster(_))
    }

    /// A handle on the next lane's connection, taking (and checking) one from the pool when the
    /// lane has none.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when no connection can be opened.
    pub(super) async fn get(&self) -> Result<Conn, StoreError> {
        self.lane(self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len())
            .await
    }

    /// `conn`'s lane again: after `conn` failed as [`broken`], its lane was emptied, and this
    /// takes a fresh connection for it.
    ///
    /// # Errors
    /// As [`Pool::get`].
    pub(super) async fn reopen(&self, conn: &Conn) -> Result<Conn, StoreError> {
        self.lane(conn.index).await
    }

    async fn lane(&self, index: usize) -> Result<Conn, StoreError> {
        if let Some(conn) = self.share(index) {
            return Ok(conn);
        }
        let _filling = self.filling[index].lock().await;
        // Another event may have filled the lane while this one waited.
        if let Some(conn) = self.share(index) {
            return Ok(conn);
        }
        let taken = match &self.deadpool {
            Deadpool::Single(p) => Taken::Single(p.get().await.map_err(unavailable)?),
            Deadpool::Cluster(p) => Taken::Cluster(p.get().await.map_err(unavailable)?),
        };
        {
            let mut lane = lock(&self.lanes[index]);
            lane.generation += 1;
            lane.taken = Some(taken);
        }
        self.share(index)
            .ok_or_else(|| unavailable("the Redis connection failed as it was opened"))
    }

    fn share(&self, index: usize) -> Option<Conn> {
        let lane = lock(&self.lanes[index]);
        let link = match lane.taken.as_ref()? {
            Taken::Single(c) => Link::Single((**c).clone()),
            Taken::Cluster(c) => Link::Cluster((**c).clone()),
        };
        Some(Conn {
            link,
            lanes: self.lanes.clone(),
            index,
            generation: lane.generation,
        })
    }
}

/// Locks a lane; a lane is never left half-updated, so a poisoned lock is still usable.
fn lock(lane: &Mutex<Lane>) -> std::sync::MutexGuard<'_, Lane> {
    lane.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `e` means the connection it came from is gone (dropped, or an error after which
/// redis-rs says to reconnect): a command sent again on a fresh connection may succeed.
pub(super) fn broken(e: &RedisError) -> bool {
    e.is_unrecoverable_error() || e.is_connection_dropped()
}

/// The connection settings of the single server at `url`, with `TCP_NODELAY`: redis-rs leaves
/// Nagle's algorithm (RFC 896) on, which holds a command written while the previous one is
/// unacknowledged, up to the peer's delayed-ACK timeout (~40 ms on Linux). (A cluster connection
/// made by deadpool-redis keeps redis-rs's default: its manager takes no TCP settings.)
///
/// # Errors
/// When `url` is not a valid Redis URL.
pub(crate) fn no_delay(url: &str) -> RedisResult<redis::ConnectionInfo> {
    Ok(url
        .into_connection_info()?
        .set_tcp_settings(TcpSettings::default().set_nodelay(true)))
}

/// A shared connection to one server or to a cluster.
pub(super) struct Conn {
    link: Link,
    lanes: Arc<[Mutex<Lane>]>,
    index: usize,
    generation: u64,
}

enum Link {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Empties this connection's lane when `result` says the connection is broken.
    fn check<T>(lanes: &[Mutex<Lane>], index: usize, generation: u64, result: &RedisResult<T>) {
        if let Err(e) = result
            && broken(e)
        {
            let mut lane = lock(&lanes[index]);
            if lane.generation == generation && lane.taken.take().is_some() {
                tracing::warn!(error = %e, lane = index, "Redis connection lost; replacing it");
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let (lanes, index, generation) = (&self.lanes, self.index, self.generation);
        let call = match &mut self.link {
            Link::Single(c) => c.req_packed_command(cmd),
            Link::Cluster(c) => c.req_packed_command(cmd),
        };
        Box::pin(async move {
            let result = call.await;
            Conn::check(lanes, index, generation, &result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let (lanes, index, generation) = (&self.lanes, self.index, self.generation);
        let call = match &mut self.link {
            Link::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(async move {
            let result = call.await;
            Conn::check(lanes, index, generation, &result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(c) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_cluster_targets() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379/0"),
            Ok(Target::Single("redis://127.0.0.1:6379/0".into()))
        );
        assert_eq!(
            Target::parse("redis-cluster://a:1,b:2,"),
            Ok(Target::Cluster(vec![
                "redis://a:1".into(),
                "redis://b:2".into()
            ]))
        );
        assert!(Target::parse("redis-cluster://").is_err());
        assert!(Target::parse("http://x").is_err());
    }
}
