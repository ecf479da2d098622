//! Client storage vars: state fields that live in the browser (a cookie, local storage, session
//! storage) and are sent to the server. The browser's value is the truth: the runtime sends it
//! when the tab connects (before the page's `on_load`) and whenever it changes in the browser
//! (another tab, for synced local storage), as an event of the reserved handler
//! [`STORAGE_METHOD`]; a handler that changes the var changes it in the browser through the delta.
//!
//! Declared on the state's fields: `#[cookie(name = "session", max_age = 86400)]`,
//! `#[local_storage(sync)]`, `#[session_storage]` (see `refract_macros`).

use serde::Serialize;

/// The reserved method that sets a storage var from the browser: `<state>._storage` with
/// arguments `{"var": name, "value": json}` (`null` for a value the browser does not have).
pub const STORAGE_METHOD: &str = "_storage";

/// The most bytes a cookie var may take as the browser keeps it: its name, `=`, and its JSON
/// percent-encoded (browsers keep about 4 KiB per cookie, and drop a larger one silently).
pub const MAX_COOKIE_BYTES: usize = 4000;

/// The most bytes a local or session storage var's value may take, as JSON: half the gateway's
/// default frame limit, so that the event sending it back to the server fits in a frame.
pub const MAX_STORAGE_BYTES: usize = 32 << 10;

/// Where a storage var lives in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    /// A cookie (`document.cookie`): sent to the server with every HTTP request too.
    Cookie,
    /// `localStorage`: kept across sessions, shared by the tabs of the browser.
    Local,
    /// `sessionStorage`: kept for the tab's life.
    Session,
}

/// One storage var of a state, with where and how the browser keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StorageVar {
    /// The field (the var's name).
    pub var: &'static str,
    /// Where it lives.
    pub kind: StorageKind,
    /// Its key in the browser (the cookie's or item's name); the field's name by default.
    pub name: &'static str,
    /// A cookie's lifetime in seconds (`None`: until the browser closes).
    pub max_age_secs: Option<u64>,
    /// A cookie's path (default `/`).
    pub path: &'static str,
    /// A cookie's domain (`None`: the page's host).
    pub domain: Option<&'static str>,
    /// Whether a cookie is sent over HTTPS only.
    pub secure: bool,
    /// A cookie's `SameSite`: `lax` (default), `strict` or `none`.
    pub same_site: &'static str,
    /// For local storage: whether a change in one tab reaches the browser's other tabs.
    pub sync: bool,
}

impl StorageVar {
    /// The most bytes it may take in the browser (see [`StorageVar::size`]).
    pub fn max_bytes(&self) -> usize {
        match self.kind {
            StorageKind::Cookie => MAX_COOKIE_BYTES,
            StorageKind::Local | StorageKind::Session => MAX_STORAGE_BYTES,
        }
    }

    /// How many bytes the value whose JSON is `json` takes in the browser: for a cookie, its
    /// name, `=`, and the JSON percent-encoded as the runtime writes it (JavaScript's
    /// `encodeURIComponent`: 3 bytes for each byte but `A–Z a–z 0–9 - _ . ! ~ * ' ( )`); for
    /// storage, the JSON.
    pub fn size(&self, json: &str) -> usize {
        match self.kind {
            StorageKind::Cookie => {
                let kept = |b: &u8| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(b);
                let encoded: usize = json.bytes().map(|b| if kept(&b) { 1 } else { 3 }).sum();
                self.name.len() + 1 + encoded
            }
            StorageKind::Local | StorageKind::Session => json.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_counts_as_the_browser_keeps_it() {
        let cookie = StorageVar {
            var: "user",
            kind: StorageKind::Cookie,
            name: "sid",
            max_age_secs: None,
            path: "/",
            domain: None,
            secure: false,
            same_site: "lax",
            sync: false,
        };
        // `"ab"` → `%22ab%22`; `é` is two bytes of UTF-8, each `%XX`.
        assert_eq!(cookie.size(r#""ab""#), 3 + 1 + 8);
        assert_eq!(cookie.size(r#""é""#), 3 + 1 + 3 + 6 + 3);
        let local = StorageVar {
            kind: StorageKind::Local,
            ..cookie
        };
        assert_eq!(local.size(r#""é""#), 4);
    }
}
