//! The app's pages over HTTP: a path that matches one of the app's routes (listed by the compiler
//! in [`ROUTES_FILE`]) is served the page's HTML with status 200 (its own file, with its head
//! tags, for a static route that has one, `index.html` for the root; the shell with no page's
//! head, [`SHELL_FILE`], otherwise), and any other path
//! gets [`NOT_FOUND_FILE`] (the app's shell, which shows its "not found" page) with status 404.
//! Built assets without a routes file (an older build) are served as before: every path is a
//! page.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use refract_core::{NOT_FOUND_FILE, ROUTES_FILE, Routes, SHELL_FILE};

/// The pages of the built assets in `dir`.
#[derive(Debug)]
pub(crate) struct Pages {
    dir: PathBuf,
    routes: Option<Routes>,
}

impl Pages {
    /// The pages of `dir`: its routes file read once (a missing or unreadable one is logged,
    /// and every path is then a page).
    pub fn load(dir: &Path) -> Self {
        let file = dir.join(ROUTES_FILE);
        let routes = match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str::<Vec<String>>(&text)
                .map_err(|e| e.to_string())
                .and_then(|routes| {
                    Routes::new(routes.iter().map(String::as_str)).map_err(|e| e.to_string())
                })
                .inspect_err(|error| {
                    tracing::warn!(file = %file.display(), %error, "the app's routes do not read: every path is served as a page");
                })
                .ok(),
            Err(_) => None,
        };
        Pages {
            dir: dir.to_owned(),
            routes,
        }
    }

    /// The HTML file of `path` and its status.
    fn resolve(&self, path: &str) -> (StatusCode, PathBuf) {
        let index = self.dir.join("index.html");
        let Some(routes) = &self.routes else {
            return (StatusCode::OK, index);
        };
        // The shell with no page's head (`index.html` carries the root page's), if written.
        let shell = || {
            let shell = self.dir.join(SHELL_FILE);
            if shell.is_file() {
                shell
            } else {
                self.dir.join("index.html")
            }
        };
        match routes.find(path) {
            Some(found) if found.route == "/" => (StatusCode::OK, index),
            Some(found) if Routes::is_static(&found.route) => {
                // Its own file (from the declared pattern, never the request's path), if written.
                let own = self
                    .dir
                    .join(found.route.trim_matches('/'))
                    .join("index.html");
                (StatusCode::OK, if own.is_file() { own } else { shell() })
            }
            Some(_) => (StatusCode::OK, shell()),
            None => {
                let not_found = self.dir.join(NOT_FOUND_FILE);
                let file = if not_found.is_file() {
                    not_found
                } else {
                    index
                };
                (StatusCode::NOT_FOUND, file)
            }
        }
    }
}

/// Serves the page of the request's path (see the module docs), never cached (a deploy changes
/// it).
pub(crate) async fn page(State(pages): State<Arc<Pages>>, uri: Uri) -> Response {
    let (status, file) = pages.resolve(uri.path());
    match tokio::fs::read(&file).await {
        Ok(html) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            Body::from(html),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(file = %file.display(), %error, "a page of the built app cannot be read");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(routes: Option<&str>) -> (tempdir::Dir, Pages) {
        let dir = tempdir::Dir::new();
        std::fs::write(dir.0.join("index.html"), "home").unwrap();
        std::fs::write(dir.0.join(SHELL_FILE), "shell").unwrap();
        std::fs::write(dir.0.join(NOT_FOUND_FILE), "not found").unwrap();
        std::fs::create_dir_all(dir.0.join("about")).unwrap();
        std::fs::write(dir.0.join("about/index.html"), "about").unwrap();
        if let Some(routes) = routes {
            std::fs::write(dir.0.join(ROUTES_FILE), routes).unwrap();
        }
        let pages = Pages::load(&dir.0);
        (dir, pages)
    }

    /// A folder removed when dropped.
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let dir =
                    std::env::temp_dir().join(format!("refract-pages-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                Dir(dir)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn served(pages: &Pages, path: &str) -> (StatusCode, String) {
        let (status, file) = pages.resolve(path);
        (status, std::fs::read_to_string(file).unwrap())
    }

    #[test]
    fn routes_are_pages_and_other_paths_are_not_found() {
        let (_dir, pages) = built(Some(r#"["/", "/about", "/posts/:id"]"#));
        assert_eq!(served(&pages, "/"), (StatusCode::OK, "home".into()));
        assert_eq!(served(&pages, "/about"), (StatusCode::OK, "about".into()));
        assert_eq!(served(&pages, "/About/"), (StatusCode::OK, "about".into()));
        assert_eq!(served(&pages, "/posts/7"), (StatusCode::OK, "shell".into()));
        assert_eq!(
            served(&pages, "/posts/7/edit"),
            (StatusCode::NOT_FOUND, "not found".into())
        );
        assert_eq!(
            served(&pages, "/../etc/passwd"),
            (StatusCode::NOT_FOUND, "not found".into())
        );
    }

    #[test]
    fn without_routes_every_path_is_index_html() {
        let (_dir, pages) = built(None);
        assert_eq!(served(&pages, "/anything"), (StatusCode::OK, "home".into()));
        let (_dir, broken) = built(Some("not json"));
        assert_eq!(served(&broken, "/x"), (StatusCode::OK, "home".into()));
    }
}
