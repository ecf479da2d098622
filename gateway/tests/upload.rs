//! `POST /_upload` over real HTTP against a gateway on 127.0.0.1 whose processor is the engine
//! (as in embedded mode): the token and headers are checked, the body reaches the engine's upload
//! folder, and what is refused or broken off leaves no file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use refract_core::UploadedFile;
use refract_gateway::{Gateway, GatewayConfig, TokenIssuer};
use refract_proto::DeltaFeed;
use refract_worker::{Engine, MemoryStore, UploadConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Server {
    addr: std::net::SocketAddr,
    issuer: TokenIssuer,
    dir: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

async fn server(max_bytes: u64) -> Server {
    server_with(max_bytes, |_| {}).await
}

/// A server as [`server`], with its gateway's configuration tuned by `tune`.
async fn server_with(max_bytes: u64, tune: impl FnOnce(&mut GatewayConfig)) -> Server {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).unwrap();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("refract-gateway-upload-{hex}"));
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(Arc::default(), store.clone()).uploads(UploadConfig {
        dir: dir.clone(),
        max_bytes,
        max_bytes_per_session: 8 * max_bytes,
        ttl: Duration::from_secs(3600),
    });
    let issuer = TokenIssuer::from_secret("upload-tests");
    let feed: Arc<dyn DeltaFeed> = store;
    let mut config = GatewayConfig {
        upload_dir: Some(dir.clone()),
        ..GatewayConfig::default()
    };
    tune(&mut config);
    let gateway = Gateway::new(config, issuer.clone(), Arc::new(engine), feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(refract_gateway::serve::serve_until(
        gateway,
        listener,
        std::future::pending(),
    ));
    Server {
        addr,
        issuer,
        dir,
        task,
    }
}

/// Sends `POST /_upload` with `headers` and `body` (of `length` bytes declared; a shorter body
/// is followed by closing the sending side); returns the status and the body of the answer (0
/// and nothing when the server closed without one).
async fn post(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
    length: usize,
    body: &[u8],
) -> (u16, String) {
    let mut tcp = start(addr, headers, length).await;
    // The server may answer (and close) before reading a refused body.
    let _ = tcp.write_all(body).await;
    if body.len() < length {
        // The client goes away mid-body.
        let _ = tcp.shutdown().await;
    }
    answer(tcp).await
}

/// Sends the head of `POST /_upload` with `headers`, declaring `length` bytes of body; the
/// caller sends the body (or not).
async fn start(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
    length: usize,
) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST /_upload HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp
}

/// The status and body of the answer on `tcp` (0 and nothing when the server closed without
/// one).
async fn answer(mut tcp: tokio::net::TcpStream) -> (u16, String) {
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                files(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

async fn until_empty(dir: &Path) {
    for _ in 0..100 {
        if files(dir).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("files left: {:?}", files(dir));
}

#[tokio::test]
async fn a_file_reaches_the_engine_and_refusals_say_why() {
    let s = server(1000).await;
    let token = s.issuer.issue().unwrap();
    let named = |name: &'static str| {
        vec![
            ("X-Refract-Token", token.as_str()),
            ("X-Refract-File-Name", name),
            ("Content-Type", "text/plain"),
        ]
    };

    let (status, body) = post(s.addr, &named("..%2Fr%C3%A9sum%C3%A9.txt"), 5, b"hello").await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["name"], "résumé.txt");
    assert_eq!(answer["size"], 5);
    assert_eq!(answer["content_type"], "text/plain");
    let id = answer["id"].as_str().unwrap();
    let held = files(&s.dir);
    assert!(held.iter().any(|p| p.ends_with(id)), "{held:?}");
    assert_eq!(
        std::fs::read(held.iter().find(|p| p.ends_with(id)).unwrap()).unwrap(),
        b"hello"
    );
    std::fs::remove_dir_all(&s.dir).unwrap();

    let forged = [
        ("X-Refract-Token", "not.a-token"),
        ("X-Refract-File-Name", "a"),
    ];
    let (status, body) = post(s.addr, &forged, 1, b"x").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_token"), "{body}");

    let nameless = [("X-Refract-Token", token.as_str())];
    let (status, body) = post(s.addr, &nameless, 1, b"x").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("malformed_upload"), "{body}");

    let big = vec![7u8; 5000];
    let (status, body) = post(s.addr, &named("big.bin"), big.len(), &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("upload_too_large"), "{body}");

    let mut other_site = named("a");
    other_site.push(("Origin", "https://evil.example"));
    let (status, body) = post(s.addr, &other_site, 1, b"x").await;
    assert_eq!(status, 403);
    let refusal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["code"], "forbidden_origin", "{body}");
    assert!(
        refusal["message"].as_str().unwrap().contains("origin"),
        "{body}"
    );

    // A body that ends before its declared length (the client went away).
    let (status, _) = post(s.addr, &named("cut.bin"), 900, &[1u8; 300]).await;
    assert_ne!(status, 200);
    until_empty(&s.dir).await;
    s.task.abort();
    std::fs::remove_dir_all(&s.dir).ok();
}

/// The headers of an upload of `token` named `name`.
fn named<'a>(token: &'a str, name: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![("X-Refract-Token", token), ("X-Refract-File-Name", name)]
}

/// Waits until the gateway has taken the uploads started (their handlers run once the head
/// arrived).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn uploads_at_once_are_bounded_per_session_and_in_all() {
    let s = server_with(1000, |c| {
        c.max_uploads = 3;
        c.max_uploads_per_session = 2;
    })
    .await;
    let (one, two) = (s.issuer.issue().unwrap(), s.issuer.issue().unwrap());
    // Two uploads of the first session stall mid-body.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = start(s.addr, &named(&one, "a"), 10).await;
        tcp.write_all(b"abc").await.unwrap();
        held.push(tcp);
    }
    settle().await;
    let (status, body) = post(s.addr, &named(&one, "b"), 1, b"x").await;
    assert_eq!(status, 429, "{body}");
    let refusal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["code"], "overloaded");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("2 files at once"),
        "{body}"
    );
    // Another session still may, up to the gateway's cap.
    let mut third = start(s.addr, &named(&two, "c"), 10).await;
    third.write_all(b"abc").await.unwrap();
    settle().await;
    let (status, body) = post(s.addr, &named(&two, "d"), 1, b"x").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("overloaded") && body.contains("3 uploads at once"),
        "{body}"
    );
    // An upload that ends gives its slot back.
    third.write_all(b"defghij").await.unwrap();
    assert_eq!(answer(third).await.0, 200);
    let (status, body) = post(s.addr, &named(&two, "d"), 1, b"x").await;
    assert_eq!(status, 200, "{body}");
    drop(held);
    s.task.abort();
    std::fs::remove_dir_all(&s.dir).ok();
}

#[tokio::test]
async fn a_slow_or_silent_upload_is_cut_off_and_leaves_no_file() {
    let s = server_with(1 << 20, |c| {
        c.upload_grace = Duration::from_millis(600);
        c.min_upload_rate = 1 << 20;
        c.idle_timeout = Duration::from_millis(400);
    })
    .await;
    let token = s.issuer.issue().unwrap();
    // A byte every 100 ms: never idle, but past its deadline (600 ms plus 1 s per MiB).
    let mut slow = start(s.addr, &named(&token, "slow"), 1000).await;
    let trickle = async {
        for _ in 0..30 {
            if slow.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    trickle.await;
    let (status, body) = answer(slow).await;
    assert_eq!(status, 408, "{body}");
    assert!(
        body.contains("upload_timeout") && body.contains("took longer"),
        "{body}"
    );
    until_empty(&s.dir).await;

    // Nothing at all after the first bytes: cut off after the idle timeout.
    let mut silent = start(s.addr, &named(&token, "silent"), 1000).await;
    silent.write_all(b"abc").await.unwrap();
    let (status, body) = answer(silent).await;
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("sent nothing"), "{body}");
    until_empty(&s.dir).await;
    s.task.abort();
    std::fs::remove_dir_all(&s.dir).ok();
}

/// `GET path` on the server; the status, the headers (lower-cased names) and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

#[tokio::test]
async fn published_files_are_served_with_safe_headers_and_nothing_else_is() {
    let s = server_with(1 << 20, |_| {}).await;
    let token = s.issuer.issue().unwrap();
    // Published through the core API, as a handler would, from files uploaded over HTTP.
    let mut published = Vec::new();
    for (name, encoded, kind, body) in [
        (
            "notes <1>.txt",
            "notes%20%3C1%3E.txt",
            "text/plain",
            &b"hello"[..],
        ),
        ("pic.png", "pic.png", "image/png", b"\x89PNG"),
        (
            "page.html",
            "page.html",
            "text/html",
            b"<script>alert(1)</script>",
        ),
        (
            "logo.svg",
            "logo.svg",
            "image/svg+xml",
            b"<svg onload=alert(1)>",
        ),
    ] {
        let headers = [
            ("X-Refract-Token", token.as_str()),
            ("X-Refract-File-Name", encoded),
            ("Content-Type", kind),
        ];
        let (status, answer) = post(s.addr, &headers, body.len(), body).await;
        assert_eq!(status, 200, "{answer}");
        let id = serde_json::from_str::<Value>(&answer).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = files(&s.dir)
            .into_iter()
            .find(|p| p.ends_with(&id))
            .unwrap();
        let file = UploadedFile::new(name, kind, body.len() as u64, path);
        published.push((file.publish().await.unwrap(), body));
    }
    let expect = [
        (
            "text/plain; charset=utf-8",
            "attachment; filename*=UTF-8''notes%20%3C1%3E.txt",
        ),
        ("image/png", "inline; filename*=UTF-8''pic.png"),
        (
            "application/octet-stream",
            "attachment; filename*=UTF-8''page.html",
        ),
        (
            "application/octet-stream",
            "attachment; filename*=UTF-8''logo.svg",
        ),
    ];
    for ((file, body), (kind, disposition)) in published.iter().zip(expect) {
        let (status, headers, got) = get(s.addr, file.url()).await;
        assert_eq!(status, 200, "{}", file.url());
        assert_eq!(&got, body);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        };
        assert_eq!(header("content-type"), kind);
        assert_eq!(header("content-disposition"), disposition);
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(
            header("content-security-policy"),
            "default-src 'none'; sandbox"
        );
        assert_eq!(header("cache-control"), "private");
        assert_eq!(header("content-length"), body.len().to_string());
    }

    let url = published[0].0.url().to_owned();
    let (digest, id) = {
        let mut parts = url.trim_start_matches("/_files/").split('/');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    for bad in [
        format!("/_files/{digest}/{id}/other.txt"),
        format!("/_files/{digest}/{id}/..%2F..%2F{id}"),
        format!("/_files/..%2F..%2F..%2Fetc/{id}/passwd"),
        format!("/_files/{digest}/..%2F{id}/notes%20%3C1%3E.txt"),
        format!("/_files/{}/{id}/notes%20%3C1%3E.txt", digest.to_uppercase()),
        format!("/_files/{digest}/{id}.json/notes%20%3C1%3E.txt"),
        format!("/_files/{digest}/public/{id}"),
        format!("/_files/{digest}/{id}"),
        "/_files/../../etc/passwd".to_owned(),
    ] {
        assert_eq!(get(s.addr, &bad).await.0, 404, "{bad}");
    }
    // A gateway without an upload folder serves none.
    let none = server_with(1 << 20, |c| c.upload_dir = None).await;
    std::fs::create_dir_all(none.dir.join(&digest)).unwrap();
    std::fs::rename(s.dir.join(&digest), none.dir.join(&digest)).ok();
    assert_eq!(get(none.addr, &url).await.0, 404);
    s.task.abort();
    none.task.abort();
    std::fs::remove_dir_all(&s.dir).ok();
    std::fs::remove_dir_all(&none.dir).ok();
}
