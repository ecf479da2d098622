//! The uploads example: an upload zone taking up to 3 text, PDF, image or `.bin` files of at
//! most 50 MB each; Send uploads them (the progress shows meanwhile, Cancel stops it) and its
//! handler lists the names and sizes it received and publishes each file, whose link the page
//! shows (served by the gateway with safe headers); the files are then forgotten by the zone.
//! Unpublish deletes the published files. The server's own limit is `--max-upload-bytes`
//! (default 1 GiB).

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// The upload zone's id.
pub const ZONE: &str = "docs";

/// What the server received.
#[derive(State, Default, Serialize, Deserialize)]
pub struct UploadState {
    /// `name (size bytes)` of each file of the last send, in the order chosen.
    received: Vec<String>,
    /// How many sends reached the handler.
    sends: u32,
    /// The files published by the sends, each linked from the page.
    published: Vec<PublishedFile>,
}

#[refract::handlers]
impl UploadState {
    /// Lists the files' names and sizes, after checking that each holds as many bytes as it
    /// says, and publishes each (the uploads themselves are deleted after the event).
    pub async fn save(&mut self, files: Vec<UploadedFile>) -> Result<(), String> {
        let mut received = Vec::with_capacity(files.len());
        for file in &files {
            let held = file
                .open()
                .await
                .map_err(|e| format!("cannot open {}: {e}", file.name()))?
                .metadata()
                .await
                .map_err(|e| format!("cannot read {}: {e}", file.name()))?
                .len();
            if held != file.size() {
                return Err(format!(
                    "{} holds {held} bytes, not {}",
                    file.name(),
                    file.size()
                ));
            }
            received.push(format!("{} ({} bytes)", file.name(), file.size()));
        }
        for file in &files {
            let published = file
                .publish()
                .await
                .map_err(|e| format!("cannot publish {}: {e}", file.name()))?;
            self.published.push(published);
        }
        self.received = received;
        self.sends += 1;
        Ok(())
    }

    /// Deletes every published file: their links answer 404 from then on.
    pub async fn unpublish(&mut self) -> Result<(), String> {
        for file in std::mem::take(&mut self.published) {
            file.delete()
                .await
                .map_err(|e| format!("cannot delete {}: {e}", file.name()))?;
        }
        Ok(())
    }
}

fn index() -> Node {
    vstack((
        heading("Uploads"),
        upload(ZONE)
            .accept(["text/*", ".txt", ".pdf", "image/*", ".bin"])
            .max_size(50 << 20)
            .max_files(3),
        hstack((
            button("Send")
                .on_click(vec![
                    UploadState::save(upload_files(ZONE)),
                    clear_selected_files(ZONE),
                ])
                .prop("data-testid", "send"),
            button("Cancel")
                .on_click(cancel_upload(ZONE))
                .prop("data-testid", "cancel"),
            button("Unpublish")
                .on_click(UploadState::unpublish)
                .prop("data-testid", "unpublish"),
        )),
        text(selected_files(ZONE).len().to_text()).prop("data-testid", "selected"),
        text(upload_progress(ZONE).to_text()).prop("data-testid", "progress"),
        text(UploadState::sends().to_text()).prop("data-testid", "sends"),
        foreach(UploadState::received(), |file, _| {
            text(file).prop("data-testid", "received")
        }),
        foreach(UploadState::published(), |file, _| {
            link_to(file.name(), file.url()).prop("data-testid", "published")
        }),
    ))
    .into()
}

/// The app.
pub fn app() -> App {
    App::new("Uploads").state::<UploadState>().page("/", index)
}
