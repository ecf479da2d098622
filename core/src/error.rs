//! The typed failure of one event handler call, as the app model knows it. The wire codes these
//! become (and the platform's own failures: store unavailable, lock lost, …) are the contract's
//! (`refract_proto::ErrorCode`).

use serde::{Deserialize, Serialize};

/// Why an event handler call was not applied. In every case the token's stored state is as it was
/// before.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", content = "message", rename_all = "snake_case")]
pub enum EventError {
    /// No registered handler has this name (`state_name.method`).
    #[error("no handler `{0}`")]
    UnknownHandler(String),
    /// The arguments do not match the handler's parameters (missing, extra or wrongly typed).
    #[error("{0}")]
    BadArguments(String),
    /// The handler returned an error; the message is the handler's.
    #[error("{0}")]
    HandlerFailed(String),
}
