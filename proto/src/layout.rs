//! The Redis layout of the distributed mode (`docs/distributed.md`): where a token's shards, lock,
//! meta and channel live, and the forms of a Redis address. Workers write these keys and gateways
//! subscribe to the channel; both take the names from here.
//!
//! Every key of a token shares the hash tag `{T}`, so on a Redis Cluster they live on one slot:
//!
//! | key / channel | holds |
//! | --- | --- |
//! | `rf:{T}:s:<state>` | one shard: the state's JSON, expiring with the token |
//! | `rf:{T}:lock` | the lock owner's id, with a lease (PX) |
//! | `rf:{T}:meta` | hash: `version`, `bytes`, and `seq:<tab>` = `<last applied seq>,<its version>` per tab |
//! | `rf:{T}:then` | hash: per tab, the follow-ups of its last applied event (a JSON array), when it returned any |
//! | `rf:{T}:updates` | the channel the token's delta frames are published on |
//!
//! One key is of no token: [`TASKS_KEY`], the registry of running background tasks.

/// The key `rf:{token}:suffix`.
fn key(token: &str, suffix: &str) -> String {
    format!("rf:{{{token}}}:{suffix}")
}

/// The key of the shard of `state`.
pub fn shard_key(token: &str, state: &str) -> String {
    key(token, &format!("s:{state}"))
}

/// The key of the token's lock.
pub fn lock_key(token: &str) -> String {
    key(token, "lock")
}

/// The key of the token's version and last applied seq.
pub fn meta_key(token: &str) -> String {
    key(token, "meta")
}

/// The key of the hash of each tab's last follow-ups.
pub fn then_key(token: &str) -> String {
    key(token, "then")
}

/// The channel the token's delta frames are published on.
pub fn updates_channel(token: &str) -> String {
    key(token, "updates")
}

/// The sorted set of running background tasks: member = the task (`["<token>","<state.method>",
/// "<id>"]`, JSON), score = the deadline of its heartbeat (ms since the Unix epoch). A worker
/// that finds a deadline passed records the task interrupted in its token's state.
pub const TASKS_KEY: &str = "rf:tasks";

/// Where Redis is: what `--redis` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One server: `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS.
    Single(String),
    /// A cluster, by seed nodes, each as a single server's URL (`redis://…` or `rediss://…`, with
    /// the cluster URL's user and password).
    Cluster(Vec<String>),
}

impl Target {
    /// Parses `redis://…` or `rediss://…` (one server), or
    /// `redis-cluster://[user:password@]host:port[,host:port…]` (`rediss-cluster://` for TLS).
    ///
    /// # Errors
    /// A message naming the accepted forms (with the URL's password hidden, see [`redacted`]).
    pub fn parse(url: &str) -> Result<Target, String> {
        let cluster = [
            ("redis-cluster://", "redis://"),
            ("rediss-cluster://", "rediss://"),
        ]
        .into_iter()
        .find_map(|(scheme, node)| url.strip_prefix(scheme).map(|rest| (rest, node)));
        if let Some((rest, node_scheme)) = cluster {
            let (userinfo, seeds) = match rest.rsplit_once('@') {
                Some((userinfo, seeds)) => (format!("{userinfo}@"), seeds),
                None => (String::new(), rest),
            };
            let nodes: Vec<String> = seeds
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| format!("{node_scheme}{userinfo}{s}"))
                .collect();
            if nodes.is_empty() {
                return Err(format!("`{}` names no cluster node", redacted(url)));
            }
            Ok(Target::Cluster(nodes))
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            Ok(Target::Single(url.to_owned()))
        } else {
            Err(format!(
                "`{}` is not redis://host:port, rediss://host:port or \
                 redis-cluster://host:port,host:port",
                redacted(url)
            ))
        }
    }
}

/// `url` with the password in its user info replaced by `***`
/// (`redis://app:***@host:6379`), so it can be logged; other URLs are returned as they are.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, hosts)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{hosts}"),
        // A user without a password (Redis's AUTH with one argument takes it as the password).
        None => format!("{scheme}://***@{hosts}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_password_is_hidden_from_logs() {
        assert_eq!(redacted("redis://app:pw@h:1/0"), "redis://app:***@h:1/0");
        assert_eq!(redacted("rediss://:p@ss@h:1"), "rediss://:***@h:1");
        assert_eq!(redacted("redis://h:1"), "redis://h:1");
        assert_eq!(redacted("redis://secret@h:1"), "redis://***@h:1");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[test]
    fn a_tokens_keys_share_one_hash_tag() {
        assert_eq!(shard_key("T", "counter"), "rf:{T}:s:counter");
        assert_eq!(lock_key("T"), "rf:{T}:lock");
        assert_eq!(meta_key("T"), "rf:{T}:meta");
        assert_eq!(updates_channel("T"), "rf:{T}:updates");
    }

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
        assert_eq!(
            Target::parse("rediss-cluster://app:pw@a:1,b:2"),
            Ok(Target::Cluster(vec![
                "rediss://app:pw@a:1".into(),
                "rediss://app:pw@b:2".into()
            ]))
        );
        let refused = Target::parse("http://app:hunter2@a:1").unwrap_err();
        assert!(!refused.contains("hunter2"), "{refused}");
        assert!(Target::parse("http://x").is_err());
    }
}
