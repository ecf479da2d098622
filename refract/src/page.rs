//! What a page has besides its component: the events it runs when opened (`on_load`) and its
//! head (title, description, preview image), given to [`App::page_with`](crate::App::page_with).

use refract_compiler::Head;
use refract_core::{EventSpec, IntoEventChain, IntoVar};

/// A page's `on_load` events and head; every part is optional.
///
/// ```ignore
/// App::new("Blog").page_with(
///     "/posts/:id",
///     post,
///     PageOptions::new()
///         .on_load(PostState::load(router::param("id")))
///         .title(format_var!("Post {}", router::param("id"))),
/// )
/// ```
#[derive(Debug, Clone, Default)]
pub struct PageOptions {
    pub(crate) on_load: Vec<EventSpec>,
    pub(crate) head: Head,
}

impl PageOptions {
    /// No `on_load`, and the app's head.
    pub fn new() -> Self {
        Self::default()
    }

    /// Events (and client actions) to run when the page is opened: on the first load, once the
    /// tab has its state; on client-side navigation to it; and again when its path changes
    /// (`/posts/1` → `/posts/2`). They run as one event chain, in order, so an `on_load` handler
    /// can return a redirect (a guard). Their arguments may be vars (`router::param("id")`),
    /// read when the page opens. A second call adds to the first.
    pub fn on_load(mut self, events: impl IntoEventChain) -> Self {
        self.on_load.extend(events.into_chain());
        self
    }

    /// The document title while the page is shown: text, or a var (the title follows it).
    /// Also the link preview's title (`og:title`).
    pub fn title(mut self, title: impl IntoVar<String>) -> Self {
        self.head.title = Some(title.into_var().into_expr());
        self
    }

    /// The page's description for search engines and link previews (`<meta name="description">`
    /// and `og:description`).
    pub fn description(mut self, description: impl IntoVar<String>) -> Self {
        self.head.description = Some(description.into_var().into_expr());
        self
    }

    /// The URL of the link preview's image (`og:image`), e.g. `/cover.png`.
    pub fn image(mut self, url: impl IntoVar<String>) -> Self {
        self.head.image = Some(url.into_var().into_expr());
        self
    }

    /// The page's icon (`<link rel="icon">`), e.g. `/favicon.svg` from the app's `assets/`
    /// (a `favicon.ico` there is the browser's default for every page).
    pub fn icon(mut self, url: impl IntoVar<String>) -> Self {
        self.head.icon = Some(url.into_var().into_expr());
        self
    }

    /// One more `<meta>` tag: `name` (`"robots"`, `"twitter:card"`; an Open Graph one,
    /// `"og:type"`, is written as a `property`) and its content, text or a var.
    pub fn meta(mut self, name: &str, content: impl IntoVar<String>) -> Self {
        self.head
            .meta
            .push((name.to_owned(), content.into_var().into_expr()));
        self
    }

    /// A `<link>` tag: `rel` (`"canonical"`, `"alternate"`, `"preload"`) and its `href`, text
    /// or a var.
    pub fn link(mut self, rel: &str, href: impl IntoVar<String>) -> Self {
        self.head
            .links
            .push((rel.to_owned(), href.into_var().into_expr()));
        self
    }
}
