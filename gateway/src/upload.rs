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
//! `{"code", "message"}`: `401` (`invalid_token`), `400` (`malformed_upload`), `403`
//! (`forbidden_origin`: a page of another origin), `408` (`upload_timeout`), `413`
//! (`upload_too_large`), `429` (`overloaded`: the session streams
//! [`GatewayConfig::max_uploads_per_session`] uploads already), `503` (`overloaded`: the
//! gateway streams [`GatewayConfig::max_uploads`] already; or `unavailable`).
//!
//! An upload is cut off with `upload_timeout` when the client sends nothing for the socket idle
//! timeout (`--idle-timeout-secs`), or when the whole upload takes longer than its [`deadline`]:
//! [`GatewayConfig::upload_grace`] (30 s) plus its declared size at
//! [`GatewayConfig::min_upload_rate`] (64 KiB/s), so a slow client cannot hold a slot for ever.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use percent_encoding::percent_decode_str;
use refract_proto::{BodyError, ErrorCode, Failure, UploadBody, UploadRequest};

use crate::{GatewayConfig, Shared};

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
        ErrorCode::ForbiddenOrigin => StatusCode::FORBIDDEN,
        ErrorCode::UploadTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::UploadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unavailable | ErrorCode::Busy | ErrorCode::Overloaded => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The answer to a failed upload: the status of its code and `{code, message}` (see
/// [`refused_with`]).
fn refused(failure: Failure) -> Response {
    refused_with(status(failure.code), failure)
}

/// The answer to a failed upload: `status` and `{code, message}`; the platform's own failures
/// say their public message (the detail is logged).
fn refused_with(status: StatusCode, failure: Failure) -> Response {
    let message = match failure.code.public_message() {
        Some(public) => {
            tracing::debug!(code = %failure.code, error = %failure.message, "upload failed");
            public.to_owned()
        }
        None => failure.message,
    };
    let body = serde_json::json!({"code": failure.code, "message": message});
    (status, json(&body)).into_response()
}

/// How long an upload of `size` bytes may take in all: `config.upload_grace` plus `size` at
/// `config.min_upload_rate` bytes per second (a rate of 0 counts as 1).
pub fn deadline(config: &GatewayConfig, size: u64) -> Duration {
    config.upload_grace + Duration::from_secs(size / config.min_upload_rate.max(1))
}

/// An upload streaming, counted against the caps while it lives.
struct Streaming {
    shared: Arc<Shared>,
    token: String,
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let mut uploading = self
            .shared
            .uploading
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        uploading.0 -= 1;
        if let Some(n) = uploading.1.get_mut(&self.token) {
            *n -= 1;
            if *n == 0 {
                uploading.1.remove(&self.token);
            }
        }
    }
}

/// A slot for an upload of `token` (its store key), or the status and failure refusing it: 503
/// when the gateway streams [`GatewayConfig::max_uploads`] already, 429 when the token streams
/// [`GatewayConfig::max_uploads_per_session`], both `overloaded`.
fn admit(shared: &Arc<Shared>, token: &str) -> Result<Streaming, (StatusCode, Failure)> {
    let config = &shared.config;
    let mut uploading = shared.uploading.lock().unwrap_or_else(|e| e.into_inner());
    if uploading.0 >= config.max_uploads {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            Failure::new(
                ErrorCode::Overloaded,
                format!(
                    "this server takes {} uploads at once, its most; try again shortly",
                    config.max_uploads
                ),
            ),
        ));
    }
    let most = config.max_uploads_per_session;
    if uploading.1.get(token).copied().unwrap_or(0) >= most {
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            Failure::new(
                ErrorCode::Overloaded,
                format!(
                    "this session uploads {most} files at once already, its most; try again \
                     when they are done"
                ),
            ),
        ));
    }
    *uploading.1.entry(token.to_owned()).or_default() += 1;
    uploading.0 += 1;
    Ok(Streaming {
        shared: shared.clone(),
        token: token.to_owned(),
    })
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
/// nothing for `idle` (then `idled` is set).
fn body_stream(body: Body, idle: Duration, idled: Arc<AtomicBool>) -> UploadBody {
    let data = body.into_data_stream();
    futures_util::stream::unfold(Some(data), move |data| {
        let idled = idled.clone();
        async move {
            let mut data = data?;
            match tokio::time::timeout(idle, data.next()).await {
                Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(data))),
                Ok(Some(Err(e))) => Some((Err(BodyError(e.to_string())), None)),
                Ok(None) => None,
                Err(_) => {
                    idled.store(true, Ordering::Release);
                    Some((
                        Err(BodyError(format!("the client sent nothing for {idle:?}"))),
                        None,
                    ))
                }
            }
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
        return refused(Failure::new(
            ErrorCode::ForbiddenOrigin,
            "a page of this origin may not upload here",
        ));
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
    let _streaming = match admit(&shared, &request.token) {
        Ok(streaming) => streaming,
        Err((status, failure)) => return refused_with(status, failure),
    };
    let idle = shared.config.idle_timeout;
    let idled = Arc::new(AtomicBool::new(false));
    let body = body_stream(body, idle, idled.clone());
    let limit = deadline(&shared.config, request.size);
    // Past the deadline the processor's upload is dropped: its partial file goes with it.
    match tokio::time::timeout(limit, shared.processor.upload(request, body)).await {
        Ok(Ok(uploaded)) => json(&uploaded).into_response(),
        Ok(Err(_)) if idled.load(Ordering::Acquire) => refused(Failure::new(
            ErrorCode::UploadTimeout,
            format!(
                "the upload sent nothing for {} s and was cut off; nothing was kept",
                idle.as_secs()
            ),
        )),
        Ok(Err(failure)) => refused(failure),
        Err(_) => refused(Failure::new(
            ErrorCode::UploadTimeout,
            format!(
                "the upload took longer than its {} s (a file of this size must arrive at {} \
                 bytes per second at least) and was cut off; nothing was kept",
                limit.as_secs(),
                shared.config.min_upload_rate.max(1)
            ),
        )),
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
    fn the_deadline_grows_with_the_size() {
        let config = GatewayConfig::default();
        assert_eq!(deadline(&config, 0), Duration::from_secs(30));
        assert_eq!(deadline(&config, 64 << 20), Duration::from_secs(30 + 1024));
        let stalled = GatewayConfig {
            min_upload_rate: 0,
            ..GatewayConfig::default()
        };
        assert_eq!(deadline(&stalled, 10), Duration::from_secs(40));
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
        assert_eq!(status(ErrorCode::ForbiddenOrigin), StatusCode::FORBIDDEN);
        assert_eq!(
            status(ErrorCode::UploadTimeout),
            StatusCode::REQUEST_TIMEOUT
        );
        let response = refused(Failure::new(ErrorCode::Unavailable, "redis://secret down"));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
