//! Uploaded files, kept on the worker's disk (or the embedded process's) between their upload
//! and the event that uses them: one implementation for both modes.
//!
//! An upload is streamed to `<dir>/<token digest>/<id>.part` as it arrives, never held whole in
//! memory, then renamed to `<dir>/<token digest>/<id>`, and its metadata written beside it
//! (`<id>.json`: name, media type, size): one blocking step that runs to its end even when the
//! upload's future is dropped, and deletes all three files when it fails. The id is 16 random bytes in lowercase hex; the token digest is the first
//! 16 bytes of SHA-256 of the token's store key, in hex, so a folder name says nothing of the
//! session. A partial file is deleted whenever its upload does not complete: over the size
//! limit, a body shorter or longer than declared, a stream that breaks off or is dropped (the
//! client cancelled, the gateway went away).
//!
//! Before an event's handler runs, [`Uploads::resolve`] replaces each `{"$upload": id}` of its
//! arguments with the file's [`UploadedFile`] JSON, looking only in the token's own folder, for
//! ids of the form it issues (no path can be named). After the event, the engine deletes the
//! files it named ([`Uploads::discard`]); a background task's files are held while its work
//! runs and deleted when it ends ([`Uploads::hold`]); files never used are swept once older
//! than the TTL ([`Uploads::sweep`]).
//!
//! The folder is private to the process's user: it is made with mode 0700 (and an existing one
//! set to it), token folders likewise, files with mode 0600 (on Unix). A folder that is a
//! symbolic link is refused ([`UploadConfig::prepare`]). The sweep touches only what this
//! module writes: token folders named as digests (32 lowercase hex digits) and, in them, the
//! files `<id>`, `<id>.json` and `<id>.part` of ids of the issued form; anything else in the
//! folder is left alone, published files (`<token digest>/public/`) included.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use refract_core::upload::{
    FileMeta, PUBLIC_FOLDER, UploadArgError, create_private_dir, replace_upload_refs,
    sanitize_file_name,
};
use refract_core::{EventError, UploadedFile};
use refract_proto::{ErrorCode, Failure, UploadBody, UploadRequest, Uploaded};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The default of [`UploadConfig::max_bytes`]: 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// The default of [`UploadConfig::max_bytes_per_session`]: 2 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES_PER_SESSION: u64 = 2 << 30;

/// The default of [`UploadConfig::ttl`]: one hour.
pub const DEFAULT_UPLOAD_TTL: Duration = Duration::from_secs(3600);

/// Where uploads are kept and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadConfig {
    /// The folder of uploaded files (created when needed).
    pub dir: PathBuf,
    /// The largest file taken, in bytes: a larger one is refused with `upload_too_large`.
    pub max_bytes: u64,
    /// The most bytes one session's uploads may hold on this process's disk: the files in its
    /// folder waiting for their events, those uploading to this process, and the new file's
    /// declared size. An upload past it is refused with `upload_too_large`.
    pub max_bytes_per_session: u64,
    /// How long a file no event used is kept (measured from its last write).
    pub ttl: Duration,
}

impl Default for UploadConfig {
    /// `refract-uploads` in the system's temp folder, [`DEFAULT_MAX_UPLOAD_BYTES`],
    /// [`DEFAULT_MAX_UPLOAD_BYTES_PER_SESSION`], [`DEFAULT_UPLOAD_TTL`].
    fn default() -> Self {
        UploadConfig {
            dir: default_dir(),
            max_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_bytes_per_session: DEFAULT_MAX_UPLOAD_BYTES_PER_SESSION,
            ttl: DEFAULT_UPLOAD_TTL,
        }
    }
}

pub use refract_core::upload::{default_dir, valid_id};

/// Why the upload folder cannot be used (see [`UploadConfig::prepare`]).
#[derive(thiserror::Error, Debug)]
pub enum UploadDirError {
    /// The folder is a symbolic link: whoever can change the link would choose where uploads
    /// go (and what the sweep deletes).
    #[error(
        "the upload folder {0} is a symbolic link; give the folder it points to (--upload-dir)"
    )]
    Symlink(PathBuf),
    /// Something other than a folder is there.
    #[error("the upload folder {0} is not a folder (--upload-dir)")]
    NotAFolder(PathBuf),
    /// It cannot be created, or made private to this user (another user owns it, say).
    #[error("cannot make the upload folder {path} (mode 0700, this user's): {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl UploadConfig {
    /// Makes [`UploadConfig::dir`] ready before the process serves: creates it (and its
    /// parents) when missing, with mode 0700, and sets an existing one to 0700. A folder that
    /// cannot be created (a read-only file system: an app that takes no uploads) is logged, not
    /// refused: uploads then fail with `unavailable` until it can be. Blocking: call it at
    /// start.
    ///
    /// # Errors
    /// [`UploadDirError::Symlink`] when the folder is a symbolic link,
    /// [`UploadDirError::NotAFolder`] when it is a file, [`UploadDirError::Io`] when the mode of
    /// an existing folder open to others cannot be set (another user owns it).
    pub fn prepare(&self) -> Result<(), UploadDirError> {
        let dir = &self.dir;
        let io = |source| UploadDirError::Io {
            path: dir.clone(),
            source,
        };
        match std::fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(UploadDirError::Symlink(dir.clone()));
            }
            Ok(meta) if !meta.is_dir() => return Err(UploadDirError::NotAFolder(dir.clone())),
            #[cfg(unix)]
            Ok(meta) => {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o777 != 0o700 {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                        .map_err(io)?;
                }
            }
            #[cfg(not(unix))]
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut create = std::fs::DirBuilder::new();
                create.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut create, 0o700);
                if let Err(e) = create.create(dir) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot create the upload folder: uploads will fail until it can be");
                }
            }
            Err(e) => return Err(io(e)),
        }
        Ok(())
    }
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
    /// The declared bytes of the uploads streaming to this process, by token folder.
    in_flight: Mutex<HashMap<PathBuf, u64>>,
}

/// The bytes an upload streaming to this process reserved of its session's quota, given back
/// when it ends (either way: once complete, its file counts on disk instead).
struct Reserved<'a> {
    uploads: &'a Uploads,
    dir: PathBuf,
    bytes: u64,
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .uploads
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(held) = in_flight.get_mut(&self.dir) {
            *held -= self.bytes;
            if *held == 0 {
                in_flight.remove(&self.dir);
            }
        }
    }
}

/// The bytes of the complete uploaded files (`<id>`) in the token folder `dir`; 0 when it does
/// not exist. Blocking.
fn held_bytes(dir: &Path) -> io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut held = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let complete = name.to_str().is_some_and(valid_id);
        if complete && let Ok(meta) = entry.metadata() {
            held += if meta.is_file() { meta.len() } else { 0 };
        }
    }
    Ok(held)
}

/// The id whose file `name` is, when it is one of those an upload writes (`<id>`, `<id>.json`,
/// `<id>.part`, for an id of the issued form).
fn upload_file_id(name: &str) -> Option<&str> {
    let id = [".json", ".part"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name);
    valid_id(id).then_some(id)
}

/// Writes `bytes` to the new file `path` (mode 0600 on Unix), blocking.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut create = std::fs::OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    create.open(path)?.write_all(bytes)
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
            in_flight: Mutex::default(),
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
    /// `upload_too_large` when the declared size is over the limit of one file, or would take
    /// the session past its quota ([`UploadConfig::max_bytes_per_session`]); `malformed_upload`
    /// when the body is not exactly the declared size; `unavailable` when the body broke off or
    /// the file cannot be written.
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
        let meta = FileMeta {
            name: sanitize_file_name(&name),
            content_type,
            size,
        };
        let dir = self.token_dir(&token);
        let _reserved = self.reserve(&dir, size).await?;
        let mut random = [0u8; 16];
        getrandom::fill(&mut random)
            .map_err(|e| unavailable("no randomness for an upload id", e))?;
        let id = hex(&random);
        let part = dir.join(format!("{id}.part"));
        // Created on this thread, together with its guard (one short system call, two when the
        // folder is missing): an open still running on the blocking pool when this future is
        // dropped (the client went away) would leave a file that no guard deletes.
        let file = self
            .create_part(&dir, &part)
            .map_err(|e| unavailable("cannot create the upload's file", e))?;
        let guard = Partial {
            path: part.clone(),
            kept: false,
        };
        let mut file = tokio::fs::File::from_std(file);
        let written = write_body(&mut file, body, size).await?;
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
        // From here the blocking step owns the partial file: it runs to its end on its own
        // thread even when this future is dropped, and leaves all or nothing (a process that
        // dies meanwhile leaves files the sweep deletes).
        guard.keep();
        let finishing = (dir, id.clone());
        tokio::task::spawn_blocking(move || finish_upload(&finishing.0, &finishing.1, &text))
            .await
            .map_err(|e| unavailable("cannot keep the upload's file", e))?
            .map_err(|e| unavailable("cannot keep the upload's file", e))?;
        tracing::debug!(id, size, "upload stored");
        Ok(Uploaded {
            id,
            name: meta.name,
            content_type: meta.content_type,
            size,
        })
    }

    /// Reserves `size` bytes of the quota of the token folder `dir` for an upload, until the
    /// returned guard is dropped.
    ///
    /// # Errors
    /// `upload_too_large` when the folder's complete uploads, the uploads streaming to it and
    /// `size` together are over [`UploadConfig::max_bytes_per_session`]; `unavailable` when the
    /// folder cannot be read.
    async fn reserve(&self, dir: &Path, size: u64) -> Result<Reserved<'_>, Failure> {
        let listed = dir.to_owned();
        let on_disk = tokio::task::spawn_blocking(move || held_bytes(&listed))
            .await
            .map_err(|e| unavailable("cannot read the upload folder", e))?
            .map_err(|e| unavailable("cannot read the upload folder", e))?;
        let max = self.config.max_bytes_per_session;
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let streaming = in_flight.get(dir).copied().unwrap_or(0);
        let held = on_disk + streaming;
        if held.saturating_add(size) > max {
            return Err(Failure::new(
                ErrorCode::UploadTooLarge,
                format!(
                    "this session's uploads hold {held} bytes on the server (files waiting for \
                     their events, and uploads in progress); this file's {size} bytes would take \
                     them over this server's limit of {max} bytes per session: send the files \
                     in smaller groups, or upload again once the pending ones were used"
                ),
            ));
        }
        *in_flight.entry(dir.to_owned()).or_default() += size;
        Ok(Reserved {
            uploads: self,
            dir: dir.to_owned(),
            bytes: size,
        })
    }

    /// Creates the new file `part` (mode 0600) in the token folder `dir`, and the folder
    /// (mode 0700) when it is missing or a sweep removed it (empty) meanwhile, and the upload
    /// folder when it is missing (removed since the start, say): never through a symbolic link
    /// in its place. Blocking.
    fn create_part(&self, dir: &Path, part: &Path) -> io::Result<std::fs::File> {
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
        match create.open(part) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            opened => return opened,
        }
        let root = &self.config.dir;
        match std::fs::symlink_metadata(root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} is no longer a folder (a symbolic link?)",
                    root.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.config.prepare().map_err(io::Error::other)?;
            }
            Err(e) => return Err(e),
        }
        create_private_dir(dir)?;
        create.open(part)
    }

    /// Replaces each `{"$upload": id}` of `args` with the file `id` of `token` (see the module
    /// docs) and returns the ids named, each once, in the order first named. `refs` is what
    /// [`upload_refs`](refract_core::upload::upload_refs) found in `args` (the engine reads it once per event, before running it).
    ///
    /// # Errors
    /// `bad_arguments` when `args` holds the reserved key of an [`UploadedFile`] (a client
    /// naming a file by its path) or a malformed `$upload`; `upload_not_found` for an id that
    /// is not of the form issued, or whose file `token` does not have (any more).
    pub async fn resolve(
        &self,
        token: &str,
        refs: Result<Vec<String>, UploadArgError>,
        args: &mut Value,
    ) -> Result<Vec<String>, Failure> {
        let mut ids = refs.map_err(|e| Failure::from(EventError::BadArguments(e.to_string())))?;
        // Each file is looked up once, however often the arguments name it.
        let mut seen = HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
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
                Ok(text) => serde_json::from_slice::<FileMeta>(&text).map_err(|_| not_found(id))?,
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

    /// Holds the files `ids` of `token` for a background task's work: while the returned
    /// [`Held`]'s [`Held::keep_fresh`] runs, their metadata's time is renewed every quarter of
    /// the TTL (at least every 250 ms, at most every minute), so that no sweep (of this process
    /// or of another sharing the folder) deletes them; when it is dropped (the work ended, or
    /// was stopped) the files are deleted. A process that dies holding them leaves them to the
    /// sweep, a TTL after its last renewal.
    pub fn hold(&self, token: &str, ids: Vec<String>) -> Held {
        Held {
            dir: self.token_dir(token),
            ids: ids.into_iter().filter(|id| valid_id(id)).collect(),
            every: (self.config.ttl / 4).clamp(Duration::from_millis(250), Duration::from_secs(60)),
        }
    }

    /// Deletes the files `ids` of `token` (a copy a handler persisted is a link of its own: it
    /// stays).
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

/// Uploaded files a background task's work reads (see [`Uploads::hold`]): kept from the sweep
/// while [`Held::keep_fresh`] runs, deleted when dropped.
#[derive(Debug)]
pub struct Held {
    dir: PathBuf,
    ids: Vec<String>,
    every: Duration,
}

impl Held {
    /// Renews the time of the held files' metadata (what the sweep counts from) now and then,
    /// for ever: run it beside the work, and drop it with the work. A renewal that fails is
    /// logged.
    pub async fn keep_fresh(&self) -> std::convert::Infallible {
        let mut every = tokio::time::interval(self.every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let metas: Vec<PathBuf> = self
                .ids
                .iter()
                .map(|id| self.dir.join(format!("{id}.json")))
                .collect();
            let renewed = tokio::task::spawn_blocking(move || {
                let now = SystemTime::now();
                metas
                    .iter()
                    .try_for_each(|meta| std::fs::File::open(meta)?.set_modified(now))
            })
            .await;
            if let Err(e) = renewed.map_err(io::Error::other).and_then(|r| r) {
                tracing::warn!(error = %e, "could not renew a background task's uploads");
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        for id in &self.ids {
            for path in [self.dir.join(id), self.dir.join(format!("{id}.json"))] {
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "could not delete a background task's upload");
                }
            }
        }
    }
}

/// Writes `body` to `file`, refusing more than `size` bytes (checked against the size limit
/// before); returns how many bytes it wrote.
async fn write_body(
    file: &mut tokio::fs::File,
    mut body: UploadBody,
    size: u64,
) -> Result<u64, Failure> {
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "an upload broke off");
            Failure::new(ErrorCode::Unavailable, e.to_string())
        })?;
        written += chunk.len() as u64;
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

/// Makes the complete upload `id` of the token folder `dir` one that events can name: renames
/// `<id>.part` to `<id>`, then writes its metadata `<id>.json` (`meta`); on a failure deletes
/// all three. Blocking.
///
/// # Errors
/// The I/O error of the rename or the write.
fn finish_upload(dir: &Path, id: &str, meta: &[u8]) -> io::Result<()> {
    let part = dir.join(format!("{id}.part"));
    let file = dir.join(id);
    let meta_path = dir.join(format!("{id}.json"));
    let done = std::fs::rename(&part, &file).and_then(|()| write_private(&meta_path, meta));
    if done.is_err() {
        for path in [&part, &file, &meta_path] {
            if let Err(e) = std::fs::remove_file(path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "could not delete a failed upload");
            }
        }
    }
    done
}

/// [`Uploads::sweep`]'s work, blocking: in each token folder (a folder named as a digest, not
/// a symbolic link), the files of each upload id (`<id>`, `<id>.json`, `<id>.part`) go together
/// once the newest of them is `ttl` old; every other entry is left alone. A token folder left
/// empty is removed.
fn sweep_dir(dir: &Path, ttl: Duration) -> io::Result<usize> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(io::Error::other(format!(
                "the upload folder {} is a symbolic link: not swept",
                dir.display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        _ => {}
    }
    let tokens = match std::fs::read_dir(dir) {
        Ok(tokens) => tokens,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut deleted = 0;
    for token in tokens.flatten() {
        // `file_type` does not follow symbolic links: a link named as a digest is skipped.
        let is_folder = token.file_type().is_ok_and(|t| t.is_dir());
        // Named as a digest: 32 lowercase hex digits, the form of ids too.
        if !is_folder || !token.file_name().to_str().is_some_and(valid_id) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(token.path()) else {
            continue;
        };
        // Each upload's files, and the time of the newest.
        let mut uploads: HashMap<String, (SystemTime, Vec<PathBuf>)> = HashMap::new();
        for file in files.flatten() {
            if !file.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = file.file_name();
            let Some(id) = name.to_str().and_then(upload_file_id) else {
                continue;
            };
            let Ok(modified) = file.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            let entry = uploads
                .entry(id.to_owned())
                .or_insert((SystemTime::UNIX_EPOCH, Vec::new()));
            entry.0 = entry.0.max(modified);
            entry.1.push(file.path());
        }
        for (newest, paths) in uploads.into_values() {
            if now.duration_since(newest).is_ok_and(|age| age >= ttl) {
                deleted += paths
                    .iter()
                    .filter(|p| std::fs::remove_file(p).is_ok())
                    .count();
            }
        }
        // Only an empty folder goes (and an empty folder of published files in it: its files
        // are the app's, never swept).
        let _ = std::fs::remove_dir(token.path().join(PUBLIC_FOLDER));
        let _ = std::fs::remove_dir(token.path());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use refract_core::upload::upload_refs;
    use refract_proto::BodyError;
    use serde_json::json;

    fn uploads(max_bytes: u64) -> (Uploads, PathBuf) {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let dir = std::env::temp_dir().join(format!("refract-uploads-test-{}", hex(&random)));
        let config = UploadConfig {
            dir: dir.clone(),
            max_bytes,
            max_bytes_per_session: 4 * max_bytes,
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
        let ids = uploads
            .resolve("token-1", upload_refs(&args), &mut args)
            .await
            .unwrap();
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
        let err = uploads
            .resolve("token-2", upload_refs(&theirs), &mut theirs)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UploadNotFound);

        uploads.discard("token-1", &ids).await;
        let mut again = json!({"f": {"$upload": done.id}});
        let err = uploads
            .resolve("token-1", upload_refs(&again), &mut again)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::UploadNotFound);
        assert!(files(&dir).is_empty(), "{:?}", files(&dir));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn clients_cannot_forge_files_or_name_paths() {
        let (uploads, dir) = uploads(1024);
        let mut forged = json!({"files": [{"$uploaded_file": {"name": "x", "content_type": "", "size": 1, "path": "/etc/passwd"}}]});
        let err = uploads
            .resolve("token-1", upload_refs(&forged), &mut forged)
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::BadArguments);
        for id in ["../../etc/passwd", "0123456789abcdef0123456789abcdef", ""] {
            let mut args = json!({"f": {"$upload": id}});
            let err = uploads
                .resolve("token-1", upload_refs(&args), &mut args)
                .await
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::UploadNotFound, "{id}");
        }
        let mut no_uploads = json!({"n": 1});
        assert!(
            uploads
                .resolve("token-1", upload_refs(&no_uploads), &mut no_uploads)
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
    async fn an_id_named_twice_is_looked_up_once() {
        let (uploads, dir) = uploads(1024);
        let done = uploads
            .store(request("a", 1), body(vec![Ok(b"x")]))
            .await
            .unwrap();
        let mut args = json!({"a": {"$upload": done.id}, "b": [{"$upload": done.id}]});
        let ids = uploads
            .resolve("token-1", upload_refs(&args), &mut args)
            .await
            .unwrap();
        assert_eq!(ids, std::slice::from_ref(&done.id));
        let a: UploadedFile = serde_json::from_value(args["a"].clone()).unwrap();
        let b: Vec<UploadedFile> = serde_json::from_value(args["b"].clone()).unwrap();
        assert_eq!(b, [a]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_failed_finish_leaves_none_of_the_uploads_files() {
        let (uploads, dir) = uploads(1024);
        let token = uploads.token_dir("token-1");
        std::fs::create_dir_all(&token).unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        std::fs::write(token.join(format!("{id}.part")), b"x").unwrap();
        // Something in the metadata's place: its write fails after the rename.
        std::fs::create_dir(token.join(format!("{id}.json"))).unwrap();
        assert!(finish_upload(&token, id, b"{}").is_err());
        assert_eq!(
            std::fs::read_dir(&token).unwrap().count(),
            1,
            "only the folder in the way is left: {:?}",
            files(&token)
        );
        assert!(!token.join(id).exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_sessions_uploads_are_bounded_together() {
        let (mut uploads, dir) = uploads(10);
        uploads.config.max_bytes_per_session = 25;
        for _ in 0..2 {
            uploads
                .store(request("a", 10), body(vec![Ok(b"0123456789")]))
                .await
                .unwrap();
        }
        // 20 bytes of files held: 10 more are over 25.
        let over = uploads
            .store(request("b", 10), body(vec![Ok(b"0123456789")]))
            .await
            .unwrap_err();
        assert_eq!(over.code, ErrorCode::UploadTooLarge);
        assert!(
            over.message.contains("limit of 25 bytes per session"),
            "{}",
            over.message
        );
        // Another session has its own quota.
        let mut theirs = request("b", 10);
        theirs.token = "token-2".into();
        uploads
            .store(theirs, body(vec![Ok(b"0123456789")]))
            .await
            .unwrap();

        // An upload streaming counts too, until it ends.
        let (mut fresh, fresh_dir) = self::uploads(10);
        fresh.config.max_bytes_per_session = 15;
        let stalled = futures_util::stream::iter([Ok(Bytes::from_static(b"ab"))])
            .chain(futures_util::stream::pending())
            .boxed();
        let streaming = fresh.store(request("a", 10), stalled);
        let second = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            fresh
                .store(request("b", 10), body(vec![Ok(b"0123456789")]))
                .await
        };
        tokio::select! {
            _ = streaming => panic!("a stalled upload ended"),
            refused = second => assert_eq!(refused.unwrap_err().code, ErrorCode::UploadTooLarge),
        }
        // The first one was dropped: its reservation went with it.
        fresh
            .store(request("b", 10), body(vec![Ok(b"0123456789")]))
            .await
            .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        std::fs::remove_dir_all(&fresh_dir).ok();
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
        assert!(
            uploads
                .resolve("token-1", upload_refs(&args), &mut args)
                .await
                .is_err()
        );
        assert!(!uploads.token_dir("token-1").exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn the_sweep_touches_only_uploads() {
        let (mut uploads, dir) = uploads(1024);
        let done = uploads
            .store(request("a", 1), body(vec![Ok(b"x")]))
            .await
            .unwrap();
        let token = uploads.token_dir("token-1");
        let id = "0123456789abcdef0123456789abcdef";
        // What the app (or anyone) keeps in the folder, all of it older than the TTL below.
        let foreign = [
            dir.join("notes.txt"),
            dir.join("not-a-digest").join(format!("{id}.json")),
            dir.join("0123456789ABCDEF0123456789ABCDEF").join(id),
            token.join("notes.txt"),
            token.join(format!("{id}.bak")),
            token.join(id.to_uppercase()),
            token.join("sub").join(id),
        ];
        for path in &foreign {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"keep").unwrap();
        }
        uploads.config.ttl = Duration::ZERO;
        assert_eq!(
            uploads.sweep().await.unwrap(),
            2,
            "the upload's file and its metadata, nothing else"
        );
        assert!(!token.join(&done.id).exists());
        for path in &foreign {
            assert_eq!(std::fs::read(path).unwrap(), b"keep", "{}", path.display());
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_folder_and_files_are_private_and_a_symlink_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let (uploads, dir) = uploads(1024);
        let done = uploads
            .store(request("a", 1), body(vec![Ok(b"x")]))
            .await
            .unwrap();
        let token = uploads.token_dir("token-1");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&token), 0o700);
        assert_eq!(mode(&token.join(&done.id)), 0o600);
        assert_eq!(mode(&token.join(format!("{}.json", done.id))), 0o600);
        // An existing folder open to others is made private at start.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        uploads.config().prepare().unwrap();
        assert_eq!(mode(&dir), 0o700);
        // One that cannot be created (a read-only file system, say) does not stop the process.
        let blocked = UploadConfig {
            dir: PathBuf::from("/proc/refract-uploads-test"),
            ..uploads.config().clone()
        };
        blocked.prepare().unwrap();

        let link = dir.with_extension("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let linked = UploadConfig {
            dir: link.clone(),
            ..uploads.config().clone()
        };
        let refused = linked.prepare().unwrap_err();
        assert!(matches!(refused, UploadDirError::Symlink(_)), "{refused}");
        assert!(refused.to_string().contains("symbolic link"), "{refused}");
        let mut swept = Uploads::new(linked);
        swept.config.ttl = Duration::ZERO;
        assert!(swept.sweep().await.is_err());
        assert!(
            token.join(&done.id).exists(),
            "nothing swept through the link"
        );
        std::fs::remove_file(&link).ok();
        std::fs::remove_dir_all(&dir).ok();
    }
}
