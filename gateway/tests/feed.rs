//! The gateway's Redis pub/sub feed against a real `redis-server`: published deltas reach their
//! token's subscribers, and while Redis is frozen (SIGSTOP: connections open, nothing answered) or
//! gone, a subscription is refused within its deadline instead of hanging; after Redis is back,
//! subscriptions work again without restarting anything.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use refract_gateway::feed::RedisFeed;
use refract_process::launch::{Signal, start_local_redis};
use refract_proto::layout::updates_channel;
use refract_proto::{DeltaFeed, ServerFrame, Subscription};
use serde_json::Map;

/// Publishes the delta frame of `version` on `token`'s channel, as a worker's commit does.
async fn publish(url: &str, token: &str, version: u64) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let frame = ServerFrame::Delta {
        version,
        seq: None,
        tab: None,
        delta: Map::new(),
        then: vec![],
    };
    let _: i64 = redis::cmd("PUBLISH")
        .arg(updates_channel(token))
        .arg(frame.encode())
        .query_async(&mut conn)
        .await
        .unwrap();
}

async fn next_version(sub: &mut Subscription) -> u64 {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a delta within 5 s")
        .expect("the subscription is open")
        .version
}

/// Subscribes to `token`, retrying for up to 15 s while the feed refuses.
async fn subscribe_eventually(feed: &RedisFeed, token: &str) -> Subscription {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match feed.subscribe(token).await {
            Ok(sub) => return sub,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "not yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no subscription after Redis came back: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_refuses_subscriptions_in_time_and_they_work_again_after() {
    let (redis, url) = start_local_redis().await.unwrap();
    let feed = RedisFeed::new(&url).unwrap();
    let mut sub = feed.subscribe("t").await.unwrap();
    publish(&url, "t", 1).await;
    assert_eq!(next_version(&mut sub).await, 1);

    redis.signal(Signal::STOP).unwrap();
    for token in ["u", "w"] {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(10), feed.subscribe(token))
            .await
            .expect("subscribe answers while Redis is frozen, never hangs");
        assert!(answer.is_err(), "subscribed while Redis was frozen");
        assert!(
            started.elapsed() < Duration::from_secs(7),
            "{:?}",
            started.elapsed()
        );
    }

    redis.signal(Signal::CONT).unwrap();
    let mut again = subscribe_eventually(&feed, "v").await;
    publish(&url, "v", 7).await;
    assert_eq!(next_version(&mut again).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_redis_refuses_subscriptions_at_once_and_they_work_again_after() {
    let (mut redis, url) = start_local_redis().await.unwrap();
    let feed = RedisFeed::new(&url).unwrap();
    let mut sub = feed.subscribe("t").await.unwrap();
    redis.kill();
    // The lost connection ends the subscription: its socket would resync.
    let ended = tokio::time::timeout(Duration::from_secs(5), sub.next()).await;
    assert!(matches!(ended, Ok(None)), "the subscription ended");
    for token in ["u", "w"] {
        let started = Instant::now();
        assert!(feed.subscribe(token).await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    redis.restart().unwrap();
    let mut again = subscribe_eventually(&feed, "v").await;
    publish(&url, "v", 3).await;
    assert_eq!(next_version(&mut again).await, 3);
}
