//! Background tasks on a worker: running one ([`spawn`]), its sections ([`TaskRun`] is the
//! engine's side of `refract_core::Task`), its heartbeat, and the registry sweep that records
//! the tasks of dead workers interrupted ([`sweep`]).
//!
//! The state's status var is the task's truth. The event that starts a task records it in the
//! store's task registry with a deadline, then sets the status `running` with the task's id in
//! the same commit that answers the event. While the task runs, a heartbeat pushes its deadline
//! on every third of the task lease. Each section takes the token's lock, loads the state, and
//! goes on only while the status still shows this task running: a handler that cancelled it
//! (`cancelling`) stops it, and so does a worker that found its deadline passed and set the
//! status `interrupted` (a worker that was only paused cannot then write over that). When the
//! task ends, its worker sets the final status and forgets it in the registry; a worker that dies
//! before leaves the registry entry, whose deadline passes: any worker's sweep then sets the
//! status `interrupted`. Every status change is an ordinary fenced, versioned commit.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use refract_core::{
    BoxFuture, Section, StateDescriptor, StateObject, StateRegistry, TaskError, TaskFuture,
    TaskPhase, TaskSink, TaskStatus,
};
use refract_proto::{ErrorCode, Failure};
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::engine::{decode, internal};
use crate::flush::{Change, Committed, EventOf, StateAt};
use crate::panics::InHandler;
use crate::store::{Lease, StateStore, StoreError};

/// The limits of a worker's background tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLimits {
    /// How long a task's registry entry lives without a heartbeat: a task whose worker died is
    /// recorded interrupted about this long after its last heartbeat (plus up to a second for
    /// the next sweep).
    pub lease: Duration,
    /// How long a task may run; past it, it is stopped and its status says `failed`.
    pub max_run: Duration,
    /// How many tasks one worker runs at once; a start past it fails with `busy`.
    pub max_running: usize,
    /// How long a worker that shuts down waits for its tasks before it stops them and records
    /// them `interrupted`.
    pub drain: Duration,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            lease: Duration::from_secs(10),
            max_run: Duration::from_secs(3600),
            max_running: 1000,
            drain: Duration::from_secs(10),
        }
    }
}

/// How often a worker sweeps the registry for tasks whose heartbeat stopped.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How many expired tasks one sweep handles at most (the rest wait for the next).
const SWEEP_BATCH: usize = 16;

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A task's registry entry: `["<token>","<state.method>","<id>"]`.
pub(crate) fn entry(token: &str, handler: &str, id: &str) -> String {
    Value::from(vec![token, handler, id]).to_string()
}

/// The status var `var` of `state`.
///
/// # Errors
/// `internal` when the state does not serialise or the var is no [`TaskStatus`].
pub(crate) fn status_of(state: &dyn StateObject, var: &str) -> Result<TaskStatus, Failure> {
    let stored: Value =
        serde_json::from_slice(&state.encode().map_err(internal)?).map_err(internal)?;
    serde_json::from_value(stored.get(var).cloned().unwrap_or(Value::Null)).map_err(internal)
}

/// `state` (of `desc`) with its status var `var` set to `status`.
///
/// # Errors
/// `internal` when the state does not serialise or read back.
pub(crate) fn with_status(
    desc: &StateDescriptor,
    state: &dyn StateObject,
    var: &str,
    status: &TaskStatus,
) -> Result<Box<dyn StateObject>, Failure> {
    let mut stored: Value =
        serde_json::from_slice(&state.encode().map_err(internal)?).map_err(internal)?;
    if let Value::Object(fields) = &mut stored {
        fields.insert(
            var.to_owned(),
            serde_json::to_value(status).map_err(internal)?,
        );
    }
    (desc.decode)(&serde_json::to_vec(&stored).map_err(internal)?).map_err(internal)
}

/// Where a freshly loaded state stands (for a commit that starts from it).
fn loaded_at(
    desc: &StateDescriptor,
    state: &dyn StateObject,
    shard: Option<Arc<[u8]>>,
    version: u64,
    stored_bytes: u64,
) -> Result<Committed, Failure> {
    Ok(Committed {
        states: [(
            desc.name,
            StateAt {
                vars: state.vars().map_err(internal)?,
                bytes: shard,
            },
        )]
        .into(),
        version,
        stored_bytes,
        then_stored: false,
        streamed: false,
    })
}

/// Commits `state` from `at` under `lease` as a commit of no event (a delta with `seq: null`),
/// or just releases the lock when nothing changed.
async fn commit_section(
    lease: Box<dyn Lease>,
    desc: &StateDescriptor,
    state: &dyn StateObject,
    at: &Committed,
    max_state_bytes: u64,
) -> Result<(), Failure> {
    let change = match Change::of(desc, state) {
        Ok(change) => change,
        Err(e) => {
            lease.release().await;
            return Err(e);
        }
    };
    let unchanged = at.states.get(desc.name).is_some_and(|was| {
        was.vars == change.vars && was.bytes.as_deref() == Some(&change.bytes[..])
    });
    if unchanged {
        lease.release().await;
        return Ok(());
    }
    let of = EventOf {
        tab: "",
        seq: None,
        max_state_bytes,
    };
    match of.step(at, vec![change], false, Vec::new(), None) {
        Ok(step) => Ok(lease.commit(step.commit).await?),
        Err(e) => {
            lease.release().await;
            Err(e)
        }
    }
}

/// Sets the status var `var` of `token`'s state `desc` to `to`, if it still shows the task `id`
/// active; returns whether it did (`false`: the task already ended, was recorded interrupted, or
/// the state was lost).
///
/// # Errors
/// The store's failure, or `internal`/`corrupt_state` when the state cannot be read.
pub(crate) async fn settle<S: StateStore>(
    store: &S,
    desc: &StateDescriptor,
    var: &str,
    token: &str,
    id: &str,
    to: &TaskStatus,
    max_state_bytes: u64,
) -> Result<bool, Failure> {
    let (loaded, lease) = store.acquire(token, "", &[desc.name]).await?;
    let shard = loaded.shards.first().cloned().flatten();
    let read = decode(desc, shard.as_deref(), token).and_then(|state| {
        let status = status_of(&*state, var)?;
        Ok((state, status))
    });
    let (state, status) = match read {
        Ok(read) => read,
        Err(e) => {
            lease.release().await;
            return Err(e);
        }
    };
    if status.id != id || !status.is_active() {
        lease.release().await;
        return Ok(false);
    }
    let at = loaded_at(desc, &*state, shard, loaded.version, loaded.stored_bytes);
    let patched = with_status(desc, &*state, var, to);
    match (at, patched) {
        (Ok(at), Ok(patched)) => {
            commit_section(lease, desc, &*patched, &at, max_state_bytes).await?;
            Ok(true)
        }
        (Err(e), _) | (_, Err(e)) => {
            lease.release().await;
            Err(e)
        }
    }
}

/// The tasks a worker runs: how many, and the signal that stops them at the end of a drain.
#[derive(Debug)]
pub(crate) struct Running {
    count: AtomicUsize,
    idle: Notify,
    stop: watch::Sender<bool>,
}

impl Default for Running {
    fn default() -> Self {
        Running {
            count: AtomicUsize::new(0),
            idle: Notify::new(),
            stop: watch::channel(false).0,
        }
    }
}

/// One running task's place in [`Running`]; its drop frees it.
pub(crate) struct Slot(Arc<Running>);

impl Running {
    /// A place for one more task, or `None` when `max` run already.
    pub fn reserve(self: &Arc<Self>, max: usize) -> Option<Slot> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.clone()))
    }

    /// How many run.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Waits up to `grace` for every task to end; then stops those still running (each records
    /// itself `interrupted`) and waits up to `grace` again for that.
    pub async fn drain(&self, grace: Duration) {
        let all_done = async {
            loop {
                let idle = self.idle.notified();
                if self.count() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let mut all_done = std::pin::pin!(all_done);
        if tokio::time::timeout(grace, &mut all_done).await.is_ok() {
            return;
        }
        tracing::warn!(
            running = self.count(),
            "tasks still running after the drain's grace: stopping them"
        );
        self.stop.send_replace(true);
        if tokio::time::timeout(grace, all_done).await.is_err() {
            tracing::error!(running = self.count(), "tasks did not stop in time");
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
        self.0.idle.notify_waiters();
    }
}

/// The engine's side of one running task (what its `Task` handle calls).
pub(crate) struct TaskRun<S> {
    pub store: Arc<S>,
    pub desc: StateDescriptor,
    pub var: &'static str,
    pub token: String,
    pub handler: String,
    pub id: String,
    pub max_state_bytes: u64,
    /// The background commit of a guard dropped without a commit.
    pending: Mutex<Option<JoinHandle<()>>>,
    /// Whether a section found the task cancelled.
    cancelled: AtomicBool,
}

impl<S: StateStore> TaskRun<S> {
    /// The task `id` of `handler` (whose status var is `var`) for `token`.
    pub fn new(
        store: Arc<S>,
        desc: StateDescriptor,
        var: &'static str,
        token: &str,
        handler: &str,
        id: String,
        max_state_bytes: u64,
    ) -> Self {
        TaskRun {
            store,
            desc,
            var,
            token: token.to_owned(),
            handler: handler.to_owned(),
            id,
            max_state_bytes,
            pending: Mutex::default(),
            cancelled: AtomicBool::new(false),
        }
    }

    /// The task's registry entry.
    pub fn entry(&self) -> String {
        entry(&self.token, &self.handler, &self.id)
    }

    fn take_pending(&self) -> Option<JoinHandle<()>> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    async fn open(&self) -> Result<Box<dyn Section>, TaskError> {
        if let Some(pending) = self.take_pending() {
            let _ = pending.await;
        }
        let unavailable = |e: Failure| TaskError::Unavailable(e.message);
        let (loaded, lease) = self
            .store
            .acquire(&self.token, "", &[self.desc.name])
            .await
            .map_err(|e| unavailable(e.into()))?;
        let shard = loaded.shards.first().cloned().flatten();
        let read = decode(&self.desc, shard.as_deref(), &self.token).and_then(|state| {
            let status = status_of(&*state, self.var)?;
            let at = loaded_at(
                &self.desc,
                &*state,
                shard,
                loaded.version,
                loaded.stored_bytes,
            )?;
            Ok((state, status, at))
        });
        let (state, status, at) = match read {
            Ok(read) => read,
            Err(e) => {
                lease.release().await;
                return Err(TaskError::Refused(e.message));
            }
        };
        if status.id != self.id || !status.is_active() {
            lease.release().await;
            return Err(TaskError::Interrupted);
        }
        if status.phase == TaskPhase::Cancelling {
            lease.release().await;
            self.cancelled.store(true, Ordering::Release);
            return Err(TaskError::Cancelled);
        }
        Ok(Box::new(TaskSection {
            lease,
            desc: self.desc,
            state,
            at,
            max_state_bytes: self.max_state_bytes,
        }))
    }

    /// The status the task ends with, from how its work ended.
    fn final_status(&self, ended: Ended) -> TaskStatus {
        let (phase, message) = match ended {
            _ if self.cancelled.load(Ordering::Acquire) => (TaskPhase::Cancelled, String::new()),
            Ended::Returned(Ok(())) => (TaskPhase::Done, String::new()),
            Ended::Returned(Err(message)) => (TaskPhase::Failed, message),
            Ended::Panicked => (TaskPhase::Failed, "the task panicked".to_owned()),
            Ended::TimedOut(limit) => (
                TaskPhase::Failed,
                format!(
                    "stopped after {} s, the longest a task may run",
                    limit.as_secs()
                ),
            ),
            Ended::Stopped => (
                TaskPhase::Interrupted,
                "the worker shut down before the task finished".to_owned(),
            ),
        };
        TaskStatus {
            id: self.id.clone(),
            phase,
            message,
        }
    }
}

impl<S: StateStore> TaskSink for TaskRun<S> {
    fn id(&self) -> &str {
        &self.id
    }

    fn section(&self) -> BoxFuture<'_, Result<Box<dyn Section>, TaskError>> {
        Box::pin(self.open())
    }

    fn commit_later(&self, section: Box<dyn Section>) {
        // Outside a runtime (it is shutting down) the lock is released by the lease's own drop.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let handle = runtime.spawn(async move {
            if let Err(error) = section.commit().await {
                tracing::warn!(%error, "a task's section, dropped without a commit, was not saved");
            }
        });
        // Sections run one after another: a previous background commit was awaited already.
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }
}

/// A section: the lock, and the state as loaded under it.
struct TaskSection {
    lease: Box<dyn Lease>,
    desc: StateDescriptor,
    state: Box<dyn StateObject>,
    at: Committed,
    max_state_bytes: u64,
}

impl Section for TaskSection {
    fn state(&self) -> &dyn StateObject {
        &*self.state
    }

    fn state_mut(&mut self) -> &mut dyn StateObject {
        &mut *self.state
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), TaskError>> {
        Box::pin(async move {
            let TaskSection {
                lease,
                desc,
                state,
                at,
                max_state_bytes,
            } = *self;
            commit_section(lease, &desc, &*state, &at, max_state_bytes)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::LockLost => TaskError::LockLost,
                    ErrorCode::Unavailable | ErrorCode::Busy => TaskError::Unavailable(e.message),
                    _ => TaskError::Refused(e.message),
                })
        })
    }
}

/// How a task's work ended.
enum Ended {
    Returned(Result<(), String>),
    Panicked,
    TimedOut(Duration),
    Stopped,
}

/// Runs the task `run`'s `work` in the background, in `slot` (whose [`Running`] stops it when a
/// drain gives up waiting), within `limits`. Its registry entry must be recorded already.
pub(crate) fn spawn<S: StateStore>(
    run: Arc<TaskRun<S>>,
    work: TaskFuture,
    limits: TaskLimits,
    slot: Slot,
) {
    let mut stop = slot.0.stop.subscribe();
    tokio::spawn(async move {
        let _slot = slot;
        let work = AssertUnwindSafe(InHandler(work)).catch_unwind();
        let ended = tokio::select! {
            ended = work => match ended {
                Ok(returned) => Ended::Returned(returned),
                Err(_) => Ended::Panicked,
            },
            never = heartbeat(&*run.store, run.entry(), limits.lease) => match never {},
            () = tokio::time::sleep(limits.max_run) => Ended::TimedOut(limits.max_run),
            _ = stop.wait_for(|stop| *stop) => Ended::Stopped,
        };
        if let Some(pending) = run.take_pending() {
            let _ = pending.await;
        }
        let status = run.final_status(ended);
        finish(&run, &status).await;
    });
}

/// Pushes the task's registry deadline on every third of `lease`, forever (a renewal that finds
/// the entry gone, or fails, is logged: the task learns its fate at its next section).
async fn heartbeat<S: StateStore>(
    store: &S,
    entry: String,
    lease: Duration,
) -> std::convert::Infallible {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let deadline = now_ms() + lease.as_millis() as u64;
        match store.keep_task(&entry, deadline, true).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!("a running task was recorded interrupted"),
            Err(error) => tracing::warn!(%error, "a task's heartbeat failed"),
        }
    }
}

/// Records the task's final `status` and forgets its registry entry, trying the store a few
/// times; a task it cannot record keeps its entry, and a sweep records it interrupted once
/// the entry's deadline passes.
async fn finish<S: StateStore>(run: &TaskRun<S>, status: &TaskStatus) {
    for attempt in 1..=3 {
        let settled = settle(
            &*run.store,
            &run.desc,
            run.var,
            &run.token,
            &run.id,
            status,
            run.max_state_bytes,
        )
        .await;
        match settled {
            Ok(_) => {
                if let Err(error) = run.store.forget_task(&run.entry()).await {
                    tracing::warn!(%error, "a task's registry entry stays until it expires");
                }
                tracing::debug!(handler = %run.handler, phase = ?status.phase, "task ended");
                return;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e.message, "a task's end could not be recorded");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Records interrupted the tasks whose registry deadline passed (their worker died); returns
/// how many entries it handled.
///
/// # Errors
/// [`StoreError`] when the registry cannot be read.
pub(crate) async fn sweep<S: StateStore>(
    store: &S,
    states: &StateRegistry,
    max_state_bytes: u64,
) -> Result<usize, StoreError> {
    let expired = store.expired_tasks(now_ms(), SWEEP_BATCH).await?;
    let interrupted = TaskStatus {
        phase: TaskPhase::Interrupted,
        message: "the worker running the task stopped answering".to_owned(),
        ..TaskStatus::default()
    };
    for task in &expired {
        let parsed: Option<(String, String, String)> = serde_json::from_str(task).ok();
        let found = parsed.as_ref().and_then(|(token, handler, id)| {
            let (desc, method) = states.resolve(handler).ok()?;
            Some((token, desc, desc.status_var(method)?, id))
        });
        let Some((token, desc, var, id)) = found else {
            tracing::warn!(task, "a task registry entry of no known handler; forgotten");
            store.forget_task(task).await?;
            continue;
        };
        let status = TaskStatus {
            id: id.clone(),
            ..interrupted.clone()
        };
        match settle(store, desc, var, token, id, &status, max_state_bytes).await {
            Ok(marked) => {
                if marked {
                    tracing::warn!(handler = %desc.name, "a task's worker stopped answering: recorded interrupted");
                }
                store.forget_task(task).await?;
            }
            Err(e) => tracing::warn!(error = %e.message, "an expired task could not be recorded"),
        }
    }
    Ok(expired.len())
}

/// An engine's task supervision: sweeps the task registry in the background (see
/// [`Engine::supervise_tasks`](crate::Engine::supervise_tasks)) until [`TaskSupervisor::drain`].
#[derive(Debug)]
pub struct TaskSupervisor {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl TaskSupervisor {
    /// Starts supervising `engine`'s tasks.
    pub fn start<S: StateStore>(engine: Arc<crate::Engine<S>>) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let handle = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            engine.supervise_tasks(shutdown).await;
        });
        TaskSupervisor { stop, handle }
    }

    /// Stops sweeping and drains the engine's tasks: waits for them up to the drain limit, then
    /// stops the rest, which record themselves interrupted. Call it once no new events arrive.
    pub async fn drain(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.handle.await {
            tracing::error!(%error, "the task supervision failed");
        }
    }
}

/// The registry deadline of a task starting now.
pub(crate) fn first_deadline(lease: Duration) -> u64 {
    now_ms() + lease.as_millis() as u64
}
