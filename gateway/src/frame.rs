//! The frames of `docs/protocol.md`: parsing what the browser sends, writing what it receives.

use refract_worker::Hydration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A frame from the browser.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Start (or resync) with a token, or `None` to be issued one.
    Hello {
        /// The token kept by the tab.
        token: Option<String>,
    },
    /// Run a handler.
    Event {
        /// The per-token sequence number (≥ 1).
        seq: u64,
        /// `state_name.method`.
        handler: String,
        /// Arguments by parameter name.
        #[serde(default)]
        args: Value,
    },
}

/// Why a frame was refused at the gateway (before any worker saw it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not JSON, unknown `type`, missing or ill-typed fields, binary frames.
    MalformedFrame,
    /// Over the size limit.
    FrameTooLarge,
    /// A token the server did not issue.
    InvalidToken,
    /// A `hello` with another token than the socket's.
    TokenMismatch,
    /// An event before `hello`.
    NotReady,
    /// Too many events queued on the socket.
    Overloaded,
    /// Event arguments that are not an object.
    BadArguments,
}

impl Rejection {
    /// The protocol's error code.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::MalformedFrame => "malformed_frame",
            Rejection::FrameTooLarge => "frame_too_large",
            Rejection::InvalidToken => "invalid_token",
            Rejection::TokenMismatch => "token_mismatch",
            Rejection::NotReady => "not_ready",
            Rejection::Overloaded => "overloaded",
            Rejection::BadArguments => "bad_arguments",
        }
    }
}

/// Parses one text frame; the error text says what is wrong.
pub fn parse(text: &str) -> Result<ClientFrame, String> {
    let frame: ClientFrame = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let ClientFrame::Event { seq: 0, .. } = frame {
        return Err("`seq` starts at 1".to_owned());
    }
    Ok(frame)
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Hydrate {
        token: &'a str,
        version: u64,
        last_seq: u64,
        state: &'a Map<String, Value>,
    },
    Ack {
        seq: u64,
    },
    Error {
        seq: Option<u64>,
        code: &'a str,
        message: &'a str,
    },
}

fn to_text(frame: &ServerFrame<'_>) -> String {
    serde_json::to_string(frame).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","seq":null,"code":"internal","message":"frame encoding failed: {e}"}}"#)
    })
}

/// The `hydrate` frame.
pub fn hydrate(token: &str, h: &Hydration) -> String {
    to_text(&ServerFrame::Hydrate {
        token,
        version: h.version,
        last_seq: h.last_seq,
        state: &h.state,
    })
}

/// The `ack` frame of a duplicate event.
pub fn ack(seq: u64) -> String {
    to_text(&ServerFrame::Ack { seq })
}

/// An `error` frame.
pub fn error(seq: Option<u64>, code: &str, message: &str) -> String {
    to_text(&ServerFrame::Error { seq, code, message })
}

/// The `version` of a published delta frame, if it is one.
pub fn delta_version(frame: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u64,
    }
    serde_json::from_str::<Versioned>(frame)
        .ok()
        .map(|v| v.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_protocol_frames() {
        assert_eq!(
            parse(r#"{"type":"hello","token":null}"#),
            Ok(ClientFrame::Hello { token: None })
        );
        assert_eq!(
            parse(r#"{"type":"event","seq":3,"handler":"s.h","args":{"n":1}}"#),
            Ok(ClientFrame::Event {
                seq: 3,
                handler: "s.h".into(),
                args: json!({"n": 1})
            })
        );
        assert_eq!(
            parse(r#"{"type":"event","seq":3,"handler":"s.h"}"#),
            Ok(ClientFrame::Event {
                seq: 3,
                handler: "s.h".into(),
                args: Value::Null
            })
        );
    }

    #[test]
    fn rejects_malformed_frames_with_a_reason() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"type":"nope"}"#,
            r#"{"type":"event","seq":-1,"handler":"a.b"}"#,
            r#"{"type":"event","seq":0,"handler":"a.b"}"#,
            r#"{"type":"event","handler":"a.b"}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn writes_server_frames() {
        let v: Value = serde_json::from_str(&error(Some(2), "bad_arguments", "x \"y\"")).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "seq": 2, "code": "bad_arguments", "message": "x \"y\""})
        );
        assert_eq!(ack(4), r#"{"type":"ack","seq":4}"#);
        assert_eq!(
            delta_version(r#"{"type":"delta","version":9,"seq":null,"delta":{}}"#),
            Some(9)
        );
        assert_eq!(delta_version("nope"), None);
    }
}
