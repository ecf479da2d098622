//! The contract's types as gRPC messages of `refract.v1` and back: what the worker's server and the
//! gateway's client both use, so a message is read and written in one place.
//!
//! Failures travel in-band (`EventError` in a reply), so a gRPC status always means the transport
//! failed (the gateway then tries another worker), never that the store or the handler did.

use std::sync::Arc;

use refract_core::{ClientHeaders, EventContext, FollowUp, PageContext};
use serde_json::Value;

use crate::error::{ErrorCode, Failure};
use crate::processor::{EventRequest, Hydration, Outcome, UploadRequest, Uploaded};
use crate::v1;

impl From<ErrorCode> for v1::ErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::MalformedFrame => v1::ErrorCode::MalformedFrame,
            ErrorCode::FrameTooLarge => v1::ErrorCode::FrameTooLarge,
            ErrorCode::InvalidToken => v1::ErrorCode::InvalidToken,
            ErrorCode::TokenMismatch => v1::ErrorCode::TokenMismatch,
            ErrorCode::NotReady => v1::ErrorCode::NotReady,
            ErrorCode::Overloaded => v1::ErrorCode::Overloaded,
            ErrorCode::UnknownHandler => v1::ErrorCode::UnknownHandler,
            ErrorCode::BadArguments => v1::ErrorCode::BadArguments,
            ErrorCode::HandlerFailed => v1::ErrorCode::HandlerFailed,
            ErrorCode::Busy => v1::ErrorCode::Busy,
            ErrorCode::Unavailable => v1::ErrorCode::Unavailable,
            ErrorCode::LockLost => v1::ErrorCode::LockLost,
            ErrorCode::CorruptState => v1::ErrorCode::CorruptState,
            ErrorCode::StateTooLarge => v1::ErrorCode::StateTooLarge,
            ErrorCode::SeqGap => v1::ErrorCode::SeqGap,
            ErrorCode::ChainTooDeep => v1::ErrorCode::ChainTooDeep,
            ErrorCode::UploadTooLarge => v1::ErrorCode::UploadTooLarge,
            ErrorCode::MalformedUpload => v1::ErrorCode::MalformedUpload,
            ErrorCode::UploadNotFound => v1::ErrorCode::UploadNotFound,
            ErrorCode::UploadTimeout => v1::ErrorCode::UploadTimeout,
            ErrorCode::ForbiddenOrigin => v1::ErrorCode::ForbiddenOrigin,
            ErrorCode::Internal => v1::ErrorCode::Internal,
        }
    }
}

impl From<v1::ErrorCode> for ErrorCode {
    /// `UNSPECIFIED` (a peer that set no code) reads as [`ErrorCode::Internal`].
    fn from(code: v1::ErrorCode) -> Self {
        match code {
            v1::ErrorCode::MalformedFrame => ErrorCode::MalformedFrame,
            v1::ErrorCode::FrameTooLarge => ErrorCode::FrameTooLarge,
            v1::ErrorCode::InvalidToken => ErrorCode::InvalidToken,
            v1::ErrorCode::TokenMismatch => ErrorCode::TokenMismatch,
            v1::ErrorCode::NotReady => ErrorCode::NotReady,
            v1::ErrorCode::Overloaded => ErrorCode::Overloaded,
            v1::ErrorCode::UnknownHandler => ErrorCode::UnknownHandler,
            v1::ErrorCode::BadArguments => ErrorCode::BadArguments,
            v1::ErrorCode::HandlerFailed => ErrorCode::HandlerFailed,
            v1::ErrorCode::Busy => ErrorCode::Busy,
            v1::ErrorCode::Unavailable => ErrorCode::Unavailable,
            v1::ErrorCode::LockLost => ErrorCode::LockLost,
            v1::ErrorCode::CorruptState => ErrorCode::CorruptState,
            v1::ErrorCode::StateTooLarge => ErrorCode::StateTooLarge,
            v1::ErrorCode::SeqGap => ErrorCode::SeqGap,
            v1::ErrorCode::ChainTooDeep => ErrorCode::ChainTooDeep,
            v1::ErrorCode::UploadTooLarge => ErrorCode::UploadTooLarge,
            v1::ErrorCode::MalformedUpload => ErrorCode::MalformedUpload,
            v1::ErrorCode::UploadNotFound => ErrorCode::UploadNotFound,
            v1::ErrorCode::UploadTimeout => ErrorCode::UploadTimeout,
            v1::ErrorCode::ForbiddenOrigin => ErrorCode::ForbiddenOrigin,
            v1::ErrorCode::Internal | v1::ErrorCode::Unspecified => ErrorCode::Internal,
        }
    }
}

impl From<Failure> for v1::EventError {
    fn from(f: Failure) -> Self {
        v1::EventError {
            code: v1::ErrorCode::from(f.code) as i32,
            message: f.message,
            then_json: follow_ups_json(&f.then),
        }
    }
}

impl From<v1::EventError> for Failure {
    /// A code this build does not know (a newer peer) reads as [`ErrorCode::Internal`]; follow-ups
    /// that do not read are dropped (the failure itself still reaches the browser).
    fn from(e: v1::EventError) -> Self {
        let code = v1::ErrorCode::try_from(e.code).map_or(ErrorCode::Internal, ErrorCode::from);
        Failure {
            then: read_follow_ups(&e.then_json).unwrap_or_default(),
            ..Failure::new(code, e.message)
        }
    }
}

fn garbled(what: &str) -> Failure {
    Failure::new(ErrorCode::Internal, format!("the worker sent {what}"))
}

/// The message of `event`.
pub fn event_request(event: &EventRequest) -> v1::EventRequest {
    v1::EventRequest {
        token: event.token.clone(),
        seq: event.seq,
        handler: event.handler.clone(),
        args_json: if event.args.is_null() {
            String::new()
        } else {
            event.args.to_string()
        },
        tab: event.tab.clone(),
        client: Some(client_context(&event.context)),
        depth: event.depth,
    }
}

/// The client part of `cx` (its session and tab travel as the request's token and tab; its
/// route is the worker's to find, from the page's path).
fn client_context(cx: &EventContext) -> v1::ClientContext {
    let EventContext {
        session: _,
        tab: _,
        route: _,
        params: _,
        page,
        client_ip,
        headers,
        received_at_ms,
    } = cx;
    v1::ClientContext {
        path: page.path.clone(),
        query: page.query.clone(),
        ip: client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        user_agent: headers.user_agent.clone(),
        accept_language: headers.accept_language.clone(),
        cookie: headers.cookie.clone(),
        received_at_ms: *received_at_ms,
    }
}

/// The context of a client message: an address that does not parse counts as unknown.
fn event_context(client: v1::ClientContext) -> EventContext {
    EventContext {
        session: String::new(),
        tab: String::new(),
        page: PageContext {
            path: client.path,
            query: client.query,
        },
        client_ip: client.ip.parse().ok(),
        headers: ClientHeaders {
            user_agent: client.user_agent,
            accept_language: client.accept_language,
            cookie: client.cookie,
        },
        received_at_ms: client.received_at_ms,
        ..EventContext::default()
    }
}

/// The event of a request message.
///
/// # Errors
/// [`ErrorCode::Internal`] for an empty token or seq 0 (the gateway checks both first);
/// [`ErrorCode::BadArguments`] when the arguments are not JSON.
pub fn event(request: v1::EventRequest) -> Result<EventRequest, Failure> {
    if request.seq == 0 || request.token.is_empty() {
        return Err(Failure::new(
            ErrorCode::Internal,
            "an event needs a token and a seq >= 1",
        ));
    }
    let args = if request.args_json.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&request.args_json).map_err(|e| {
            Failure::new(
                ErrorCode::BadArguments,
                format!("arguments are not JSON: {e}"),
            )
        })?
    };
    Ok(EventRequest {
        token: request.token,
        tab: request.tab,
        seq: request.seq,
        handler: request.handler,
        args,
        depth: request.depth,
        context: request.client.map(event_context).unwrap_or_default(),
    })
}

/// The reply message of a processed event.
pub fn event_reply(result: Result<Outcome, Failure>) -> v1::EventReply {
    use v1::event_reply::Outcome as O;
    let outcome = match result {
        Ok(Outcome::Applied { version, frame }) => O::Applied(v1::Applied {
            version,
            frame: frame.to_string(),
        }),
        Ok(Outcome::Duplicate { then }) => O::Duplicate(v1::Duplicate {
            then_json: follow_ups_json(&then),
        }),
        Err(f) => O::Error(f.into()),
    };
    v1::EventReply {
        outcome: Some(outcome),
    }
}

/// The result an event reply stands for.
///
/// # Errors
/// The worker's [`Failure`]; [`ErrorCode::Internal`] for an empty reply.
pub fn outcome(reply: v1::EventReply) -> Result<Outcome, Failure> {
    use v1::event_reply::Outcome as O;
    match reply.outcome {
        Some(O::Applied(a)) => Ok(Outcome::Applied {
            version: a.version,
            frame: Arc::from(a.frame),
        }),
        Some(O::Duplicate(d)) => Ok(Outcome::Duplicate {
            then: read_follow_ups(&d.then_json)?,
        }),
        Some(O::Error(e)) => Err(e.into()),
        None => Err(garbled("an empty event reply")),
    }
}

/// The first message of an upload's stream: its header.
pub fn upload_header(request: &UploadRequest) -> v1::UploadChunk {
    v1::UploadChunk {
        part: Some(v1::upload_chunk::Part::Header(v1::UploadHeader {
            token: request.token.clone(),
            name: request.name.clone(),
            content_type: request.content_type.clone(),
            size: request.size,
        })),
    }
}

/// The upload request of a stream's first message.
///
/// # Errors
/// `malformed_upload` when it is not a header, or names no token.
pub fn upload_request(first: Option<v1::UploadChunk>) -> Result<UploadRequest, Failure> {
    match first.and_then(|c| c.part) {
        Some(v1::upload_chunk::Part::Header(h)) if !h.token.is_empty() => Ok(UploadRequest {
            token: h.token,
            name: h.name,
            content_type: h.content_type,
            size: h.size,
        }),
        _ => Err(Failure::new(
            ErrorCode::MalformedUpload,
            "an upload stream must start with its header",
        )),
    }
}

/// The reply message of an upload.
pub fn upload_reply(result: Result<Uploaded, Failure>) -> v1::UploadReply {
    use v1::upload_reply::Outcome as O;
    let outcome = match result {
        Ok(u) => O::Uploaded(v1::UploadedFile {
            id: u.id,
            name: u.name,
            content_type: u.content_type,
            size: u.size,
        }),
        Err(f) => O::Error(f.into()),
    };
    v1::UploadReply {
        outcome: Some(outcome),
    }
}

/// The result an upload reply stands for.
///
/// # Errors
/// The worker's [`Failure`]; [`ErrorCode::Internal`] for an empty reply.
pub fn uploaded(reply: v1::UploadReply) -> Result<Uploaded, Failure> {
    use v1::upload_reply::Outcome as O;
    match reply.outcome {
        Some(O::Uploaded(u)) => Ok(Uploaded {
            id: u.id,
            name: u.name,
            content_type: u.content_type,
            size: u.size,
        }),
        Some(O::Error(e)) => Err(e.into()),
        None => Err(garbled("an empty upload reply")),
    }
}

/// The reply message of a hydrate.
pub fn hydrate_reply(result: Result<Hydration, Failure>) -> v1::HydrateReply {
    match result {
        Ok(h) => v1::HydrateReply {
            version: h.version,
            last_seq: h.last_seq,
            state_json: Value::Object(h.state).to_string(),
            error: None,
            then_json: follow_ups_json(&h.then),
        },
        Err(f) => v1::HydrateReply {
            error: Some(f.into()),
            ..Default::default()
        },
    }
}

/// The [`Hydration`] a hydrate reply stands for.
///
/// # Errors
/// The worker's [`Failure`]; [`ErrorCode::Internal`] for a state that is not a JSON object.
pub fn hydration(reply: v1::HydrateReply) -> Result<Hydration, Failure> {
    if let Some(e) = reply.error {
        return Err(e.into());
    }
    Ok(Hydration {
        version: reply.version,
        last_seq: reply.last_seq,
        state: serde_json::from_str(&reply.state_json)
            .map_err(|e| garbled(&format!("an unreadable state: {e}")))?,
        then: read_follow_ups(&reply.then_json)?,
    })
}

/// Follow-ups as a message's `then_json`: a JSON array, or empty for none.
fn follow_ups_json(then: &[FollowUp]) -> String {
    if then.is_empty() {
        String::new()
    } else {
        serde_json::to_string(then).unwrap_or_default()
    }
}

/// The follow-ups of a message's `then_json` (empty: none).
fn read_follow_ups(json: &str) -> Result<Vec<FollowUp>, Failure> {
    if json.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(json).map_err(|e| garbled(&format!("unreadable follow-ups: {e}")))
}

/// The reply message of a touch.
pub fn touch_reply(result: Result<(), Failure>) -> v1::TouchReply {
    v1::TouchReply {
        error: result.err().map(Into::into),
    }
}

/// The result a touch reply stands for.
///
/// # Errors
/// The worker's [`Failure`].
pub fn touched(reply: v1::TouchReply) -> Result<(), Failure> {
    reply.error.map_or(Ok(()), |e| Err(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn every_code_crosses_grpc_unchanged() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from(v1::ErrorCode::from(code)), code);
        }
        assert_eq!(
            ErrorCode::from(v1::ErrorCode::Unspecified),
            ErrorCode::Internal
        );
        let unknown = v1::EventError {
            code: 9999,
            message: "m".into(),
            then_json: String::new(),
        };
        assert_eq!(Failure::from(unknown).code, ErrorCode::Internal);
    }

    #[test]
    fn events_and_their_outcomes_round_trip() {
        let e = EventRequest {
            token: "t".into(),
            tab: "tab".into(),
            seq: 3,
            handler: "s.h".into(),
            args: json!({"n": 1}),
            depth: 2,
            context: EventContext {
                page: PageContext {
                    path: "/posts/7".into(),
                    query: "a=1".into(),
                },
                client_ip: Some("2001:db8::1".parse().unwrap()),
                headers: ClientHeaders {
                    user_agent: Some("test".into()),
                    accept_language: None,
                    cookie: Some("a=b".into()),
                },
                received_at_ms: 1_700_000_000_123,
                ..EventContext::default()
            },
        };
        assert_eq!(event(event_request(&e)).unwrap(), e);
        let none = EventRequest {
            args: Value::Null,
            ..e.clone()
        };
        assert_eq!(event(event_request(&none)).unwrap(), none);
        let mut bad = event_request(&e);
        bad.args_json = "{".into();
        assert_eq!(event(bad).unwrap_err().code, ErrorCode::BadArguments);
        let mut zero = event_request(&e);
        zero.seq = 0;
        assert_eq!(event(zero).unwrap_err().code, ErrorCode::Internal);

        let results = [
            Ok(Outcome::Applied {
                version: 2,
                frame: "f".into(),
            }),
            Ok(Outcome::Duplicate { then: vec![] }),
            Ok(Outcome::Duplicate { then: follow_ups() }),
            Err(Failure::new(ErrorCode::Busy, "later")),
            Err(Failure {
                then: follow_ups(),
                ..Failure::new(ErrorCode::HandlerFailed, "nope")
            }),
        ];
        for r in results {
            assert_eq!(outcome(event_reply(r.clone())), r);
        }
        assert_eq!(
            outcome(v1::EventReply { outcome: None }).unwrap_err().code,
            ErrorCode::Internal
        );
    }

    fn follow_ups() -> Vec<FollowUp> {
        vec![
            FollowUp {
                handler: "s.next".into(),
                args: Map::from_iter([("n".to_owned(), json!(2))]),
            },
            FollowUp {
                handler: "_toast".into(),
                args: Map::new(),
            },
        ]
    }

    #[test]
    fn touches_round_trip() {
        assert_eq!(touched(touch_reply(Ok(()))), Ok(()));
        let down = Failure::new(ErrorCode::Unavailable, "redis down");
        assert_eq!(touched(touch_reply(Err(down.clone()))), Err(down));
    }

    #[test]
    fn hydrations_and_their_failures_round_trip() {
        let h = Hydration {
            version: 4,
            last_seq: 2,
            state: Map::from_iter([("s".to_owned(), json!({"n": 1}))]),
            then: vec![],
        };
        assert_eq!(hydration(hydrate_reply(Ok(h.clone()))).unwrap(), h);
        let chained = Hydration {
            then: follow_ups(),
            ..h.clone()
        };
        assert_eq!(
            hydration(hydrate_reply(Ok(chained.clone()))).unwrap(),
            chained
        );
        let down = Failure::new(ErrorCode::Unavailable, "redis down");
        assert_eq!(
            hydration(hydrate_reply(Err(down.clone()))).unwrap_err(),
            down
        );
        let garbage = v1::HydrateReply {
            version: 1,
            state_json: "[]".into(),
            ..Default::default()
        };
        assert_eq!(hydration(garbage).unwrap_err().code, ErrorCode::Internal);
    }

    #[test]
    fn uploads_travel_as_a_header_then_a_reply() {
        let request = UploadRequest {
            token: "T".into(),
            name: "a b.pdf".into(),
            content_type: "application/pdf".into(),
            size: 3,
        };
        assert_eq!(
            upload_request(Some(upload_header(&request))).unwrap(),
            request
        );
        let data = v1::UploadChunk {
            part: Some(v1::upload_chunk::Part::Data(bytes::Bytes::from_static(
                b"x",
            ))),
        };
        for bad in [None, Some(data), Some(v1::UploadChunk { part: None })] {
            assert_eq!(
                upload_request(bad).unwrap_err().code,
                ErrorCode::MalformedUpload
            );
        }
        let done = Uploaded {
            id: "0".repeat(32),
            name: "a b.pdf".into(),
            content_type: "application/pdf".into(),
            size: 3,
        };
        assert_eq!(uploaded(upload_reply(Ok(done.clone()))).unwrap(), done);
        let big = Failure::new(ErrorCode::UploadTooLarge, "over 1 KiB");
        assert_eq!(uploaded(upload_reply(Err(big.clone()))).unwrap_err(), big);
        assert_eq!(
            uploaded(v1::UploadReply { outcome: None })
                .unwrap_err()
                .code,
            ErrorCode::Internal
        );
    }
}
