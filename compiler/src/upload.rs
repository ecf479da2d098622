//! Upload zones: a drop zone with a "Choose files" button ([`upload`], react-dropzone), the files
//! it holds as a handler's argument ([`upload_files`]), and its browser vars ([`selected_files`],
//! [`upload_progress`]).
//!
//! ```
//! # use refract_compiler::{Element, button, upload, upload_files, upload_progress, vstack};
//! # use refract_core::{EventSpec, IntoVar, UploadedFile};
//! # fn save(files: impl IntoVar<Vec<UploadedFile>>) -> EventSpec {
//! #     EventSpec::new("docs.save").arg("files", files.into_var())
//! # }
//! let page = vstack((
//!     upload("photos").accept(["image/*", ".pdf"]).max_size(10 << 20).max_files(5),
//!     button("Send").on_click(save(upload_files("photos"))),
//!     upload_progress("photos").to_text(),
//! ));
//! ```
//!
//! When a trigger whose events take `upload_files(id)` fires, the runtime uploads the zone's
//! files, each on its own `POST /_upload`, 4 at a time (with progress, outside the event queue, so
//! the page's other triggers go on), and queues the trigger's events once all of them arrived,
//! with each file named by its id: the handler gets them as `Vec<UploadedFile>`. A failed or
//! cancelled upload ([`cancel_upload`](refract_core::actions::cancel_upload)) queues no event and
//! is reported (a toast, the console).
//!
//! One event of a trigger takes a zone's files: the engine deletes them once that event is
//! over, so a trigger with two events naming `upload_files` of the same zone is refused when
//! the page is built. A handler that needs another to see the files keeps them
//! ([`UploadedFile::persist`], [`UploadedFile::publish`]) and returns the follow-up event with
//! what it kept.

use std::collections::{BTreeSet, HashMap};

use refract_core::upload::UPLOADS;
use refract_core::{EventSpec, Expr, UploadedFile, Var};

use crate::component::{Component, Element, Node, Source};

/// The npm package of the drop zone.
pub const REACT_DROPZONE_PACKAGE: &str = "react-dropzone";

/// Its version range in `package.json` (added only to apps whose pages have an upload zone).
pub const REACT_DROPZONE_VERSION: &str = "^20.1.4";

/// The runtime component of an upload zone (`upload.jsx`).
pub(crate) const UPLOAD_COMPONENT: &str = "RefractUpload";

/// The key of the object `upload_files` stands for in a trigger's arguments, which the runtime
/// replaces with the zone's uploaded files.
pub const UPLOAD_FILES_MARKER: &str = "$upload_files";

/// Panics unless `id` is a valid upload zone id: ASCII letters, digits and `_`, not empty (it
/// names the zone's vars in the page's JavaScript). Pages are built when the app starts: this
/// fails at once.
fn checked(id: &str) -> &str {
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "`{id}` is no upload zone id: use ASCII letters, digits and `_`"
    );
    id
}

/// An upload zone: a drop zone with a "Choose files" button that shows the files chosen, each
/// with its size; built by [`upload`].
#[derive(Clone, Debug)]
pub struct Upload {
    component: Component,
}

impl Element for Upload {
    fn element(&mut self) -> &mut Component {
        &mut self.component
    }
}

impl From<Upload> for Node {
    fn from(upload: Upload) -> Node {
        Node::Element(upload.component)
    }
}

/// An upload zone named `id` (ASCII letters, digits and `_`), taking several files by default.
/// Its files reach a handler through [`upload_files`]`(id)`.
///
/// # Panics
/// When `id` is not of that form (pages are built when the app starts).
pub fn upload(id: &str) -> Upload {
    let mut component = Component::new(Source::Runtime(UPLOAD_COMPONENT));
    component.set_prop("id", Expr::literal(checked(id)));
    Upload { component }
}

impl Upload {
    /// Whether more than one file may be chosen (default `true`).
    pub fn multiple(mut self, multiple: bool) -> Self {
        self.component
            .set_prop("multiple", Expr::literal(&multiple));
        self
    }

    /// The kinds of file taken: media types (`"application/pdf"`), families of them
    /// (`"image/*"`) or extensions (`".pdf"`, compared case-insensitively). Other files are
    /// refused when chosen, with a message; the file picker shows only these.
    pub fn accept<S: AsRef<str>>(mut self, kinds: impl IntoIterator<Item = S>) -> Self {
        let kinds: Vec<String> = kinds.into_iter().map(|k| k.as_ref().to_owned()).collect();
        self.component.set_prop("accept", Expr::literal(&kinds));
        self
    }

    /// The largest file taken, in bytes; a larger one is refused when chosen, with a message.
    /// The server has its own limit (`--max-upload-bytes`, default 1 GiB).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.component.set_prop("maxSize", Expr::literal(&bytes));
        self
    }

    /// The most files chosen at once; choosing more is refused, with a message.
    pub fn max_files(mut self, n: u32) -> Self {
        self.component.set_prop("maxFiles", Expr::literal(&n));
        self
    }
}

/// The files of the upload zone `id`, as a handler's argument (`Vec<UploadedFile>`): when the
/// trigger fires, the runtime uploads them first, then sends the event naming them (see the
/// module docs). Only a page's trigger can evaluate it; a handler cannot return it.
///
/// # Panics
/// When `id` is no upload zone id.
pub fn upload_files(id: &str) -> Var<Vec<UploadedFile>> {
    let id = Expr::literal(checked(id));
    // Not JSON (parenthesised, an unquoted key): a handler's follow-up cannot carry it.
    Var::raw(format!("({{ {UPLOAD_FILES_MARKER}: {} }})", id.js))
}

/// The upload zone whose files `expr` stands for, when it is [`upload_files`]`(id)`.
fn zone_taken(expr: &Expr) -> Option<String> {
    let id = expr
        .js
        .strip_prefix(&format!("({{ {UPLOAD_FILES_MARKER}: "))?
        .strip_suffix(" })")?;
    serde_json::from_str(id).ok()
}

/// Refuses a trigger's `events` when two of them take the files of one upload zone (the first
/// event's files would be deleted when the second runs).
///
/// # Panics
/// Naming the zone and the two handlers (pages are built when the app starts: this fails at
/// once).
pub(crate) fn check_zone_takers(events: &[EventSpec]) {
    let mut takers: HashMap<String, &str> = HashMap::new();
    for event in events {
        let zones: BTreeSet<String> = event
            .args
            .iter()
            .filter_map(|(_, e)| zone_taken(e))
            .collect();
        for zone in zones {
            if let Some(first) = takers.insert(zone.clone(), &event.handler) {
                panic!(
                    "the upload zone `{zone}` is taken by two events of one trigger (`{first}` \
                     and `{}`): its files are deleted once the first is over; let one handler \
                     take them, keep them (persist or publish) and return the follow-up with \
                     what it kept",
                    event.handler
                );
            }
        }
    }
}

/// The names of the files chosen in the upload zone `id`, before they are uploaded (a var of
/// the browser).
///
/// # Panics
/// When `id` is no upload zone id.
pub fn selected_files(id: &str) -> Var<Vec<String>> {
    Var::state_var(UPLOADS, &format!("selected${}", checked(id)))
}

/// How far the upload zone `id`'s upload is, from 0 to 1 (bytes sent of all its files): 0
/// before, and again after a failure or a cancel; 1 once every file arrived (a var of the
/// browser).
///
/// # Panics
/// When `id` is no upload zone id.
pub fn upload_progress(id: &str) -> Var<f64> {
    Var::state_var(UPLOADS, &format!("progress${}", checked(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use refract_core::Dep;

    #[test]
    fn the_vars_read_the_browsers_pseudo_state() {
        assert_eq!(selected_files("photos").js(), "__upload$selected$photos");
        assert!(upload_progress("photos").expr().deps.contains(&Dep::State {
            state: UPLOADS.into(),
            var: "progress$photos".into()
        }));
        let files = upload_files("photos");
        assert_eq!(files.js(), r#"({ $upload_files: "photos" })"#);
        assert!(!files.expr().reads_state());
        assert!(serde_json::from_str::<serde_json::Value>(files.js()).is_err());
    }

    #[test]
    fn one_event_of_a_trigger_takes_a_zones_files() {
        let save = |handler: &str, zone: &str| {
            EventSpec::new(handler)
                .arg("files", upload_files(zone))
                .arg("again", upload_files(zone))
        };
        assert_eq!(
            zone_taken(&upload_files("photos").into_expr()).as_deref(),
            Some("photos")
        );
        assert_eq!(zone_taken(&Expr::literal("photos")), None);
        // One event naming a zone twice, and two events of two zones, are fine.
        check_zone_takers(&[save("docs.save", "photos"), save("docs.log", "notes")]);
        let twice = std::panic::catch_unwind(|| {
            check_zone_takers(&[
                save("docs.save", "photos"),
                refract_core::actions::clear_selected_files("photos"),
                save("docs.log", "photos"),
            ])
        })
        .unwrap_err();
        let message = twice.downcast_ref::<String>().unwrap();
        assert!(
            message.contains(
                "`photos` is taken by two events of one trigger (`docs.save` and `docs.log`)"
            ),
            "{message}"
        );
    }

    #[test]
    #[should_panic(expected = "two events of one trigger")]
    fn a_page_whose_trigger_takes_a_zone_twice_is_refused() {
        use crate::Element;
        let _ = crate::button("Send").on_click(vec![
            EventSpec::new("docs.save").arg("files", upload_files("photos")),
            EventSpec::new("docs.log").arg("files", upload_files("photos")),
        ]);
    }

    #[test]
    #[should_panic(expected = "no upload zone id")]
    fn ids_are_identifiers() {
        let _ = upload("my photos");
    }

    #[test]
    fn options_are_props() {
        let zone = upload("docs")
            .multiple(false)
            .accept(["image/*", ".pdf"])
            .max_size(1024)
            .max_files(2);
        let props: Vec<(&str, &str)> = zone
            .component
            .props
            .iter()
            .map(|(n, e)| (n.as_str(), e.js.as_str()))
            .collect();
        assert_eq!(
            props,
            [
                ("id", "\"docs\""),
                ("multiple", "false"),
                ("accept", r#"["image/*",".pdf"]"#),
                ("maxSize", "1024"),
                ("maxFiles", "2")
            ]
        );
    }
}
