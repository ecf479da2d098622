//! Client storage vars at the server's boundary: a value from the browser that fits its var is
//! taken; one that does not is reported and resets the var to its default (the event is
//! applied, nothing crashes); a handler that would make a cookie larger than a browser keeps is
//! refused with the state unchanged; the reserved method names storage vars only.

use refract::App;
use refract::testing::{Answer, ErrorCode, TestClient};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A state with a cookie var, a local storage var and an ordinary var.
#[derive(refract::State, Default, Serialize, Deserialize)]
pub struct SessionState {
    /// A cookie var with a default of its own.
    #[cookie(name = "sid", max_age = 60)]
    user: Option<String>,
    /// A local storage var.
    #[local_storage(sync)]
    size: u32,
    /// An ordinary var.
    note: String,
}

#[refract::handlers]
impl SessionState {
    /// Sets the cookie var.
    pub fn remember(&mut self, user: String) {
        self.user = Some(user);
    }
}

async fn client() -> (refract::Server, TestClient) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = App::new("t")
        .state::<SessionState>()
        .serve(listener, Default::default())
        .unwrap();
    let client = TestClient::connect(server.addr, None).await.unwrap();
    (server, client)
}

#[tokio::test]
async fn a_browser_value_is_taken_or_reset_to_its_default_when_it_does_not_fit() {
    let (server, mut c) = client().await;
    let set = |var: &str, value: Value| json!({"var": var, "value": value});
    let answer = c
        .call("session_state._storage", set("size", json!(3)))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("session_state", "size"), &json!(3));

    // Not a number: reset, applied, and reported in the browser's console.
    let answer = c
        .call("session_state._storage", set("size", json!("huge")))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(c.var("session_state", "size"), &json!(0));
    let reported = c.then.iter().any(|f| {
        f.handler == "_console_log"
            && f.args["message"]
                .as_str()
                .is_some_and(|m| m.contains("session_state.size"))
    });
    assert!(reported, "{:?}", c.then);

    // Not a number again, while the var is at its default: the delta still carries it, so the
    // browser drops the value it could not keep.
    let answer = c
        .call("session_state._storage", set("size", json!("huge")))
        .await
        .unwrap();
    let Answer::Delta { delta, .. } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(Value::Object(delta), json!({"session_state": {"size": 0}}));

    // `null`: the browser holds nothing, so the var takes its default.
    c.call("session_state.remember", json!({"user": "ada"}))
        .await
        .unwrap();
    c.call("session_state._storage", set("user", Value::Null))
        .await
        .unwrap();
    assert_eq!(c.var("session_state", "user"), &Value::Null);

    for bad in [
        set("note", json!("x")),
        json!({"var": "size"}),
        json!({"value": 1}),
        json!("size"),
    ] {
        let answer = c.call("session_state._storage", bad.clone()).await.unwrap();
        assert!(
            matches!(&answer, Answer::Error(f) if f.code == ErrorCode::BadArguments),
            "{bad}: {answer:?}"
        );
    }
    assert_eq!(c.var("session_state", "note"), &json!(""));
    server.stop();
}

#[tokio::test]
async fn a_cookie_larger_than_a_browser_keeps_is_refused() {
    let (server, mut c) = client().await;
    let answer = c
        .call("session_state.remember", json!({"user": "x".repeat(5000)}))
        .await
        .unwrap();
    let Answer::Error(failure) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(failure.code, ErrorCode::HandlerFailed);
    assert!(
        failure.message.contains("session_state.user"),
        "{failure:?}"
    );
    assert_eq!(c.var("session_state", "user"), &Value::Null, "unchanged");
    server.stop();
}
