//! `POST /_upload` over real HTTP against a gateway on 127.0.0.1 whose processor is the engine
//! (as in embedded mode): the token and headers are checked, the body reaches the engine's upload
//! folder, and what is refused or broken off leaves no file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    let gateway = Gateway::new(
        GatewayConfig::default(),
        issuer.clone(),
        Arc::new(engine),
        feed,
    );
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
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST /_upload HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading a refused body.
    let _ = tcp.write_all(body).await;
    if body.len() < length {
        // The client goes away mid-body.
        let _ = tcp.shutdown().await;
    }
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
    let (status, _) = post(s.addr, &other_site, 1, b"x").await;
    assert_eq!(status, 403);

    // A body that ends before its declared length (the client went away).
    let (status, _) = post(s.addr, &named("cut.bin"), 900, &[1u8; 300]).await;
    assert_ne!(status, 200);
    until_empty(&s.dir).await;
    s.task.abort();
    std::fs::remove_dir_all(&s.dir).ok();
}
