//! The Refract gateway: terminates browser WebSockets and serves the compiled app.
//!
//! It holds no app state and runs no app code, and builds on the contract (`refract_proto`) only,
//! never on the worker: events go to a [`Processor`] (the engine itself in embedded mode, workers
//! over gRPC in distributed mode, [`pool`]) and deltas come back from the processor's answers and
//! from a [`DeltaFeed`] (Redis pub/sub in distributed mode, [`feed`]). [`Gateway::router`] gives
//! the axum router:
//!
//! * `GET /_event`: the WebSocket of `docs/protocol.md`;
//! * `GET /_health`: `ok`;
//! * `POST /_upload`: one uploaded file, streamed to the processor ([`upload`]);
//! * `GET /_files/<token digest>/<id>/<name>`: a file the app published, from the upload folder
//!   ([`files`]);
//! * everything else: the built assets (`/assets/*` cached for a year, since Vite hashes their
//!   names); a path that is no file is a page of the app (its routes' paths load the app, with
//!   status 200) or not found (status 404, the app's "not found" page).

pub mod feed;
pub mod files;
mod http;
#[cfg(feature = "kubernetes")]
pub mod k8s;
mod pages;
pub mod pool;
pub mod serve;
mod session;
mod token;
pub mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use refract_core::{ClientHeaders, EventContext};
use refract_proto::{DeltaFeed, Processor};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeader;

pub use token::{RandomnessError, TokenIssuer};

/// Limits and paths of a gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The largest text frame accepted, in bytes (default 65,536); a larger one gets a
    /// `frame_too_large` error and the socket stays open. Frames over 16 times this (at least
    /// 1 MiB) close the socket.
    pub max_frame_bytes: usize,
    /// Events a socket may have queued before new ones are refused with `overloaded` (default 64).
    pub max_queued_events: usize,
    /// The folder of the built assets (`index.html`, `assets/`), or `None` to serve none.
    pub assets: Option<PathBuf>,
    /// How often the states of the tokens with open sockets get their expiry restarted (default
    /// 5 min; it must be shorter than the store's token expiry, 1 h by default), so that a tab
    /// left open keeps its state.
    pub touch_every: std::time::Duration,
    /// Origins (`https://app.example.com`) whose pages may open `/_event` besides the gateway's
    /// own (the `Host` the browser asked for). A browser always sends `Origin` with a WebSocket;
    /// one from another site is refused with 403, so other sites cannot open sockets from their
    /// visitors' browsers. Requests without `Origin` (not from a browser page) are accepted.
    pub allowed_origins: Vec<String>,
    /// How long a connection may take to send a request's headers, and may stay idle between
    /// requests (default 15 s); then it is closed. WebSockets, once upgraded, are bounded by
    /// `hello_timeout` and `idle_timeout` instead.
    pub header_timeout: std::time::Duration,
    /// How long a socket may stay open without a valid `hello` (default 10 s); then it is closed
    /// with 1008.
    pub hello_timeout: std::time::Duration,
    /// How long a socket may send nothing at all, not even a pong, before it is closed with 1001
    /// (default 60 s; the gateway pings every third of it, and browsers answer pings by
    /// themselves, so only a dead or stalled peer is closed).
    pub idle_timeout: std::time::Duration,
    /// The request header a trusted proxy puts the client's address in (`x-forwarded-for`), or
    /// `None` to take the connection's peer (default). Its last entry is used, for handlers'
    /// context and the per-address socket cap. Set it only behind a proxy that sets the header:
    /// otherwise clients choose their own address.
    pub client_ip_header: Option<String>,
    /// The most sockets the gateway holds (default 10,000); one more is refused with 503.
    pub max_connections: usize,
    /// The most sockets from one client IP address (default 256; 0: no such cap); one more is
    /// refused with 503. Behind a proxy that hides the clients' addresses (an Ingress, a load
    /// balancer with source NAT) every socket comes from the proxy: turn it off there.
    pub max_connections_per_ip: usize,
    /// Whether pages may evaluate JavaScript the server sends (the `call_script` client
    /// action): [`CONTENT_SECURITY_POLICY_WITH_EVAL`] instead of [`CONTENT_SECURITY_POLICY`]
    /// (default `false`).
    pub allow_eval: bool,
    /// The most uploads (`POST /_upload`) the gateway streams at once (default 64); one more is
    /// refused with 503 `overloaded`.
    pub max_uploads: usize,
    /// The most uploads of one session (token) the gateway streams at once (default 4, what
    /// the browser runtime sends at a time); one more is refused with 429 `overloaded`.
    pub max_uploads_per_session: usize,
    /// The time every upload may take besides its size's share (default 30 s): an upload of
    /// `size` bytes is cut off with 408 `upload_timeout` after
    /// `upload_grace + size / min_upload_rate` (see [`upload::deadline`]).
    pub upload_grace: std::time::Duration,
    /// The slowest rate an upload may keep, in bytes per second (default 65,536: 64 KiB/s),
    /// for its deadline (see [`GatewayConfig::upload_grace`]); at least 1.
    pub min_upload_rate: u64,
    /// The upload folder whose published files `GET /_files/…` serves ([`files`]): the workers'
    /// `--upload-dir` (shared with them in distributed mode), or `None` to serve none (default).
    pub upload_dir: Option<PathBuf>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_frame_bytes: 64 * 1024,
            max_queued_events: 64,
            assets: None,
            touch_every: std::time::Duration::from_secs(300),
            allowed_origins: Vec::new(),
            header_timeout: std::time::Duration::from_secs(15),
            hello_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(60),
            client_ip_header: None,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            allow_eval: false,
            max_uploads: 64,
            max_uploads_per_session: 4,
            upload_grace: std::time::Duration::from_secs(30),
            min_upload_rate: 64 * 1024,
            upload_dir: None,
        }
    }
}

struct Shared {
    config: GatewayConfig,
    issuer: TokenIssuer,
    processor: Arc<dyn Processor>,
    feed: Arc<dyn DeltaFeed>,
    /// Cancelled when the gateway drains: every socket is closed with 1012 (service restart).
    draining: CancellationToken,
    /// The open sockets, so a draining gateway can wait for their close frames to go out.
    sockets: TaskTracker,
    /// The tokens with open sockets, and how many each has.
    connected: std::sync::Mutex<HashMap<String, usize>>,
    /// Open sockets: in all, and by client IP address.
    open: std::sync::Mutex<(usize, HashMap<std::net::IpAddr, usize>)>,
    /// Uploads streaming: in all, and by token (its store key).
    uploading: std::sync::Mutex<(usize, HashMap<String, usize>)>,
}

/// An open socket, counted against the caps while it lives.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    ip: Option<std::net::IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = open.1.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&ip);
            }
        }
    }
}

impl Shared {
    /// A slot for a new socket from `ip` (unknown: only the global cap applies), or why not.
    fn slot(self: &Arc<Self>, ip: Option<std::net::IpAddr>) -> Result<Slot, &'static str> {
        let ip = ip.filter(|_| self.config.max_connections_per_ip > 0);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= self.config.max_connections {
            return Err("this gateway holds all the connections it may; try again later");
        }
        if let Some(ip) = ip {
            let n = open.1.entry(ip).or_default();
            if *n >= self.config.max_connections_per_ip {
                return Err("too many connections from this address");
            }
            *n += 1;
        }
        open.0 += 1;
        Ok(Slot {
            shared: self.clone(),
            ip,
        })
    }

    /// Counts an open socket of `token` (see [`Connected`]).
    fn connect(self: &Arc<Self>, token: &str) -> Connected {
        let mut connected = self.connected.lock().unwrap_or_else(|e| e.into_inner());
        *connected.entry(token.to_owned()).or_default() += 1;
        Connected {
            shared: self.clone(),
            token: token.to_owned(),
        }
    }

    /// The tokens with open sockets.
    fn connected_tokens(&self) -> Vec<String> {
        let connected = self.connected.lock().unwrap_or_else(|e| e.into_inner());
        connected.keys().cloned().collect()
    }
}

/// An open socket of a token, counted while it lives.
pub(crate) struct Connected {
    shared: Arc<Shared>,
    token: String,
}

impl Drop for Connected {
    fn drop(&mut self) {
        let mut connected = self
            .shared
            .connected
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = connected.get_mut(&self.token) {
            *n -= 1;
            if *n == 0 {
                connected.remove(&self.token);
            }
        }
    }
}

/// Tokens touched in one call.
const TOUCH_BATCH: usize = 1000;

/// Every `touch_every`, restarts the expiry of the states of the tokens with open sockets, until
/// the gateway is dropped. A failure is logged; the next round tries again.
async fn touch_connected(shared: std::sync::Weak<Shared>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let tokens = shared.connected_tokens();
        if tokens.is_empty() {
            continue;
        }
        for batch in tokens.chunks(TOUCH_BATCH) {
            if let Err(e) = shared.processor.touch(batch).await {
                tracing::warn!(code = %e.code, error = %e.message, tokens = batch.len(), "could not keep connected tokens' states");
            }
        }
    }
}

/// A gateway: its configuration, token issuer, processor and delta feed.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

impl Gateway {
    /// A gateway sending events to `processor` and relaying deltas from `feed`. Call it inside a
    /// tokio runtime: it starts the task that keeps connected tokens' states from expiring.
    pub fn new(
        config: GatewayConfig,
        issuer: TokenIssuer,
        processor: Arc<dyn Processor>,
        feed: Arc<dyn DeltaFeed>,
    ) -> Self {
        let draining = CancellationToken::new();
        let sockets = TaskTracker::new();
        let touch_every = config.touch_every;
        let shared = Arc::new(Shared {
            config,
            issuer,
            processor,
            feed,
            draining,
            sockets,
            connected: std::sync::Mutex::default(),
            open: std::sync::Mutex::default(),
            uploading: std::sync::Mutex::default(),
        });
        tokio::spawn(touch_connected(Arc::downgrade(&shared), touch_every));
        Gateway { shared }
    }

    /// Starts draining: every open socket is closed with close code 1012 (service restart), so
    /// browsers reconnect (through the load balancer, to a gateway still running) and resend their
    /// in-flight event with the same sequence number. Call it when the server stops accepting.
    pub fn drain(&self) {
        self.shared.draining.cancel();
    }

    /// Waits until every socket has closed, at most `limit` (after [`Gateway::drain`], so their
    /// close frames are sent before the process exits). Returns whether all closed in time.
    pub async fn drained(&self, limit: std::time::Duration) -> bool {
        self.shared.sockets.close();
        tokio::time::timeout(limit, self.shared.sockets.wait())
            .await
            .is_ok()
    }

    /// The axum router of the gateway (see the crate docs).
    pub fn router(&self) -> Router {
        let mut router = Router::new()
            .route("/_event", get(upgrade))
            .route("/_health", get(|| async { "ok" }))
            .route("/_upload", post(upload::upload))
            .route("/_files/{digest}/{id}/{name}", get(files::serve))
            .with_state(self.shared.clone());
        if let Some(dir) = &self.shared.config.assets {
            let hashed = SetResponseHeader::overriding(
                ServeDir::new(dir.join("assets")),
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            // Files at the top (favicon, robots.txt) as they are; every other path is a page
            // of the app, or not found (`pages`). Folders are pages too (`/about` is the page
            // of its route, whose head tags the build wrote to `about/index.html`).
            let pages = Router::new()
                .fallback(pages::page)
                .with_state(Arc::new(pages::Pages::load(dir)));
            let pages = SetResponseHeader::overriding(
                ServeDir::new(dir)
                    .append_index_html_on_directories(false)
                    .fallback(pages),
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
            router = router
                .nest_service("/assets", hashed)
                .fallback_service(pages);
        }
        security_headers(router, self.shared.config.allow_eval)
    }
}

/// The Content-Security-Policy of every response: the compiled app loads its scripts, styles and
/// fonts from this origin only and talks only to it (`connect-src 'self'` covers its WebSocket);
/// styles may be inline (React and Radix Themes set `style` attributes); images may come from
/// any https URL (apps show avatars and pictures from elsewhere); no plugins, no `<base>`, forms
/// post to this origin, and only this origin may frame the pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; font-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
frame-ancestors 'self'";

/// [`CONTENT_SECURITY_POLICY`] with `'unsafe-eval'` in `script-src`: for an app whose handlers
/// send scripts to run (`call_script`), which the runtime evaluates.
pub const CONTENT_SECURITY_POLICY_WITH_EVAL: &str = "default-src 'self'; \
script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; \
font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
frame-ancestors 'self'";

/// `router` with the security headers on every response: [`CONTENT_SECURITY_POLICY`] (or,
/// with `allow_eval`, [`CONTENT_SECURITY_POLICY_WITH_EVAL`]),
/// `X-Content-Type-Options: nosniff` (no MIME sniffing), `X-Frame-Options: SAMEORIGIN` (for
/// browsers without `frame-ancestors`) and `Referrer-Policy: strict-origin-when-cross-origin`.
fn security_headers(router: Router, allow_eval: bool) -> Router {
    use tower_http::set_header::SetResponseHeaderLayer;
    let policy = if allow_eval {
        CONTENT_SECURITY_POLICY_WITH_EVAL
    } else {
        CONTENT_SECURITY_POLICY
    };
    let headers = [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    headers.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    ws: WebSocketUpgrade,
) -> Response {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header(header::ORIGIN)
        && !origin_allowed(origin, header(header::HOST), &shared.config.allowed_origins)
    {
        tracing::debug!(origin, "refused a socket from another origin");
        return (
            axum::http::StatusCode::FORBIDDEN,
            "this origin may not open sockets here",
        )
            .into_response();
    }
    // The peer's address, when the router is served with connect info (`SocketAddr`), as
    // `serve::serve_until` does (without it only the global cap applies), or the address a
    // trusted proxy put in the configured header.
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = match &shared.config.client_ip_header {
        // A proxy appends: its line is the last one (a client may send its own lines first).
        Some(name) => forwarded_ip(
            headers
                .get_all(name)
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok()),
        )
        .or(peer),
        None => peer,
    };
    let client = EventContext {
        client_ip: ip,
        headers: ClientHeaders {
            user_agent: header(header::USER_AGENT).map(str::to_owned),
            accept_language: header(header::ACCEPT_LANGUAGE).map(str::to_owned),
            cookie: header(header::COOKIE).map(str::to_owned),
        },
        ..EventContext::default()
    };
    match shared.slot(ip) {
        Ok(slot) => session::upgrade(shared, ws, slot, client),
        Err(why) => {
            tracing::debug!(?ip, why, "refused a socket");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
    }
}

/// The client's address from a proxy's header line (the last line of that header): the last
/// entry of a comma-separated list (`X-Forwarded-For: client, proxy1` — the entry the nearest
/// proxy, which the operator trusts, appended), when it is an IP address.
fn forwarded_ip(value: Option<&str>) -> Option<std::net::IpAddr> {
    value?.rsplit(',').next()?.trim().parse().ok()
}

/// Whether a page of `origin` (`scheme://host[:port]`) may open a socket: it is the gateway's own
/// (its authority is `host`, the `Host` header, ports 80 and 443 implied by the scheme) or one of
/// `allowed` (compared without a trailing `/`, ASCII case-insensitively). RFC 6454 (origins),
/// RFC 6455 §10.2 (servers check `Origin`).
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let (scheme, authority) = match origin.split_once("://") {
        Some(parts) => parts,
        None => return false,
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |a: &str| -> String {
        a.strip_suffix(default_port)
            .unwrap_or(a)
            .to_ascii_lowercase()
    };
    host.is_some_and(|host| strip(host) == strip(authority))
}

#[cfg(test)]
mod tests {
    use super::{forwarded_ip, origin_allowed};

    #[test]
    fn a_proxys_header_names_the_client_by_its_last_entry() {
        let ip = |v| forwarded_ip(Some(v)).map(|ip| ip.to_string());
        assert_eq!(ip("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(ip("6.6.6.6, 203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(ip(" 2001:db8::1 ").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("unknown"), None);
        assert_eq!(ip("203.0.113.9, "), None);
        assert_eq!(forwarded_ip(None), None);
    }

    #[test]
    fn only_the_gateways_own_origin_and_allowed_ones_may_open_sockets() {
        let none: &[String] = &[];
        assert!(origin_allowed(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000"),
            none
        ));
        assert!(origin_allowed(
            "https://App.example.com",
            Some("app.example.com"),
            none
        ));
        assert!(origin_allowed(
            "https://app.example.com:443",
            Some("app.example.com"),
            none
        ));
        assert!(origin_allowed(
            "http://app.example.com",
            Some("app.example.com:80"),
            none
        ));
        assert!(!origin_allowed(
            "https://evil.example",
            Some("app.example.com"),
            none
        ));
        assert!(!origin_allowed(
            "http://app.example.com:8080",
            Some("app.example.com"),
            none
        ));
        assert!(!origin_allowed("null", Some("app.example.com"), none));
        assert!(!origin_allowed("http://127.0.0.1:3000", None, none));
        let allowed = ["https://admin.example.com/".to_owned()];
        assert!(origin_allowed(
            "https://admin.example.com",
            Some("x"),
            &allowed
        ));
        assert!(!origin_allowed(
            "https://other.example.com",
            Some("x"),
            &allowed
        ));
    }
}
