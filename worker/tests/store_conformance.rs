//! The state store contract (`refract_worker::store`), checked on both stores: the memory store of
//! the embedded mode and the Redis store against a real `redis-server` (with the gateway's Redis
//! pub/sub feed as its subscriber). Each property is one generic function; the macro at the end
//! runs it on each store. Properties that only a store with leases has (expiry of an unrenewed
//! lock, fencing, renewal) run on Redis only: the memory store's lock lives and dies with its
//! process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
mod common;

use refract_gateway::feed::RedisFeed;
use refract_process::launch::{Child, free_port, start_local_redis};
use refract_proto::{DeltaFeed, EventRequest, Outcome, Processor, ServerFrame};
use refract_worker::redis::{RedisConfig, RedisStore};
use refract_worker::{Commit, Engine, Loaded, MemoryStore, StateStore, StoreError};
use serde_json::{Map, Value, json};

/// How long an acquire waits for a held lock.
const LOCK_WAIT: Duration = Duration::from_millis(1000);
/// The Redis store's lease.
const LEASE: Duration = Duration::from_millis(300);
/// How long an idle token is kept.
const EXPIRY: Duration = Duration::from_millis(800);
/// The states every test's app has: the engine's test app has the first.
const STATES: [&str; 2] = ["counter", "other"];

/// A store under test, its delta feed, and what it needs to run.
struct Subject<S> {
    store: S,
    feed: Arc<dyn DeltaFeed>,
    /// Drops the tokens idle for [`EXPIRY`] (the memory store's eviction; Redis expires keys
    /// itself).
    evict: Box<dyn Fn() + Send + Sync>,
    _redis: Option<Child>,
}

fn memory() -> Subject<Arc<MemoryStore>> {
    let store = Arc::new(MemoryStore::with_lock_wait(LOCK_WAIT));
    let evicting = store.clone();
    Subject {
        store: store.clone(),
        feed: store,
        evict: Box::new(move || {
            evicting.evict_idle(EXPIRY);
        }),
        _redis: None,
    }
}

async fn redis() -> Subject<RedisStore> {
    let (server, url) = start_local_redis().await.unwrap();
    let mut config = RedisConfig::new(&url);
    config.lock_lease = LEASE;
    config.lock_wait = LOCK_WAIT;
    config.token_expiry = EXPIRY;
    let store = RedisStore::new(config, STATES.map(String::from).to_vec()).unwrap();
    Subject {
        store,
        feed: Arc::new(RedisFeed::new(&url).unwrap()),
        evict: Box::new(|| {}),
        _redis: Some(server),
    }
}

/// A unique token per test run, so nothing is shared by accident.
fn token(name: &str) -> String {
    format!("{name}-{}", free_port().unwrap())
}

/// A commit of `changed` shards as event `seq`, making `version`, with its delta frame; the
/// token's stored size is taken to be the changed shards' (the tests' tokens are that small).
fn commit(version: u64, seq: u64, changed: &[(&str, &str)]) -> Commit {
    let frame = ServerFrame::Delta {
        version,
        seq: Some(seq),
        tab: None,
        delta: Map::new(),
        then: vec![],
    };
    Commit {
        tab: String::new(),
        changed: changed
            .iter()
            .map(|(s, b)| ((*s).to_owned(), b.as_bytes().to_vec()))
            .collect(),
        seq: Some(seq),
        version,
        stored_bytes: changed.iter().map(|(_, b)| b.len() as u64).sum(),
        then: None,
        replaces_then: false,
        closes_stream: false,
        frame: frame.encode().into(),
    }
}

fn shard(loaded: &Loaded, i: usize) -> Option<&str> {
    loaded.shards[i]
        .as_deref()
        .map(|b| std::str::from_utf8(b).unwrap())
}

async fn a_new_token_has_nothing_stored<S: StateStore>(s: Subject<S>) {
    let t = token("new");
    let (loaded, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    assert_eq!(
        loaded,
        Loaded {
            version: 0,
            last_seq: 0,
            shards: vec![None, None],
            stored_bytes: 0,
            then: None,
        }
    );
    lease.release().await;
}

async fn a_commit_writes_shards_version_and_seq_and_publishes_together<S: StateStore>(
    s: Subject<S>,
) {
    let t = token("commit");
    let mut feed = s.feed.subscribe(&t).await.unwrap();
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    let first = commit(1, 7, &[("counter", "{\"n\":1}"), ("other", "{\"m\":2}")]);
    lease.commit(first.clone()).await.unwrap();
    let snap = s.store.snapshot(&t, "", &STATES).await.unwrap();
    assert_eq!((snap.version, snap.last_seq), (1, 7));
    assert_eq!(
        (shard(&snap, 0), shard(&snap, 1)),
        (Some("{\"n\":1}"), Some("{\"m\":2}"))
    );
    let published = feed.next().await.unwrap();
    assert_eq!((published.version, &published.frame), (1, &first.frame));

    // Only the changed shard is written; the other keeps its value.
    let (loaded, lease) = s.store.acquire(&t, "", &["other"]).await.unwrap();
    assert_eq!((loaded.version, loaded.last_seq), (1, 7));
    assert_eq!(shard(&loaded, 0), Some("{\"m\":2}"));
    lease
        .commit(commit(2, 8, &[("other", "{\"m\":3}")]))
        .await
        .unwrap();
    let snap = s.store.snapshot(&t, "", &STATES).await.unwrap();
    assert_eq!((snap.version, snap.last_seq), (2, 8));
    assert_eq!(
        (shard(&snap, 0), shard(&snap, 1)),
        (Some("{\"n\":1}"), Some("{\"m\":3}"))
    );
    assert_eq!(feed.next().await.unwrap().version, 2);
}

async fn a_release_writes_and_publishes_nothing<S: StateStore>(s: Subject<S>) {
    let t = token("release");
    let mut feed = s.feed.subscribe(&t).await.unwrap();
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    lease
        .commit(commit(1, 1, &[("counter", "1")]))
        .await
        .unwrap();
    assert_eq!(feed.next().await.unwrap().version, 1);
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    lease.release().await;
    let snap = s.store.snapshot(&t, "", &STATES).await.unwrap();
    assert_eq!(
        (snap.version, snap.last_seq, shard(&snap, 0)),
        (1, 1, Some("1"))
    );
    let next = tokio::time::timeout(Duration::from_millis(300), feed.next()).await;
    assert!(next.is_err(), "a release published {next:?}");
}

async fn the_lock_excludes_other_holders_until_released<S: StateStore + Clone>(s: Subject<S>) {
    let t = token("exclusive");
    let (_, first) = s.store.acquire(&t, "", &STATES).await.unwrap();
    let waiter = {
        let (store, t) = (s.store.clone(), t.clone());
        tokio::spawn(async move {
            let (loaded, lease) = store.acquire(&t, "", &STATES).await?;
            lease.release().await;
            Ok::<_, StoreError>(loaded.version)
        })
    };
    // Renewed meanwhile, so a lease cannot lapse: only the release frees the lock.
    tokio::select! {
        () = first.keep_alive() => panic!("the lock was lost while held"),
        () = tokio::time::sleep(Duration::from_millis(600)) => {}
    }
    assert!(!waiter.is_finished(), "a second holder waits for the lock");
    // Another token's lock is independent.
    let (_, other) = s.store.acquire(&token("other"), "", &STATES).await.unwrap();
    other.release().await;
    first
        .commit(commit(1, 1, &[("counter", "1")]))
        .await
        .unwrap();
    assert_eq!(waiter.await.unwrap().unwrap(), 1, "it saw the commit");
}

async fn a_lock_held_past_the_lock_wait_is_busy<S: StateStore>(s: Subject<S>) {
    let t = token("busy");
    let (_, holder) = s.store.acquire(&t, "", &STATES).await.unwrap();
    let started = Instant::now();
    let second = tokio::select! {
        () = holder.keep_alive() => panic!("the lock was lost while held"),
        second = s.store.acquire(&t, "", &STATES) => second,
    };
    assert_eq!(second.err(), Some(StoreError::LockTimeout));
    assert!(started.elapsed() >= LOCK_WAIT - Duration::from_millis(100));
    holder.release().await;
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    lease.release().await;
}

async fn a_dropped_lease_frees_the_lock<S: StateStore>(s: Subject<S>) {
    let t = token("dropped");
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    // A call cancelled mid-event drops its lease without release or commit.
    drop(lease);
    let started = Instant::now();
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    assert!(
        started.elapsed() < LEASE,
        "freed at once, not at the lease's end: {:?}",
        started.elapsed()
    );
    lease.release().await;
}

async fn an_idle_token_expires_and_a_touched_one_does_not<S: StateStore>(s: Subject<S>) {
    let (idle, touched, never) = (token("idle"), token("touched"), token("never"));
    for t in [&idle, &touched] {
        let (_, lease) = s.store.acquire(t, "", &STATES).await.unwrap();
        lease
            .commit(commit(1, 1, &[("counter", "1")]))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + EXPIRY + Duration::from_millis(400);
    while Instant::now() < deadline {
        // An open socket's token, touched by its gateway; and one with nothing stored.
        s.store.touch(&[&touched, &never]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        (s.evict)();
    }
    let snap = s.store.snapshot(&idle, "", &STATES).await.unwrap();
    assert_eq!((snap.version, snap.last_seq, shard(&snap, 0)), (0, 0, None));
    let snap = s.store.snapshot(&touched, "", &STATES).await.unwrap();
    assert_eq!(
        (snap.version, snap.last_seq, shard(&snap, 0)),
        (1, 1, Some("1"))
    );
    let snap = s.store.snapshot(&never, "", &STATES).await.unwrap();
    assert_eq!(
        (snap.version, shard(&snap, 0)),
        (0, None),
        "touch stores nothing"
    );
}

async fn a_lapsed_lease_is_taken_over_and_its_commit_is_fenced<S: StateStore>(s: Subject<S>) {
    let t = token("fenced");
    let mut feed = s.feed.subscribe(&t).await.unwrap();
    let (_, stale) = s.store.acquire(&t, "", &STATES).await.unwrap();
    // Not renewed (as a frozen worker): after the lease another holder takes the lock.
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    let (loaded, fresh) = s.store.acquire(&t, "", &STATES).await.unwrap();
    assert_eq!(loaded.version, 0);
    // The stale holder's commit writes nothing at all: not the shard the fresh holder will
    // overwrite, not the other one, not the version, not the seq.
    let stale_commit = commit(1, 1, &[("counter", "stale"), ("other", "stale")]);
    assert_eq!(stale.commit(stale_commit).await, Err(StoreError::LockLost));
    let snap = s.store.snapshot(&t, "", &STATES).await.unwrap();
    let nothing = Loaded {
        version: 0,
        last_seq: 0,
        shards: vec![None, None],
        stored_bytes: 0,
        then: None,
    };
    assert_eq!(snap, nothing);
    fresh
        .commit(commit(1, 2, &[("counter", "fresh")]))
        .await
        .unwrap();
    let snap = s.store.snapshot(&t, "", &STATES).await.unwrap();
    assert_eq!(
        (snap.version, snap.last_seq, shard(&snap, 0)),
        (1, 2, Some("fresh"))
    );
    let published = feed.next().await.unwrap();
    assert!(
        published.frame.contains("\"seq\":2"),
        "only the fresh commit is published: {published:?}"
    );
}

async fn keep_alive_holds_the_lock_past_its_lease<S: StateStore>(s: Subject<S>) {
    let t = token("renewed");
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    let second = tokio::select! {
        () = lease.keep_alive() => panic!("the lock was lost while renewed"),
        second = tokio::time::timeout(LEASE * 3, s.store.acquire(&t, "", &STATES)) => second,
    };
    assert!(second.is_err(), "nobody took a renewed lock");
    lease
        .commit(commit(1, 1, &[("counter", "1")]))
        .await
        .unwrap();
}

async fn the_engine_applies_each_seq_at_most_once<S: StateStore + Clone>(s: Subject<S>) {
    let engine = Arc::new(Engine::new(Arc::new(common::states()), s.store.clone()));
    let t = token("engine");
    let event = |seq: u64, by: i64| EventRequest {
        token: t.clone(),
        tab: String::new(),
        seq,
        handler: "counter.add".into(),
        args: json!({ "by": by }),
        depth: 0,
        context: Default::default(),
    };
    assert!(matches!(
        engine.process(event(1, 1)).await,
        Ok(Outcome::Applied { version: 1, .. })
    ));
    assert_eq!(
        engine.process(event(1, 1)).await,
        Ok(Outcome::Duplicate { then: vec![] })
    );
    // Events racing for the token's lock (the gateway orders them; here nothing does): a seq
    // applies only right after the last applied one; one that skips ahead is refused as a gap,
    // one already applied is a duplicate. So they apply at most once, in order, and exactly the
    // applied ones are in the state.
    let racers: Vec<_> = (2..=11)
        .map(|seq| {
            let (engine, event) = (engine.clone(), event(seq, 10));
            tokio::spawn(async move { engine.process(event).await })
        })
        .collect();
    let mut applied = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(Outcome::Applied { .. }) => applied += 1,
            Ok(Outcome::Duplicate { .. }) => {}
            Err(f) => assert_eq!(f.code, refract_proto::ErrorCode::SeqGap, "{f}"),
        }
    }
    let h = engine.hydrate(&t, "").await.unwrap();
    assert!(applied >= 1, "event 2 always applies");
    assert_eq!((h.version, h.last_seq), (1 + applied, 1 + applied));
    assert_eq!(h.state["counter"]["n"], json!(1 + 10 * applied as i64));
}

async fn each_tab_numbers_its_own_events<S: StateStore + Clone>(s: Subject<S>) {
    let engine = Engine::new(Arc::new(common::states()), s.store.clone());
    let t = token("tabs");
    let event = |tab: &str, seq: u64| EventRequest {
        token: t.clone(),
        tab: tab.to_owned(),
        seq,
        handler: "counter.add".into(),
        args: json!({ "by": 1 }),
        depth: 0,
        context: Default::default(),
    };
    // Two tabs sharing a token ("Duplicate tab") both send their event 1: both apply.
    for tab in ["left", "right"] {
        let applied = engine.process(event(tab, 1)).await;
        assert!(
            matches!(applied, Ok(Outcome::Applied { .. })),
            "{tab}: {applied:?}"
        );
    }
    assert_eq!(
        engine.process(event("left", 1)).await,
        Ok(Outcome::Duplicate { then: vec![] })
    );
    let h = engine.hydrate(&t, "left").await.unwrap();
    assert_eq!((h.version, h.last_seq), (2, 1));
    assert_eq!(h.state["counter"]["n"], json!(2));
    assert_eq!(engine.hydrate(&t, "new").await.unwrap().last_seq, 0);
    // A token remembers the last seq of its TABS_KEPT most recent tabs; "left" committed longest
    // ago once that many others have, so it is forgotten first.
    for i in 0..refract_worker::store::TABS_KEPT {
        engine.process(event(&format!("tab{i}"), 1)).await.unwrap();
    }
    assert_eq!(engine.hydrate(&t, "left").await.unwrap().last_seq, 0);
    assert_eq!(engine.hydrate(&t, "right").await.unwrap().last_seq, 0);
    let last = format!("tab{}", refract_worker::store::TABS_KEPT - 1);
    assert_eq!(engine.hydrate(&t, &last).await.unwrap().last_seq, 1);
}

async fn a_commit_records_the_size_of_all_the_tokens_states<S: StateStore>(s: Subject<S>) {
    let t = token("sizes");
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    lease
        .commit(commit(1, 1, &[("counter", "12345"), ("other", "1234567")]))
        .await
        .unwrap();
    // Known without loading the states the event does not touch.
    let (loaded, lease) = s.store.acquire(&t, "", &["counter"]).await.unwrap();
    assert_eq!(
        (shard(&loaded, 0), loaded.stored_bytes),
        (Some("12345"), 12)
    );
    lease.release().await;
    let snap = s.store.snapshot(&t, "", &STATES).await.unwrap();
    assert_eq!(snap.stored_bytes, 12);
}

/// A commit's follow-ups stay with its tab's seq until that tab's next commit: a resent event's
/// `ack` and a hydrate of that tab carry them, another tab sees none, an older resend gets none.
async fn a_tabs_last_follow_ups_survive_until_its_next_event<S: StateStore + Clone>(s: Subject<S>) {
    let engine = Engine::new(Arc::new(common::states()), s.store.clone());
    let t = token("chain");
    let event = |tab: &str, seq: u64, handler: &str, args: Value| EventRequest {
        token: t.clone(),
        tab: tab.to_owned(),
        seq,
        handler: handler.into(),
        args,
        depth: 0,
        context: Default::default(),
    };
    let chain = || event("left", 1, "counter.chain", json!({ "by": 2 }));
    let Ok(Outcome::Applied { frame, .. }) = engine.process(chain()).await else {
        panic!("the chain's first event applies");
    };
    let expected = json!([
        {"handler": "counter.add", "args": {"by": 2}},
        {"handler": "_toast", "args": {"level": "success", "message": "chained 2"}},
    ]);
    let delta: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(delta["then"], expected, "the delta carries the follow-ups");
    let then = |o: Outcome| match o {
        Outcome::Duplicate { then } => serde_json::to_value(then).unwrap(),
        other => panic!("{other:?}"),
    };
    // Its answer lost, the event is resent: not run again, but its chain goes on.
    assert_eq!(then(engine.process(chain()).await.unwrap()), expected);
    let hydrated = engine.hydrate(&t, "left").await.unwrap();
    assert_eq!(serde_json::to_value(&hydrated.then).unwrap(), expected);
    assert!(engine.hydrate(&t, "right").await.unwrap().then.is_empty());
    assert_eq!(hydrated.state["counter"]["n"], json!(0));
    // The tab's next event replaces them (with none), and a resend of the older one gets none.
    engine
        .process(event("left", 2, "counter.add", json!({ "by": 2 })))
        .await
        .unwrap();
    assert!(engine.hydrate(&t, "left").await.unwrap().then.is_empty());
    assert_eq!(then(engine.process(chain()).await.unwrap()), json!([]));
    // A forgotten tab's follow-ups are forgotten with its seq.
    let old = event("old", 1, "counter.chain", json!({ "by": 1 }));
    engine.process(old).await.unwrap();
    assert!(!engine.hydrate(&t, "old").await.unwrap().then.is_empty());
    for i in 0..refract_worker::store::TABS_KEPT {
        let newer = event(&format!("tab{i}"), 1, "counter.add", json!({ "by": 1 }));
        engine.process(newer).await.unwrap();
    }
    let forgotten = engine.hydrate(&t, "old").await.unwrap();
    assert_eq!(forgotten.last_seq, 0);
    assert!(forgotten.then.is_empty(), "{:?}", forgotten.then);
}

/// A streaming handler's flushes are commits that keep the lock: each is published in version
/// order answering no event, the final commit answers it, and a resend is a duplicate.
async fn a_streaming_handlers_flushes_are_published_commits<S: StateStore + Clone>(s: Subject<S>) {
    let engine = Engine::new(Arc::new(common::states()), s.store.clone());
    let t = token("stream");
    let mut feed = s.feed.subscribe(&t).await.unwrap();
    let event = || EventRequest {
        token: t.clone(),
        tab: "tab".into(),
        seq: 1,
        handler: "counter.stream".into(),
        args: json!({ "by": 2 }),
        depth: 0,
        context: Default::default(),
    };
    assert!(matches!(
        engine.process(event()).await,
        Ok(Outcome::Applied { version: 3, .. })
    ));
    let mut answers = Vec::new();
    for _ in 0..3 {
        let published = feed.next().await.unwrap();
        answers.push((published.version, published.seq));
    }
    assert_eq!(answers, [(1, None), (2, None), (3, Some(1))]);
    let h = engine.hydrate(&t, "tab").await.unwrap();
    assert_eq!((h.version, h.last_seq), (3, 1));
    assert_eq!(h.state["counter"]["n"], json!(102));
    assert!(matches!(
        engine.process(event()).await,
        Ok(Outcome::Duplicate { .. })
    ));
}

/// A handler that changes another state of its token commits both at once, loaded and written
/// under its lock, on either store.
async fn another_state_is_loaded_and_committed_with_the_handlers<S: StateStore + Clone>(
    s: Subject<S>,
) {
    let engine = Engine::new(Arc::new(common::states()), s.store.clone());
    let t = token("cross");
    let event = |seq: u64| EventRequest {
        token: t.clone(),
        tab: String::new(),
        seq,
        handler: "counter.move_to_other".into(),
        args: json!({ "by": 3 }),
        depth: 0,
        context: Default::default(),
    };
    for seq in 1..=2 {
        assert!(matches!(
            engine.process(event(seq)).await,
            Ok(Outcome::Applied { .. })
        ));
    }
    let h = engine.hydrate(&t, "").await.unwrap();
    assert_eq!(h.version, 2);
    assert_eq!(h.state["counter"]["n"], json!(-6));
    assert_eq!(h.state["other"]["m"], json!(6));
}

/// While a streaming handler runs, a hydrate shows what it flushed but does not report its event
/// as applied (the tab keeps it in flight and gets its answer, follow-ups included, at its end).
async fn a_running_streaming_event_is_not_reported_applied_until_it_commits<
    S: StateStore + Clone,
>(
    s: Subject<S>,
) {
    let engine = Arc::new(Engine::new(Arc::new(common::states()), s.store.clone()));
    let t = token("open");
    let event = EventRequest {
        token: t.clone(),
        tab: "tab".into(),
        seq: 1,
        handler: "counter.stream_slowly".into(),
        args: json!({}),
        depth: 0,
        context: Default::default(),
    };
    let running = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.process(event).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let during = engine.hydrate(&t, "tab").await.unwrap();
    assert_eq!(
        (during.version, during.last_seq),
        (1, 0),
        "flushed, still running"
    );
    assert_eq!(during.state["counter"]["n"], json!(1));
    assert!(matches!(
        running.await.unwrap(),
        Ok(Outcome::Applied { version: 2, .. })
    ));
    let after = engine.hydrate(&t, "tab").await.unwrap();
    assert_eq!((after.version, after.last_seq), (2, 1));
    assert_eq!(after.then.len(), 1, "the follow-ups of its end are kept");
}

async fn a_commit_of_no_event_records_no_seq<S: StateStore>(s: Subject<S>) {
    let t = token("no-event");
    let mut feed = s.feed.subscribe(&t).await.unwrap();
    let (_, lease) = s.store.acquire(&t, "tab", &STATES).await.unwrap();
    let event = Commit {
        tab: "tab".into(),
        ..commit(1, 3, &[("counter", "{\"n\":1}")])
    };
    lease.commit(event).await.unwrap();
    // A background task's section: no seq, a version, a delta.
    let (_, lease) = s.store.acquire(&t, "", &STATES).await.unwrap();
    let frame = ServerFrame::Delta {
        version: 2,
        seq: None,
        tab: None,
        delta: Map::new(),
        then: vec![],
    };
    // Named by a tab, so that a seq wrongly written for it would show.
    let section = Commit {
        seq: None,
        tab: "tab".into(),
        frame: frame.encode().into(),
        ..commit(2, 0, &[("counter", "{\"n\":2}")])
    };
    lease.commit(section).await.unwrap();
    let snap = s.store.snapshot(&t, "tab", &STATES).await.unwrap();
    assert_eq!((snap.version, snap.last_seq), (2, 3), "the tab's seq stays");
    assert_eq!(shard(&snap, 0), Some("{\"n\":2}"));
    let untouched = s.store.snapshot(&t, "", &STATES).await.unwrap();
    assert_eq!(untouched.last_seq, 0, "no seq recorded for the empty tab");
    assert_eq!(feed.next().await.unwrap().version, 1);
    let published = feed.next().await.unwrap();
    assert_eq!((published.version, published.seq), (2, None));
}

async fn the_task_registry_keeps_renews_and_expires_tasks<S: StateStore>(s: Subject<S>) {
    let a = format!("[\"{}\",\"s\",\"job\",\"1\"]", token("tasks"));
    let b = format!("[\"{}\",\"s\",\"job\",\"2\"]", token("tasks"));
    let (short, long) = (Duration::ZERO, Duration::from_secs(60));
    let pause = || tokio::time::sleep(Duration::from_millis(5));
    assert!(
        !s.store.keep_task(&a, long, true).await.unwrap(),
        "nothing to renew"
    );
    assert!(s.store.keep_task(&a, short, false).await.unwrap());
    assert!(s.store.keep_task(&b, long, false).await.unwrap());
    pause().await;
    assert_eq!(s.store.expired_tasks(10).await.unwrap(), vec![a.clone()]);
    // A heartbeat pushes the deadline on.
    assert!(s.store.keep_task(&a, long, true).await.unwrap());
    assert_eq!(
        s.store.expired_tasks(10).await.unwrap(),
        Vec::<String>::new()
    );
    assert!(s.store.keep_task(&b, short, true).await.unwrap());
    pause().await;
    assert!(s.store.keep_task(&a, short, true).await.unwrap());
    pause().await;
    assert_eq!(
        s.store.expired_tasks(10).await.unwrap(),
        vec![b.clone(), a.clone()],
        "earliest first"
    );
    assert_eq!(s.store.expired_tasks(1).await.unwrap(), vec![b.clone()]);
    s.store.forget_task(&b).await.unwrap();
    s.store.forget_task(&b).await.unwrap();
    assert!(
        !s.store.keep_task(&b, long, true).await.unwrap(),
        "forgotten"
    );
    assert_eq!(s.store.expired_tasks(10).await.unwrap(), vec![a.clone()]);
    s.store.forget_task(&a).await.unwrap();
    assert_eq!(
        s.store.expired_tasks(10).await.unwrap(),
        Vec::<String>::new()
    );
}

macro_rules! conformance {
    (both: $($both:ident),*; leases: $($leased:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $both() {
                    super::$both(super::memory()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $both() {
                    super::$both(super::redis().await).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $leased() {
                    super::$leased(super::redis().await).await;
                }
            )*
        }
    };
}

conformance!(
    both:
        a_new_token_has_nothing_stored,
        a_commit_writes_shards_version_and_seq_and_publishes_together,
        a_release_writes_and_publishes_nothing,
        the_lock_excludes_other_holders_until_released,
        a_lock_held_past_the_lock_wait_is_busy,
        a_dropped_lease_frees_the_lock,
        an_idle_token_expires_and_a_touched_one_does_not,
        the_engine_applies_each_seq_at_most_once,
        each_tab_numbers_its_own_events,
        a_tabs_last_follow_ups_survive_until_its_next_event,
        a_streaming_handlers_flushes_are_published_commits,
        another_state_is_loaded_and_committed_with_the_handlers,
        a_running_streaming_event_is_not_reported_applied_until_it_commits,
        a_commit_records_the_size_of_all_the_tokens_states,
        a_commit_of_no_event_records_no_seq,
        the_task_registry_keeps_renews_and_expires_tasks;
    leases:
        a_lapsed_lease_is_taken_over_and_its_commit_is_fenced,
        keep_alive_holds_the_lock_past_its_lease,
);
