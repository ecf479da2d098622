//! The Refract compiler: pages (component trees over vars) → a React app.
//!
//! [`generate`] turns an app's pages and initial state into the files of a Vite + React + React
//! Router + Radix Themes project, deterministically; [`Project`] writes them to the app's build
//! folder, runs `npm install` only when the dependency set changed, and runs `vite build`. The
//! hand-written browser runtime (socket, event queue, client actions, store; `runtime/` in this
//! crate) ships inside every generated project.

mod codegen;
mod component;
mod control;
mod project;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use refract_core::{EventSpec, Expr};

pub use component::{
    Children, Component, Element, External, IntoProp, Node, Source, avatar, r#box, button,
    checkbox, color_mode_toggle, form, heading, hstack, image, input, json_prop, link, link_to,
    text, vstack,
};
pub use control::{
    Match, TextKeyed, cond, foreach, foreach_entries, foreach_keyed, match_var, when,
};
pub use project::Project;
pub use refract_core::{Form, FormData};

/// The npm dependencies every generated app has, with their version ranges.
pub const BASE_PACKAGES: &[(&str, &str)] = &[
    ("@radix-ui/themes", "^3.2.1"),
    ("react", "^19.2.0"),
    ("react-dom", "^19.2.0"),
    ("react-router", "^7.9.0"),
    ("sonner", "^2.0.8"),
    ("vite", "^7.3.0"),
];

const CLIENT_JS: &str = include_str!("../runtime/client.js");
const ACTIONS_JS: &str = include_str!("../runtime/actions.js");
const TRIGGERS_JS: &str = include_str!("../runtime/triggers.js");
const STORAGE_JS: &str = include_str!("../runtime/storage.js");
const OPS_JS: &str = include_str!("../runtime/ops.js");
const REACT_JSX: &str = include_str!("../runtime/react.jsx");

/// Why compiling or building the frontend failed.
#[derive(thiserror::Error, Debug)]
pub enum CompileError {
    /// A program the build needs is not installed.
    #[error(
        "`{tool}` was not found: install Node.js 20.19 or newer with npm (e.g. `apt-get install nodejs npm`) and make sure `{tool}` is on PATH"
    )]
    ToolMissing {
        /// `node` or `npm`.
        tool: String,
    },
    /// A file of the build folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `npm install` or `vite build` failed.
    #[error("`{command}` failed ({status}):\n{output}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// A page's route is malformed, or two pages' routes match the same paths.
    #[error(transparent)]
    Route(#[from] refract_core::RouteError),
}

impl CompileError {
    fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        CompileError::Io {
            path: path.as_ref().to_owned(),
            source,
        }
    }
}

/// One page: its route (React Router syntax, e.g. `/` or `/users/:id`), its component tree, the
/// events it runs when opened, and what it puts in the document's head.
#[derive(Debug, Clone)]
pub struct Page {
    /// The route.
    pub route: String,
    /// The root node.
    pub root: Node,
    /// Events (and client actions) run when the page is opened: on the first load (once the tab
    /// has its state), on client-side navigation to it, and when its path changes
    /// (`/posts/1` → `/posts/2`); one event chain, in order.
    pub on_load: Vec<EventSpec>,
    /// Its head.
    pub head: Head,
}

impl Page {
    /// The page at `route` showing `root`, with no `on_load` and the app's head.
    pub fn new(route: impl Into<String>, root: impl Into<Node>) -> Self {
        Page {
            route: route.into(),
            root: root.into(),
            on_load: Vec::new(),
            head: Head::default(),
        }
    }
}

/// What a page puts in the document's head, each static or a var (updated when it changes).
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// The document title (`None`: the app's).
    pub title: Option<Expr>,
    /// `<meta name="description">`, also `og:description`.
    pub description: Option<Expr>,
    /// `og:image`: the URL of the link preview's image.
    pub image: Option<Expr>,
    /// The page's icon (`<link rel="icon">`), e.g. `/favicon.svg`.
    pub icon: Option<Expr>,
    /// More `<meta>` tags: `(name, content)`; a name starting `og:` is a `property`.
    pub meta: Vec<(String, Expr)>,
    /// `<link>` tags: `(rel, href)`.
    pub links: Vec<(String, Expr)>,
}

impl Head {
    /// The attribute that names a `<meta>` tag called `name`: `property` for Open Graph's
    /// (`og:…`), `name` otherwise.
    pub fn meta_attr(name: &str) -> &'static str {
        if name.starts_with("og:") {
            "property"
        } else {
            "name"
        }
    }
}

/// The app's look: Radix Themes' settings for every page, and the colour mode it starts in.
/// Each setting is one of Radix Themes' values (checked by it in the browser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// `"inherit"` (default: follow the system's setting until the user picks a mode),
    /// `"light"` or `"dark"` (the mode before the user picks one).
    pub appearance: String,
    /// The accent colour (`"indigo"`, `"crimson"`, …).
    pub accent_color: Option<String>,
    /// The gray (`"slate"`, `"mauve"`, … or `"auto"`).
    pub gray_color: Option<String>,
    /// Corner radius: `"none"`, `"small"`, `"medium"`, `"large"` or `"full"`.
    pub radius: Option<String>,
    /// Scaling: `"90%"` … `"110%"`.
    pub scaling: Option<String>,
    /// Panels: `"solid"` or `"translucent"`.
    pub panel_background: Option<String>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            appearance: "inherit".into(),
            accent_color: None,
            gray_color: None,
            radius: None,
            scaling: None,
            panel_background: None,
        }
    }
}

impl Theme {
    /// Radix Themes' defaults, following the system's colour mode.
    pub fn new() -> Self {
        Self::default()
    }

    /// The colour mode before the user picks one: `"inherit"` (the system's), `"light"` or
    /// `"dark"`.
    pub fn appearance(mut self, appearance: &str) -> Self {
        self.appearance = appearance.to_owned();
        self
    }

    /// The accent colour (`"indigo"`, `"crimson"`, …).
    pub fn accent_color(mut self, color: &str) -> Self {
        self.accent_color = Some(color.to_owned());
        self
    }

    /// The gray (`"slate"`, `"mauve"`, …, `"auto"`).
    pub fn gray_color(mut self, color: &str) -> Self {
        self.gray_color = Some(color.to_owned());
        self
    }

    /// Corner radius: `"none"`, `"small"`, `"medium"`, `"large"` or `"full"`.
    pub fn radius(mut self, radius: &str) -> Self {
        self.radius = Some(radius.to_owned());
        self
    }

    /// Scaling: `"90%"` … `"110%"`.
    pub fn scaling(mut self, scaling: &str) -> Self {
        self.scaling = Some(scaling.to_owned());
        self
    }

    /// Panels: `"solid"` or `"translucent"`.
    pub fn panel_background(mut self, background: &str) -> Self {
        self.panel_background = Some(background.to_owned());
        self
    }

    /// The props of Radix Themes' `<Theme>` besides `appearance`, as JSX attributes.
    fn props(&self) -> String {
        [
            ("accentColor", &self.accent_color),
            ("grayColor", &self.gray_color),
            ("radius", &self.radius),
            ("scaling", &self.scaling),
            ("panelBackground", &self.panel_background),
        ]
        .iter()
        .filter_map(|(prop, value)| value.as_ref().map(|v| format!(" {prop}={}", json(v))))
        .collect()
    }
}

/// What the compiler needs of an app.
#[derive(Debug)]
pub struct AppSpec<'a> {
    /// The document title.
    pub title: &'a str,
    /// The pages, in the order they were added.
    pub pages: &'a [Page],
    /// `{state_name: {var: value}}` at default values: the store before the first hydrate.
    pub initial_state: &'a serde_json::Value,
    /// The page shown for a path that matches no route (`None`: a plain "page not found" with a
    /// link home).
    pub not_found: Option<&'a Node>,
    /// The client storage vars of every state: a JSON array of `refract_core::StorageVar`s,
    /// each with its `state`.
    pub storage_vars: &'a serde_json::Value,
    /// The app's theme.
    pub theme: &'a Theme,
}

/// The project files of `app`: relative path → content. Deterministic for the same input.
///
/// # Errors
/// [`CompileError::Route`] for a malformed route, or two that match the same paths.
pub fn generate(app: &AppSpec<'_>) -> Result<BTreeMap<String, String>, CompileError> {
    let mut files = BTreeMap::new();
    let mut packages: BTreeSet<(String, String)> = BASE_PACKAGES
        .iter()
        .map(|(p, v)| ((*p).to_owned(), (*v).to_owned()))
        .collect();
    refract_core::Routes::new(app.pages.iter().map(|p| p.route.as_str()))?;
    let mut imports = String::new();
    let mut route_elements = String::new();
    for (i, page) in app.pages.iter().enumerate() {
        let module = codegen::compile_page(page);
        packages.extend(module.packages);
        files.insert(format!("src/pages/page_{i}.jsx"), module.source);
        imports.push_str(&format!("import Page{i} from \"./pages/page_{i}.jsx\";\n"));
        route_elements.push_str(&format!(
            "            <Route path={} element={{<Page{i} />}} />\n",
            json(&page.route)
        ));
    }
    let default_not_found;
    let not_found = match app.not_found {
        Some(node) => node,
        None => {
            default_not_found = default_not_found_page();
            &default_not_found
        }
    };
    let module = codegen::compile_page(&Page::new("*", not_found.clone()));
    packages.extend(module.packages);
    files.insert("src/pages/not_found.jsx".into(), module.source);
    imports.push_str("import NotFound from \"./pages/not_found.jsx\";\n");
    route_elements.push_str("            <Route path=\"*\" element={<NotFound />} />\n");
    let routes: Vec<&str> = app.pages.iter().map(|p| p.route.as_str()).collect();
    files.insert(
        format!("public/{}", refract_core::ROUTES_FILE),
        serde_json::to_string(&routes).unwrap_or_default() + "\n",
    );
    files.insert("package.json".into(), package_json(&packages));
    files.insert("vite.config.js".into(), VITE_CONFIG.into());
    files.insert(
        "index.html".into(),
        INDEX_HTML.replace("%TITLE%", &html_escape(app.title)),
    );
    files.insert(
        "src/main.jsx".into(),
        MAIN_JSX
            .replace("%IMPORTS%", &imports)
            .replace("%THEME%", &app.theme.props())
            .replace("%ROUTES%", &route_elements),
    );
    files.insert("src/refract/client.js".into(), CLIENT_JS.into());
    files.insert("src/refract/actions.js".into(), ACTIONS_JS.into());
    files.insert("src/refract/triggers.js".into(), TRIGGERS_JS.into());
    files.insert("src/refract/storage.js".into(), STORAGE_JS.into());
    files.insert("src/refract/ops.js".into(), OPS_JS.into());
    let storage = serde_json::to_string_pretty(app.storage_vars).unwrap_or_else(|_| "[]".into());
    files.insert("src/refract/storage_vars.json".into(), storage + "\n");
    let settings = serde_json::json!({"title": app.title, "appearance": app.theme.appearance});
    files.insert("src/refract/app.json".into(), format!("{settings:#}\n"));
    files.insert("src/refract/react.jsx".into(), REACT_JSX.into());
    let initial = serde_json::to_string_pretty(app.initial_state).unwrap_or_else(|_| "{}".into());
    files.insert("src/refract/initial_state.json".into(), initial + "\n");
    files.insert(".gitignore".into(), "node_modules/\ndist/\n".into());
    Ok(files)
}

/// The page shown for unknown paths when the app has none of its own.
fn default_not_found_page() -> Node {
    vstack([
        heading("Page not found").prop("id", "refract-not-found"),
        text("There is no page at this address."),
        link("Go to the home page", "/"),
    ])
    .prop("p", "6")
    .into()
}

/// Writes, beside the built `index.html` in `dist`, what a server without the app's routes (a
/// static host, a crawler that runs no script) needs: for each static route whose head is
/// static, `<route>/index.html` with its title and `<meta>` tags (the root page's go into
/// `index.html`); [`refract_core::SHELL_FILE`], the shell with no page's head, for the routes
/// without a file of their own (parameterised ones render in the browser); and
/// [`refract_core::NOT_FOUND_FILE`], the page for unknown paths.
///
/// # Errors
/// [`CompileError::Io`] when a file cannot be read or written.
pub fn write_route_pages(dist: &Path, pages: &[Page]) -> Result<(), CompileError> {
    let index_path = dist.join("index.html");
    let index =
        std::fs::read_to_string(&index_path).map_err(|e| CompileError::io(&index_path, e))?;
    let shell = dist.join(refract_core::SHELL_FILE);
    std::fs::write(&shell, &index).map_err(|e| CompileError::io(&shell, e))?;
    let not_found = dist.join(refract_core::NOT_FOUND_FILE);
    let noindex = "<meta name=\"robots\" content=\"noindex\" />\n  </head>";
    std::fs::write(&not_found, index.replacen("</head>", noindex, 1))
        .map_err(|e| CompileError::io(&not_found, e))?;
    for page in pages {
        if page.route == "/" || !refract_core::Routes::is_static(&page.route) {
            continue;
        }
        let Some(html) = with_static_head(&index, &page.head) else {
            continue;
        };
        let dir = dist.join(page.route.trim_matches('/'));
        std::fs::create_dir_all(&dir).map_err(|e| CompileError::io(&dir, e))?;
        let file = dir.join("index.html");
        std::fs::write(&file, html).map_err(|e| CompileError::io(&file, e))?;
    }
    if let Some(root) = pages.iter().find(|p| p.route == "/")
        && let Some(html) = with_static_head(&index, &root.head)
    {
        std::fs::write(&index_path, html).map_err(|e| CompileError::io(&index_path, e))?;
    }
    Ok(())
}

/// `index` (the built shell) with the static parts of `head` in its `<head>`; `None` when the
/// head has no static part. The `<meta>` tags are marked `data-refract-static`: the runtime
/// removes them when it starts, and the page renders its own (which follow its vars).
fn with_static_head(index: &str, head: &Head) -> Option<String> {
    // A static value is a string literal reading no var.
    let text = |e: Option<&Expr>| {
        e.filter(|e| e.deps.is_empty())
            .and_then(|e| serde_json::from_str::<String>(&e.js).ok())
    };
    let (title, description, image) = (
        text(head.title.as_ref()),
        text(head.description.as_ref()),
        text(head.image.as_ref()),
    );
    let mut tags = String::new();
    let mut meta = |attr: &str, key: &str, value: &str| {
        tags.push_str(&format!(
            "    <meta {attr}=\"{key}\" content=\"{}\" data-refract-static />\n",
            html_escape(value)
        ));
    };
    if let Some(description) = &description {
        meta("name", "description", description);
        meta("property", "og:description", description);
    }
    if let Some(title) = &title {
        meta("property", "og:title", title);
    }
    if let Some(image) = &image {
        meta("property", "og:image", image);
    }
    for (name, content) in &head.meta {
        if let Some(content) = text(Some(content)) {
            meta(Head::meta_attr(name), &html_escape(name), &content);
        }
    }
    for (rel, href) in &head.links {
        if let Some(href) = text(Some(href)) {
            tags.push_str(&format!(
                "    <link rel=\"{}\" href=\"{}\" data-refract-static />\n",
                html_escape(rel),
                html_escape(&href)
            ));
        }
    }
    if title.is_none() && tags.is_empty() {
        return None;
    }
    let mut html = index.to_owned();
    if let Some(title) = &title
        && let (Some(start), Some(end)) = (html.find("<title>"), html.find("</title>"))
    {
        html.replace_range(
            start..end + "</title>".len(),
            &format!("<title>{}</title>", html_escape(title)),
        );
    }
    Some(html.replacen("</head>", &format!("{}\n  </head>", tags.trim()), 1))
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn package_json(packages: &BTreeSet<(String, String)>) -> String {
    let deps: serde_json::Map<String, serde_json::Value> = packages
        .iter()
        .map(|(p, v)| (p.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let manifest = serde_json::json!({
        "name": "refract-app",
        "private": true,
        "type": "module",
        "scripts": { "build": "vite build" },
        "dependencies": deps,
    });
    serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n"
}

const VITE_CONFIG: &str = r#"// Generated by Refract. Do not edit.
import { defineConfig } from "vite";

export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2048 },
});
"#;

const INDEX_HTML: &str = r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>%TITLE%</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.jsx"></script>
  </body>
</html>
"#;

const MAIN_JSX: &str = r#"// Generated by Refract. Do not edit.
import React from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Route, Routes } from "react-router";
import "@radix-ui/themes/styles.css";
import { RefractErrorBoundary, RefractOverlays, RefractTheme } from "./refract/react.jsx";
%IMPORTS%
createRoot(document.getElementById("root")).render(
  <React.StrictMode>
    <RefractTheme%THEME%>
      <BrowserRouter>
        <RefractOverlays />
        <RefractErrorBoundary>
          <Routes>
%ROUTES%          </Routes>
        </RefractErrorBoundary>
      </BrowserRouter>
    </RefractTheme>
  </React.StrictMode>,
);
"#;
