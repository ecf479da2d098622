//! Upload zones in a generated project: the page's JSX (the runtime component, its vars bound
//! to `useUploadVar`, the trigger's marker), react-dropzone and the real `upload.jsx` only in
//! apps that have a zone.

use std::collections::BTreeMap;

use refract_compiler::{
    AppSpec, Element, Page, REACT_DROPZONE_PACKAGE, REACT_DROPZONE_VERSION, button, generate,
    selected_files, text, upload, upload_files, upload_progress, vstack,
};
use refract_core::actions::cancel_upload;
use refract_core::{EventSpec, IntoVar, UploadedFile};
use serde_json::json;

fn project(pages: &[Page]) -> BTreeMap<String, String> {
    generate(&AppSpec {
        title: "Uploads",
        pages,
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap()
}

fn save(files: impl IntoVar<Vec<UploadedFile>>) -> EventSpec {
    EventSpec::new("docs.save").arg("files", files.into_var())
}

#[test]
fn a_zone_compiles_to_the_runtime_component_and_its_vars() {
    let page = Page::new(
        "/",
        vstack((
            upload("photos").accept(["image/*"]).max_files(3),
            button("Send").on_click(save(upload_files("photos"))),
            button("Cancel").on_click(cancel_upload("photos")),
            text(selected_files("photos").len().to_text()),
            text(upload_progress("photos").to_text()),
        )),
    );
    let files = project(&[page]);
    let module = &files["src/pages/page_0.jsx"];
    assert!(
        module.contains(r#"<RefractUpload id={"photos"} accept={["image/*"]} maxFiles={3} />"#),
        "{module}"
    );
    assert!(
        module.contains(r#"args: { "files": ({ $upload_files: "photos" }) }"#),
        "{module}"
    );
    assert!(
        module.contains(r#"const __upload$selected$photos = useUploadVar("selected$photos");"#),
        "{module}"
    );
    assert!(
        module.contains(r#"const __upload$progress$photos = useUploadVar("progress$photos");"#),
        "{module}"
    );
    assert!(module.contains(r#"handler: "_cancel_upload", args: { "id": "photos" }"#));
    let manifest: serde_json::Value = serde_json::from_str(&files["package.json"]).unwrap();
    assert_eq!(
        manifest["dependencies"][REACT_DROPZONE_PACKAGE],
        REACT_DROPZONE_VERSION
    );
    assert!(files["src/refract/upload.jsx"].contains("useDropzone"));
    assert!(files["src/refract/upload.js"].contains("export class Uploads"));
}

#[test]
fn an_app_without_a_zone_gets_neither_the_package_nor_the_component() {
    let files = project(&[Page::new("/", text("hi"))]);
    let manifest: serde_json::Value = serde_json::from_str(&files["package.json"]).unwrap();
    assert!(
        manifest["dependencies"]
            .get(REACT_DROPZONE_PACKAGE)
            .is_none()
    );
    let stub = &files["src/refract/upload.jsx"];
    assert!(!stub.contains("react-dropzone\""), "{stub}");
    assert!(stub.contains("export function RefractUpload"));
}
