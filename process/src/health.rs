//! Health checks of Refract's processes, for container `HEALTHCHECK`s and scripts:
//! [`grpc`] asks a worker's `grpc.health.v1.Health/Check`; [`http`] asks a gateway's `/_health`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::grpc_tls::GrpcTlsArgs;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// How long a check may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// `Ok` when the gRPC server at `addr` reports `SERVING` for its overall health (service `""`);
/// a draining worker reports `NOT_SERVING`. With `tls` (a worker's [`GrpcTlsArgs`], as the
/// worker's own container has them) it connects as a gateway would. The error says what was
/// wrong.
///
/// # Errors
/// Unreachable, timed out, not serving, or TLS options that cannot be used.
pub async fn grpc(addr: SocketAddr, tls: &GrpcTlsArgs) -> Result<(), String> {
    let check = async {
        let config = tls.client().map_err(|e| e.to_string())?;
        let channel = crate::grpc_tls::endpoint(&addr.to_string(), config)
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map_err(|e| format!("health check of {addr} failed: {}", e.message()))?;
        match reply.get_ref().status() {
            ServingStatus::Serving => Ok(()),
            other => Err(format!("{addr} is {}", other.as_str_name())),
        }
    };
    tokio::time::timeout(TIMEOUT, check)
        .await
        .map_err(|_| format!("{addr} did not answer in {TIMEOUT:?}"))?
}

/// `Ok` when `GET path` on the HTTP server at `addr` answers 200.
///
/// # Errors
/// Unreachable, timed out, or another status.
pub async fn http(addr: SocketAddr, path: &str) -> Result<(), String> {
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await.map_err(|e| e.to_string())?;
        let status = String::from_utf8_lossy(&head[..n]);
        let status = status.lines().next().unwrap_or_default().to_owned();
        if status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(format!("GET {path} on {addr} answered `{status}`"))
        }
    };
    tokio::time::timeout(TIMEOUT, check)
        .await
        .map_err(|_| format!("{addr} did not answer in {TIMEOUT:?}"))?
}
