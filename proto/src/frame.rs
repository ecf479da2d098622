//! The browser frames of `docs/protocol.md`: [`ClientFrame`] (what the browser sends) and
//! [`ServerFrame`] (what it receives), each parsed and encoded here and nowhere else.

use refract_core::{FollowUp, PageContext};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, Failure};

/// A frame from the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Start (or resync) with a token, or `None` to be issued one.
    Hello {
        /// The token kept by the tab.
        token: Option<String>,
        /// The tab: an id the runtime makes at each page load (1–32 of `A-Za-z0-9_-`). Tabs that
        /// share a token ("Duplicate tab" copies it) number their events each on their own, so
        /// their numbers never collide; `None` is the one unnamed tab.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tab: Option<String>,
        /// The page the tab shows (its path and query), for handlers' [`refract_core::EventContext`]; `None`
        /// from a client that does not say.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<PageContext>,
    },
    /// Run a handler.
    Event {
        /// The per-token sequence number (≥ 1).
        seq: u64,
        /// `state_name.method`.
        handler: String,
        /// Arguments by parameter name: an object, or `null` for none.
        #[serde(default)]
        args: Value,
        /// The page the event came from, when it changed since the tab last said (`hello` or an
        /// earlier event): the runtime sends it after client-side navigation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<PageContext>,
        /// The event's depth in its event chain: 0 (left out) for an event a trigger queued,
        /// the answered event's depth + 1 for a follow-up.
        #[serde(default, skip_serializing_if = "is_zero")]
        depth: u32,
    },
    /// A page's rendering failed (its error boundary caught it): the gateway logs and counts it;
    /// no answer. Valid before `hello` too.
    ClientError {
        /// The error's message.
        message: String,
        /// Where it happened (a JavaScript stack, React's component stack), if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stack: Option<String>,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The longest page path or query string accepted, in bytes (each).
pub const MAX_PAGE_BYTES: usize = 4096;

/// Whether `page` is a location the protocol accepts: a path starting with `/`, and a path and
/// query of at most [`MAX_PAGE_BYTES`] each.
fn valid_page(page: &PageContext) -> bool {
    page.path.starts_with('/')
        && page.path.len() <= MAX_PAGE_BYTES
        && page.query.len() <= MAX_PAGE_BYTES
}

/// The largest `seq` accepted: 2^53 − 1, the largest integer a JavaScript number (and a Lua number
/// in Redis's scripts) holds exactly.
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// The longest tab id accepted, in bytes.
pub const MAX_TAB_BYTES: usize = 32;

/// Whether `tab` is a tab id the protocol accepts.
pub fn valid_tab(tab: &str) -> bool {
    (1..=MAX_TAB_BYTES).contains(&tab.len())
        && tab
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A client frame the gateway refuses: the failure to answer, and the event's seq when the frame
/// was recognisably an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The seq of the refused event, if the frame got that far.
    pub seq: Option<u64>,
    /// Why: [`ErrorCode::MalformedFrame`] or [`ErrorCode::BadArguments`].
    pub failure: Failure,
}

impl ClientFrame {
    /// Parses one text frame.
    ///
    /// # Errors
    /// [`Rejected`] with [`ErrorCode::MalformedFrame`] (not JSON, unknown `type`, a missing or
    /// ill-typed field, `seq` 0) or [`ErrorCode::BadArguments`] (`args` neither an object nor
    /// `null`), the message saying what is wrong.
    pub fn parse(text: &str) -> Result<ClientFrame, Rejected> {
        let malformed = |message: String| Rejected {
            seq: None,
            failure: Failure::new(ErrorCode::MalformedFrame, message),
        };
        let frame: ClientFrame =
            serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if let ClientFrame::Hello { tab: Some(tab), .. } = &frame
            && !valid_tab(tab)
        {
            return Err(malformed(format!(
                "`tab` is 1 to {MAX_TAB_BYTES} characters of A-Z, a-z, 0-9, `-` and `_`"
            )));
        }
        // A location past the limits is dropped, not refused: a refused `hello` would keep such
        // a page from ever connecting. Its handlers see the page the socket last named.
        let mut frame = frame;
        if let ClientFrame::Hello { page, .. } | ClientFrame::Event { page, .. } = &mut frame
            && page.as_ref().is_some_and(|p| !valid_page(p))
        {
            *page = None;
        }
        if let ClientFrame::Event {
            seq, handler, args, ..
        } = &frame
        {
            if *seq == 0 || *seq > MAX_SEQ {
                return Err(malformed(format!("`seq` is 1 to {MAX_SEQ}")));
            }
            if !(args.is_object() || args.is_null()) {
                return Err(Rejected {
                    seq: Some(*seq),
                    failure: Failure::new(
                        ErrorCode::BadArguments,
                        format!(
                            "handler `{handler}`: `args` must be an object keyed by parameter name"
                        ),
                    ),
                });
            }
        }
        Ok(frame)
    }

    /// The frame as JSON text.
    pub fn encode(&self) -> String {
        // A frame of strings, integers and JSON values always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A frame to the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The token's full state: the answer to `hello`, and a resync after a gap.
    Hydrate {
        /// The token the socket uses.
        token: String,
        /// The state's version.
        version: u64,
        /// The last applied event sequence number (0 when none).
        last_seq: u64,
        /// `{state_name: {var: value}}`: frontend and computed vars of every state.
        state: Map<String, Value>,
        /// The follow-ups of the tab's last applied event, which the runtime runs only if it
        /// had that event in flight (its answer was lost).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        then: Vec<FollowUp>,
    },
    /// What one commit changed.
    Delta {
        /// The state's version after the commit.
        version: u64,
        /// The event the commit answers, or `None` for a change no client's event caused.
        seq: Option<u64>,
        /// The tab that numbered that event (`None`: the unnamed tab). A tab takes a delta as the
        /// answer to its event only when both `tab` and `seq` are its own: tabs sharing a token
        /// get each other's deltas.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tab: Option<String>,
        /// `{state_name: {var: value}}`: only what changed.
        delta: Map<String, Value>,
        /// The answered event's follow-ups (event handler calls and client actions), which its
        /// tab runs next, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        then: Vec<FollowUp>,
    },
    /// The event `seq` had already been applied; it was not run again.
    Ack {
        /// The event.
        seq: u64,
        /// Its follow-ups, when the server still has them (it was the tab's last applied event).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        then: Vec<FollowUp>,
    },
    /// A failure: of the event `seq`, or of a frame that was no valid event (`None`).
    Error {
        /// The event it answers, if any.
        seq: Option<u64>,
        /// What kind of failure.
        code: ErrorCode,
        /// For people.
        message: String,
        /// Whether the event should be resent unchanged (same seq) after a backoff
        /// ([`ErrorCode::retryable`]): the browser runtime does so rather than show the error.
        #[serde(default)]
        retryable: bool,
        /// The trace id of the failure (when traces are exported), to find its detail.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<String>,
        /// What the app's error hook asks the browser to do (a toast, by default), run as a
        /// handler's follow-ups would be.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        then: Vec<FollowUp>,
    },
}

impl ServerFrame {
    /// The `error` frame of `failure`, answering event `seq` if given: the failure's message, or,
    /// for the platform's own failures, [`ErrorCode::public_message`] (the caller logs the detail,
    /// with the `trace` id it puts in the frame).
    pub fn error(seq: Option<u64>, failure: Failure, trace: Option<String>) -> ServerFrame {
        let message = match failure.code.public_message() {
            Some(public) => public.to_owned(),
            None => failure.message,
        };
        ServerFrame::Error {
            seq,
            code: failure.code,
            message,
            retryable: failure.code.retryable(),
            trace,
            then: failure.then,
        }
    }

    /// The frame as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| ENCODING_FAILED.to_owned())
    }

    /// Parses a frame a server sent.
    ///
    /// # Errors
    /// When `text` is not one of the frames.
    pub fn parse(text: &str) -> Result<ServerFrame, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The `version`, `seq` and `tab` of an encoded `delta` frame (the published form of a commit),
/// read without decoding its vars (they are skipped, not built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaHeader {
    /// The state version the commit made.
    pub version: u64,
    /// The event the commit answers, if any.
    pub seq: Option<u64>,
    /// The tab that numbered that event.
    pub tab: Option<String>,
}

/// The header of an encoded `delta` frame; `None` when `text` is no delta frame.
pub fn delta_header(text: &str) -> Option<DeltaHeader> {
    #[derive(Deserialize)]
    struct Header<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
        version: u64,
        #[serde(default)]
        seq: Option<u64>,
        #[serde(default)]
        tab: Option<String>,
    }
    serde_json::from_str::<Header<'_>>(text)
        .ok()
        .filter(|h| h.kind == "delta")
        .map(|h| DeltaHeader {
            version: h.version,
            seq: h.seq,
            tab: h.tab,
        })
}

/// The `seq` of a client `event` frame too large to be parsed as a frame (its arguments are
/// skipped, not built), so that the refusal can answer the event and the browser's queue moves
/// on; `None` when the frame has no readable `seq`.
pub fn event_seq(text: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Numbered {
        seq: u64,
    }
    serde_json::from_str::<Numbered>(text)
        .ok()
        .map(|n| n.seq)
        .filter(|seq| *seq > 0)
}

/// What [`ServerFrame::encode`] sends should serialisation ever fail (it cannot for these types).
const ENCODING_FAILED: &str = r#"{"type":"error","seq":null,"code":"internal","message":"frame encoding failed","retryable":false}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_encodes_the_client_frames() {
        let hello = ClientFrame::parse(r#"{"type":"hello","token":null}"#).unwrap();
        assert_eq!(
            hello,
            ClientFrame::Hello {
                token: None,
                tab: None,
                page: None
            }
        );
        assert_eq!(ClientFrame::parse(&hello.encode()).unwrap(), hello);
        let tabbed = ClientFrame::parse(r#"{"type":"hello","token":"t","tab":"a-1_Z"}"#).unwrap();
        assert_eq!(ClientFrame::parse(&tabbed.encode()).unwrap(), tabbed);
        let event =
            ClientFrame::parse(r#"{"type":"event","seq":3,"handler":"s.h","args":{"n":1}}"#)
                .unwrap();
        assert_eq!(
            event,
            ClientFrame::Event {
                seq: 3,
                handler: "s.h".into(),
                args: json!({"n": 1}),
                page: None,
                depth: 0
            }
        );
        assert_eq!(ClientFrame::parse(&event.encode()).unwrap(), event);
        assert!(!event.encode().contains("depth"), "{}", event.encode());
        let chained =
            ClientFrame::parse(r#"{"type":"event","seq":4,"handler":"s.h","depth":3}"#).unwrap();
        assert!(matches!(chained, ClientFrame::Event { depth: 3, .. }));
        assert_eq!(ClientFrame::parse(&chained.encode()).unwrap(), chained);
        assert_eq!(
            ClientFrame::parse(r#"{"type":"event","seq":3,"handler":"s.h"}"#).unwrap(),
            ClientFrame::Event {
                seq: 3,
                handler: "s.h".into(),
                args: Value::Null,
                page: None,
                depth: 0
            }
        );
        let located = ClientFrame::parse(
            r#"{"type":"hello","token":"t","page":{"path":"/posts/7","query":"a=1"}}"#,
        )
        .unwrap();
        assert!(
            matches!(&located, ClientFrame::Hello { page: Some(p), .. } if p.path == "/posts/7" && p.query == "a=1")
        );
        assert_eq!(ClientFrame::parse(&located.encode()).unwrap(), located);
        // A location past the limits (or not from `/`) is dropped; the frame stands.
        let long = format!(
            r#"{{"type":"hello","token":null,"page":{{"path":"/","query":"{}"}}}}"#,
            "q".repeat(MAX_PAGE_BYTES + 1)
        );
        for text in [
            long.as_str(),
            r#"{"type":"hello","token":null,"page":{"path":"no-slash"}}"#,
        ] {
            assert!(
                matches!(
                    ClientFrame::parse(text),
                    Ok(ClientFrame::Hello { page: None, .. })
                ),
                "{text}"
            );
        }
        assert!(matches!(
            ClientFrame::parse(r#"{"type":"hello","token":null,"page":{"path":"/"}}"#),
            Ok(ClientFrame::Hello { page: Some(p), .. }) if p.query.is_empty()
        ));
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
            r#"{"type":"event","seq":9007199254740992,"handler":"a.b"}"#,
            r#"{"type":"hello","token":null,"tab":""}"#,
            r#"{"type":"hello","token":null,"tab":"a b"}"#,
            r#"{"type":"hello","token":null,"tab":"0123456789012345678901234567890123"}"#,
            r#"{"type":"event","seq":1,"handler":"a.b","page":{"path":7,"query":""}}"#,
        ] {
            let rejected = ClientFrame::parse(bad).unwrap_err();
            assert_eq!(rejected.seq, None, "{bad}");
            assert_eq!(rejected.failure.code, ErrorCode::MalformedFrame, "{bad}");
            assert!(!rejected.failure.message.is_empty(), "{bad}");
        }
        let rejected = ClientFrame::parse(r#"{"type":"event","seq":4,"handler":"a.b","args":[1]}"#)
            .unwrap_err();
        assert_eq!(rejected.seq, Some(4));
        assert_eq!(rejected.failure.code, ErrorCode::BadArguments);
    }

    #[test]
    fn reads_the_seq_of_an_event_without_its_arguments() {
        let big = format!(
            r#"{{"type":"event","handler":"s.h","args":{{"x":"{}"}},"seq":12}}"#,
            "y".repeat(10_000)
        );
        assert_eq!(event_seq(&big), Some(12));
        assert_eq!(event_seq(r#"{"type":"event","seq":0}"#), None);
        assert_eq!(event_seq("xxxx"), None);
    }

    #[test]
    fn encodes_and_parses_the_server_frames() {
        let error = ServerFrame::error(
            Some(2),
            Failure::new(ErrorCode::BadArguments, "x \"y\""),
            None,
        );
        let v: Value = serde_json::from_str(&error.encode()).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "seq": 2, "code": "bad_arguments", "message": "x \"y\"", "retryable": false})
        );
        let toasted = Failure {
            then: vec![refract_core::FollowUp {
                handler: "_toast".into(),
                args: Map::from_iter([("message".to_owned(), json!("nope"))]),
            }],
            ..Failure::new(ErrorCode::HandlerFailed, "nope")
        };
        let frame = ServerFrame::error(Some(2), toasted, None).encode();
        assert!(
            frame.ends_with(r#""then":[{"handler":"_toast","args":{"message":"nope"}}]}"#),
            "{frame}"
        );
        let busy = ServerFrame::error(Some(3), Failure::new(ErrorCode::Busy, "later"), None);
        assert!(
            busy.encode().contains(r#""retryable":true"#),
            "{}",
            busy.encode()
        );
        let internal = Failure::new(ErrorCode::Unavailable, "redis 10.0.0.7:6379: refused");
        let frame = ServerFrame::error(Some(4), internal, Some("abc".into())).encode();
        assert!(!frame.contains("10.0.0.7"), "{frame}");
        assert!(frame.contains(r#""trace":"abc""#), "{frame}");
        assert_eq!(
            ServerFrame::Ack {
                seq: 4,
                then: vec![]
            }
            .encode(),
            r#"{"type":"ack","seq":4}"#
        );
        let delta = ServerFrame::Delta {
            version: 9,
            seq: None,
            tab: None,
            delta: Map::new(),
            then: vec![],
        };
        assert_eq!(
            delta_header(&delta.encode()),
            Some(DeltaHeader {
                version: 9,
                seq: None,
                tab: None
            })
        );
        let answer = ServerFrame::Delta {
            version: 10,
            seq: Some(4),
            tab: None,
            delta: Map::new(),
            then: vec![refract_core::FollowUp {
                handler: "_toast".into(),
                args: Map::from_iter([("message".to_owned(), json!("hi"))]),
            }],
        };
        assert_eq!(delta_header(&answer.encode()).unwrap().seq, Some(4));
        assert!(
            answer
                .encode()
                .contains(r#""then":[{"handler":"_toast","args":{"message":"hi"}}]"#),
            "{}",
            answer.encode()
        );
        assert_eq!(ServerFrame::parse(&answer.encode()).unwrap(), answer);
        assert_eq!(ServerFrame::parse(&delta.encode()).unwrap(), delta);
        let hydrate = ServerFrame::Hydrate {
            token: "t".into(),
            version: 1,
            last_seq: 1,
            state: Map::from_iter([("s".to_owned(), json!({"n": 1}))]),
            then: vec![],
        };
        assert_eq!(ServerFrame::parse(&hydrate.encode()).unwrap(), hydrate);
        assert_eq!(delta_header(&hydrate.encode()), None);
        assert_eq!(delta_header("nope"), None);
        assert_eq!(delta_header(r#"{"type":"ack","version":3}"#), None);
        assert!(ServerFrame::parse(ENCODING_FAILED).is_ok());
        assert!(
            ServerFrame::parse(r#"{"type":"error","seq":null,"code":"nope","message":""}"#)
                .is_err()
        );
    }

    /// Arbitrary JSON values, nested a few levels; `floats`: with non-integral numbers (which
    /// serde_json, without its `float_roundtrip` feature, may read back a last digit off).
    fn json_value(floats: bool) -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let mut leaves = vec![
            Just(Value::Null).boxed(),
            any::<bool>().prop_map(Value::from).boxed(),
            any::<i64>().prop_map(Value::from).boxed(),
            ".{0,12}".prop_map(Value::from).boxed(),
        ];
        if floats {
            let float = any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
            leaves.push(float.boxed());
        }
        let leaf = proptest::strategy::Union::new(leaves);
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever a client sends, parsing answers a frame or a typed refusal, never a panic;
        /// the readers of big frames' headers too.
        #[test]
        fn any_text_is_a_frame_or_a_refusal(text in ".{0,300}") {
            if let Err(rejected) = ClientFrame::parse(&text) {
                proptest::prop_assert!(matches!(
                    rejected.failure.code,
                    ErrorCode::MalformedFrame | ErrorCode::BadArguments
                ));
            }
            let _ = event_seq(&text);
            let _ = delta_header(&text);
            let _ = ServerFrame::parse(&text);
        }

        /// Frames shaped like the protocol's, with any JSON where a value goes.
        #[test]
        fn any_json_in_an_event_is_parsed_or_refused(seq in proptest::prelude::any::<u64>(), args in json_value(true), handler in ".{0,20}") {
            let text = serde_json::json!({"type": "event", "seq": seq, "handler": handler, "args": args}).to_string();
            match ClientFrame::parse(&text) {
                Ok(frame) => {
                    proptest::prop_assert!((1..=MAX_SEQ).contains(&seq));
                    proptest::prop_assert_eq!(ClientFrame::parse(&frame.encode()).unwrap(), frame);
                }
                Err(rejected) => proptest::prop_assert!(
                    seq == 0 || seq > MAX_SEQ || rejected.failure.code == ErrorCode::BadArguments
                ),
            }
        }

        /// What a server sends, a client reads back as it was.
        #[test]
        fn server_frames_round_trip(version in proptest::prelude::any::<u64>(), seq in proptest::option::of(1..=MAX_SEQ), vars in json_value(false)) {
            let delta = Map::from_iter([("s".to_owned(), vars)]);
            let frame = ServerFrame::Delta { version, seq, tab: None, delta, then: vec![] };
            let text = frame.encode();
            proptest::prop_assert_eq!(delta_header(&text), Some(DeltaHeader { version, seq, tab: None }));
            proptest::prop_assert_eq!(ServerFrame::parse(&text).unwrap(), frame);
        }
    }
}
