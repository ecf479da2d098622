//! The event context: who sent an event, from which page, and when. A handler that takes a
//! parameter `cx: &EventContext` gets it (the macro fills it in; it is not an argument the page
//! passes). The browser runtime sends the page's location with `hello` and with each event; the
//! gateway adds the client's address and request headers and the time it received the event.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What a handler knows about the event it runs for. Every field is as the gateway saw it; the
/// page's location and the headers come from the browser and are the client's to choose, so treat
/// them as input, not as proof (the client address is the connection's peer, or what a trusted
/// proxy put in the header the gateway was told to read). Its `Debug` form leaves out the cookies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventContext {
    /// The session: the token's name behind the gateway (a keyed hash of the browser's token,
    /// stable for as long as the token lives). The token itself never leaves the gateway.
    pub session: String,
    /// The tab (page load) that sent the event; `""` for a client that names none.
    pub tab: String,
    /// The page the event came from.
    pub page: PageContext,
    /// The route of the app's pages that the page's path matches (`/posts/:id`), if any.
    pub route: Option<String>,
    /// The route's parameters, percent-decoded (`{"id": "42"}` on `/posts/42`; a splat's is
    /// `*`); see [`EventContext::param`].
    pub params: BTreeMap<String, String>,
    /// The client's IP address, when known.
    pub client_ip: Option<IpAddr>,
    /// The request headers of the client's socket that handlers may read.
    pub headers: ClientHeaders,
    /// When the gateway received the event, in milliseconds since the Unix epoch (its clock).
    pub received_at_ms: u64,
}

/// The page an event came from, as the browser's address bar shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageContext {
    /// The path (`/posts/42`), percent-encoded as in the URL.
    pub path: String,
    /// The query string without its `?` (`tab=comments&page=2`), percent-encoded; `""` for none.
    #[serde(default)]
    pub query: String,
}

/// The client's request headers that reach handlers (no others are forwarded). Its `Debug` form
/// says whether there are cookies, not what they are, so logging a context leaks none.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientHeaders {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Accept-Language` (e.g. `en-GB,en;q=0.9`).
    pub accept_language: Option<String>,
    /// `Cookie`, as sent (`a=1; b=2`); see [`EventContext::cookie`].
    pub cookie: Option<String>,
}

impl std::fmt::Debug for ClientHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ClientHeaders {
            user_agent,
            accept_language,
            cookie,
        } = self;
        f.debug_struct("ClientHeaders")
            .field("user_agent", user_agent)
            .field("accept_language", accept_language)
            .field("cookie", &cookie.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl EventContext {
    /// The route parameter `name` of the page (`id` on `/posts/:id`), decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The decoded value of the first query parameter `name` (`?q=a%20b` → `a b`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find_map(|(k, v)| (k == name).then_some(v))
    }

    /// Every query parameter, decoded (`application/x-www-form-urlencoded`, as the WHATWG URL
    /// standard's `URLSearchParams` reads a query), in order; repeated names repeat.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.page.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The value of the cookie `name` from the `Cookie` header (RFC 6265 §5.4: `name=value`
    /// pairs separated by `; `), as sent.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .cookie
            .as_deref()?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find_map(|(k, v)| (k == name).then_some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_cookies_are_read_by_name() {
        let cx = EventContext {
            page: PageContext {
                path: "/search".into(),
                query: "q=rust%20web&page=2&q=again&flag".into(),
            },
            headers: ClientHeaders {
                cookie: Some("theme=dark; session_hint=abc=def;  lang=en".into()),
                ..ClientHeaders::default()
            },
            ..EventContext::default()
        };
        assert_eq!(cx.query_param("q").as_deref(), Some("rust web"));
        assert_eq!(cx.query_param("page").as_deref(), Some("2"));
        assert_eq!(cx.query_param("flag").as_deref(), Some(""));
        assert_eq!(cx.query_param("missing"), None);
        assert_eq!(cx.query_pairs().len(), 4);
        assert_eq!(cx.cookie("theme"), Some("dark"));
        assert_eq!(cx.cookie("session_hint"), Some("abc=def"));
        assert_eq!(cx.cookie("lang"), Some("en"));
        assert_eq!(cx.cookie("them"), None);
        assert_eq!(EventContext::default().cookie("theme"), None);
        assert!(
            !format!("{cx:?}").contains("dark"),
            "no cookie in logs: {cx:?}"
        );
    }
}
