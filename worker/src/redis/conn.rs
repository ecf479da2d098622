//! One server or a cluster, behind one connection type: the pool of either, and a connection that
//! runs commands and scripts on either (a cluster routes each script by its keys' slot, which a
//! token's keys share). Events share a few multiplexed connections ([`Pool`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use refract_proto::layout::Target;

use crate::store::StoreError;

/// Connections to one server or to a cluster. deadpool-redis opens them and health-checks each
/// one (`UNWATCH` + `PING`) as it hands it out; events then share a few of them ("lanes", round
/// robin) instead of taking one each: a multiplexed connection carries any number of concurrent
/// commands and writes those queued together in one system call, and a per-event checkout would
/// cost every event the health check's round trip. A lane whose connection fails is emptied, and
/// the next event on it takes a fresh, checked connection.
pub(super) struct Pool {
    deadpool: Deadpool,
    /// Each lane's lock is held while the lane takes a connection, so a lane never opens two.
    lanes: Arc<[tokio::sync::Mutex<Lane>]>,
    next: AtomicUsize,
}

enum Deadpool {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
}

#[derive(Default)]
struct Lane {
    /// Bumped whenever the lane takes a new connection, so a failure reported by a user of an
    /// older one does not empty the lane again.
    generation: u64,
    link: Option<Link>,
}

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
                .runtime(deadpool_redis::Runtime::Tokio1)
                .build()
                .map_err(unavailable)?,
            ),
            Target::Cluster(nodes) => Deadpool::Cluster(
                deadpool_redis::cluster::Config::from_urls(nodes.clone())
                    .builder()
                    .map_err(unavailable)?
                    .max_size(lanes)
                    .runtime(deadpool_redis::cluster::Runtime::Tokio1)
                    .build()
                    .map_err(unavailable)?,
            ),
        };
        Ok(Pool {
            deadpool,
            lanes: (0..lanes)
                .map(|_| tokio::sync::Mutex::new(Lane::default()))
                .collect(),
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
        let mut lane = self.lanes[index].lock().await;
        let link = match &lane.link {
            Some(link) => link.clone(),
            None => {
                // Taken out of the pool for good: the lane, not deadpool, now owns it.
                let link = match &self.deadpool {
                    Deadpool::Single(p) => Link::Single(deadpool_redis::Connection::take(
                        p.get().await.map_err(unavailable)?,
                    )),
                    Deadpool::Cluster(p) => {
                        Link::Cluster(deadpool_redis::cluster::Connection::take(
                            p.get().await.map_err(unavailable)?,
                        ))
                    }
                };
                lane.generation += 1;
                lane.link = Some(link.clone());
                link
            }
        };
        Ok(Conn {
            link,
            lanes: self.lanes.clone(),
            index,
            generation: lane.generation,
        })
    }
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
fn no_delay(url: &str) -> RedisResult<redis::ConnectionInfo> {
    Ok(url
        .into_connection_info()?
        .set_tcp_settings(TcpSettings::default().set_nodelay(true)))
}

/// A shared connection to one server or to a cluster. A clone is the same connection: commands
/// sent through either run in the order sent.
#[derive(Clone)]
pub(super) struct Conn {
    link: Link,
    lanes: Arc<[tokio::sync::Mutex<Lane>]>,
    index: usize,
    generation: u64,
}

#[derive(Clone)]
enum Link {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Empties this connection's lane when `result` says the connection is broken.
    async fn check<T>(
        lanes: &[tokio::sync::Mutex<Lane>],
        index: usize,
        generation: u64,
        result: &RedisResult<T>,
    ) {
        if let Err(e) = result
            && broken(e)
        {
            let mut lane = lanes[index].lock().await;
            if lane.generation == generation && lane.link.take().is_some() {
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
            Conn::check(lanes, index, generation, &result).await;
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
            Conn::check(lanes, index, generation, &result).await;
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
