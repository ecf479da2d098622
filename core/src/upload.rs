//! Uploaded files, as a handler receives them.
//!
//! A page's upload zone (`refract::upload`) sends each chosen file to the server on its own
//! (`POST /_upload`), before the event that uses them; the event's argument then names the files
//! by id, `{"$upload": "<id>"}`, and the engine replaces each with the file it holds, as an
//! [`UploadedFile`], before the handler's arguments are decoded. A client cannot name a file
//! by its path: the engine refuses any argument holding the key an [`UploadedFile`] is read
//! from ([`UPLOADED_FILE_KEY`]), and only the engine writes it.
//!
//! The files of an event are deleted once it is applied (or has failed for good): a handler
//! keeps one with [`UploadedFile::persist`], which links it (the upload itself stays until the
//! event is final, so an event the browser resends after a failure of the platform finds its
//! files again).
//!
//! A handler serves a file back with [`UploadedFile::publish`]: it is linked into the token
//! folder's `public/` folder, and the gateway serves it at [`PublishedFile::url`] (see
//! [`FILES_PATH`]) until the app deletes it ([`PublishedFile::delete`]).
//!
//! The upload zone's vars (the names chosen, the progress) live in the browser: a pseudo-state,
//! [`UPLOADS`], that the compiler binds to the runtime's upload manager.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::var::Var;

/// The name of the pseudo-state of upload zones' browser vars (`__upload`).
pub const UPLOADS: &str = "__upload";

/// The key of the object an event's argument names an upload by: `{"$upload": "<id>"}`.
pub const UPLOAD_REF_KEY: &str = "$upload";

/// The key an [`UploadedFile`] is read from: reserved to the engine, refused in a client's
/// arguments.
pub const UPLOADED_FILE_KEY: &str = "$uploaded_file";

/// The longest file name kept, in bytes of UTF-8 (what common file systems take).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// What a file is named when nothing of its given name is left after sanitising.
pub const DEFAULT_FILE_NAME: &str = "file";

/// The path the gateway serves published files under:
/// `/_files/<token digest>/<id>/<percent-encoded name>`.
pub const FILES_PATH: &str = "/_files";

/// The folder of a token folder that holds its published files (never swept).
pub const PUBLIC_FOLDER: &str = "public";

/// `refract-uploads` in the system's temp folder: the default upload folder of workers and
/// gateways (`--upload-dir`).
pub fn default_dir() -> PathBuf {
    std::env::temp_dir().join("refract-uploads")
}

/// Whether `id` is of the form upload ids and token digests have: 32 lowercase hex digits.
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What is kept beside an uploaded or published file (`<id>.json`): its sanitised name, its
/// media type as the browser gave it, and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// The sanitised name ([`sanitize_file_name`]).
    pub name: String,
    /// The media type the browser claimed (`""` for none).
    pub content_type: String,
    /// The size in bytes.
    pub size: u64,
}

tokio::task_local! {
    /// The upload folder of the engine running the current handler or background task (what
    /// [`PublishedFile::delete`] needs).
    static UPLOAD_DIR: PathBuf;
}

/// Runs `work` (a handler, a background task's work) where [`PublishedFile::delete`] finds the
/// upload folder `dir`. For the engine.
pub async fn with_upload_dir<F: Future>(dir: PathBuf, work: F) -> F::Output {
    UPLOAD_DIR.scope(dir, work).await
}

/// One file the browser uploaded for an event: its name, type and size as the browser gave them,
/// and where the server keeps it until the event is over.
///
/// Deserialised only from what the engine writes (see the module docs); a handler takes it as an
/// argument (`files: Vec<UploadedFile>`), reads it ([`UploadedFile::read`],
/// [`UploadedFile::open`]) and keeps it with [`UploadedFile::persist`]: the file is deleted
/// after the event otherwise.
///
/// It is not `Serialize`: it names a file of the server by its path, which must not reach the
/// browser (a state's vars are sent there), and the file is gone after the event anyway. Keep
/// what the app needs (its name, the path it persisted it to) instead.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "Wire")]
pub struct UploadedFile {
    name: String,
    content_type: String,
    size: u64,
    path: PathBuf,
}

/// The JSON form of an [`UploadedFile`], which only the engine writes
/// ([`replace_upload_refs`]): its fields under the reserved key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "$uploaded_file")]
    file: Fields,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    name: String,
    content_type: String,
    size: u64,
    path: PathBuf,
}

impl From<Wire> for UploadedFile {
    fn from(w: Wire) -> Self {
        let Fields {
            name,
            content_type,
            size,
            path,
        } = w.file;
        UploadedFile {
            name,
            content_type,
            size,
            path,
        }
    }
}

impl From<UploadedFile> for Wire {
    fn from(f: UploadedFile) -> Self {
        Wire {
            file: Fields {
                name: f.name,
                content_type: f.content_type,
                size: f.size,
                path: f.path,
            },
        }
    }
}

impl UploadedFile {
    /// The file held at `path`, named `name` (sanitised here: see [`sanitize_file_name`]), of
    /// the media type `content_type` and `size` bytes. For the engine (and tests).
    pub fn new(name: &str, content_type: &str, size: u64, path: PathBuf) -> Self {
        UploadedFile {
            name: sanitize_file_name(name),
            content_type: content_type.to_owned(),
            size,
            path,
        }
    }

    /// The file's name as the user's browser gave it, sanitised: no path, no control or
    /// bidirectional-formatting characters, no leading dot, at most [`MAX_FILE_NAME_BYTES`]
    /// bytes, never empty. Still the user's text: escape it where it is shown, and do not trust
    /// it as a file name of your own without checking it against your folder's other files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's media type as the browser gave it (`""` when it gave none): the user's claim,
    /// not checked against the content.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the server holds the file until the event is over.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The upload's id: the name of the server's file (for the files the engine gives
    /// handlers, 32 lowercase hex digits, random and unique), a safe name for a file of the
    /// app's own (`persist(folder.join(file.id()))`), unlike [`UploadedFile::name`].
    pub fn id(&self) -> &str {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }

    /// The file's content, all of it in memory (prefer [`UploadedFile::open`] for large files).
    ///
    /// # Errors
    /// The I/O error reading it (it was deleted already: the event is over, say).
    pub async fn read(&self) -> io::Result<Vec<u8>> {
        tokio::fs::read(&self.path).await
    }

    /// The file, opened for reading.
    ///
    /// # Errors
    /// The I/O error opening it.
    pub async fn open(&self) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(&self.path).await
    }

    /// Keeps the file at `dest` (a file path; its folder must exist) after the event: a hard
    /// link to the upload, or a copy when `dest` is on another file system (or links are
    /// refused there), put in place at once (a file already at `dest` is replaced; a reader
    /// never sees half of it). The upload itself stays until the event is applied or has
    /// failed for good, then the engine deletes it: an event that is run again (the browser
    /// resends it after a failure of the platform) persists it again. The kept file has the
    /// upload's mode (0600 on Unix: this user's only).
    ///
    /// # Errors
    /// The I/O error linking or copying it (the upload is gone: `NotFound`), or
    /// `InvalidInput` when `dest` names no file.
    pub async fn persist(&self, dest: impl AsRef<Path>) -> io::Result<()> {
        let (from, to) = (self.path.clone(), dest.as_ref().to_owned());
        blocking(move || link_or_copy(&from, &to)).await
    }

    /// Publishes the file: links it (a copy on a file system without links) into its token
    /// folder's `public/` folder, `<upload dir>/<token digest>/public/<id>`, with its metadata
    /// (`<id>.json`), where the sweep never deletes it, and returns what the gateway serves it
    /// as: [`PublishedFile::url`], `/_files/<token digest>/<id>/<name>`, to anyone with the link
    /// (both parts are random: 128 bits each), with safe headers (a download, but for images).
    /// It stays until the app deletes it ([`PublishedFile::delete`]). Publishing again (an event
    /// run a second time) gives the same file and URL.
    ///
    /// In distributed mode the gateway serves it from its own `--upload-dir`: gateway and
    /// workers must share the folder (one machine, or a shared volume).
    ///
    /// # Errors
    /// `InvalidInput` when the file is not one the engine gave (not at
    /// `<dir>/<digest>/<id>`); the I/O error linking, copying or writing (`NotFound`: the
    /// upload is gone).
    pub async fn publish(&self) -> io::Result<PublishedFile> {
        let (digest, id) = self
            .path
            .parent()
            .and_then(|token| token.file_name()?.to_str())
            .zip(self.path.file_name().and_then(|n| n.to_str()))
            .filter(|(digest, id)| valid_id(digest) && valid_id(id))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not an upload of the server's", self.path.display()),
                )
            })?;
        let published = PublishedFile {
            url: file_url(digest, id, &self.name),
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
        };
        let meta = serde_json::to_vec(&FileMeta {
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
        })
        .map_err(io::Error::other)?;
        let from = self.path.clone();
        let id = id.to_owned();
        blocking(move || {
            let public = from.with_file_name(PUBLIC_FOLDER);
            let link = || {
                create_private_dir(&public)?;
                link_or_copy(&from, &public.join(&id))
            };
            match link() {
                // The sweep removed the (empty) public folder meanwhile: once more.
                Err(e) if e.kind() == io::ErrorKind::NotFound && from.exists() => link()?,
                linked => linked?,
            }
            write_replacing(&public.join(format!("{id}.json")), &meta)
        })
        .await?;
        Ok(published)
    }
}

/// A file the app published ([`UploadedFile::publish`]): what the gateway serves, and what a
/// state may keep and show (it holds no server path: only the URL, the name, the type and the
/// size). Its fields are read in a page through [`PublishedFileFields`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFile {
    url: String,
    name: String,
    content_type: String,
    size: u64,
}

impl PublishedFile {
    /// Where the gateway serves it: `/_files/<token digest>/<id>/<percent-encoded name>` (a
    /// path of the app's origin).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name (sanitised, the user's text: escape it where it is shown).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its media type as the browser gave it; the gateway serves it with this type only for a
    /// safe list (images but SVG, PDF, plain text, audio, video), else as
    /// `application/octet-stream`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Deletes the published file (the gateway answers 404 for its URL from then on); deleting
    /// one that is gone already is no error. Call it in a handler or a background task's work,
    /// where the engine's upload folder is known.
    ///
    /// # Errors
    /// `InvalidInput` when its URL is not of the form [`UploadedFile::publish`] makes; `Other`
    /// outside a handler or a task's work; the I/O error deleting it.
    pub async fn delete(&self) -> io::Result<()> {
        let (digest, id) = self
            .url
            .strip_prefix(FILES_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| {
                let mut parts = rest.splitn(3, '/');
                Some((parts.next()?, parts.next()?))
            })
            .filter(|(digest, id)| valid_id(digest) && valid_id(id))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{}` is not the URL of a published file", self.url),
                )
            })?;
        let dir = UPLOAD_DIR.try_with(Clone::clone).map_err(|_| {
            io::Error::other(
                "PublishedFile::delete runs in a handler or a background task's work, where the \
                 upload folder is known",
            )
        })?;
        let public = dir.join(digest).join(PUBLIC_FOLDER);
        let paths = [public.join(id), public.join(format!("{id}.json"))];
        blocking(move || {
            paths
                .iter()
                .try_for_each(|path| match std::fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                })
        })
        .await
    }
}

/// Typed field access on a `Var<PublishedFile>` in a page (a state's published files in a
/// `foreach`, say): `link_to(file.name(), file.url())`.
pub trait PublishedFileFields {
    /// [`PublishedFile::url`].
    fn url(&self) -> Var<String>;
    /// [`PublishedFile::name`].
    fn name(&self) -> Var<String>;
    /// [`PublishedFile::content_type`].
    fn content_type(&self) -> Var<String>;
    /// [`PublishedFile::size`].
    fn size(&self) -> Var<u64>;
}

impl PublishedFileFields for Var<PublishedFile> {
    fn url(&self) -> Var<String> {
        self.field("url")
    }
    fn name(&self) -> Var<String> {
        self.field("name")
    }
    fn content_type(&self) -> Var<String> {
        self.field("content_type")
    }
    fn size(&self) -> Var<u64> {
        self.field("size")
    }
}

/// The characters of a file name kept as they are in a URL's path segment: letters, digits and
/// `-._~` (RFC 3986's unreserved); everything else is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The URL of the published file `id` of the token folder `digest`, named `name`.
fn file_url(digest: &str, id: &str, name: &str) -> String {
    format!(
        "{FILES_PATH}/{digest}/{id}/{}",
        utf8_percent_encode(name, PATH_SEGMENT)
    )
}

/// Runs the blocking `work` on tokio's blocking threads: to its end, even when the awaiting
/// future is dropped.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

/// Creates the folder `dir` (its parent must exist) with mode 0700 (on Unix), this user's only;
/// one that exists already is no error. Blocking.
///
/// # Errors
/// The I/O error creating it.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut create = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut create, 0o700);
    match create.create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        created => created,
    }
}

/// A fresh name beside `to` (in its folder, hidden) for a file that is then renamed to `to`.
fn temp_beside(to: &Path) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = to.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", to.display()),
        )
    })?;
    Ok(to.with_file_name(format!(
        ".{}.{}-{}.refract-tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )))
}

/// Writes `bytes` to `to` (mode 0600 on Unix) through a temporary file renamed over it, so a
/// reader sees the old content or the new, never half. Blocking.
fn write_replacing(to: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let temp = temp_beside(to)?;
    let mut create = std::fs::OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    let written = create
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&temp, to));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Puts a hard link to `from` (or, when linking fails but for `from` missing, a copy of it) at
/// `to`, through a temporary name beside `to` renamed over it. Blocking.
///
/// # Errors
/// The I/O error linking, copying or renaming; `InvalidInput` when `to` names no file.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    let temp = temp_beside(to)?;
    match std::fs::hard_link(from, &temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
        // Another file system (EXDEV), or one without links: a copy.
        Err(_) => {
            if let Err(e) = std::fs::copy(from, &temp) {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        }
    }
    let renamed = std::fs::rename(&temp, to);
    // Gone once renamed, except when `to` was a link to the same file already (persisted
    // before): then the rename does nothing, and the temporary link goes here.
    let _ = std::fs::remove_file(&temp);
    renamed
}

/// Whether `c` may stay in a file name: not a control character, and not one that changes how
/// the text around it is shown (bidirectional overrides and isolates, zero-width characters,
/// the byte-order mark), which could make `exe.pdf` of `fdp.exe`.
fn allowed_in_name(c: char) -> bool {
    !c.is_control()
        && !matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `raw` (a file name a browser gave) made safe to show and to use as one file name: its last
/// path component (after the last `/` or `\`), without control or bidirectional-formatting
/// characters, trimmed of white space and of leading dots (no hidden files, no `..`), cut to
/// at most [`MAX_FILE_NAME_BYTES`] bytes on a character boundary (keeping an extension of up to
/// 16 bytes), and [`DEFAULT_FILE_NAME`] when nothing is left.
pub fn sanitize_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let kept: String = base.chars().filter(|&c| allowed_in_name(c)).collect();
    let trimmed = kept.trim().trim_start_matches('.').trim_start();
    if trimmed.is_empty() {
        return DEFAULT_FILE_NAME.to_owned();
    }
    if trimmed.len() <= MAX_FILE_NAME_BYTES {
        return trimmed.to_owned();
    }
    let (stem, ext) = match trimmed.rfind('.') {
        Some(dot) if trimmed.len() - dot <= 16 => trimmed.split_at(dot),
        _ => (trimmed, ""),
    };
    let mut cut = MAX_FILE_NAME_BYTES - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

/// Why an event's arguments cannot name uploads as they do.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum UploadArgError {
    /// An object holds the key reserved to the engine: a client naming a file by its path.
    #[error("the key `{UPLOADED_FILE_KEY}` is reserved to the server; upload files to pass them")]
    Forged,
    /// An object with the key `$upload` that is not `{"$upload": "<id>"}`.
    #[error("`{UPLOAD_REF_KEY}` must be the only key of its object, with an upload's id as text")]
    Malformed,
}

/// The ids of the uploads `args` names (each `{"$upload": "<id>"}`, anywhere in it), in order.
///
/// # Errors
/// [`UploadArgError::Forged`] when any object of `args` holds [`UPLOADED_FILE_KEY`];
/// [`UploadArgError::Malformed`] for an object with `$upload` of another shape.
pub fn upload_refs(args: &Value) -> Result<Vec<String>, UploadArgError> {
    fn walk(v: &Value, out: &mut Vec<String>) -> Result<(), UploadArgError> {
        match v {
            Value::Object(map) => {
                if map.contains_key(UPLOADED_FILE_KEY) {
                    return Err(UploadArgError::Forged);
                }
                if let Some(id) = map.get(UPLOAD_REF_KEY) {
                    return match (id, map.len()) {
                        (Value::String(id), 1) => {
                            out.push(id.clone());
                            Ok(())
                        }
                        _ => Err(UploadArgError::Malformed),
                    };
                }
                map.values().try_for_each(|v| walk(v, out))
            }
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, out)),
            _ => Ok(()),
        }
    }
    let mut out = Vec::new();
    walk(args, &mut out)?;
    Ok(out)
}

/// Replaces, in `args`, each `{"$upload": id}` by the JSON of `file(id)` (an [`UploadedFile`]).
/// Call it after [`upload_refs`] found every id; an id `file` does not know is left as it is.
pub fn replace_upload_refs(args: &mut Value, file: &impl Fn(&str) -> Option<UploadedFile>) {
    match args {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get(UPLOAD_REF_KEY)
                && let Some(found) = file(id)
            {
                let mut replaced = Map::new();
                let Wire { file: fields } = found.into();
                // Fields of plain types: serialising cannot fail.
                replaced.insert(
                    UPLOADED_FILE_KEY.to_owned(),
                    serde_json::to_value(fields).unwrap_or(Value::Null),
                );
                *map = replaced;
                return;
            }
            map.values_mut().for_each(|v| replace_upload_refs(v, file));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_upload_refs(v, file)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_sanitised() {
        let cases = [
            ("photo.jpg", "photo.jpg"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\win.ini", "win.ini"),
            ("C:\\Users\\me\\cv.pdf", "cv.pdf"),
            ("a\0b.txt", "ab.txt"),
            ("bad\nname\r.txt", "badname.txt"),
            ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
            ("zero\u{200B}width\u{FEFF}.txt", "zerowidth.txt"),
            (".htaccess", "htaccess"),
            ("...", DEFAULT_FILE_NAME),
            ("..", DEFAULT_FILE_NAME),
            ("", DEFAULT_FILE_NAME),
            ("dir/", DEFAULT_FILE_NAME),
            ("   ", DEFAULT_FILE_NAME),
            ("  spaced name.txt  ", "spaced name.txt"),
            ("été 東京.png", "été 東京.png"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize_file_name(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(300));
        let cut = sanitize_file_name(&long);
        assert!(cut.len() <= MAX_FILE_NAME_BYTES, "{}", cut.len());
        assert!(cut.ends_with("é.pdf"), "{cut}");
        let no_ext = "x".repeat(1000);
        assert_eq!(sanitize_file_name(&no_ext).len(), MAX_FILE_NAME_BYTES);
        let long_ext = format!("a.{}", "b".repeat(400));
        assert_eq!(sanitize_file_name(&long_ext).len(), MAX_FILE_NAME_BYTES);
    }

    #[test]
    fn a_file_reads_only_from_the_reserved_key_and_is_never_serialised() {
        let file = UploadedFile::new("../a.txt", "text/plain", 3, "/tmp/x".into());
        assert_eq!((file.name(), file.id()), ("a.txt", "x"));
        // What the engine writes, and the file read back from it.
        let mut args = json!({"f": {"$upload": "x"}});
        replace_upload_refs(&mut args, &|_| Some(file.clone()));
        let json = args["f"].clone();
        assert_eq!(
            json,
            json!({"$uploaded_file": {"name": "a.txt", "content_type": "text/plain", "size": 3, "path": "/tmp/x"}})
        );
        assert_eq!(serde_json::from_value::<UploadedFile>(json).unwrap(), file);
        // A state holding one cannot send its path to the browser: it does not serialise.
        struct Probe<T>(std::marker::PhantomData<T>);
        trait NotSerialize {
            const SERIALIZES: bool = false;
        }
        impl<T> NotSerialize for Probe<T> {}
        impl<T: Serialize> Probe<T> {
            const SERIALIZES: bool = true;
        }
        const { assert!(Probe::<String>::SERIALIZES) };
        const { assert!(!Probe::<UploadedFile>::SERIALIZES) };
        let plain = json!({"name": "a.txt", "content_type": "", "size": 3, "path": "/etc/passwd"});
        assert!(serde_json::from_value::<UploadedFile>(plain).is_err());
    }

    #[test]
    fn refs_are_found_and_replaced_and_forgeries_refused() {
        let mut args =
            json!({"files": [{"$upload": "a"}, {"$upload": "b"}], "one": {"$upload": "c"}, "n": 1});
        assert_eq!(upload_refs(&args).unwrap(), ["a", "b", "c"]);
        replace_upload_refs(&mut args, &|id: &str| {
            (id != "c").then(|| UploadedFile::new(id, "", 1, format!("/u/{id}").into()))
        });
        let files: Vec<UploadedFile> = serde_json::from_value(args["files"].clone()).unwrap();
        assert_eq!(files[1].path(), Path::new("/u/b"));
        assert_eq!(args["one"], json!({"$upload": "c"}));
        assert_eq!(args["n"], 1);

        let forged = json!({"files": [{"$uploaded_file": {"name": "x", "content_type": "", "size": 1, "path": "/etc/passwd"}}]});
        assert_eq!(upload_refs(&forged), Err(UploadArgError::Forged));
        let deep = json!({"a": {"b": [{"c": {"$uploaded_file": 1}}]}});
        assert_eq!(upload_refs(&deep), Err(UploadArgError::Forged));
        for bad in [json!({"$upload": 1}), json!({"$upload": "a", "path": "/x"})] {
            assert_eq!(upload_refs(&bad), Err(UploadArgError::Malformed), "{bad}");
        }
        assert!(upload_refs(&Value::Null).unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_persisted_file_is_linked_and_the_upload_stays() {
        let dir = std::env::temp_dir().join(format!("refract-core-upload-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let from = dir.join("upload");
        tokio::fs::write(&from, b"abc").await.unwrap();
        let file = UploadedFile::new("a.txt", "text/plain", 3, from.clone());
        assert_eq!(file.read().await.unwrap(), b"abc");
        let kept = dir.join("kept.txt");
        tokio::fs::write(&kept, b"older").await.unwrap();
        file.persist(&kept).await.unwrap();
        // Again (an event run a second time): the same file, replaced.
        file.persist(&kept).await.unwrap();
        assert_eq!(
            tokio::fs::read(&from).await.unwrap(),
            b"abc",
            "the upload stays"
        );
        tokio::fs::remove_file(&from).await.unwrap();
        assert_eq!(tokio::fs::read(&kept).await.unwrap(), b"abc");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["kept.txt"], "no temporary file left");
        let gone = file.persist(dir.join("again.txt")).await.unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
        let bad = file.persist("/").await.unwrap_err();
        assert_eq!(bad.kind(), io::ErrorKind::InvalidInput);
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }

    #[tokio::test]
    async fn a_published_file_is_linked_into_public_and_deleted_by_the_app() {
        let root =
            std::env::temp_dir().join(format!("refract-core-publish-{}", std::process::id()));
        let digest = "0123456789abcdef0123456789abcdef";
        let id = "fedcba9876543210fedcba9876543210";
        let token = root.join(digest);
        tokio::fs::create_dir_all(&token).await.unwrap();
        tokio::fs::write(token.join(id), b"%PDF").await.unwrap();
        let file = UploadedFile::new("été report #1.pdf", "application/pdf", 4, token.join(id));
        let published = file.publish().await.unwrap();
        assert_eq!(
            published.url(),
            format!("/_files/{digest}/{id}/%C3%A9t%C3%A9%20report%20%231.pdf")
        );
        assert_eq!(
            (published.name(), published.content_type(), published.size()),
            ("été report #1.pdf", "application/pdf", 4)
        );
        // Again (an event run a second time): the same.
        assert_eq!(file.publish().await.unwrap(), published);
        let public = token.join(PUBLIC_FOLDER);
        assert_eq!(tokio::fs::read(public.join(id)).await.unwrap(), b"%PDF");
        let meta: FileMeta = serde_json::from_slice(
            &tokio::fs::read(public.join(format!("{id}.json")))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(meta.name, "été report #1.pdf");
        let mut names: Vec<String> = std::fs::read_dir(&public)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [id.to_owned(), format!("{id}.json")],
            "no temporary file"
        );
        // The upload goes after its event; the published file stays.
        tokio::fs::remove_file(token.join(id)).await.unwrap();
        assert!(public.join(id).exists());
        // It serialises without a server path, and reads back.
        let json = serde_json::to_value(&published).unwrap();
        assert!(
            !json.to_string().contains(&root.display().to_string()),
            "{json}"
        );
        assert_eq!(
            serde_json::from_value::<PublishedFile>(json).unwrap(),
            published
        );

        let outside = published.delete().await.unwrap_err();
        assert_eq!(outside.kind(), io::ErrorKind::Other);
        with_upload_dir(root.clone(), published.delete())
            .await
            .unwrap();
        assert!(!public.join(id).exists() && !public.join(format!("{id}.json")).exists());
        // Once more: nothing to delete, no error.
        with_upload_dir(root.clone(), published.delete())
            .await
            .unwrap();

        let forged = PublishedFile {
            url: "/_files/../../etc/passwd".into(),
            ..published.clone()
        };
        let refused = with_upload_dir(root.clone(), forged.delete())
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::InvalidInput);
        let elsewhere = UploadedFile::new("a", "", 1, "/tmp/not-an-upload".into());
        assert_eq!(
            elsewhere.publish().await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        tokio::fs::remove_dir_all(&root).await.unwrap();
    }

    #[test]
    fn a_published_files_fields_read_in_a_page() {
        let files: Var<Vec<PublishedFile>> = Var::state_var("docs", "published");
        let first: Var<PublishedFile> = files.field("0");
        assert_eq!(first.url().js(), "docs$published.0.url");
    }
}
