//! Uploads: files streamed to the engine (in process, as in embedded mode, and over real gRPC
//! between the gateway's pool and a worker's server on 127.0.0.1), named by an event's
//! arguments, given to its handler, and deleted after it; nothing left behind by a file over
//! the limit, a body of the wrong length or a stream that breaks off.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use refract_core::{
    BoxFuture, Emitter, EventContext, EventError, EventSpec, Handlers, PublishedFile, State,
    StateRegistry, Task, TaskFuture, TaskPhase, TaskSink, TaskStatus, UploadedFile, decode_args,
};
use refract_gateway::pool::{Discovery, PoolConfig, WorkerPool};
use refract_proto::{
    BodyError, ErrorCode, EventRequest, Outcome, Processor, UploadBody, UploadRequest, Uploaded,
};
use refract_worker::{
    Commit, Engine, Lease, Loaded, MemoryStore, StateStore, StoreError, UploadConfig,
};
use serde_json::{Map, Value, json};

/// A state whose handlers take uploaded files: `save {files}` lists their names and sizes in
/// `saved`, `keep {file, dest}` persists one to `dest`, `fail {files}` fails, `publish {files}`
/// publishes them into `published`, `unpublish` deletes the published ones.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Docs {
    saved: Vec<String>,
    published: Vec<PublishedFile>,
}

impl State for Docs {
    const NAME: &'static str = "docs";
    fn frontend_vars(&self) -> Result<Map<String, Value>, serde_json::Error> {
        Ok(Map::from_iter([
            ("saved".to_owned(), json!(self.saved)),
            ("published".to_owned(), json!(self.published)),
        ]))
    }
}

impl Handlers for Docs {
    const HANDLERS: &'static [&'static str] = &["save", "keep", "fail", "publish", "unpublish"];
    fn computed_vars(&self, _vars: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
        Ok(())
    }
    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        args: Value,
        _cx: &'a EventContext,
        _emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>> {
        Box::pin(async move {
            #[derive(serde::Deserialize)]
            struct Files {
                files: Vec<UploadedFile>,
            }
            #[derive(serde::Deserialize)]
            struct Keep {
                file: UploadedFile,
                dest: PathBuf,
            }
            match method {
                "save" => {
                    let Files { files } = decode_args("docs", method, args)?;
                    for file in files {
                        let content = file
                            .read()
                            .await
                            .map_err(|e| EventError::HandlerFailed(format!("cannot read: {e}")))?;
                        assert_eq!(content.len() as u64, file.size());
                        self.saved.push(format!("{}:{}", file.name(), file.size()));
                    }
                    Ok(vec![])
                }
                "keep" => {
                    let Keep { file, dest } = decode_args("docs", method, args)?;
                    file.persist(dest)
                        .await
                        .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    Ok(vec![])
                }
                "fail" => {
                    let _: Files = decode_args("docs", method, args)?;
                    Err(EventError::HandlerFailed("no".into()))
                }
                "publish" => {
                    let Files { files } = decode_args("docs", method, args)?;
                    for file in files {
                        let published = file
                            .publish()
                            .await
                            .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                        self.published.push(published);
                    }
                    Ok(vec![])
                }
                "unpublish" => {
                    for file in self.published.drain(..) {
                        file.delete()
                            .await
                            .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    }
                    Ok(vec![])
                }
                _ => Err(EventError::UnknownHandler(method.into())),
            }
        })
    }
}

fn temp_dir(what: &str) -> PathBuf {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).unwrap();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    std::env::temp_dir().join(format!("refract-{what}-{hex}"))
}

fn engine(max_bytes: u64) -> (Engine<Arc<MemoryStore>>, PathBuf) {
    let mut states = StateRegistry::default();
    states.register::<Docs>();
    let dir = temp_dir("uploads-it");
    let engine =
        Engine::new(Arc::new(states), Arc::new(MemoryStore::new())).uploads(UploadConfig {
            dir: dir.clone(),
            max_bytes,
            max_bytes_per_session: 8 * max_bytes,
            ttl: Duration::from_secs(3600),
        });
    (engine, dir)
}

fn request(name: &str, size: u64) -> UploadRequest {
    UploadRequest {
        token: "tok".into(),
        name: name.into(),
        content_type: "application/octet-stream".into(),
        size,
    }
}

/// `size` bytes (a repeating pattern) in chunks of `chunk` bytes.
fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn body_of(data: &[u8], chunk: usize) -> UploadBody {
    let chunks: Vec<Result<Bytes, BodyError>> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(chunks).boxed()
}

fn event(seq: u64, handler: &str, args: Value) -> EventRequest {
    EventRequest {
        token: "tok".into(),
        tab: String::new(),
        seq,
        handler: handler.into(),
        args,
        depth: 0,
        context: Default::default(),
    }
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

fn refs(uploaded: &[&Uploaded]) -> Value {
    Value::Array(uploaded.iter().map(|u| json!({"$upload": u.id})).collect())
}

#[tokio::test]
async fn a_handler_gets_the_files_and_they_go_after_the_event() {
    let (e, dir) = engine(1 << 20);
    let a = e
        .upload(request("../a.txt", 5), body_of(b"hello", 2))
        .await
        .unwrap();
    let b = e
        .upload(request("b.bin", 3000), body_of(&pattern(3000), 1000))
        .await
        .unwrap();
    assert_eq!(a.name, "a.txt");
    assert_eq!(files(&dir).len(), 4, "two files and their metadata");
    let outcome = e
        .process(event(1, "docs.save", json!({"files": refs(&[&a, &b])})))
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Applied { .. }));
    let state = e.hydrate("tok", "").await.unwrap().state;
    assert_eq!(state["docs"]["saved"], json!(["a.txt:5", "b.bin:3000"]));
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    // A resend of the applied event is a duplicate, though its files are gone.
    let again = e
        .process(event(1, "docs.save", json!({"files": refs(&[&a, &b])})))
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Duplicate { .. }));
    // A new event naming them finds nothing.
    let gone = e
        .process(event(2, "docs.save", json!({"files": refs(&[&a])})))
        .await
        .unwrap_err();
    assert_eq!(gone.code, ErrorCode::UploadNotFound);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_persisted_file_stays_and_a_failed_events_files_go() {
    let (e, dir) = engine(1 << 20);
    let kept = temp_dir("kept");
    std::fs::create_dir_all(&kept).unwrap();
    let a = e.upload(request("a", 2), body_of(b"hi", 2)).await.unwrap();
    let dest = kept.join("a.txt");
    e.process(event(
        1,
        "docs.keep",
        json!({"file": {"$upload": a.id}, "dest": dest}),
    ))
    .await
    .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"hi");
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));

    let b = e.upload(request("b", 2), body_of(b"hi", 2)).await.unwrap();
    let failed = e
        .process(event(2, "docs.fail", json!({"files": refs(&[&b])})))
        .await
        .unwrap_err();
    assert_eq!(failed.code, ErrorCode::HandlerFailed);
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&kept).ok();
}

#[tokio::test]
async fn a_client_cannot_name_a_file_by_its_path() {
    let (e, dir) = engine(1 << 20);
    let forged = json!({"files": [{"$uploaded_file": {
        "name": "passwd", "content_type": "", "size": 1, "path": "/etc/passwd"}}]});
    let refused = e.process(event(1, "docs.save", forged)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadArguments);
    let traversal = json!({"files": [{"$upload": "../../../../../../etc/passwd"}]});
    let refused = e
        .process(event(1, "docs.save", traversal))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::UploadNotFound);
    let state = e.hydrate("tok", "").await.unwrap().state;
    assert_eq!(state["docs"]["saved"], json!([]));
    std::fs::remove_dir_all(&dir).ok();
}

/// A worker's gRPC server for `engine` on 127.0.0.1, and a gateway's pool of it.
async fn worker(
    engine: Engine<Arc<MemoryStore>>,
) -> (Arc<WorkerPool>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        refract_worker::serve::serve_on(listener, Arc::new(engine), None, std::future::pending())
            .await
            .unwrap();
    });
    let pool = WorkerPool::start(PoolConfig::new(Discovery::Static(vec![addr.to_string()])));
    (pool, server)
}

/// Waits up to 5 s for `dir` to hold no file.
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
async fn several_megabytes_stream_over_grpc_to_the_workers_folder() {
    let (e, dir) = engine(64 << 20);
    let token_dir = e.upload_store().token_dir("tok");
    let (pool, server) = worker(e).await;
    let data = pattern(6 << 20);
    // Body chunks larger than a gRPC message: the pool splits them.
    let uploaded = pool
        .upload(
            request("big.bin", data.len() as u64),
            body_of(&data, 200_000),
        )
        .await
        .unwrap();
    assert_eq!(uploaded.size, data.len() as u64);
    assert_eq!(std::fs::read(token_dir.join(&uploaded.id)).unwrap(), data);
    let applied = pool
        .process(event(1, "docs.save", json!({"files": refs(&[&uploaded])})))
        .await
        .unwrap();
    assert!(matches!(applied, Outcome::Applied { .. }));
    until_empty(&dir).await;
    server.abort();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn over_grpc_an_oversize_or_wrong_length_upload_leaves_no_file() {
    let (e, dir) = engine(1 << 20);
    let (pool, server) = worker(e).await;
    let big = pattern(2 << 20);
    let declared = pool
        .upload(request("big", big.len() as u64), body_of(&big, 64 << 10))
        .await
        .unwrap_err();
    assert_eq!(declared.code, ErrorCode::UploadTooLarge);
    // Declared small, sent large: stopped as it streams.
    let lied = pool
        .upload(request("big", 1000), body_of(&big, 64 << 10))
        .await
        .unwrap_err();
    assert_eq!(lied.code, ErrorCode::MalformedUpload);
    let short = pool
        .upload(request("short", 1000), body_of(&big[..10], 10))
        .await
        .unwrap_err();
    assert_eq!(short.code, ErrorCode::MalformedUpload);
    until_empty(&dir).await;
    server.abort();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn over_grpc_a_dropped_stream_leaves_no_file() {
    let (e, dir) = engine(64 << 20);
    let (pool, server) = worker(e).await;
    let data = pattern(1 << 20);
    // The client's body breaks off (a cancelled XHR): the gateway drops the call.
    let chunks: Vec<Result<Bytes, BodyError>> = vec![
        Ok(Bytes::from(data.clone())),
        Err(BodyError("connection reset".into())),
    ];
    let broken = pool
        .upload(
            request("a", 4 << 20),
            futures_util::stream::iter(chunks).boxed(),
        )
        .await
        .unwrap_err();
    assert_eq!(broken.code, ErrorCode::Unavailable);
    until_empty(&dir).await;

    // The client stalls and its request is dropped (the gateway's task ends): the call goes.
    let stalled = futures_util::stream::iter([Ok(Bytes::from(data))])
        .chain(futures_util::stream::pending())
        .boxed();
    let upload = pool.upload(request("b", 4 << 20), stalled);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), upload)
            .await
            .is_err()
    );
    until_empty(&dir).await;
    server.abort();
    std::fs::remove_dir_all(&dir).ok();
}

/// The memory store, whose commits fail with `lock_lost` (retryable: the tab resends the event)
/// while `fail` is set, writing nothing.
struct Flaky {
    inner: Arc<MemoryStore>,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

struct FlakyLease {
    inner: Box<dyn Lease>,
    fail: bool,
}

#[async_trait::async_trait]
impl Lease for FlakyLease {
    async fn load(&self, states: &[&str]) -> Result<Vec<Option<Arc<[u8]>>>, StoreError> {
        self.inner.load(states).await
    }
    async fn flush(&self, commit: &Commit) -> Result<(), StoreError> {
        self.inner.flush(commit).await
    }
    async fn commit(self: Box<Self>, commit: Commit) -> Result<(), StoreError> {
        if self.fail {
            self.inner.release().await;
            return Err(StoreError::LockLost);
        }
        self.inner.commit(commit).await
    }
    async fn release(self: Box<Self>) {
        self.inner.release().await
    }
}

#[async_trait::async_trait]
impl StateStore for Flaky {
    async fn acquire(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<(Loaded, Box<dyn Lease>), StoreError> {
        let (loaded, inner) = self.inner.acquire(token, tab, states).await?;
        let fail = self.fail.load(std::sync::atomic::Ordering::SeqCst);
        Ok((loaded, Box::new(FlakyLease { inner, fail })))
    }
    async fn snapshot(
        &self,
        token: &str,
        tab: &str,
        states: &[&str],
    ) -> Result<Loaded, StoreError> {
        self.inner.snapshot(token, tab, states).await
    }
    async fn touch(&self, tokens: &[&str]) -> Result<(), StoreError> {
        self.inner.touch(tokens).await
    }
    async fn keep_task(
        &self,
        task: &str,
        lease: Duration,
        renew: bool,
    ) -> Result<bool, StoreError> {
        self.inner.keep_task(task, lease, renew).await
    }
    async fn expired_tasks(&self, max: usize) -> Result<Vec<String>, StoreError> {
        self.inner.expired_tasks(max).await
    }
    async fn forget_task(&self, task: &str) -> Result<(), StoreError> {
        self.inner.forget_task(task).await
    }
}

#[tokio::test]
async fn a_handler_that_persisted_persists_again_when_its_event_is_resent() {
    let mut states = StateRegistry::default();
    states.register::<Docs>();
    let dir = temp_dir("uploads-resend");
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let store = Flaky {
        inner: Arc::new(MemoryStore::new()),
        fail: fail.clone(),
    };
    let e = Engine::new(Arc::new(states), store).uploads(UploadConfig {
        dir: dir.clone(),
        max_bytes: 1 << 20,
        max_bytes_per_session: 1 << 20,
        ttl: Duration::from_secs(3600),
    });
    let kept = temp_dir("kept-resend");
    std::fs::create_dir_all(&kept).unwrap();
    let dest = kept.join("a.txt");
    let a = e.upload(request("a", 2), body_of(b"hi", 2)).await.unwrap();
    let keep = || {
        event(
            1,
            "docs.keep",
            json!({"file": {"$upload": a.id}, "dest": dest}),
        )
    };
    // The handler persists the file, then the commit fails: the browser resends the event.
    let lost = e.process(keep()).await.unwrap_err();
    assert_eq!(lost.code, ErrorCode::LockLost);
    assert!(lost.code.retryable());
    assert!(!files(&dir).is_empty(), "the upload is kept for the resend");
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    let applied = e.process(keep()).await.unwrap();
    assert!(matches!(applied, Outcome::Applied { .. }), "{applied:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"hi");
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&kept).ok();
}

/// A state with a background handler, `ingest {file, wait_ms}`, whose work waits `wait_ms`,
/// then reads the file and records its size in `size`; its status var is `job`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Ingest {
    size: u64,
    job: TaskStatus,
}

impl State for Ingest {
    const NAME: &'static str = "ingest";
    fn frontend_vars(&self) -> Result<Map<String, Value>, serde_json::Error> {
        Ok(Map::from_iter([
            ("size".to_owned(), json!(self.size)),
            ("job".to_owned(), serde_json::to_value(&self.job)?),
        ]))
    }
}

impl Handlers for Ingest {
    const HANDLERS: &'static [&'static str] = &["ingest"];
    const BACKGROUND: &'static [(&'static str, &'static str)] = &[("ingest", "job")];

    fn computed_vars(&self, _vars: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
        Ok(())
    }

    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        _args: Value,
        _cx: &'a EventContext,
        _emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>> {
        Box::pin(async move { Err(EventError::UnknownHandler(method.into())) })
    }

    fn start(method: &str, args: Value, task: Arc<dyn TaskSink>) -> Result<TaskFuture, EventError> {
        #[derive(serde::Deserialize)]
        struct Args {
            file: UploadedFile,
            wait_ms: u64,
        }
        let Args { file, wait_ms } = decode_args("ingest", method, args)?;
        let task = Task::<Ingest>::new(task);
        Ok(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            let content = file.read().await.map_err(|e| e.to_string())?;
            let mut ingest = task.lock().await.map_err(|e| e.to_string())?;
            ingest.size = content.len() as u64;
            ingest.commit().await.map_err(|e| e.to_string())
        }))
    }

    fn task_status(&mut self, var: &str) -> Option<&mut TaskStatus> {
        (var == "job").then_some(&mut self.job)
    }
}

#[tokio::test]
async fn a_background_tasks_uploads_live_as_long_as_its_work() {
    let mut states = StateRegistry::default();
    states.register::<Ingest>();
    let dir = temp_dir("uploads-task");
    let e = Engine::new(Arc::new(states), Arc::new(MemoryStore::new())).uploads(UploadConfig {
        dir: dir.clone(),
        max_bytes: 1 << 20,
        max_bytes_per_session: 1 << 20,
        ttl: Duration::from_secs(1),
    });
    let a = e
        .upload(request("a", 5), body_of(b"hello", 5))
        .await
        .unwrap();
    let started = e
        .process(event(
            1,
            "ingest.ingest",
            json!({"file": {"$upload": a.id}, "wait_ms": 2500}),
        ))
        .await
        .unwrap();
    assert!(matches!(started, Outcome::Applied { .. }));

    // A start that fails (the task runs already) deletes its own files, not the running one's.
    let b = e.upload(request("b", 2), body_of(b"hi", 2)).await.unwrap();
    let refused = e
        .process(event(
            2,
            "ingest.ingest",
            json!({"file": {"$upload": b.id}, "wait_ms": 0}),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::HandlerFailed);
    let token = e.upload_store().token_dir("tok");
    assert!(!token.join(&b.id).exists(), "{:?}", files(&dir));

    // Past the TTL while the work runs: the sweep leaves its file alone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    e.upload_store().sweep().await.unwrap();
    assert!(token.join(&a.id).exists(), "swept while the task runs");

    // The work read it, and once it ended the file is gone.
    let mut state = e.hydrate("tok", "").await.unwrap().state;
    for _ in 0..100 {
        if state["ingest"]["job"]["phase"] != json!(TaskPhase::Running) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = e.hydrate("tok", "").await.unwrap().state;
    }
    assert_eq!(
        state["ingest"]["job"]["phase"],
        json!(TaskPhase::Done),
        "{state:?}"
    );
    assert_eq!(state["ingest"]["size"], 5);
    until_empty(&dir).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_published_file_outlives_its_event_and_the_sweep_until_the_app_deletes_it() {
    let (mut e, dir) = engine(1 << 20);
    let a = e
        .upload(request("été 1.txt", 5), body_of(b"hello", 5))
        .await
        .unwrap();
    e.process(event(1, "docs.publish", json!({"files": refs(&[&a])})))
        .await
        .unwrap();
    let token = e.upload_store().token_dir("tok");
    let public = token.join("public");
    let state = e.hydrate("tok", "").await.unwrap().state;
    let digest = token.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        state["docs"]["published"],
        json!([{
            "url": format!("/_files/{digest}/{}/%C3%A9t%C3%A9%201.txt", a.id),
            "name": "été 1.txt",
            "content_type": "application/octet-stream",
            "size": 5,
        }]),
        "no server path in the state"
    );
    // The upload went with its event; the published copy stays, even past the TTL.
    assert!(!token.join(&a.id).exists());
    assert_eq!(std::fs::read(public.join(&a.id)).unwrap(), b"hello");
    let swept_at_once = UploadConfig {
        ttl: Duration::ZERO,
        ..e.upload_store().config().clone()
    };
    e = e.uploads(swept_at_once);
    e.upload_store().sweep().await.unwrap();
    assert_eq!(files(&dir).len(), 2, "{:?}", files(&dir));

    e.process(event(2, "docs.unpublish", json!({})))
        .await
        .unwrap();
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    // The sweep removes the folders left empty.
    e.upload_store().sweep().await.unwrap();
    assert!(!token.exists());
    std::fs::remove_dir_all(&dir).ok();
}
