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
//! The upload zone's vars (the names chosen, the progress) live in the browser: a pseudo-state,
//! [`UPLOADS`], that the compiler binds to the runtime's upload manager.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
        link_or_copy(&self.path, dest.as_ref()).await
    }
}

/// Puts a hard link to `from` (or, when linking fails but for `from` missing, a copy of it) at
/// `to`, through a temporary name beside `to` renamed over it.
///
/// # Errors
/// The I/O error linking, copying or renaming; `InvalidInput` when `to` names no file.
async fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let Some(name) = to.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", to.display()),
        ));
    };
    let temp = to.with_file_name(format!(
        ".{}.{}-{}.refract-tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    match tokio::fs::hard_link(from, &temp).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
        // Another file system (EXDEV), or one without links: a copy.
        Err(_) => {
            if let Err(e) = tokio::fs::copy(from, &temp).await {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(e);
            }
        }
    }
    let renamed = tokio::fs::rename(&temp, to).await;
    // Gone once renamed, except when `to` was a link to the same file already (persisted
    // before): then the rename does nothing, and the temporary link goes here.
    let _ = tokio::fs::remove_file(&temp).await;
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
}
