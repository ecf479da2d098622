//! `GET /_files/<token digest>/<id>/<name>`: the files an app published
//! (`UploadedFile::publish`), served from the gateway's upload folder
//! ([`GatewayConfig::upload_dir`](crate::GatewayConfig::upload_dir)), where the workers put them:
//! `<dir>/<token digest>/public/<id>`, with its metadata `<id>.json`.
//!
//! Every segment is checked: the digest and the id must be 32 lowercase hex digits, the name
//! the file's own (as published); anything else is 404, as is a gateway without an upload
//! folder. The file is streamed with headers that keep a browser from running it:
//!
//! * `Content-Type`: the type the uploader's browser claimed, only when it is in a safe list
//!   ([`served_type`]: images but SVG, PDF, plain text, audio, video); else
//!   `application/octet-stream`;
//! * `Content-Disposition`: `inline` for the safe images, else `attachment`, with the name as
//!   `filename*=UTF-8''…`;
//! * `X-Content-Type-Options: nosniff`, `Content-Security-Policy: default-src 'none'; sandbox`
//!   and `Cache-Control: private`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use refract_core::upload::{FileMeta, PUBLIC_FOLDER, valid_id};

use crate::Shared;

/// The Content-Security-Policy of a served file: it loads nothing and runs in a sandbox (no
/// script, no same origin), should a browser render it after all.
pub const FILE_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; sandbox";

/// The image types served `inline` (shown in the page): raster images a browser decodes
/// without running anything (SVG, which may hold scripts, is not one).
const INLINE_IMAGES: [&str; 7] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/x-icon",
];

/// The media type a published file is served with, from the type its uploader's browser
/// claimed (`claimed`: its essence, before any `;`, lower-cased): itself when it is a raster
/// image ([`INLINE_IMAGES`]), PDF, plain text (with `charset=utf-8`), or audio or video (of a
/// well-formed subtype); `application/octet-stream` otherwise (SVG, HTML, scripts, anything
/// unknown). The second value says whether it is shown inline (the safe images only).
pub fn served_type(claimed: &str) -> (String, bool) {
    let essence = claimed
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if INLINE_IMAGES.contains(&essence.as_str()) {
        return (essence, true);
    }
    let media = |family: &str| {
        essence.strip_prefix(family).is_some_and(|subtype| {
            !subtype.is_empty()
                && subtype
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        })
    };
    let served = match essence.as_str() {
        "application/pdf" => essence.clone(),
        "text/plain" => "text/plain; charset=utf-8".to_owned(),
        _ if media("audio/") || media("video/") => essence.clone(),
        _ => "application/octet-stream".to_owned(),
    };
    (served, false)
}

/// The characters kept as they are in `filename*` (RFC 8187's `attr-char`); the rest is
/// percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` for the file `name`: `inline` or `attachment`, with
/// `filename*=UTF-8''<name percent-encoded>`.
pub fn disposition(name: &str, inline: bool) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    format!(
        "{kind}; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The published file `id` of the token folder `digest` in `dir`, named `name`, with its
/// metadata; `None` when any segment is not of its form or names nothing.
async fn find(
    dir: &std::path::Path,
    digest: &str,
    id: &str,
    name: &str,
) -> Option<(FileMeta, tokio::fs::File, u64)> {
    if !valid_id(digest) || !valid_id(id) {
        return None;
    }
    let public: PathBuf = dir.join(digest).join(PUBLIC_FOLDER);
    let text = tokio::fs::read(public.join(format!("{id}.json")))
        .await
        .ok()?;
    let meta: FileMeta = serde_json::from_slice(&text).ok()?;
    if meta.name != name {
        return None;
    }
    let file = tokio::fs::File::open(public.join(id)).await.ok()?;
    let stat = file.metadata().await.ok()?;
    stat.is_file().then_some((meta, file, stat.len()))
}

/// `GET /_files/{digest}/{id}/{name}` (see the module docs).
pub(crate) async fn serve(
    State(shared): State<Arc<Shared>>,
    Path((digest, id, name)): Path<(String, String, String)>,
) -> Response {
    let Some(dir) = &shared.config.upload_dir else {
        return not_found();
    };
    let Some((meta, file, length)) = find(dir, &digest, &id, &name).await else {
        return not_found();
    };
    let (content_type, inline) = served_type(&meta.content_type);
    let header = |value: String| {
        HeaderValue::from_str(&value)
            .unwrap_or(HeaderValue::from_static("application/octet-stream"))
    };
    let headers = [
        (header::CONTENT_TYPE, header(content_type)),
        (header::CONTENT_LENGTH, HeaderValue::from(length)),
        (
            header::CONTENT_DISPOSITION,
            header(disposition(&meta.name, inline)),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FILE_CONTENT_SECURITY_POLICY),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("private")),
    ];
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_types_keep_their_type_and_only_raster_images_show_inline() {
        for (claimed, served, inline) in [
            ("image/png", "image/png", true),
            ("IMAGE/JPEG; q=1", "image/jpeg", true),
            ("image/svg+xml", "application/octet-stream", false),
            ("application/pdf", "application/pdf", false),
            ("text/plain", "text/plain; charset=utf-8", false),
            (
                "text/plain; charset=latin1",
                "text/plain; charset=utf-8",
                false,
            ),
            ("text/html", "application/octet-stream", false),
            ("application/javascript", "application/octet-stream", false),
            ("audio/mpeg", "audio/mpeg", false),
            ("video/mp4", "video/mp4", false),
            ("video/", "application/octet-stream", false),
            (
                "video/mp4\r\nSet-Cookie: x",
                "application/octet-stream",
                false,
            ),
            ("", "application/octet-stream", false),
        ] {
            assert_eq!(
                served_type(claimed),
                (served.to_owned(), inline),
                "{claimed:?}"
            );
        }
    }

    #[test]
    fn the_name_is_percent_encoded_in_the_disposition() {
        assert_eq!(
            disposition("été \"report\";.pdf", false),
            "attachment; filename*=UTF-8''%C3%A9t%C3%A9%20%22report%22%3B.pdf"
        );
        assert_eq!(disposition("a.png", true), "inline; filename*=UTF-8''a.png");
    }
}
