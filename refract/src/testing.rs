//! Testing an app over the real protocol (feature `testing`): [`TestClient`] speaks the frames of
//! `docs/protocol.md` to a running server, as the browser runtime does, and keeps the state it was
//! sent. It is the protocol client Refract's own tests and load tests use.
//!
//! ```no_run
//! # async fn demo(app: refract::App) -> Result<(), refract::testing::ClientError> {
//! use refract::testing::{Answer, TestClient};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let server = app.serve(listener, Default::default()).unwrap();
//! let mut client = TestClient::connect(server.addr, None).await?;
//! let answer = client.call("counter_state.add", serde_json::json!({"n": 2})).await?;
//! assert!(matches!(answer, Answer::Delta { .. }));
//! assert_eq!(client.var("counter_state", "count"), &serde_json::json!(2));
//! # Ok(())
//! # }
//! ```

pub use refract_proto::{ErrorCode, Failure, ServerFrame};
pub use refract_test_support::client::{Answer, Client as TestClient, ClientError, ClientOptions};
