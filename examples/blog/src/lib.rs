//! The blog example: a list of posts and a page per post at `/posts/:id`, whose id is a route
//! param read on the page (`router::param("id")`) and by the page's `on_load` handler, which
//! loads the post (simulated); the document title follows the loaded post. `/about` has a static
//! title and description (written into its own HTML file by the build, for crawlers), and
//! unknown paths show the blog's own "not found" page with status 404. `/drafts` is guarded: its
//! `on_load` sends a visitor without the login cookie (a cookie var) to `/login`; the reader's
//! text size is a local storage var synced across the browser's tabs. The theme has an indigo
//! accent, a colour-mode toggle on the home page, and a favicon from `assets/`.

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// The posts of the (simulated) database: id → title.
const POSTS: [(u32, &str); 3] = [
    (1, "Hello, Refract"),
    (2, "Routes and params"),
    (3, "Loading data on open"),
];

/// The open post, as its page's `on_load` loaded it.
#[derive(State, Default, Serialize, Deserialize)]
pub struct PostState {
    /// The post's id, as loaded (0: none yet).
    id: u32,
    /// Its title.
    title: String,
    /// Its text.
    body: String,
    /// How many posts this tab loaded.
    loads: u32,
}

#[refract::handlers]
impl PostState {
    /// Loads the post `id` (the page's route param): what a real app would fetch from its
    /// database.
    pub fn load(&mut self, id: String) {
        self.loads += 1;
        match id
            .parse()
            .ok()
            .and_then(|n: u32| POSTS.iter().find(|(i, _)| *i == n))
        {
            Some((n, title)) => {
                self.id = *n;
                self.title = (*title).to_owned();
                self.body = format!("This is post {n}, loaded by the page's on_load.");
            }
            None => {
                self.id = 0;
                self.title = "No such post".to_owned();
                self.body = format!("There is no post {id}.");
            }
        }
    }
}

/// Who is logged in: a cookie var, so the login survives a reload and reaches new tabs. A demo:
/// the browser's storage is the user's to change, so a real app keeps a random session id there
/// and looks the user up server-side (or signs the value and checks it in the handler).
#[derive(State, Default, Serialize, Deserialize)]
pub struct AuthState {
    /// The logged-in user's name (`""`: nobody), kept a week in the cookie `blog_user`.
    #[cookie(name = "blog_user", max_age = 604800)]
    user: String,
    /// What the login form's input holds.
    name: String,
}

#[refract::handlers]
impl AuthState {
    /// Takes what is typed in the login form.
    pub fn set_name(&mut self, name: String) {
        self.name = name;
    }

    /// Logs in as the typed name (the cookie is set through the delta) and opens the drafts.
    pub fn log_in(&mut self) -> Result<EventSpec, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("Type a name first".into());
        }
        self.user = name.to_owned();
        Ok(redirect("/drafts"))
    }

    /// Logs out (the cookie goes with the var) and goes home.
    pub fn log_out(&mut self) -> EventSpec {
        self.user.clear();
        redirect("/")
    }

    /// A guarded page's `on_load`: sends a visitor who is not logged in to the login page.
    pub fn require_login(&mut self) -> Option<EventSpec> {
        self.user.is_empty().then(|| redirect("/login"))
    }
}

/// The reader's choice of text size: a local storage var, synced across the browser's tabs.
#[derive(State, Default, Serialize, Deserialize)]
pub struct PrefsState {
    /// Steps above the normal text size.
    #[local_storage(name = "blog_text_size", sync)]
    text_size: u32,
}

#[refract::handlers]
impl PrefsState {
    /// One step larger, up to 3, then back to normal.
    pub fn larger(&mut self) {
        self.text_size = (self.text_size + 1) % 4;
    }
}

/// Links to every post.
fn nav() -> Flex {
    hstack(
        POSTS
            .map(|(id, title)| link(title, &format!("/posts/{id}")).prop("id", format!("to-{id}"))),
    )
    .gap(S4)
}

fn index() -> Flex {
    vstack((
        heading("Blog"),
        hstack([link("About", "/about"), link("Drafts", "/drafts")]).gap(S4),
        nav(),
        hstack((
            button("Larger text").on_click(PrefsState::larger),
            text(format_var!("Text size: {}", PrefsState::text_size())).prop("id", "text-size"),
        )),
        hstack((
            color_mode_toggle(),
            text(format_var!("{} mode", color_mode::mode())).prop("id", "color-mode"),
        )),
    ))
    .p(S6)
}

fn login() -> Flex {
    vstack((
        heading("Log in").prop("id", "login"),
        input()
            .prop("id", "name")
            .placeholder("Your name")
            .on_change(AuthState::set_name)
            .debounce(0),
        button("Log in").on_click(AuthState::log_in),
    ))
    .p(S6)
}

fn drafts() -> Flex {
    vstack((
        heading(format_var!("Drafts of {}", AuthState::user())).prop("id", "drafts"),
        text("Only logged-in readers see this page."),
        button("Log out").on_click(AuthState::log_out),
    ))
    .p(S6)
}

fn about() -> Flex {
    vstack((
        heading("About this blog").prop("id", "about"),
        text("A small blog made with Refract."),
        link("Home", "/"),
    ))
    .p(S6)
}

/// What unknown paths show (served with status 404).
fn not_found() -> Flex {
    vstack((
        heading("No such page").prop("id", "not-found"),
        text(format_var!("Nothing lives at {}.", router::path())),
        link("Back to the blog", "/"),
    ))
    .p(S6)
}

fn post() -> Flex {
    vstack((
        link("Home", "/"),
        heading(format_var!("post {}", router::param("id"))).prop("id", "post-heading"),
        cond(
            router::is_hydrated(),
            vstack((
                heading(PostState::title())
                    .size(S4)
                    .prop("id", "post-title"),
                text(PostState::body()).prop("id", "post-body"),
                text(format_var!("{} loads", PostState::loads())).prop("id", "loads"),
            )),
            text("Loading…"),
        ),
        nav(),
    ))
    .p(S6)
}

/// The blog app.
pub fn app() -> App {
    App::new("Blog")
        .theme(Theme::new().accent_color("indigo").radius("large"))
        .state::<PostState>()
        .state::<AuthState>()
        .state::<PrefsState>()
        .page_with(
            "/",
            index,
            PageOptions::new()
                .description("A small blog made with Refract.")
                .icon("/favicon.svg"),
        )
        .page_with(
            "/about",
            about,
            PageOptions::new()
                .title("About · Blog")
                .description("Who writes this blog, and why.")
                .meta("og:type", "website")
                .link("canonical", "https://blog.example/about"),
        )
        .not_found(not_found)
        .page_with("/login", login, PageOptions::new().title("Log in · Blog"))
        .page_with(
            "/drafts",
            drafts,
            PageOptions::new()
                .on_load(AuthState::require_login)
                .title("Drafts · Blog"),
        )
        .page_with(
            "/posts/:id",
            post,
            PageOptions::new()
                .on_load(PostState::load(router::param("id")))
                .title(format_var!("{} · Blog", PostState::title()))
                .description(PostState::body()),
        )
}
