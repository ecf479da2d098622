//! The GitHub-profile app against a fake GitHub API on loopback, over the real protocol.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::routing::get;
use refract::testing::{Answer, TestClient};
use serde_json::{Value, json};

/// A fake of `GET /users/{name}`: `octocat` exists, `broken` fails, everyone else is 404.
async fn fake_github() -> std::net::SocketAddr {
    let app = Router::new().route(
        "/users/{name}",
        get(|Path(name): Path<String>| async move {
            match name.as_str() {
                "octocat" => Ok((
                    [(header::CONTENT_TYPE, "application/json")],
                    json!({
                        "login": "octocat",
                        "name": "The Octocat",
                        "avatar_url": "https://avatars.example/u/583231",
                        "html_url": "https://github.example/octocat",
                        "followers": 1,
                    })
                    .to_string(),
                )),
                "broken" => Err(StatusCode::INTERNAL_SERVER_ERROR),
                _ => Err(StatusCode::NOT_FOUND),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn shows_a_profile_and_says_when_a_user_does_not_exist() {
    let api = fake_github().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = github::app_with_api(&format!("http://{api}"))
        .serve(listener, Default::default())
        .unwrap();
    let mut c = TestClient::connect(server.addr, None).await.unwrap();
    let var = |c: &TestClient, v: &str| c.var("github_state", v).clone();

    let answer = c
        .call("github_state.set_user", json!({"user": " octocat "}))
        .await
        .unwrap();
    assert!(matches!(answer, Answer::Delta { .. }), "{answer:?}");
    assert_eq!(
        var(&c, "avatar_url"),
        json!("https://avatars.example/u/583231")
    );
    assert_eq!(
        var(&c, "profile_url"),
        json!("https://github.example/octocat")
    );
    assert_eq!(var(&c, "name"), json!("The Octocat"));
    assert_eq!(var(&c, "message"), Value::Null);

    c.call("github_state.set_user", json!({"user": "nobody-here"}))
        .await
        .unwrap();
    assert_eq!(var(&c, "message"), json!("User `nobody-here` not found"));
    assert_eq!(
        var(&c, "avatar_url"),
        Value::Null,
        "the old profile is cleared"
    );

    c.call("github_state.set_user", json!({"user": "broken"}))
        .await
        .unwrap();
    let message = var(&c, "message");
    assert!(
        message
            .as_str()
            .unwrap()
            .starts_with("GitHub could not be reached"),
        "{message}"
    );

    c.call("github_state.set_user", json!({"user": "../etc/passwd"}))
        .await
        .unwrap();
    assert_eq!(
        var(&c, "message"),
        json!("`../etc/passwd` is not a GitHub user name")
    );
    server.stop();
}
