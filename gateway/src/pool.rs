//! The workers of the distributed mode, as a [`Processor`]: each token is routed by rendezvous
//! hashing (highest random weight: Thaler and Ravishankar, 1998) over the healthy workers, so a
//! token keeps hitting the same warm worker while any worker can serve it, and only the tokens of a
//! worker that leaves move. A call that fails because the worker is unreachable or died mid-call
//! is sent, unchanged (same seq), to the next worker in the token's order; the seq makes that safe.
//!
//! The worker set comes from a static list or a DNS name re-resolved periodically; each worker's
//! health is checked with the standard gRPC health service.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use refract_proto::convert;
use refract_proto::v1::{HydrateRequest, TouchRequest, worker_client::WorkerClient};
use refract_proto::v1::{UploadChunk, upload_chunk::Part};
use refract_proto::{
    ErrorCode, EventRequest, Failure, Hydration, Outcome, Processor, UploadBody, UploadRequest,
    Uploaded,
};
use tonic::transport::{Channel, ClientTlsConfig};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tracing::Instrument;

/// Where the workers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// A fixed list of `host:port`.
    Static(Vec<String>),
    /// `name:port`, resolved again every `every`; each address is one worker.
    Dns {
        /// `name:port`.
        name: String,
        /// How often to resolve it.
        every: Duration,
    },
    /// Set by someone else through [`WorkerPool::set_members`], such as the Kubernetes
    /// EndpointSlice watcher ([`crate::k8s::watch`]).
    External,
}

/// Timeouts of the pool.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Where the workers are.
    pub discovery: Discovery,
    /// How often each worker's health is checked (default 1 s).
    pub health_every: Duration,
    /// How long one event call may take before it counts as failed (default 30 s).
    pub call_timeout: Duration,
    /// How long connecting to a worker may take (default 1 s).
    pub connect_timeout: Duration,
    /// TLS to the workers (default: none, plain gRPC).
    pub tls: Option<ClientTlsConfig>,
}

impl PoolConfig {
    /// The defaults for `discovery`.
    pub fn new(discovery: Discovery) -> Self {
        PoolConfig {
            discovery,
            health_every: Duration::from_secs(1),
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(1),
            tls: None,
        }
    }
}

struct Member {
    addr: String,
    channel: Channel,
    healthy: AtomicBool,
}

/// The worker set as a [`Processor`].
pub struct WorkerPool {
    config: PoolConfig,
    members: RwLock<Vec<Arc<Member>>>,
}

/// 64-bit FNV-1a (Fowler, Noll, Vo) of `parts` separated by a 0xff byte, then the SplitMix64
/// finaliser (Steele, Lea, Flood, 2014) to spread the bits.
pub fn rendezvous_weight(token: &str, worker: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.bytes().chain([0xff]).chain(worker.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Whether a failed call means the worker is unreachable, died or drained mid-call (retry
/// elsewhere), as opposed to the worker refusing this request (retrying elsewhere would not help).
/// A worker answers its own failures, such as the store being down, in-band: a status is always a
/// transport failure, including `INTERNAL` for an HTTP/2 connection reset by a stopping worker.
fn worker_lost(status: &Status) -> bool {
    !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::ResourceExhausted
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Unauthenticated
    )
}

impl WorkerPool {
    /// A pool that discovers its workers as `config` says and checks their health, in background
    /// tasks that end when the pool is dropped.
    pub fn start(config: PoolConfig) -> Arc<Self> {
        let pool = Arc::new(WorkerPool {
            config,
            members: RwLock::new(Vec::new()),
        });
        if let Discovery::Static(addrs) = &pool.config.discovery {
            pool.set_members(addrs.iter().cloned().collect());
        }
        let weak = Arc::downgrade(&pool);
        tokio::spawn(async move {
            loop {
                let Some(pool) = weak.upgrade() else { return };
                if let Discovery::Dns { name, .. } = &pool.config.discovery {
                    match tokio::net::lookup_host(name.as_str()).await {
                        Ok(addrs) => pool.set_members(addrs.map(|a| a.to_string()).collect()),
                        Err(e) => {
                            tracing::warn!(name, error = %e, "cannot resolve the workers' name")
                        }
                    }
                }
                pool.check_health().await;
                let every = match &pool.config.discovery {
                    Discovery::Dns { every, .. } => (*every).min(pool.config.health_every),
                    Discovery::Static(_) | Discovery::External => pool.config.health_every,
                };
                drop(pool);
                tokio::time::sleep(every).await;
            }
        });
        pool
    }

    /// Replaces the worker set with `addrs` (`host:port`), keeping the connections and health of
    /// the workers that stay.
    pub fn set_members(&self, addrs: BTreeSet<String>) {
        let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
        if members.iter().map(|m| &m.addr).eq(addrs.iter()) {
            return;
        }
        // Its health series goes with a worker (a killed one must not stay reported serving).
        for gone in members.iter().filter(|m| !addrs.contains(&m.addr)) {
            refract_telemetry::metrics().worker_removed(&gone.addr);
        }
        let kept: Vec<Arc<Member>> = addrs
            .into_iter()
            .filter_map(|addr| match members.iter().find(|m| m.addr == addr) {
                Some(m) => Some(m.clone()),
                None => self.member(addr),
            })
            .collect();
        tracing::info!(workers = ?kept.iter().map(|m| &m.addr).collect::<Vec<_>>(), "worker set changed");
        *members = kept;
    }

    fn member(&self, addr: String) -> Option<Arc<Member>> {
        let endpoint = match refract_process::grpc_tls::endpoint(&addr, self.config.tls.clone()) {
            Ok(e) => e
                .connect_timeout(self.config.connect_timeout)
                .tcp_nodelay(true),
            Err(e) => {
                tracing::warn!(addr, error = %e, "ignored a worker address");
                return None;
            }
        };
        // Healthy until a check or a call says otherwise: a new worker is used at once.
        Some(Arc::new(Member {
            addr,
            channel: endpoint.connect_lazy(),
            healthy: AtomicBool::new(true),
        }))
    }

    async fn check_health(&self) {
        let members = self.members();
        let checks = members.iter().map(|m| async move {
            let mut client = HealthClient::new(m.channel.clone());
            let mut request = tonic::Request::new(HealthCheckRequest {
                service: String::new(),
            });
            request.set_timeout(Duration::from_millis(500));
            let serving = matches!(
                client.check(request).await,
                Ok(r) if r.get_ref().status == ServingStatus::Serving as i32
            );
            if m.healthy.swap(serving, Ordering::Relaxed) != serving {
                tracing::info!(worker = %m.addr, serving, "worker health changed");
            }
            // Under the set's lock: a worker removed meanwhile is not reported again.
            let members = self.members.read().unwrap_or_else(|e| e.into_inner());
            if members.iter().any(|member| Arc::ptr_eq(member, m)) {
                refract_telemetry::metrics().worker_healthy(&m.addr, serving);
            }
        });
        futures_util::future::join_all(checks).await;
    }

    fn members(&self) -> Vec<Arc<Member>> {
        self.members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The workers in the order `token` tries them: healthy ones by descending rendezvous weight,
    /// then the unhealthy ones (a last resort when all checks fail).
    fn order(&self, token: &str) -> Vec<Arc<Member>> {
        let mut members = self.members();
        members.sort_by_key(|m| {
            (
                !m.healthy.load(Ordering::Relaxed),
                std::cmp::Reverse(rendezvous_weight(token, &m.addr)),
            )
        });
        members
    }

    /// The addresses of the workers, and whether each is healthy.
    pub fn workers(&self) -> Vec<(String, bool)> {
        self.members()
            .iter()
            .map(|m| (m.addr.clone(), m.healthy.load(Ordering::Relaxed)))
            .collect()
    }

    /// A call of `message` with the call timeout and the current span's trace context (make it
    /// inside the call's RPC span).
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.config.call_timeout);
        refract_telemetry::inject(request.metadata_mut());
        request
    }

    /// Calls `call` (the gRPC method `method`) on the token's workers in order until one answers,
    /// each call in a CLIENT span of its own ([`refract_telemetry::rpc_client_span`]). When every
    /// worker was lost, tries them all again after 100 ms, then 200 ms (a restarted worker's
    /// channel may still hold the error of its last connection attempt).
    async fn route<T, F, Fut>(
        &self,
        method: &'static str,
        token: &str,
        call: F,
    ) -> Result<T, Failure>
    where
        F: Fn(WorkerClient<Channel>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut last = None;
        for round in 0..ROUNDS {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(100 << (round - 1))).await;
            }
            let order = self.order(token);
            if order.is_empty() {
                return Err(Failure::new(ErrorCode::Unavailable, "no worker is known"));
            }
            for member in order {
                let span = refract_telemetry::rpc_client_span(method, &member.addr);
                let answer = span
                    .in_scope(|| call(WorkerClient::new(member.channel.clone())))
                    .instrument(span.clone())
                    .await;
                refract_telemetry::rpc_status(&span, answer.as_ref().map(|_| ()));
                match answer {
                    Ok(answer) => return Ok(answer),
                    Err(status) if worker_lost(&status) => {
                        tracing::warn!(worker = %member.addr, code = ?status.code(), "worker lost; trying the next one");
                        member.healthy.store(false, Ordering::Relaxed);
                        refract_telemetry::metrics().worker_lost(&member.addr);
                        last = Some(status);
                    }
                    Err(status) => {
                        return Err(Failure::new(
                            ErrorCode::Internal,
                            format!("worker refused the call: {}", status.message()),
                        ));
                    }
                }
            }
        }
        Err(Failure::new(
            ErrorCode::Unavailable,
            format!(
                "no worker could process the event: {}",
                last.map(|s| s.message().to_owned()).unwrap_or_default()
            ),
        ))
    }
}

/// Passes over the worker set before an event fails.
const ROUNDS: u32 = 3;

/// The most bytes of an upload in one gRPC message.
pub const UPLOAD_CHUNK_BYTES: usize = 64 << 10;

/// The messages of an upload's stream: the header, then `body` in chunks of at most
/// [`UPLOAD_CHUNK_BYTES`] (split without copying). The stream ends at the body's first error,
/// which is sent on `broke`: the call is then dropped, so the worker sees its stream reset.
fn upload_stream(
    request: &UploadRequest,
    body: UploadBody,
    broke: tokio::sync::oneshot::Sender<refract_proto::BodyError>,
) -> impl futures_util::Stream<Item = UploadChunk> + Send + 'static {
    let mut broke = Some(broke);
    let data = body
        .scan((), move |(), item| {
            futures_util::future::ready(match item {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    if let Some(broke) = broke.take() {
                        let _ = broke.send(e);
                    }
                    None
                }
            })
        })
        .flat_map(|mut bytes| {
            let mut chunks = Vec::with_capacity(bytes.len().div_ceil(UPLOAD_CHUNK_BYTES));
            while !bytes.is_empty() {
                chunks.push(bytes.split_to(bytes.len().min(UPLOAD_CHUNK_BYTES)));
            }
            futures_util::stream::iter(chunks)
        })
        .map(|data| UploadChunk {
            part: Some(Part::Data(data)),
        });
    futures_util::stream::iter([convert::upload_header(request)]).chain(data)
}

#[async_trait]
impl Processor for WorkerPool {
    async fn process(&self, event: EventRequest) -> Result<Outcome, Failure> {
        let request = convert::event_request(&event);
        let reply = self
            .route("ProcessEvent", &event.token, |mut client| {
                let request = self.request(request.clone());
                async move {
                    client
                        .process_event(request)
                        .await
                        .map(tonic::Response::into_inner)
                }
            })
            .instrument(tracing::info_span!("route"))
            .await?;
        convert::outcome(reply)
    }

    async fn hydrate(&self, token: &str, tab: &str) -> Result<Hydration, Failure> {
        let reply = self
            .route("Hydrate", token, |mut client| {
                let request = self.request(HydrateRequest {
                    token: token.to_owned(),
                    tab: tab.to_owned(),
                });
                async move {
                    client
                        .hydrate(request)
                        .await
                        .map(tonic::Response::into_inner)
                }
            })
            .instrument(tracing::info_span!("route", hydrate = true))
            .await?;
        convert::hydration(reply)
    }

    /// Streams the file to the token's worker: the first healthy one in its rendezvous order,
    /// the one its events go to, so the event that names the upload finds it there while the
    /// worker set is stable. Not retried elsewhere (the body cannot be sent twice): a worker
    /// lost mid-stream fails the upload with `unavailable`. No call timeout: the stream lasts
    /// as long as the client sends (the gateway bounds its pauses).
    async fn upload(&self, request: UploadRequest, body: UploadBody) -> Result<Uploaded, Failure> {
        let Some(member) = self.order(&request.token).into_iter().next() else {
            return Err(Failure::new(ErrorCode::Unavailable, "no worker is known"));
        };
        let (broke_tx, broke_rx) = tokio::sync::oneshot::channel();
        let mut call = tonic::Request::new(upload_stream(&request, body, broke_tx));
        let span = refract_telemetry::rpc_client_span("Upload", &member.addr);
        span.in_scope(|| refract_telemetry::inject(call.metadata_mut()));
        let mut client = WorkerClient::new(member.channel.clone());
        let answer = async {
            let reply = client.upload(call).instrument(span.clone()).await;
            refract_telemetry::rpc_status(&span, reply.as_ref().map(|_| ()));
            match reply {
                Ok(reply) => convert::uploaded(reply.into_inner()),
                Err(status) => {
                    if worker_lost(&status) {
                        tracing::warn!(worker = %member.addr, code = ?status.code(), "worker lost during an upload");
                        refract_telemetry::metrics().worker_lost(&member.addr);
                    }
                    Err(Failure::new(
                        ErrorCode::Unavailable,
                        format!("the upload's worker failed: {}", status.message()),
                    ))
                }
            }
        };
        let broke = async {
            match broke_rx.await {
                Ok(e) => e,
                // The body ended well: wait for the answer.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            answer = answer => answer,
            e = broke => Err(Failure::new(ErrorCode::Unavailable, e.to_string())),
        }
        .map_err(|f| {
            tracing::debug!(code = %f.code, error = %f.message, "upload failed");
            f
        })
    }

    async fn touch(&self, tokens: &[String]) -> Result<(), Failure> {
        // Any worker will do: the batch is routed by its first token.
        let Some(first) = tokens.first() else {
            return Ok(());
        };
        let reply = self
            .route("Touch", first, |mut client| {
                let request = self.request(TouchRequest {
                    tokens: tokens.to_vec(),
                });
                async move { client.touch(request).await.map(tonic::Response::into_inner) }
            })
            .instrument(tracing::info_span!("route", touch = tokens.len()))
            .await?;
        convert::touched(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_lost_workers_and_refusals_are_not() {
        for code in [
            Code::Unavailable,
            Code::Unknown,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Internal,
        ] {
            assert!(
                worker_lost(&Status::new(code, "h2 protocol error")),
                "{code:?}"
            );
        }
        for code in [
            Code::Unimplemented,
            Code::ResourceExhausted,
            Code::InvalidArgument,
        ] {
            assert!(!worker_lost(&Status::new(code, "refused")), "{code:?}");
        }
    }

    #[test]
    fn rendezvous_spreads_tokens_and_moves_only_the_leavers() {
        let workers = ["10.0.0.1:50051", "10.0.0.2:50051", "10.0.0.3:50051"];
        fn pick<'a>(token: &str, ws: &[&'a str]) -> &'a str {
            ws.iter()
                .max_by_key(|w| rendezvous_weight(token, w))
                .unwrap()
        }
        let tokens: Vec<String> = (0..3000).map(|i| format!("token-{i}")).collect();
        let mut counts = [0usize; 3];
        for t in &tokens {
            counts[workers
                .iter()
                .position(|w| *w == pick(t, &workers))
                .unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        let remaining = [workers[0], workers[2]];
        for t in &tokens {
            let before = pick(t, &workers);
            if before != workers[1] {
                assert_eq!(
                    pick(t, &remaining),
                    before,
                    "a token of a staying worker does not move"
                );
            }
        }
        assert_eq!(rendezvous_weight("a", "b"), rendezvous_weight("a", "b"));
        assert_ne!(rendezvous_weight("ab", "c"), rendezvous_weight("a", "bc"));
    }
}
