//! The HTTP/1.1 server under a gateway: it accepts TCP connections and serves each with hyper,
//! with `TCP_NODELAY`, a deadline for a request's headers, and WebSocket upgrades. (`axum::serve`
//! gives hyper no timer, so a client could hold a connection forever by sending its headers one
//! byte at a time — "slowloris" — or by never sending a request at all.)

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long an accept loop pauses after an error that is not about one connection (the process
/// is out of file descriptors, say), so it does not spin while the condition lasts.
const ACCEPT_PAUSE: Duration = Duration::from_millis(250);

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting and waits for
/// the requests in flight, at most `drain_limit`. Each connection must send a request's complete
/// headers within `header_timeout` of the server starting to wait for them (on a new connection,
/// and between requests of a kept-alive one), else it is closed: this bounds what an idle or
/// slowloris client holds. Upgraded connections (WebSockets) leave hyper and live on in the
/// router's handlers; they are not waited for here. Handlers see the peer's address as
/// `ConnectInfo<SocketAddr>`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    drain_limit: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept connections; pausing");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_PAUSE) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http
            .serve_connection(TokioIo::new(tuned(tcp)), service(router.clone(), peer))
            .with_upgrades();
        let stopping = stopping.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stopping.cancelled() => {
                    // Finish the request in flight, if any, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(drain_limit, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP requests did not finish in time");
    }
}

/// `tcp` with `TCP_NODELAY`: a small frame (a delta) leaves at once instead of waiting for the
/// acknowledgement of the previous one (Nagle's algorithm, RFC 896, which would otherwise meet the
/// browser's delayed ACK and stall up to ~40 ms).
fn tuned(tcp: TcpStream) -> TcpStream {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    tcp
}

/// The hyper service of one connection from `peer`: `router`, with the peer's address in each
/// request's extensions.
fn service(
    router: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        tower::ServiceExt::oneshot(router.clone(), request)
    })
}

/// Whether an accept error concerns only the connection being accepted (which the peer gave up on).
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn start(header_timeout: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.ip().to_string()
            }),
        );
        tokio::spawn(serve(
            listener,
            router,
            header_timeout,
            Duration::from_secs(1),
            std::future::pending(),
        ));
        addr
    }

    /// Reads until the server closes the connection; what it sent.
    async fn read_to_close(tcp: &mut TcpStream) -> String {
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn a_complete_request_is_served_with_the_peers_address() {
        let addr = start(Duration::from_secs(5)).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut tcp).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn headers_sent_too_slowly_close_the_connection() {
        let addr = start(Duration::from_millis(300)).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        // A slowloris client: the start of a request, then nothing more.
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut tcp)).await;
        let answer = closed.expect("the server closes a connection whose headers do not come");
        assert!(!answer.contains("200"), "{answer}");
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_the_header_timeout() {
        let addr = start(Duration::from_millis(300)).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        // The first answer comes, then the kept-alive connection waits for a request that never
        // comes, and is closed.
        let answer = tokio::time::timeout(Duration::from_secs(10), read_to_close(&mut tcp))
            .await
            .expect("the server closes a kept-alive connection that sends no next request");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
