//! Uploaded files, kept on the worker's disk (or the embedded process's) between their upload
//! and the event that uses them: one implementation for both modes.
//!
//! An upload is streamed to `<dir>/<token digest>/<id>.part` as it arrives, never held whole in
//! memory, then renamed to `<dir>/<token digest>/<id>` beside its metadata (`<id>.json`: name,
//! media type, size). The id is 16 random bytes in lowercase hex; the token digest is the first
//! 16 bytes of SHA-256 of the token's store key, in hex, so a folder name says nothing of the
//! session. A partial file is deleted whenever its upload does not complete: over the size
//! limit, a body shorter or longer than declared, a stream that breaks off or is dropped (the
//! client cancelled, the gateway went away).
//!
//! Before an event's handler runs, [`Uploads::resolve`] replaces each `{"$upload": id}` of its
//! arguments with the file's [`UploadedFile`] JSON, looking only in the token's own folder, for
//! ids of the form it issues (no path can be named). After the event, the engine deletes the
//! files it named ([`Uploads::discard`]); files never used are swept once older than the TTL
//! ([`Uploads::sweep`]).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use refract_core::upload::{UploadArgError, replace_upload_refs, sanitize_file_name, upload_refs};
use refract_core::{EventError, UploadedFile};
use refract_proto::{ErrorCode, Failure, UploadBody, UploadRequest, Uploaded};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The default of [`UploadConfig::max_bytes`]: 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// The default of [`UploadConfig::ttl`]: one hour.
pub const DEFAULT_UPLOAD_TTL: Duration = Duration::from_secs(3600);

/// Where uploads are kept and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConfig {
    /// The folder of uploaded files (created when needed).
    pub dir: PathBuf,
    /// The largest file taken, in bytes: a larger one is refused with `upload_too_large`.
    pub max_bytes: u64,
    /// How long a file no event used is kept (measured from its last write).
    pub ttl: Duration,
}

impl Default for UploadConfig {
    /// `refract-uploads` in the system's temp folder, [`DEFAULT_MAX_UPLOAD_BYTES`],
    /// [`DEFAULT_UPLOAD_TTL`].
    fn default() -> Self {
        UploadConfig {
            dir: default_dir(),
            max_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            ttl: DEFAULT_UPLOAD_TTL,
        }
    }
}

/// `refract-uploads` in the system's temp folder.
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("refract-uploads")
}

/// The metadata kept beside an uploaded file.
#[derive(Serialize, Deserialize)]
struct Meta {
    name: String,
    content_type: String,
    size: u64,
}

/// Deletes a partial upload when dropped before [`Partial::keep`]: whatever ends the upload
/// early (an error, or its future dropped when the client's stream is reset) leaves no file.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Partial {
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept
            && let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "could not delete a partial upload");
        }
    }
}

/// The uploads of one process: stored, resolved for events, discarded and swept.
#[derive(Debug)]
pub struct Uploads {
    config: UploadConfig,
    last_sweep: Mutex<Option<Instant>>,
}

/// Whether `id` is of the form [`Uploads`] issues: 32 lowercase hex digits.
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Failure {
    tracing::warn!(error = %e, "{what}");
    Failure::new(ErrorCode::Unavailable, format!("{what}: {e}"))
}

fn not_found(id: &str) -> Failure {
    Failure::new(
        ErrorCode::UploadNotFound,
        format!(
            "the server holds no upload `{id}` for this session: it expired, an event used it \
             already, or it was kept by another worker (the workers changed since the upload); \
             upload the file again"
        ),
    )
}

impl Uploads {
    /// The uploads of `config`.
    pub fn new(config: UploadConfig) -> Self {
        Uploads {
            config,
            last_sweep: Mutex::new(None),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &UploadConfig {
        &self.config
    }

    /// The folder of `token`'s uploads.
    pub fn token_dir(&self, token: &str) -> PathBuf {
        let digest = Sha256::digest(token.as_bytes());
        self.config.dir.join(hex(&digest[..16]))
    }

    /// Streams `body` into a new file of `request.token` and answers its id, name (sanitised),
    /// media type and size. Nothing is left on disk unless it succeeds.
    ///
    /// # Errors
    /// `upload_too_large` when the declared size is over the limit; `malformed_upload` when the
    /// body is not exactly the declared size; `unavailable` when the body broke off or the file
    /// cannot be written.
    pub async fn store(
        &self,
        request: UploadRequest,
        body: UploadBody,
    ) -> Result<Uploaded, Failure> {
        let UploadRequest {
            token,
            name,
            content_type,
            size,
        } = request;
        let max = self.config.max_bytes;
        if size > max {
            return Err(Failure::new(
                ErrorCode::UploadTooLarge,
                format!("the file takes {size} bytes, over this server's limit of {max} bytes"),
            ));
        }
        let meta = Meta {
            name: sanitize_file_name(&name),
            content_type,
            size,
        };
        let dir = self.token_dir(&token);
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| unavailable("no randomness for an upload id", e))?;
        let id = hex(&random);
        let part = dir.join(format!("{id}.part"));
        let mut create = tokio::fs::OpenOptions::new();
        create.write(true).create_new(true);
        // The folder is made when missing, or when a sweep removed it (empty) meanwhile.
        let mut file = match create.open(&part).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| unavailable("cannot create the upload folder", e))?;
                create.open(&part).await
            }
            opened => opened,
        }
        .map_err(|e| unavailable("cannot create the upload's file", e))?;
        let guard = Partial {
            path: part.clone(),
            kept: false,
        };
        let written = write_body(&mut file, body, size, max).await?;
        if written != size {
            return Err(Failure::new(
                ErrorCode::MalformedUpload,
                format!("the upload ended after {written} of its {size} bytes"),
            ));
        }
        file.flush()
            .await
            .map_err(|e| unavailable("cannot write the upload's file", e))?;
        drop(file);
        let text = serde_json::to_vec(&meta).map_err(crate::engine::internal)?;
        tokio::fs::write(dir.join(format!("{id}.json")), text)
            .await
            .map_err(|e| unavailable("cannot write the upload's metadata", e))?;
        tokio::fs::rename(&part, dir.join(&id))
            .await
            .map_err(|e| unavailable("cannot keep the upload's file", e))?;
        guard.keep();
        tracing::debug!(id, size, "upload stored");
        Ok(Uploaded {
            id,
            name: meta.name,
            content_type: meta.content_type,
            size,
        })
    }

    /// Replaces each `{"$upload": id}` of `args` with the file `id` of `token` (see the module
    /// docs) and returns the ids named.
    ///
    /// # Errors
    /// `bad_arguments` when `args` holds the reserved key of an [`UploadedFile`] (a client
    /// naming a file by its path) or a malformed `$upload`; `upload_not_found` for an id that
    /// is not of the form issued, or whose file `token` does not have (any more).
    pub async fn resolve(&self, token: &str, args: &mut Value) -> Result<Vec<String>, Failure> {
        let ids = upload_refs(args)
            .map_err(|e: UploadArgError| Failure::from(EventError::BadArguments(e.to_string())))?;
        if ids.is_empty() {
            return Ok(ids);
        }
        let dir = self.token_dir(token);
        let mut files = HashMap::new();
        for id in &ids {
            if !valid_id(id) {
                return Err(not_found(&id.chars().take(40).collect::<String>()));
            }
            let path = dir.join(id);
            let meta = match tokio::fs::read(dir.join(format!("{id}.json"))).await {
                Ok(text) => serde_json::from_slice::<Meta>(&text).map_err(|_| not_found(id))?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(id)),
                Err(e) => return Err(unavailable("cannot read an upload's metadata", e)),
            };
            if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return Err(not_found(id));
            }
            let file = UploadedFile::new(&meta.name, &meta.content_type, meta.size, path);
            files.insert(id.clone(), file);
        }
        replace_upload_refs(args, &|id: &str| files.get(id).cloned());
        Ok(ids)
    }

    /// Deletes the files `ids` of `token` (those a handler persisted are gone already).
    pub async fn discard(&self, token: &str, ids: &[String]) {
        let dir = self.token_dir(token);
        for id in ids.iter().filter(|id| valid_id(id)) {
            for path in [dir.join(id), dir.join(format!("{id}.json"))] {
                if let Err(e) = tokio::fs::remove_file(&path).await
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "could not delete a used upload");
                }
            }
        }
    }

    /// Deletes the files (and partial files of a process that died) older than the TTL, and
    /// the token folders left empty; returns how many files it deleted.
    ///
    /// # Errors
    /// The I/O error listing the upload folder (one that does not exist yet is empty).
    pub async fn sweep(&self) -> io::Result<usize> {
        let dir = self.config.dir.clone();
        let ttl = self.config.ttl;
        tokio::task::spawn_blocking(move || sweep_dir(&dir, ttl))
            .await
            .map_err(io::Error::other)?
    }

    /// [`Uploads::sweep`], when the last sweep was a tenth of the TTL ago (at most a minute,
    /// at least a second) or there was none; sweep failures are logged.
    pub async fn sweep_if_due(&self) {
        let every = (self.config.ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < every) {
                return;
            }
            *last = Some(Instant::now());
        }
        match self.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "swept expired uploads"),
            Err(e) => tracing::warn!(error = %e, "could not sweep the upload folder"),
        }
    }
}

/// Writes `body` to `file`, refusing more than `size` bytes (and more than `max`); returns how
/// many bytes it wrote.
async fn write_body(
    file: &mut tokio::fs::File,
    mut body: UploadBody,
    size: u64,
    max: u64,
) -> Result<u64, Failure> {
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "an upload broke off");
            Failure::new(ErrorCode::Unavailable, e.to_string())
        })?;
        written += chunk.len() as u64;
        if written > max {
            return Err(Failure::new(
                ErrorCode::UploadTooLarge,
                format!("the file is over this server's limit of {max} bytes"),
            ));
        }
        if written > size {
            return Err(Failure::new(
                ErrorCode::MalformedUpload,
                format!("the upload sent more than its declared {size} bytes"),
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| unavailable("cannot write the upload's file", e))?;
    }
    Ok(written)
}

/// [`Uploads::sweep`]'s work, blocking.
fn sweep_dir(dir: &Path, ttl: Duration) -> io::Result<usize> {
    let tokens = match std::fs::read_dir(dir) {
        Ok(tokens) => tokens,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut deleted = 0;
    for token in tokens.flatten() {
        if !token.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(token.path()) else {
            continue;
        };
        for file in files.flatten() {
            let old = file
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age >= ttl));
            if old && std::fs::remove_file(file.path()).is_ok() {
                deleted += 1;
            }
        }
        // Only an empty folder goes.
        let _ = std::fs::remove_dir(token.path());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use refract_proto::BodyError;
    use serde_json::json;

    fn uploads(max_bytes: u64) -> (Uploads, PathBuf) {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let dir = std::env::temp_dir().join(format!("refract-uploads-test-{}", hex(&random)));
        let config = UploadConfig {
            dir: dir.clone(),
            max_bytes,
            ttl: Duration::from_secs(3600),
        };
        (Uploads::new(config), dir)
    }

    fn request(name: &str, size: u64) -> UploadRequest {
        UploadRequest {
            token: "token-1".into(),
            name: name.into(),
            content_type: "text/plain".into(),
            size,
        }
    }

    fn body(chunks: Vec<Result<&'static [u8], BodyError>>) -> UploadBody {
        futures_util::stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from_static))).boxed()
    }

    /// Every file under `dir`.
    fn files(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .flat_map(|e| {
                if e.path().is_dir() {
                    files(&e.path())
                } else {
                    vec![e.path()]
                }
            })
            .collect()
    }

    #[test]
    fn ids_are_32_lowercase_hex_digits() {
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "../../../../etc/passwd0123456789",
            "0123456789abcdef0123456789abcd/f",
            "0123456789abcdef0123456789abcd.f",
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_file_is_stored_resolved_and_discarded() {
        let (uploads, dir) = uploads(1024);
        let done = uploads
            .store(
                request("../notes.txt", 5),
                body(vec![Ok(b"he"), Ok(b"llo")]),
            )
            .await
            .unwrap();
        assert!(valid_id(&done.id));
        assert_eq!((done.name.as_str(), done.size), ("notes.txt", 5));
        let mut args = json!({"files": [{"$upload": done.id}]});
        let ids = uploads.resolve("token-1", &mut args).await.unwrap();
        assert_eq!(ids, std::slice::from_ref(&done.id));
        let files_arg: Vec<UploadedFile> = serde_json::from_value(args["files"].clone()).unwrap();
        assert_eq!(files_arg[0].name(), "notes.txt");
        assert_eq!(files_arg[0].read().await.unwrap(), b"hello");
        assert!(
            files_arg[0]
                .path()
                .starts_with(uploads.token_dir("token-1"))
        );

        // Another session cannot name it.
        let mut theirs = json!({"f": {"$upload": done.id}});
        let err = uploads.resolve("token-2", &mut theirs).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::UploadNotFound);

        uploads.discard("token-1", &ids).await;
        let mut again = json!({"f": {"$upload": done.id}});
        let err = uploads.resolve("token-1", &mut again).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::UploadNotFound);
        assert!(files(&dir).is_empty(), "{:?}", files(&dir));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn clients_cannot_forge_files_or_name_paths() {
        let (uploads, dir) = uploads(1024);
        let mut forged = json!({"files": [{"$uploaded_file": {"name": "x", "content_type": "", "size": 1, "path": "/etc/passwd"}}]});
        let err = uploads.resolve("token-1", &mut forged).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::BadArguments);
        for id in ["../../etc/passwd", "0123456789abcdef0123456789abcdef", ""] {
            let mut args = json!({"f": {"$upload": id}});
            let err = uploads.resolve("token-1", &mut args).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::UploadNotFound, "{id}");
        }
        let mut no_uploads = json!({"n": 1});
        assert!(
            uploads
                .resolve("token-1", &mut no_uploads)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(no_uploads, json!({"n": 1}));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn limits_and_early_ends_leave_no_file() {
        let (uploads, dir) = uploads(4);
        let declared = uploads
            .store(request("a", 5), body(vec![Ok(b"hello")]))
            .await
            .unwrap_err();
        assert_eq!(declared.code, ErrorCode::UploadTooLarge);
        let longer = uploads
            .store(request("a", 3), body(vec![Ok(b"ab"), Ok(b"cd")]))
            .await
            .unwrap_err();
        assert_eq!(longer.code, ErrorCode::MalformedUpload);
        let shorter = uploads
            .store(request("a", 4), body(vec![Ok(b"ab")]))
            .await
            .unwrap_err();
        assert_eq!(shorter.code, ErrorCode::MalformedUpload);
        let broken = uploads
            .store(
                request("a", 4),
                body(vec![Ok(b"ab"), Err(BodyError("reset".into()))]),
            )
            .await
            .unwrap_err();
        assert_eq!(broken.code, ErrorCode::Unavailable);
        assert!(files(&dir).is_empty(), "{:?}", files(&dir));

        // A stream that stalls and whose upload is dropped (the client's stream was reset).
        let stalled = futures_util::stream::iter([Ok(Bytes::from_static(b"ab"))])
            .chain(futures_util::stream::pending())
            .boxed();
        let store = uploads.store(request("a", 4), stalled);
        let timed_out = tokio::time::timeout(Duration::from_millis(200), store).await;
        assert!(timed_out.is_err());
        assert!(files(&dir).is_empty(), "{:?}", files(&dir));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn old_files_are_swept() {
        let (mut uploads, dir) = uploads(1024);
        let done = uploads
            .store(request("a", 1), body(vec![Ok(b"x")]))
            .await
            .unwrap();
        assert_eq!(uploads.sweep().await.unwrap(), 0);
        uploads.config.ttl = Duration::ZERO;
        assert_eq!(
            uploads.sweep().await.unwrap(),
            2,
            "the file and its metadata"
        );
        let mut args = json!({"f": {"$upload": done.id}});
        assert!(uploads.resolve("token-1", &mut args).await.is_err());
        assert!(!uploads.token_dir("token-1").exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
