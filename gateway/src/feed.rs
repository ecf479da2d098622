//! The delta feed over Redis pub/sub: one subscriber connection per gateway, shared by all its
//! sockets (on a cluster, one cluster connection using sharded `SSUBSCRIBE` over RESP3).
//!
//! A manager task owns the connection. It subscribes to a token's channel when the first socket of
//! that token asks (answering only once Redis confirmed, so a socket can take its snapshot after),
//! fans each message out to that token's sockets, and unsubscribes when the last one goes. When the
//! connection is lost, every subscription ends: the sockets resubscribe (which reconnects) and
//! resync, since deltas may have been published meanwhile. Every wait on Redis has a deadline:
//! while Redis cannot be reached, subscriptions are refused at once (the manager retries the
//! connection with backoff), so no socket waits for the length of an outage.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use redis::aio::{PubSubSink, PubSubStream};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{IntoConnectionInfo, PushInfo, PushKind, RedisResult};
use refract_proto::frame::delta_header;
use refract_proto::layout::{Target, updates_channel};
use refract_proto::{DeltaFeed, FeedError, Published, Subscription};

/// Messages a slow socket may have waiting before it is cut off (and resyncs).
const SUBSCRIBER_BUFFER: usize = 256;

enum Command {
    Subscribe {
        channel: String,
        id: u64,
        tx: mpsc::Sender<Published>,
        done: oneshot::Sender<Result<(), String>>,
    },
    Unsubscribe {
        channel: String,
        id: u64,
    },
}

/// Redis pub/sub as a [`DeltaFeed`]: gateways subscribe to the channels the workers' commits
/// publish on.
pub struct RedisFeed {
    commands: mpsc::UnboundedSender<Command>,
    ids: std::sync::atomic::AtomicU64,
}

impl RedisFeed {
    /// A feed on the Redis server at `url` (connected lazily, reconnected as needed).
    ///
    /// # Errors
    /// [`FeedError`] when the URL is invalid.
    pub fn new(url: &str) -> Result<Self, FeedError> {
        let target = Target::parse(url).map_err(FeedError)?;
        if let Target::Single(url) = &target {
            redis::Client::open(url.as_str()).map_err(|e| FeedError(e.to_string()))?;
        }
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(manage(target, rx));
        Ok(RedisFeed {
            commands,
            ids: std::sync::atomic::AtomicU64::new(0),
        })
    }
}

/// Unsubscribes its socket when dropped.
struct Unsubscribe {
    commands: mpsc::UnboundedSender<Command>,
    channel: String,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Unsubscribe {
            channel: std::mem::take(&mut self.channel),
            id: self.id,
        });
    }
}

#[async_trait]
impl DeltaFeed for RedisFeed {
    async fn subscribe(&self, token: &str) -> Result<Subscription, FeedError> {
        let channel = updates_channel(token);
        let id = self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let (done, confirmed) = oneshot::channel();
        let gone = || FeedError("the feed's manager task stopped".to_owned());
        self.commands
            .send(Command::Subscribe {
                channel: channel.clone(),
                id,
                tx,
                done,
            })
            .map_err(|_| gone())?;
        tokio::time::timeout(SUBSCRIBE_TIMEOUT, confirmed)
            .await
            .map_err(|_| {
                FeedError(format!(
                    "redis did not confirm the subscription within {SUBSCRIBE_TIMEOUT:?}"
                ))
            })?
            .map_err(|_| gone())?
            .map_err(FeedError)?;
        let guard = Unsubscribe {
            commands: self.commands.clone(),
            channel,
            id,
        };
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |frame| {
            let _keep = &guard;
            frame
        });
        Ok(stream.boxed())
    }
}

type Routes = HashMap<String, Vec<(u64, mpsc::Sender<Published>)>>;

/// The subscribing half of a feed connection.
enum Sink {
    Single(PubSubSink),
    Cluster(ClusterConnection),
}

impl Sink {
    async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Sink::Single(s) => s.subscribe(channel).await,
            Sink::Cluster(c) => c.ssubscribe(channel).await,
        }
    }

    async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Sink::Single(s) => s.unsubscribe(channel).await,
            Sink::Cluster(c) => c.sunsubscribe(channel).await,
        }
    }
}

/// The receiving half of a feed connection.
enum Source {
    Single(PubSubStream),
    Cluster(mpsc::UnboundedReceiver<PushInfo>),
}

impl Source {
    /// The next `(channel, payload)`, or `None` when the connection (or, on a cluster, any node's
    /// connection) was lost: messages may have been missed.
    async fn next(&mut self) -> Option<(String, Vec<u8>)> {
        match self {
            Source::Single(s) => s.next().await.map(|m| {
                (
                    m.get_channel_name().to_owned(),
                    m.get_payload_bytes().to_vec(),
                )
            }),
            Source::Cluster(rx) => loop {
                let push = rx.recv().await?;
                match push.kind {
                    PushKind::SMessage | PushKind::Message => {
                        let mut data = push.data.into_iter();
                        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                            continue;
                        };
                        let (Ok(channel), Ok(payload)) = (
                            redis::from_redis_value::<String>(channel),
                            redis::from_redis_value::<Vec<u8>>(payload),
                        ) else {
                            continue;
                        };
                        return Some((channel, payload));
                    }
                    PushKind::Disconnection => return None,
                    _ => continue,
                }
            },
        }
    }
}

async fn connect(target: &Target) -> RedisResult<(Sink, Source)> {
    match target {
        Target::Single(url) => {
            // TCP_NODELAY: a delta is small and should leave at once (see the worker's store).
            let info = url
                .as_str()
                .into_connection_info()?
                .set_tcp_settings(TcpSettings::default().set_nodelay(true));
            let (sink, stream) = redis::Client::open(info)?.get_async_pubsub().await?.split();
            Ok((Sink::Single(sink), Source::Single(stream)))
        }
        Target::Cluster(nodes) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                .tcp_settings(TcpSettings::default().set_nodelay(true))
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(tx)
                .build()?;
            let conn = client.get_async_connection().await?;
            Ok((Sink::Cluster(conn), Source::Cluster(rx)))
        }
    }
}

/// How long connecting to Redis may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long Redis may take to confirm a (un)subscription before the connection counts as lost.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`DeltaFeed::subscribe`] waits for the manager's answer: a connection attempt and a
/// confirmation, and a little more. A frozen or black-holed Redis is an error after this, never
/// a hang.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers a waiting subscription with the error `why` (the subscriber retries later).
fn refuse(cmd: Option<Command>, why: &str) {
    if let Some(Command::Subscribe { done, .. }) = cmd {
        let _ = done.send(Err(why.to_owned()));
    }
}

async fn manage(target: Target, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut backoff = Duration::from_millis(100);
    // Connect when the first subscriber asks.
    let mut pending = match commands.recv().await {
        Some(cmd) => Some(cmd),
        None => return,
    };
    loop {
        let connected = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&target)).await {
            Ok(Ok(halves)) => Ok(halves),
            Ok(Err(e)) => Err(format!("redis pub/sub unreachable: {e}")),
            Err(_) => Err(format!(
                "redis pub/sub did not connect within {CONNECT_TIMEOUT:?}"
            )),
        };
        let (mut sink, mut source) = match connected {
            Ok(halves) => halves,
            Err(why) => {
                tracing::warn!(error = %why, "retrying with backoff");
                // Refuse the subscriptions waiting now and those asked for during the backoff:
                // their sockets go on without a feed and try again.
                refuse(pending.take(), &why);
                let sleep = tokio::time::sleep(backoff);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        () = &mut sleep => break,
                        cmd = commands.recv() => match cmd {
                            Some(cmd) => refuse(Some(cmd), &why),
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let mut routes = Routes::new();
        loop {
            let cmd = match pending.take() {
                Some(cmd) => cmd,
                None => tokio::select! {
                    cmd = commands.recv() => match cmd {
                        Some(cmd) => cmd,
                        None => return,
                    },
                    msg = source.next() => match msg {
                        Some((channel, payload)) => {
                            route(&mut routes, &channel, &payload);
                            continue;
                        }
                        None => break,
                    },
                },
            };
            match cmd {
                Command::Subscribe {
                    channel,
                    id,
                    tx,
                    done,
                } => {
                    if !routes.contains_key(&channel) {
                        match tokio::time::timeout(COMMAND_TIMEOUT, sink.subscribe(&channel)).await
                        {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                let _ = done.send(Err(e.to_string()));
                                break;
                            }
                            Err(_) => {
                                let _ =
                                    done.send(Err("redis did not confirm the subscription".into()));
                                break;
                            }
                        }
                    }
                    routes.entry(channel.clone()).or_default().push((id, tx));
                    if done.send(Ok(())).is_err() {
                        // The subscriber gave up waiting: as if it unsubscribed.
                        pending = Some(Command::Unsubscribe { channel, id });
                    }
                }
                Command::Unsubscribe { channel, id } => {
                    let subs = routes.entry(channel.clone()).or_default();
                    subs.retain(|(i, _)| *i != id);
                    // Also when a cut-off subscriber emptied the route earlier.
                    if subs.is_empty() {
                        routes.remove(&channel);
                        let unsubscribed =
                            tokio::time::timeout(COMMAND_TIMEOUT, sink.unsubscribe(&channel)).await;
                        if !matches!(unsubscribed, Ok(Ok(()))) {
                            break;
                        }
                    }
                }
            }
        }
        // Lost the connection: dropping `routes` ends every subscription; subscribers resync.
        tracing::warn!(
            subscriptions = routes.len(),
            "redis pub/sub connection lost"
        );
    }
}

fn route(routes: &mut Routes, channel: &str, payload: &[u8]) {
    let Some(subs) = routes.get_mut(channel) else {
        return;
    };
    let Some((text, header)) = std::str::from_utf8(payload)
        .ok()
        .and_then(|text| Some((text, delta_header(text)?)))
    else {
        tracing::warn!(channel, "ignored a message that is no delta frame");
        return;
    };
    let published = Published {
        version: header.version,
        seq: header.seq,
        tab: header.tab,
        frame: Arc::from(text),
    };
    // A subscriber that cannot keep up is cut off: its stream ends and it resyncs.
    subs.retain(|(_, tx)| tx.try_send(published.clone()).is_ok());
}
