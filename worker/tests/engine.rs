//! The engine over the memory store: deltas of changed and computed vars, exactly once per seq,
//! failures that leave the state as it was, backend vars stored but never sent, corrupt shards.

mod common;

use std::sync::Arc;

use refract_proto::{ErrorCode, EventRequest, Hydration, Outcome, Processor};
use refract_worker::{Commit, Engine, MemoryStore, StateStore};
use serde_json::{Value, json};

fn engine() -> Engine<Arc<MemoryStore>> {
    Engine::new(Arc::new(common::states()), Arc::new(MemoryStore::new()))
}

fn event(seq: u64, handler: &str, args: Value) -> EventRequest {
    EventRequest {
        token: "t".into(),
        tab: String::new(),
        seq,
        handler: handler.into(),
        args,
        depth: 0,
        context: Default::default(),
    }
}

async fn state_of(e: &Engine<Arc<MemoryStore>>) -> Hydration {
    e.hydrate("t", "").await.unwrap()
}

#[tokio::test]
async fn applies_with_a_delta_of_changed_and_computed_vars() {
    let e = engine();
    let Outcome::Applied { version, frame } = e
        .process(event(1, "counter.add", json!({"by": 2})))
        .await
        .unwrap()
    else {
        panic!("not applied")
    };
    assert_eq!(version, 1);
    let frame: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(
        frame,
        json!({"type": "delta", "version": 1, "seq": 1, "delta": {"counter": {"n": 2, "double": 4}}})
    );
    let h = state_of(&e).await;
    assert_eq!((h.version, h.last_seq), (1, 1));
    assert_eq!(h.state["counter"], json!({"n": 2, "double": 4}));
}

#[tokio::test]
async fn a_sequence_number_is_applied_once() {
    let e = engine();
    e.process(event(1, "counter.add", json!({"by": 1})))
        .await
        .unwrap();
    assert_eq!(
        e.process(event(1, "counter.add", json!({"by": 1})))
            .await
            .unwrap(),
        Outcome::Duplicate { then: vec![] }
    );
    assert_eq!(state_of(&e).await.state["counter"]["n"], json!(1));
}

#[tokio::test]
async fn a_chain_stops_at_its_depth_limit_with_the_state_untouched() {
    let e = engine().max_chain_depth(3);
    let at = |seq, depth| EventRequest {
        depth,
        ..event(seq, "counter.forever", json!({}))
    };
    for (seq, depth) in (1..).zip(0..3) {
        let applied = e.process(at(seq, depth)).await.unwrap();
        assert!(matches!(applied, Outcome::Applied { .. }), "{applied:?}");
    }
    // At the limit, returning a follow-up fails the event; past it, the event is refused.
    for depth in [3, 4] {
        let failure = e.process(at(4, depth)).await.unwrap_err();
        assert_eq!(failure.code, ErrorCode::ChainTooDeep, "{failure}");
        assert!(failure.message.contains("limit of 3"), "{failure}");
    }
    let h = state_of(&e).await;
    assert_eq!((h.version, h.last_seq), (3, 3));
    assert_eq!(h.state["counter"]["n"], json!(3));
    // At the limit, an event that returns nothing, or client actions only, still applies.
    let last = EventRequest {
        depth: 3,
        ..event(4, "counter.add", json!({"by": 1}))
    };
    assert!(matches!(e.process(last).await, Ok(Outcome::Applied { .. })));
    let toast_only = EventRequest {
        depth: 3,
        ..event(5, "counter.notify", json!({}))
    };
    assert!(matches!(
        e.process(toast_only).await,
        Ok(Outcome::Applied { .. })
    ));
}

#[tokio::test]
async fn a_download_goes_in_the_delta_but_is_not_kept_for_a_resend() {
    let e = engine();
    let Outcome::Applied { frame, .. } = e
        .process(event(1, "counter.export", json!({})))
        .await
        .unwrap()
    else {
        panic!("applied")
    };
    let frame: Value = serde_json::from_str(&frame).unwrap();
    let handlers: Vec<&str> = frame["then"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["handler"].as_str().unwrap())
        .collect();
    assert_eq!(handlers, ["_download", "counter.add"]);
    let Outcome::Duplicate { then } = e
        .process(event(1, "counter.export", json!({})))
        .await
        .unwrap()
    else {
        panic!("a resend is a duplicate")
    };
    assert_eq!(
        serde_json::to_value(then).unwrap(),
        json!([{"handler": "counter.add", "args": {"by": 1}}])
    );
}

#[tokio::test]
async fn a_follow_up_that_cannot_run_fails_its_event() {
    let e = engine();
    for (handler, says) in [
        ("counter.dangling", "`counter.nope`, which does not exist"),
        ("counter.expression", "argument `by` = `x`"),
        (
            "counter.dangling_callback",
            "callback \"counter.nope\" is no handler",
        ),
    ] {
        let failure = e.process(event(1, handler, json!({}))).await.unwrap_err();
        assert_eq!(failure.code, ErrorCode::HandlerFailed, "{failure}");
        assert!(failure.message.contains(says), "{failure}");
    }
    let h = state_of(&e).await;
    assert_eq!((h.version, h.state["counter"]["n"].clone()), (0, json!(0)));
}

#[tokio::test]
async fn failures_leave_the_state_untouched() {
    let e = engine();
    e.process(event(1, "counter.add", json!({"by": 5})))
        .await
        .unwrap();
    let before = state_of(&e).await;
    let cases = [
        (
            event(2, "counter.nope", json!({})),
            ErrorCode::UnknownHandler,
        ),
        (event(2, "other.add", json!({})), ErrorCode::UnknownHandler),
        (
            event(2, "counter.add", json!({"by": "x"})),
            ErrorCode::BadArguments,
        ),
        (
            event(2, "counter.fail", json!({})),
            ErrorCode::HandlerFailed,
        ),
        (
            event(2, "counter.panic", json!({})),
            ErrorCode::HandlerFailed,
        ),
    ];
    for (ev, code) in cases {
        let err = e.process(ev).await.unwrap_err();
        assert_eq!(err.code, code, "{err}");
        assert_eq!(state_of(&e).await, before);
    }
    // The failed events did not consume seq 2: it still applies.
    assert!(matches!(
        e.process(event(2, "counter.add", json!({"by": 1})))
            .await
            .unwrap(),
        Outcome::Applied { version: 2, .. }
    ));
}

#[tokio::test]
async fn a_backend_change_is_stored_but_not_sent() {
    let e = engine();
    let Outcome::Applied { frame, .. } = e
        .process(event(1, "counter.touch_secret", Value::Null))
        .await
        .unwrap()
    else {
        panic!("not applied")
    };
    assert!(frame.contains("\"delta\":{}"), "{frame}");
    let stored = e.store().snapshot("t", "", &["counter"]).await.unwrap();
    let stored: Value = serde_json::from_slice(stored.shards[0].as_deref().unwrap()).unwrap();
    assert_eq!(stored["secret"], json!(1));
    assert!(state_of(&e).await.state["counter"].get("secret").is_none());
}

/// Stores `bytes` as the token's `counter` shard, as an older deploy (or damage) left it.
async fn store_shard(e: &Engine<Arc<MemoryStore>>, bytes: &[u8]) {
    let (_, lease) = e.store().acquire("t", "", &["counter"]).await.unwrap();
    let old = Commit {
        changed: vec![("counter".into(), bytes.to_vec())],
        tab: String::new(),
        stored_bytes: bytes.len() as u64,
        seq: Some(1),
        version: 1,
        then: None,
        replaces_then: false,
        closes_stream: false,
        frame: "{}".into(),
    };
    lease.commit(old).await.unwrap();
}

#[tokio::test]
async fn a_shard_that_no_longer_decodes_keeps_what_does_and_defaults_the_rest() {
    let e = engine();
    // `secret` changed type and `gone` was removed since this shard was written.
    store_shard(&e, br#"{"n": 5, "secret": "text", "gone": true}"#).await;
    let h = e.hydrate("t", "").await.unwrap();
    assert_eq!(h.state["counter"], json!({"n": 5, "double": 10}));
    let Outcome::Applied { version, .. } = e
        .process(event(2, "counter.add", json!({"by": 1})))
        .await
        .unwrap()
    else {
        panic!("not applied");
    };
    assert_eq!(version, 2);
    // The commit stored the migrated state, which decodes as it is now.
    let stored = e.store().snapshot("t", "", &["counter"]).await.unwrap();
    let stored: Value = serde_json::from_slice(stored.shards[0].as_deref().unwrap()).unwrap();
    assert_eq!(stored, json!({"n": 6, "secret": 0}));
}

#[tokio::test]
async fn a_shard_that_is_not_even_json_is_reset_to_the_default() {
    let e = engine();
    store_shard(&e, b"\x00 not json").await;
    let h = e.hydrate("t", "").await.unwrap();
    assert_eq!(h.state["counter"], json!({"n": 0, "double": 0}));
    assert!(matches!(
        e.process(event(2, "counter.add", json!({"by": 3}))).await,
        Ok(Outcome::Applied { version: 2, .. })
    ));
    assert_eq!(state_of(&e).await.state["counter"]["n"], json!(3));
}

#[tokio::test]
async fn an_event_that_would_outgrow_the_size_limit_is_refused_and_changes_nothing() {
    // `{"n":1,"secret":0}` is 18 bytes; `{"n":100,"secret":0}` 20.
    let e =
        Engine::new(Arc::new(common::states()), Arc::new(MemoryStore::new())).max_state_bytes(19);
    assert!(matches!(
        e.process(event(1, "counter.add", json!({"by": 1}))).await,
        Ok(Outcome::Applied { version: 1, .. })
    ));
    let err = e
        .process(event(2, "counter.add", json!({"by": 99})))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StateTooLarge, "{err}");
    let h = state_of(&e).await;
    assert_eq!((h.version, h.last_seq), (1, 1));
    assert_eq!(h.state["counter"]["n"], json!(1));
    // A smaller change still applies.
    assert!(
        e.process(event(2, "counter.add", json!({"by": 1})))
            .await
            .is_ok()
    );
}

/// A runtime for the property tests, whose cases are synchronous.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Whatever bytes a token's shard holds, reading it gives a state (migrated if it must be),
    /// never a panic or a bricked token, and the next event applies.
    #[test]
    fn any_stored_bytes_read_as_a_state(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), n in -5i64..5) {
        let shard = if n > 0 { format!(r#"{{"n": {n}, "secret": {bytes:?}}}"#).into_bytes() } else { bytes };
        block_on(async {
            let e = engine();
            store_shard(&e, &shard).await;
            let h = e.hydrate("t", "").await.unwrap();
            proptest::prop_assert!(h.state["counter"]["n"].is_i64());
            let applied = e.process(event(2, "counter.add", json!({"by": 1}))).await;
            proptest::prop_assert!(matches!(applied, Ok(Outcome::Applied { version: 2, .. })), "{:?}", applied);
            Ok(())
        })?;
    }

    /// Whatever arguments an event carries, it applies or fails as `bad_arguments` (or
    /// `handler_failed`: the test handler's `n += by` overflows and panics), and a failed one
    /// leaves the state as it was.
    #[test]
    fn any_arguments_apply_or_are_refused(by in proptest::option::of(proptest::prelude::any::<i64>()), extra in proptest::option::of(".{0,8}"), text in proptest::option::of(".{0,8}")) {
        let mut args = serde_json::Map::new();
        if let Some(by) = by { args.insert("by".into(), json!(by)); }
        if let Some(extra) = extra { args.insert(extra, json!(1)); }
        if let Some(text) = text { args.insert("by".into(), json!(text)); }
        block_on(async {
            let e = engine();
            e.process(event(1, "counter.add", json!({"by": 1}))).await.unwrap();
            let before = state_of(&e).await;
            match e.process(event(2, "counter.add", Value::Object(args))).await {
                Ok(Outcome::Applied { .. }) => {}
                Ok(other) => proptest::prop_assert!(false, "{:?}", other),
                Err(f) => {
                    proptest::prop_assert!(
                        matches!(f.code, ErrorCode::BadArguments | ErrorCode::HandlerFailed),
                        "{}", f
                    );
                    proptest::prop_assert_eq!(state_of(&e).await, before);
                }
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_computed_var_that_panics_fails_the_event_not_the_worker() {
    let e = engine();
    e.process(event(1, "counter.add", json!({"by": 1})))
        .await
        .unwrap();
    // `double` is `n * 2`: past i64::MAX / 2 it overflows, after the handler ran.
    let err = e
        .process(event(2, "counter.add", json!({"by": i64::MAX / 2 + 1})))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::HandlerFailed, "{err}");
    assert_eq!(state_of(&e).await.state["counter"]["n"], json!(1));
    // A stored state whose computed var panics fails its hydrate, nothing else.
    store_shard(
        &e,
        format!(r#"{{"n": {}, "secret": 0}}"#, i64::MAX).as_bytes(),
    )
    .await;
    let err = e.hydrate("t", "").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::HandlerFailed, "{err}");
}

/// The follow-ups a failure carries, as JSON.
fn then_of(failure: &refract_proto::Failure) -> Value {
    serde_json::to_value(&failure.then).unwrap()
}

fn error_toast(message: &str) -> Value {
    json!([{"handler": "_toast", "args": {"level": "error", "message": message}}])
}

#[tokio::test]
async fn an_apps_failure_carries_a_toast_generic_detailed_or_the_apps_own() {
    use refract_worker::engine::{ErrorActions, GENERIC_ERROR};
    let failing = || event(1, "counter.fail", json!({}));
    let generic = engine().process(failing()).await.unwrap_err();
    assert_eq!(then_of(&generic), error_toast(GENERIC_ERROR));
    let detailed = engine()
        .error_actions(ErrorActions::Detailed)
        .process(failing())
        .await
        .unwrap_err();
    assert_eq!(then_of(&detailed), error_toast("nope"));
    let own = engine().error_actions(ErrorActions::Hook(Arc::new(|f| {
        vec![refract_core::actions::console_log(format!(
            "{}: {}",
            f.code, f.message
        ))]
    })));
    let hooked = own.process(failing()).await.unwrap_err();
    assert_eq!(
        then_of(&hooked),
        json!([{"handler": "_console_log", "args": {"message": "handler_failed: nope"}}])
    );
    // A hook's events are dropped (one failing in turn would call the hook again): actions only.
    let eventful = engine().error_actions(ErrorActions::Hook(Arc::new(|_| {
        vec![
            refract_core::EventSpec::new("counter.add"),
            refract_core::actions::toast("kept"),
        ]
    })));
    let failure = eventful.process(failing()).await.unwrap_err();
    assert_eq!(
        then_of(&failure),
        json!([{"handler": "_toast", "args": {"level": "info", "message": "kept"}}])
    );
    // A hook that panics gets the generic toast; one returning what cannot run, nothing.
    let panics = engine().error_actions(ErrorActions::Hook(Arc::new(|_| panic!("hook"))));
    let failure = panics.process(failing()).await.unwrap_err();
    assert_eq!(then_of(&failure), error_toast(GENERIC_ERROR));
    let dangling = engine().error_actions(ErrorActions::Hook(Arc::new(|_| {
        vec![refract_core::EventSpec::new("counter.nope")]
    })));
    assert!(
        dangling
            .process(failing())
            .await
            .unwrap_err()
            .then
            .is_empty()
    );
    // Other app failures get it too; the state is untouched whatever the hook says.
    let unknown = engine()
        .process(event(1, "counter.nope", json!({})))
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::UnknownHandler);
    assert_eq!(then_of(&unknown), error_toast(GENERIC_ERROR));
    assert_eq!(state_of(&own).await.version, 0);
}

#[tokio::test]
async fn the_platforms_failures_carry_nothing_to_run() {
    let e = engine().error_actions(refract_worker::engine::ErrorActions::Detailed);
    e.process(event(1, "counter.add", json!({"by": 1})))
        .await
        .unwrap();
    let gap = e
        .process(event(3, "counter.add", json!({"by": 1})))
        .await
        .unwrap_err();
    assert_eq!(gap.code, ErrorCode::SeqGap);
    assert!(gap.then.is_empty());
}

#[tokio::test]
async fn a_streaming_handler_publishes_each_flush_then_answers_the_event() {
    use futures_util::StreamExt;
    use refract_proto::DeltaFeed;
    let store = Arc::new(MemoryStore::new());
    let e = Engine::new(Arc::new(common::states()), store.clone());
    let mut feed = store.subscribe("t").await.unwrap();
    let Outcome::Applied { version, .. } = e
        .process(event(1, "counter.stream", json!({"by": 3})))
        .await
        .unwrap()
    else {
        panic!("applied")
    };
    assert_eq!(
        version, 4,
        "three flushes and the final commit each bump the version"
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        let published = feed.next().await.unwrap();
        let frame: Value = serde_json::from_str(&published.frame).unwrap();
        seen.push((
            published.version,
            published.seq,
            frame["delta"]["counter"]["n"].clone(),
        ));
    }
    assert_eq!(
        seen,
        [
            (1, None, json!(1)),
            (2, None, json!(2)),
            (3, None, json!(3)),
            (4, Some(1), json!(103)),
        ],
        "the flushes answer no event; the final commit does"
    );
    let h = state_of(&e).await;
    assert_eq!((h.version, h.last_seq), (4, 1));
    assert_eq!(h.state["counter"]["n"], json!(103));
    assert!(matches!(
        e.process(event(1, "counter.stream", json!({"by": 3})))
            .await,
        Ok(Outcome::Duplicate { .. })
    ));
}

#[tokio::test]
async fn a_streaming_handler_that_fails_after_flushing_is_applied_up_to_its_last_flush() {
    let e = engine();
    let Outcome::Applied { version, frame } = e
        .process(event(1, "counter.stream_fail", json!({})))
        .await
        .unwrap()
    else {
        panic!("applied from its first flush")
    };
    // One flush (the second had nothing new), then the answer: the flushed state, the toast.
    assert_eq!(version, 2);
    let frame: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(frame["seq"], json!(1));
    assert_eq!(frame["then"][0]["handler"], json!("_toast"));
    let h = state_of(&e).await;
    assert_eq!((h.last_seq, h.state["counter"]["n"].clone()), (1, json!(1)));
    // The tab's next event takes the next seq, as after any applied event.
    assert!(matches!(
        e.process(event(2, "counter.add", json!({"by": 1}))).await,
        Ok(Outcome::Applied { version: 3, .. })
    ));
}

#[tokio::test]
async fn a_handler_changes_another_state_in_the_same_commit_and_delta() {
    let e = engine();
    let Outcome::Applied { version, frame } = e
        .process(event(1, "counter.move_to_other", json!({"by": 5})))
        .await
        .unwrap()
    else {
        panic!("applied")
    };
    assert_eq!(version, 1, "one commit for both states");
    let frame: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(frame["delta"]["counter"]["n"], json!(-5));
    assert_eq!(frame["delta"]["other"]["m"], json!(5));
    let h = state_of(&e).await;
    assert_eq!(
        (
            h.state["counter"]["n"].clone(),
            h.state["other"]["m"].clone()
        ),
        (json!(-5), json!(5))
    );
    // Its next event loads it again from the store.
    e.process(event(2, "counter.move_to_other", json!({"by": 1})))
        .await
        .unwrap();
    assert_eq!(state_of(&e).await.state["other"]["m"], json!(6));
}

#[tokio::test]
async fn a_failure_after_changing_two_states_leaves_both_as_they_were() {
    let e = engine();
    e.process(event(1, "counter.move_to_other", json!({"by": 2})))
        .await
        .unwrap();
    let failure = e
        .process(event(2, "counter.move_then_fail", json!({"by": 7})))
        .await
        .unwrap_err();
    assert_eq!(failure.code, ErrorCode::HandlerFailed);
    let h = state_of(&e).await;
    assert_eq!(
        (
            h.version,
            h.state["counter"]["n"].clone(),
            h.state["other"]["m"].clone()
        ),
        (1, json!(-2), json!(2))
    );
    // The handler's own state is `self`, not another.
    let own = e
        .process(event(2, "counter.ask_own", json!({})))
        .await
        .unwrap_err();
    assert!(own.message.contains("the handler's own state"), "{own}");
}

#[tokio::test]
async fn a_panic_in_another_states_code_fails_the_event_not_the_worker() {
    let e = engine();
    let failure = e
        .process(event(1, "counter.move_to_other", json!({"by": 13})))
        .await
        .unwrap_err();
    assert_eq!(failure.code, ErrorCode::HandlerFailed, "{failure}");
    let h = state_of(&e).await;
    assert_eq!((h.version, h.state["counter"]["n"].clone()), (0, json!(0)));
}

#[tokio::test]
async fn a_guard_that_outlives_its_handler_after_a_flush_still_answers_the_event_as_applied() {
    let e = engine();
    let Outcome::Applied { version, frame } = e
        .process(event(1, "counter.leak_guard", json!({})))
        .await
        .unwrap()
    else {
        panic!("applied from its flush")
    };
    assert_eq!(version, 2);
    let frame: Value = serde_json::from_str(&frame).unwrap();
    assert_eq!(
        frame["seq"],
        json!(1),
        "answered, so the tab numbers its next event on"
    );
    assert_eq!(state_of(&e).await.state["counter"]["n"], json!(1));
}
