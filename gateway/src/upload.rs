//! `POST /_upload`: one file the browser uploads before the event that uses it.
//!
//! The request's body is the file; its headers say what it is:
//!
//! * `X-Refract-Token`: the client's token (the one its socket said `hello` with), verified as
//!   `hello`'s is;
//! * `X-Refract-File-Name`: the file's name, percent-encoded UTF-8 (sanitised by the processor);
//! * `Content-Type`: its media type (optional);
//! * `Content-Length`: its size in bytes (required: the body must be exactly that long).
//!
//! The body is streamed to [`Processor::upload`](refract_proto::Processor::upload) as it arrives,
//! never held whole: in distributed mode it goes on to the token's worker at the pace HTTP/2
//! flow control allows, so a slow disk holds the client back instead of filling the gateway's
//! memory. The answer is `200` with `{"id", "name", "size", "content_type"}`, or an error
//! `{"code", "message"}`: `401` (`invalid_token`), `400` (`malformed_upload`), `403` (a page of
//! another origin), `413` (`upload_too_large`) or `503` (`unavailable`). A client that stops
//! sending for the socket idle timeout (`--idle-timeout-secs`) is cut off.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use percent_encoding::percent_decode_str;
use refract_proto::{BodyError, ErrorCode, Failure, UploadBody, UploadRequest};

use crate::Shared;

/// The header of the client's token.
pub const TOKEN_HEADER: &str = "x-refract-token";

/// The header of the file's name, percent-encoded.
pub const NAME_HEADER: &str = "x-refract-file-name";

/// The longest `X-Refract-File-Name` or `Content-Type` taken, in bytes.
const MAX_HEADER_BYTES: usize = 1024;

/// The HTTP status of a failed upload's code.
fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        ErrorCode::MalformedUpload => StatusCode::BAD_REQUEST,
        ErrorCode::UploadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unavailable | ErrorCode::Busy | ErrorCode::Overloaded => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The answer to a failed upload: its status and `{code, message}`; the platform's own
/// failures say their public message (the detail is logged).
fn refused(failure: Failure) -> Response {
    let message = match failure.code.public_message() {
        Some(public) => {
            tracing::debug!(code = %failure.code, error = %failure.message, "upload failed");
            public.to_owned()
        }
        None => failure.message,
    };
    let body = serde_json::json!({"code": failure.code, "message": message});
    (status(failure.code), json(&body)).into_response()
}

/// `value` as a JSON body.
fn json(value: &impl serde::Serialize) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(value).unwrap_or_default(),
    )
}

fn malformed(why: &str) -> Failure {
    Failure::new(ErrorCode::MalformedUpload, why)
}

/// What the headers say of the upload (with the token as sent), or why they cannot be used.
fn read_headers(headers: &HeaderMap) -> Result<(String, UploadRequest), Failure> {
    let text = |name: &str| -> Result<Option<&str>, Failure> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) if v.len() > MAX_HEADER_BYTES => {
                Err(malformed(&format!("the header {name} is too long")))
            }
            Some(v) => v
                .to_str()
                .map(Some)
                .map_err(|_| malformed(&format!("the header {name} is not visible ASCII"))),
        }
    };
    let token = text(TOKEN_HEADER)?
        .ok_or_else(|| {
            Failure::new(
                ErrorCode::InvalidToken,
                "an upload needs the client's token (X-Refract-Token)",
            )
        })?
        .to_owned();
    let name = text(NAME_HEADER)?
        .ok_or_else(|| malformed("an upload needs its file's name (X-Refract-File-Name)"))?;
    let name = percent_decode_str(name)
        .decode_utf8()
        .map_err(|_| malformed("the file's name is not percent-encoded UTF-8"))?
        .into_owned();
    let content_type = text(header::CONTENT_TYPE.as_str())?
        .unwrap_or_default()
        .to_owned();
    let size = text(header::CONTENT_LENGTH.as_str())?
        .ok_or_else(|| malformed("an upload needs its size (Content-Length)"))?
        .parse::<u64>()
        .map_err(|_| malformed("Content-Length is not a number"))?;
    Ok((
        token,
        UploadRequest {
            token: String::new(),
            name,
            content_type,
            size,
        },
    ))
}

/// The request's body as an upload's, ended with an error when the client goes away or sends
/// nothing for `idle`.
fn body_stream(body: Body, idle: Duration) -> UploadBody {
    let data = body.into_data_stream();
    futures_util::stream::unfold(Some(data), move |data| async move {
        let mut data = data?;
        match tokio::time::timeout(idle, data.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(data))),
            Ok(Some(Err(e))) => Some((Err(BodyError(e.to_string())), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(BodyError(format!("the client sent nothing for {idle:?}"))),
                None,
            )),
        }
    })
    .boxed()
}

/// `POST /_upload` (see the module docs).
pub(crate) async fn upload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header(header::ORIGIN)
        && !crate::origin_allowed(origin, header(header::HOST), &shared.config.allowed_origins)
    {
        return (StatusCode::FORBIDDEN, "this origin may not upload here").into_response();
    }
    let (token, mut request) = match read_headers(&headers) {
        Ok(read) => read,
        Err(failure) => return refused(failure),
    };
    if !shared.issuer.verify(&token) {
        return refused(Failure::new(
            ErrorCode::InvalidToken,
            "the token was not issued by this server",
        ));
    }
    request.token = shared.issuer.store_key(&token);
    let body = body_stream(body, shared.config.idle_timeout);
    match shared.processor.upload(request, body).await {
        Ok(uploaded) => json(&uploaded).into_response(),
        Err(failure) => refused(failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn headers_are_read_and_checked() {
        let (token, request) = read_headers(&headers(&[
            (TOKEN_HEADER, "t.k"),
            (NAME_HEADER, "caf%C3%A9%20menu.pdf"),
            ("content-type", "application/pdf"),
            ("content-length", "12"),
        ]))
        .unwrap();
        assert_eq!(token, "t.k");
        assert_eq!(
            (
                request.name.as_str(),
                request.content_type.as_str(),
                request.size
            ),
            ("café menu.pdf", "application/pdf", 12)
        );
        let code = |pairs: &[(&'static str, &str)]| {
            status(read_headers(&headers(pairs)).unwrap_err().code)
        };
        assert_eq!(
            code(&[(NAME_HEADER, "a"), ("content-length", "1")]),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            code(&[(TOKEN_HEADER, "t"), ("content-length", "1")]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            code(&[(TOKEN_HEADER, "t"), (NAME_HEADER, "a")]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            code(&[
                (TOKEN_HEADER, "t"),
                (NAME_HEADER, "a"),
                ("content-length", "x")
            ]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            code(&[
                (TOKEN_HEADER, "t"),
                (NAME_HEADER, "%FF"),
                ("content-length", "1")
            ]),
            StatusCode::BAD_REQUEST
        );
        let long = "a".repeat(MAX_HEADER_BYTES + 1);
        assert_eq!(
            code(&[
                (TOKEN_HEADER, "t"),
                (NAME_HEADER, &long),
                ("content-length", "1")
            ]),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn failures_get_fitting_statuses() {
        assert_eq!(
            status(ErrorCode::UploadTooLarge),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(ErrorCode::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let response = refused(Failure::new(ErrorCode::Unavailable, "redis://secret down"));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
