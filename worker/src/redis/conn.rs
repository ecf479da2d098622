//! One server or a cluster, behind one connection type: the pool of either, and a connection that
//! runs commands and scripts on either (a cluster routes each script by its keys' slot, which a
//! token's keys share).

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

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

/// A deadpool of connections to one server or to a cluster.
pub(super) enum Pool {
    Single(deadpool_redis::Pool),
    Cluster(deadpool_redis::cluster::Pool),
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl Pool {
    pub(super) fn new(target: &Target, size: usize) -> Result<Pool, StoreError> {
        Ok(match target {
            Target::Single(url) => Pool::Single(
                deadpool_redis::Config::from_url(url.clone())
                    .builder()
                    .map_err(unavailable)?
                    .max_size(size)
                    .runtime(deadpool_redis::Runtime::Tokio1)
                    .build()
                    .map_err(unavailable)?,
            ),
            Target::Cluster(nodes) => Pool::Cluster(
                deadpool_redis::cluster::Config::from_urls(nodes.clone())
                    .builder()
                    .map_err(unavailable)?
                    .max_size(size)
                    .runtime(deadpool_redis::cluster::Runtime::Tokio1)
                    .build()
                    .map_err(unavailable)?,
            ),
        })
    }

    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Pool::Cluster(_))
    }

    pub(super) async fn get(&self) -> Result<Conn, StoreError> {
        Ok(match self {
            Pool::Single(p) => Conn::Single(p.get().await.map_err(unavailable)?),
            Pool::Cluster(p) => Conn::Cluster(p.get().await.map_err(unavailable)?),
        })
    }
}

/// A pooled connection to one server or to a cluster.
pub(super) enum Conn {
    Single(deadpool_redis::Connection),
    Cluster(deadpool_redis::cluster::Connection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
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
