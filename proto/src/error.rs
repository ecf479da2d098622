//! The wire error codes: the one list of every `code` an `error` frame can carry, and the typed
//! failure ([`Failure`]) that travels from a worker (or the gateway) to the browser.

use std::fmt;

use refract_core::{EventError, FollowUp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every error code of the browser protocol (`docs/protocol.md`), with its wire string.
///
/// The first group is answered by the gateway about a frame; the second by a worker (or the
/// embedded engine) about an event. Whatever the code, an event answered with an error was not
/// applied: the token's state is as before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Not JSON, unknown `type`, a missing or ill-typed field, a binary frame.
    MalformedFrame,
    /// A frame over the size limit.
    FrameTooLarge,
    /// A token the server did not issue.
    InvalidToken,
    /// A `hello` with another token than the socket's.
    TokenMismatch,
    /// An event before `hello` was answered.
    NotReady,
    /// Too many events queued on the socket (a flood), or too many background tasks running on
    /// the server to start another.
    Overloaded,
    /// No registered handler of that name.
    UnknownHandler,
    /// The arguments do not match the handler's parameters.
    BadArguments,
    /// The handler returned an error (or panicked); the message is the handler's.
    HandlerFailed,
    /// The token's lock could not be had within the lock wait: retry later.
    Busy,
    /// The state store (or the delta feed) could not be reached: retry later.
    Unavailable,
    /// The worker lost the token's lock before committing (fenced): retry.
    LockLost,
    /// A stored state cannot be decoded, not even migrated.
    CorruptState,
    /// The event would grow the token's stored state past the size limit.
    StateTooLarge,
    /// The event's seq skips ahead of its tab's last applied seq + 1 (events in between were
    /// never applied): not applied; the runtime resyncs and numbers it again.
    SeqGap,
    /// The event is deeper in its event chain than the limit (`--max-chain-depth`), or returned
    /// follow-ups at the limit: a chain that keeps going (a handler that returns itself), stopped.
    ChainTooDeep,
    /// An upload (`POST /_upload`) over the server's size limit (`--max-upload-bytes`), declared
    /// or found while streaming: refused, nothing kept.
    UploadTooLarge,
    /// An upload request whose headers are missing or malformed (name, size), or whose body
    /// is not as long as it declared.
    MalformedUpload,
    /// An event's argument names an upload the server does not hold for the token: unknown,
    /// expired (`--upload-ttl-secs`), already used by an event, another session's, or kept by
    /// another worker (the worker set changed between the upload and the event).
    UploadNotFound,
    /// An upload (`POST /_upload`) that took longer than its deadline (a grace period plus its
    /// declared size at a minimum rate), or whose client sent nothing for the idle timeout:
    /// cut off, nothing kept.
    UploadTimeout,
    /// An upload (`POST /_upload`) from a page of another origin than the gateway's own (and
    /// `--allowed-origins`): refused before the body is read.
    ForbiddenOrigin,
    /// Anything else: a bug or an unexpected reply.
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the protocol's table.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::MalformedFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::InvalidToken,
        ErrorCode::TokenMismatch,
        ErrorCode::NotReady,
        ErrorCode::Overloaded,
        ErrorCode::UnknownHandler,
        ErrorCode::BadArguments,
        ErrorCode::HandlerFailed,
        ErrorCode::Busy,
        ErrorCode::Unavailable,
        ErrorCode::LockLost,
        ErrorCode::CorruptState,
        ErrorCode::StateTooLarge,
        ErrorCode::SeqGap,
        ErrorCode::ChainTooDeep,
        ErrorCode::UploadTooLarge,
        ErrorCode::MalformedUpload,
        ErrorCode::UploadNotFound,
        ErrorCode::UploadTimeout,
        ErrorCode::ForbiddenOrigin,
        ErrorCode::Internal,
    ];

    /// The code's wire string, e.g. `unknown_handler`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenMismatch => "token_mismatch",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::UnknownHandler => "unknown_handler",
            ErrorCode::BadArguments => "bad_arguments",
            ErrorCode::HandlerFailed => "handler_failed",
            ErrorCode::Busy => "busy",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::LockLost => "lock_lost",
            ErrorCode::CorruptState => "corrupt_state",
            ErrorCode::StateTooLarge => "state_too_large",
            ErrorCode::SeqGap => "seq_gap",
            ErrorCode::ChainTooDeep => "chain_too_deep",
            ErrorCode::UploadTooLarge => "upload_too_large",
            ErrorCode::MalformedUpload => "malformed_upload",
            ErrorCode::UploadNotFound => "upload_not_found",
            ErrorCode::UploadTimeout => "upload_timeout",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code of a wire string; `None` for a string that is no code.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// What the browser is told for a failure of this code whose detail is the platform's own
    /// (a Redis client's message, a decode error, an address): a message for users, while the
    /// detail goes to the logs. `None` for codes whose message is meant for the page (the app's
    /// own errors, the refusal of a frame).
    pub fn public_message(self) -> Option<&'static str> {
        match self {
            ErrorCode::Busy => Some("This session is busy; the event will be retried."),
            ErrorCode::Unavailable => Some("The server cannot be reached right now; retrying."),
            ErrorCode::LockLost => Some("The event was interrupted; it will be retried."),
            ErrorCode::CorruptState => Some("This session's saved state cannot be read."),
            ErrorCode::Internal => Some("Something went wrong on the server."),
            _ => None,
        }
    }

    /// Whether the same event, resent unchanged (same seq) a little later, may succeed: the
    /// failure was the platform's (lock contention, store or worker unreachable, fenced), not the
    /// event's. The browser runtime resends these with backoff; it shows the others.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Busy | ErrorCode::Unavailable | ErrorCode::LockLost
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ErrorCode::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{s}`")))
    }
}

/// Why an event (or a hydrate) was not done: a code and a message for people, and what the
/// browser should do about it. The token's stored state is as before it.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct Failure {
    /// What kind of failure.
    pub code: ErrorCode,
    /// For people; never parsed.
    pub message: String,
    /// Client actions (or events) the app's error hook chose for the failed event (a toast, by
    /// default): the browser runs them as it would a handler's follow-ups. Empty for the
    /// platform's own failures.
    pub then: Vec<FollowUp>,
}

impl Failure {
    /// A failure of `code` saying `message`, with nothing for the browser to run.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            then: Vec::new(),
        }
    }

    /// Whether the failure is the app's (its handler, its arguments, its state) rather than the
    /// platform's or the protocol's: what the app's error hook is asked about.
    pub fn is_apps(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::UnknownHandler
                | ErrorCode::BadArguments
                | ErrorCode::HandlerFailed
                | ErrorCode::ChainTooDeep
                | ErrorCode::UploadNotFound
                | ErrorCode::StateTooLarge
                | ErrorCode::CorruptState
        )
    }
}

impl From<EventError> for Failure {
    fn from(e: EventError) -> Self {
        let code = match &e {
            EventError::UnknownHandler(_) => ErrorCode::UnknownHandler,
            EventError::BadArguments(_) => ErrorCode::BadArguments,
            EventError::HandlerFailed(_) => ErrorCode::HandlerFailed,
        };
        Failure::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_distinct_string_that_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        assert_eq!(ErrorCode::parse("nope"), None);
        assert!(serde_json::from_str::<ErrorCode>("\"nope\"").is_err());
    }

    #[test]
    fn the_platforms_own_failures_get_a_message_for_users() {
        for code in ErrorCode::ALL {
            let public = code.public_message().is_some();
            let platform =
                code.retryable() || matches!(code, ErrorCode::CorruptState | ErrorCode::Internal);
            assert_eq!(public, platform, "{code}");
        }
    }

    #[test]
    fn only_platform_failures_are_retryable() {
        let retryable: Vec<_> = ErrorCode::ALL
            .into_iter()
            .filter(|c| c.retryable())
            .collect();
        assert_eq!(
            retryable,
            [ErrorCode::Busy, ErrorCode::Unavailable, ErrorCode::LockLost]
        );
    }

    #[test]
    fn app_errors_keep_their_code_and_message() {
        let f = Failure::from(EventError::UnknownHandler("a.b".into()));
        assert_eq!(f.code, ErrorCode::UnknownHandler);
        assert_eq!(f.message, "no handler `a.b`");
        let f = Failure::from(EventError::HandlerFailed("nope".into()));
        assert_eq!(
            (f.code, f.message.as_str()),
            (ErrorCode::HandlerFailed, "nope")
        );
    }
}
