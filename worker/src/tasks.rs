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
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use refract_core::{
    BoxFuture, Section, StateDescriptor, StateObject, StateRegistry, TaskError, TaskFuture,
    TaskPhase, TaskSink, TaskStatus,
};
use refract_proto::{ErrorCode, Failure};
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::engine::{caught, decode, internal};
use crate::flush::{Change, Committed, EventOf, StateAt};
use crate::panics::InHandler;
use crate::store::{Commit, Lease, StateStore, StoreError};

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
    /// How long one section may hold the token's lock: a section committed later fails with
    /// [`TaskError::LockLost`] and writes nothing, in both modes (on Redis, its lock's lease
    /// lapses then). Set it to the lock's lease.
    pub max_section: Duration,
}

/// The shortest task lease [`TaskLimits`] keep (a shorter one would have the heartbeat hammer
/// the store).
pub const MIN_TASK_LEASE: Duration = Duration::from_millis(300);

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            lease: Duration::from_secs(10),
            max_run: Duration::from_secs(3600),
            max_running: 1000,
            drain: Duration::from_secs(10),
            max_section: Duration::from_secs(5),
        }
    }
}

/// How often a worker sweeps the registry for tasks whose heartbeat stopped.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How many expired tasks one sweep handles at most (the rest wait for the next).
const SWEEP_BATCH: usize = 16;

/// A task's registry entry: `["<token>","<state>","<status var>","<id>"]`. It names the state
/// and its status var, not the handler, so that a task whose handler was renamed in a deploy is
/// still recorded interrupted.
pub(crate) fn entry(token: &str, state: &str, var: &str, id: &str) -> String {
    Value::from(vec![token, state, var, id]).to_string()
}

/// The longest `message` a status keeps, in bytes (a longer one is cut, at a character).
const MAX_MESSAGE_BYTES: usize = 1024;

/// `message`, cut to [`MAX_MESSAGE_BYTES`].
fn clipped(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// The status var `var` of `state`.
///
/// # Errors
/// `internal` when the state has no such var (the registry names a var a deploy removed).
pub(crate) fn status_mut<'s>(
    state: &'s mut dyn StateObject,
    var: &str,
) -> Result<&'s mut TaskStatus, Failure> {
    state
        .task_status(var)
        .ok_or_else(|| internal(format!("the state has no task status var `{var}`")))
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

/// The commit of `state` from `at` as a commit of no event (a delta with `seq: null`); `None`
/// when nothing changed. Runs the app's code (computed vars): call it caught.
fn section_commit(
    desc: &StateDescriptor,
    state: &dyn StateObject,
    at: &Committed,
    max_state_bytes: u64,
) -> Result<Option<Commit>, Failure> {
    let change = Change::of(desc, state)?;
    if at.holds(&change) {
        return Ok(None);
    }
    let of = EventOf {
        tab: "",
        seq: None,
        max_state_bytes,
    };
    Ok(Some(
        of.step(at, vec![change], false, Vec::new(), None)?.commit,
    ))
}

/// Writes `commit` under `lease` (or just releases the lock for `None`, or on `Err`).
async fn write(
    lease: Box<dyn Lease>,
    commit: Result<Option<Commit>, Failure>,
) -> Result<(), Failure> {
    match commit {
        Ok(Some(commit)) => Ok(lease.commit(commit).await?),
        Ok(None) => {
            lease.release().await;
            Ok(())
        }
        Err(e) => {
            lease.release().await;
            Err(e)
        }
    }
}

/// Sets the status var `var` of `token`'s state `desc` to `to`, if it still shows the task `id`
/// active; returns whether it did (`false`: the task already ended, was recorded interrupted, or
/// the state was lost). The write is the engine's own: the app's state size limit does not hold
/// it back (its message is cut to 1 KiB), and the app's code in it runs caught.
///
/// # Errors
/// The store's failure, or `handler_failed`/`internal` when the state cannot be read.
pub(crate) async fn settle<S: StateStore>(
    store: &S,
    desc: &StateDescriptor,
    var: &str,
    token: &str,
    id: &str,
    to: &TaskStatus,
) -> Result<bool, Failure> {
    let (loaded, lease) = store.acquire(token, "", &[desc.name]).await?;
    let shard = loaded.shards.first().cloned().flatten();
    let commit = caught(desc.name, || {
        let mut state = decode(desc, shard.as_deref(), token)?;
        let at = loaded_at(desc, &*state, shard, loaded.version, loaded.stored_bytes)?;
        let status = status_mut(&mut *state, var)?;
        if status.id != id || !status.is_active() {
            return Ok(None);
        }
        *status = TaskStatus {
            message: clipped(to.message.clone()),
            ..to.clone()
        };
        section_commit(desc, &*state, &at, u64::MAX)
    });
    let wrote = matches!(commit, Ok(Some(_)));
    write(lease, commit).await?;
    Ok(wrote)
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
    pub id: String,
    pub max_state_bytes: u64,
    pub max_section: Duration,
    /// The background commit of a guard dropped without a commit.
    pending: Mutex<Option<JoinHandle<()>>>,
    /// Whether a section found the task cancelled.
    cancelled: AtomicBool,
    /// Whether the task's work was stopped (a panic, a limit, a drain): a guard dropped with it
    /// is released, not committed, as a failed handler writes nothing.
    abandoned: AtomicBool,
}

impl<S: StateStore> TaskRun<S> {
    /// The task `id` of the state `desc` for `token`, whose status var is `var`.
    pub fn new(
        store: Arc<S>,
        desc: StateDescriptor,
        var: &'static str,
        token: &str,
        id: String,
        max_state_bytes: u64,
        max_section: Duration,
    ) -> Self {
        TaskRun {
            store,
            desc,
            var,
            token: token.to_owned(),
            id,
            max_state_bytes,
            max_section,
            pending: Mutex::default(),
            cancelled: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
        }
    }

    /// The task's registry entry.
    pub fn entry(&self) -> String {
        entry(&self.token, self.desc.name, self.var, &self.id)
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
        let (loaded, lease) = self
            .store
            .acquire(&self.token, "", &[self.desc.name])
            .await
            .map_err(|e| TaskError::Unavailable(Failure::from(e).message))?;
        let opened = Instant::now();
        let shard = loaded.shards.first().cloned().flatten();
        // The app's code (decoding the state, its computed vars) runs in the task's work, which
        // is caught as a whole.
        let read = decode(&self.desc, shard.as_deref(), &self.token).and_then(|mut state| {
            let status = status_mut(&mut *state, self.var)?.clone();
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
            deadline: opened + self.max_section,
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
                format!("stopped after {limit:?}, the longest a task may run"),
            ),
            Ended::Stopped => (
                TaskPhase::Interrupted,
                "the worker shut down before the task finished".to_owned(),
            ),
            Ended::Lost => (TaskPhase::Interrupted, String::new()),
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
        // A section dropped by a panic, or with its stopped work, is released (its lease's
        // drop), not committed: half a change is not saved. So is one outside a runtime.
        if std::thread::panicking() || self.abandoned.load(Ordering::Acquire) {
            return;
        }
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
    /// When its hold on the lock ends ([`TaskLimits::max_section`]).
    deadline: Instant,
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
                deadline,
            } = *self;
            if Instant::now() > deadline {
                lease.release().await;
                return Err(TaskError::LockLost);
            }
            let commit = caught(desc.name, || {
                section_commit(&desc, &*state, &at, max_state_bytes)
            });
            write(lease, commit).await.map_err(|e| match e.code {
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
    /// A drain stopped it.
    Stopped,
    /// Its registry entry is gone: another worker recorded it interrupted.
    Lost,
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
        // Boxed, so that it can be dropped (with what it holds) before the end is recorded.
        let mut work = Box::pin(AssertUnwindSafe(InHandler(work)).catch_unwind());
        let ended = tokio::select! {
            ended = &mut work => match ended {
                Ok(returned) => Ended::Returned(returned),
                Err(_) => Ended::Panicked,
            },
            () = heartbeat(&*run.store, run.entry(), limits.lease) => Ended::Lost,
            () = tokio::time::sleep(limits.max_run) => Ended::TimedOut(limits.max_run),
            _ = stop.wait_for(|stop| *stop) => Ended::Stopped,
        };
        // What the work held is released with it, not committed.
        run.abandoned.store(true, Ordering::Release);
        drop(work);
        if let Some(pending) = run.take_pending() {
            let _ = pending.await;
        }
        if matches!(ended, Ended::Lost) {
            tracing::warn!(
                state = run.desc.name,
                "a task was recorded interrupted while it ran: stopped"
            );
            return;
        }
        let status = run.final_status(ended);
        finish(&run, &status, limits.lease).await;
    });
}

/// Pushes the task's registry deadline on every third of `lease`; returns when the entry is
/// gone (another worker recorded the task interrupted). A failed renewal is logged and tried
/// again at the next beat.
async fn heartbeat<S: StateStore>(store: &S, entry: String, lease: Duration) {
    let every = lease / 3;
    loop {
        tokio::time::sleep(every).await;
        match store.keep_task(&entry, lease, true).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => tracing::warn!(%error, "a task's heartbeat failed"),
        }
    }
}

/// Records the task's final `status` and forgets its registry entry, trying the store a few
/// times; a task it cannot record keeps its entry (pushed one lease on), and a sweep records it
/// interrupted once the entry's deadline passes.
async fn finish<S: StateStore>(run: &TaskRun<S>, status: &TaskStatus, lease: Duration) {
    let entry = run.entry();
    for attempt in 1..=3 {
        match settle(&*run.store, &run.desc, run.var, &run.token, &run.id, status).await {
            Ok(_) => {
                if let Err(error) = run.store.forget_task(&entry).await {
                    tracing::warn!(%error, "a task's registry entry stays until it expires");
                }
                tracing::debug!(state = run.desc.name, phase = ?status.phase, "task ended");
                return;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e.message, "a task's end could not be recorded");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    let _ = run.store.keep_task(&entry, lease, true).await;
}

/// Records interrupted the tasks whose registry deadline passed (their worker died); returns
/// how many entries it handled. An entry it cannot record is pushed one `lease` on, so that it
/// does not hold up the others.
///
/// # Errors
/// [`StoreError`] when the registry cannot be read.
pub(crate) async fn sweep<S: StateStore>(
    store: &S,
    states: &StateRegistry,
    lease: Duration,
) -> Result<usize, StoreError> {
    let expired = store.expired_tasks(SWEEP_BATCH).await?;
    // Each on its own token's lock: recorded side by side.
    let recorded = expired
        .iter()
        .map(|task| interrupt(store, states, task, lease));
    for result in futures_util::future::join_all(recorded).await {
        result?;
    }
    Ok(expired.len())
}

/// Records the expired registry entry `task` interrupted (see [`sweep`]).
async fn interrupt<S: StateStore>(
    store: &S,
    states: &StateRegistry,
    task: &str,
    lease: Duration,
) -> Result<(), StoreError> {
    let parsed: Option<(String, String, String, String)> = serde_json::from_str(task).ok();
    let Some((token, state, var, id)) = parsed else {
        tracing::warn!(task, "a task registry entry that does not read; forgotten");
        return store.forget_task(task).await;
    };
    let Some(desc) = states.get(&state) else {
        tracing::warn!(state, "a task of a state the app no longer has; forgotten");
        return store.forget_task(task).await;
    };
    let status = TaskStatus {
        id: id.clone(),
        phase: TaskPhase::Interrupted,
        message: "the worker running the task stopped answering".to_owned(),
    };
    match settle(store, desc, &var, &token, &id, &status).await {
        Ok(marked) => {
            if marked {
                tracing::warn!(
                    state,
                    "a task's worker stopped answering: recorded interrupted"
                );
            }
            store.forget_task(task).await
        }
        Err(e) => {
            tracing::warn!(error = %e.message, "an expired task could not be recorded; trying later");
            store.keep_task(task, lease, false).await.map(|_| ())
        }
    }
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
