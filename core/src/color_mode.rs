//! The colour mode the page is shown in, as a var for pages: `"light"` or `"dark"`. It follows
//! the system's setting until the user picks one (the runtime's colour-mode toggle), which the
//! browser then remembers (`localStorage`); the app's theme may fix a default instead. It lives
//! in the browser only: a pseudo-state, [`BROWSER`], that the compiler binds to the browser.

use crate::var::Var;

/// The name of the pseudo-state of browser-only vars (`__browser`).
pub const BROWSER: &str = "__browser";

/// The colour mode the page is shown in: `"light"` or `"dark"`.
pub fn mode() -> Var<String> {
    Var::state_var(BROWSER, "color_mode")
}
