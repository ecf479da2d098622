//! The typed failure of one event, as the worker reports it and the browser receives it.

use serde::{Deserialize, Serialize};

/// Why an event was not applied. In every case the token's stored state is as it was before.
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
    /// The event could not be processed: the store was unavailable, the lock was lost, a stored
    /// shard could not be read. The message says which.
    #[error("{0}")]
    Internal(String),
}

impl EventError {
    /// The error code of the frame protocol (`docs/protocol.md`), e.g. `unknown_handler`.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::UnknownHandler(_) => "unknown_handler",
            EventError::BadArguments(_) => "bad_arguments",
            EventError::HandlerFailed(_) => "handler_failed",
            EventError::Internal(_) => "internal",
        }
    }
}
