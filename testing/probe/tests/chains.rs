//! Event chains through the distributed stack (a gateway, worker processes, Redis): each
//! follow-up of a chain applies exactly once, in order, while workers are SIGKILLed between the
//! steps; a chain that never ends stops at the depth limit; bad follow-ups from a page are
//! refused with the state untouched.

mod roles;

use std::time::Duration;

use refract::testing::{Answer, ErrorCode, TestClient};
use refract_proto::ClientFrame;
use refract_test_support::redis::Redis;
use roles::{CHAIN_DEPTH, KillingWorkers, addr, free_port, gateway, worker};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_step_of_every_chain_applies_once_while_workers_are_killed() {
    const CLIENTS: u32 = 6;
    const CHAINS: u32 = 25;
    const LEASE_MS: u64 = 400;
    let redis = Redis::start();
    let stack = KillingWorkers::start(&redis.url, LEASE_MS, 30..150);
    let gw_addr = stack.addr();

    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        clients.spawn(async move {
            let mut c = TestClient::connect(gw_addr, None).await.unwrap();
            let mut toasts = Vec::new();
            for n in 1..=CHAINS {
                let (answers, actions) = c
                    .run_chain("chain_state.first", json!({ "n": n }))
                    .await
                    .unwrap();
                assert_eq!(answers.len(), 3, "chain {n}: {answers:?}");
                assert!(
                    answers.iter().all(|a| !matches!(a, Answer::Error(_))),
                    "chain {n}: {answers:?}"
                );
                toasts.extend(actions.into_iter().map(|a| Value::Object(a.args)));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (c.token, c.tab, toasts)
        });
    }
    let results = clients.join_all().await;
    let (kills, _gateway, _workers) = stack.stop().await;
    eprintln!("{kills} worker kills while {CLIENTS} clients ran {CHAINS} chains of 3 events each");
    assert!(kills >= 5, "only {kills} worker kills happened");

    let expected: Vec<String> = (1..=CHAINS)
        .flat_map(|n| ["a", "b", "c"].map(|step| format!("{n}{step}")))
        .collect();
    for (token, tab, toasts) in &results {
        let c = TestClient::resume(gw_addr, token, tab).await.unwrap();
        assert_eq!(
            c.var("chain_state", "steps"),
            &json!(expected),
            "token {token}"
        );
        assert_eq!(c.last_seq, u64::from(3 * CHAINS));
        // Each chain's closing toast reached the client once, even when the answer of its last
        // step was lost with its worker (the resend's `ack` carries it).
        let said: Vec<&Value> = toasts.iter().map(|t| &t["message"]).collect();
        let wanted: Vec<Value> = (1..=CHAINS)
            .map(|n| json!(format!("chain {n} done")))
            .collect();
        assert_eq!(said, wanted.iter().collect::<Vec<_>>(), "token {token}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_goes_on_after_its_answer_was_lost_with_the_socket() {
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, 5000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();
    let (token, tab) = (c.token.clone(), c.tab.clone());
    // The page sends the chain's first event, which applies, and loses its socket before it
    // handles the answer.
    let first = ClientFrame::Event {
        seq: 1,
        handler: "chain_state.first".into(),
        args: json!({"n": 7}),
        page: None,
        depth: 0,
    };
    c.send(&first).await.unwrap();
    assert!(matches!(c.answer_to(1).await, Ok(Answer::Delta { .. })));
    drop(c);
    let mut c = TestClient::resume(addr(&gw), &token, &tab).await.unwrap();
    assert_eq!(c.last_seq, 1);
    let next = json!([{"handler": "chain_state.second", "args": {"n": 7}}]);
    // The hydrate says what the applied event returned, and so does the ack of its resend.
    assert_eq!(serde_json::to_value(&c.hydrate_then).unwrap(), next);
    let answer = c
        .call_seq(1, "chain_state.first", json!({"n": 7}))
        .await
        .unwrap();
    assert_eq!(answer, Answer::Ack);
    assert_eq!(serde_json::to_value(&c.then).unwrap(), next);
    assert_eq!(c.var("chain_state", "steps"), &json!(["7a"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_past_the_limit_and_bad_follow_ups_are_refused_with_the_state_untouched() {
    let redis = Redis::start();
    let port = free_port();
    let _worker = worker(&redis.url, port, 5000);
    let gw = gateway(&redis.url, &[format!("127.0.0.1:{port}")]);
    let mut c = TestClient::connect(addr(&gw), None).await.unwrap();

    // Depths 0 to the limit − 1 apply; the event at the limit returns another and fails.
    let (answers, _) = c.run_chain("chain_state.forever", json!({})).await.unwrap();
    assert_eq!(answers.len(), CHAIN_DEPTH as usize + 1, "{answers:?}");
    let Some(Answer::Error(stopped)) = answers.last() else {
        panic!("{answers:?}")
    };
    assert_eq!(stopped.code, ErrorCode::ChainTooDeep, "{stopped}");
    assert_eq!(c.var("chain_state", "rounds"), &json!(CHAIN_DEPTH));
    // A page that claims a depth past the limit is refused before the handler runs.
    let seq = c.next_seq();
    let deep = c
        .call_at_depth(seq, "chain_state.first", json!({"n": 1}), CHAIN_DEPTH + 1)
        .await
        .unwrap();
    assert!(
        matches!(&deep, Answer::Error(f) if f.code == ErrorCode::ChainTooDeep),
        "{deep:?}"
    );

    // An action name the runtime does not know reaches the server as an event; so does a
    // script's callback naming a handler that does not exist. Both are refused.
    for handler in ["_bogus", "chain_state.nope"] {
        let answer = c.call(handler, json!({"result": 1})).await.unwrap();
        assert!(
            matches!(&answer, Answer::Error(f) if f.code == ErrorCode::UnknownHandler),
            "{handler}: {answer:?}"
        );
    }
    let again = TestClient::resume(addr(&gw), &c.token, &c.tab)
        .await
        .unwrap();
    assert_eq!(again.version, u64::from(CHAIN_DEPTH));
    assert_eq!(again.var("chain_state", "steps"), &json!([]));
}
