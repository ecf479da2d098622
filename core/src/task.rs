//! Background tasks: a handler marked `#[background(status = field)]` answers its event at once
//! and goes on running on the worker without holding the token's lock. It takes the lock only
//! for short sections that read or change its state:
//!
//! ```ignore
//! let mut job = task.lock().await?;   // the token's lock, the state loaded
//! job.progress += 1;
//! job.commit().await?;                // one fenced commit, a delta to every tab
//! ```
//!
//! (a guard dropped without [`TaskGuard::commit`] is committed all the same, in the background,
//! before the task's next section). Other events of the token run freely between sections.
//!
//! Every task has a status var of type [`TaskStatus`] in its state, which the engine keeps: set
//! `running` by the event that starts it, `done`, `failed` or `cancelled` when it ends, and
//! `interrupted` when its worker died (whichever worker notices its heartbeat stopped) or shut
//! down before it finished. A handler cancels the task by [`TaskStatus::cancel`]: the task's
//! next section answers [`TaskError::Cancelled`].

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::state::{BoxFuture, Handlers, StateObject};
use crate::var::Var;

/// Where a background task is in its life (the `phase` of its [`TaskStatus`]); in the browser,
/// its snake-case name (`"running"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskPhase {
    /// Never started.
    #[default]
    Idle,
    /// Running.
    Running,
    /// A handler asked it to stop; it stops at its next section.
    Cancelling,
    /// It returned.
    Done,
    /// It returned an error, panicked, or ran past the worker's time limit (see `message`).
    Failed,
    /// It stopped after being cancelled.
    Cancelled,
    /// Its worker died or shut down before it finished (see `message`).
    Interrupted,
}

/// The status var of a background task: put a field of this type in the task's state and name
/// it in `#[background(status = field)]`; the engine keeps it (see the module docs). Pages read
/// it through [`Var<TaskStatus>`]'s accessors: `JobState::job().phase()`, `.is_active()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskStatus {
    /// The task's id (unique within the token; empty before the first start).
    pub id: String,
    /// Where it is.
    pub phase: TaskPhase,
    /// Why it failed or was interrupted (empty otherwise).
    pub message: String,
}

impl TaskStatus {
    /// Whether the task is running or stopping (a new start is refused meanwhile).
    pub fn is_active(&self) -> bool {
        matches!(self.phase, TaskPhase::Running | TaskPhase::Cancelling)
    }

    /// Asks the running task to stop: it stops at its next section, and its status becomes
    /// `cancelled`. Returns whether it was running (`false` when there is nothing to cancel).
    pub fn cancel(&mut self) -> bool {
        let running = self.phase == TaskPhase::Running;
        if running {
            self.phase = TaskPhase::Cancelling;
        }
        running
    }
}

impl Var<TaskStatus> {
    /// The task's phase, e.g. `job().phase().eq(TaskPhase::Running)`.
    pub fn phase(&self) -> Var<TaskPhase> {
        self.field("phase")
    }

    /// Why it failed or was interrupted.
    pub fn message(&self) -> Var<String> {
        self.field("message")
    }

    /// Whether it is running or stopping.
    pub fn is_active(&self) -> Var<bool> {
        self.phase()
            .eq(TaskPhase::Running)
            .or(self.phase().eq(TaskPhase::Cancelling))
    }
}

/// Why a task's section could not be had or committed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// A handler cancelled the task: return (its status becomes `cancelled`).
    #[error("the task was cancelled")]
    Cancelled,
    /// The task is no longer its token's: it was recorded interrupted (its heartbeat was missed)
    /// or the token's state was lost. Return: nothing more of it is saved.
    #[error("the task was interrupted")]
    Interrupted,
    /// The section lost the token's lock (it outlived the lock's lease): nothing was written.
    #[error("the task's section lost the token's lock; nothing was saved")]
    LockLost,
    /// The state store could not be reached, or did not answer (the write may have happened).
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The state cannot be stored now (too large, or holding a value that does not read back);
    /// nothing was written.
    #[error("{0}")]
    Refused(String),
    /// The task's own failure, in its words (`Err("no such file".into())`): its status says
    /// `failed` with this message.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for TaskError {
    fn from(message: String) -> Self {
        TaskError::Failed(message)
    }
}

/// So that `task.lock().await?` works in a task returning `Result<(), String>`.
impl From<TaskError> for String {
    fn from(error: TaskError) -> Self {
        error.to_string()
    }
}

impl From<&str> for TaskError {
    fn from(message: &str) -> Self {
        TaskError::Failed(message.to_owned())
    }
}

/// What a background handler may return: nothing, or `Result<(), E>` whose error is `Display`
/// (its text becomes the status's `message`, phase `failed`; after a cancel, `cancelled`).
pub trait TaskResult {
    /// `Err` with the task's message if it failed.
    ///
    /// # Errors
    /// The task's error, as text.
    fn into_result(self) -> Result<(), String>;
}

impl TaskResult for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> TaskResult for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// A section of a task: the token's lock and its state, loaded. The engine implements it.
pub trait Section: Send + Sync {
    /// The state, to read.
    fn state(&self) -> &dyn StateObject;
    /// The state, to change.
    fn state_mut(&mut self) -> &mut dyn StateObject;
    /// Commits what the section changed (nothing to write: just releases the lock) and
    /// publishes the delta.
    ///
    /// # Errors
    /// [`TaskError::LockLost`], [`TaskError::Unavailable`] or [`TaskError::Refused`].
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), TaskError>>;
}

/// The engine's side of a running task. The engine implements it.
pub trait TaskSink: Send + Sync + 'static {
    /// The task's id (as in its status var).
    fn id(&self) -> &str;

    /// Takes the token's lock and loads the task's state, once the previous section's
    /// background commit (if any) is done.
    ///
    /// # Errors
    /// [`TaskError::Cancelled`] or [`TaskError::Interrupted`] when the task should stop;
    /// [`TaskError::Unavailable`] when the store fails.
    fn section(&self) -> BoxFuture<'_, Result<Box<dyn Section>, TaskError>>;

    /// Commits `section` in the background (its guard was dropped without a commit); the next
    /// [`TaskSink::section`] waits for it.
    fn commit_later(&self, section: Box<dyn Section>);
}

/// A running background task of the state `T`: what a `#[background]` handler receives.
pub struct Task<T> {
    sink: Arc<dyn TaskSink>,
    _state: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").field("id", &self.sink.id()).finish()
    }
}

impl<T: Handlers> Task<T> {
    /// The task of `sink` (the engine makes it).
    pub fn new(sink: Arc<dyn TaskSink>) -> Self {
        Task {
            sink,
            _state: PhantomData,
        }
    }

    /// The task's id, as its status var shows it.
    pub fn id(&self) -> &str {
        self.sink.id()
    }

    /// A section: the token's lock, with the state `T` loaded as it is now (other events may
    /// have changed it since the last section). Keep it short: other events of the token wait
    /// meanwhile, and the lock's lease bounds it. Commit it with [`TaskGuard::commit`] (or drop
    /// it).
    ///
    /// # Errors
    /// [`TaskError::Cancelled`] once a handler cancelled the task, [`TaskError::Interrupted`]
    /// when it is no longer the token's, [`TaskError::Unavailable`] when the store fails: the
    /// task should return.
    pub async fn lock(&self) -> Result<TaskGuard<T>, TaskError> {
        let section = self.sink.section().await?;
        if section.state().as_any().downcast_ref::<T>().is_none() {
            // The engine loads the task's own state; anything else is its bug.
            return Err(TaskError::Refused(format!(
                "the task's section holds another state than `{}`",
                <T as crate::State>::NAME
            )));
        }
        Ok(TaskGuard {
            section: Some(section),
            sink: self.sink.clone(),
            _state: PhantomData,
        })
    }
}

/// A task's section: the state `T` under the token's lock. Read and change it through `*guard`,
/// then [`TaskGuard::commit`] it; dropped, it is committed in the background.
pub struct TaskGuard<T> {
    section: Option<Box<dyn Section>>,
    sink: Arc<dyn TaskSink>,
    _state: PhantomData<fn() -> T>,
}

impl<T: Handlers> TaskGuard<T> {
    /// Commits the section's changes (one fenced commit; a delta to every tab of the token) and
    /// releases the lock.
    ///
    /// # Errors
    /// [`TaskError::LockLost`] (the section outlived the lease; nothing written),
    /// [`TaskError::Unavailable`] (the write may have happened) or [`TaskError::Refused`]
    /// (nothing written).
    pub async fn commit(mut self) -> Result<(), TaskError> {
        match self.section.take() {
            Some(section) => section.commit().await,
            None => Ok(()),
        }
    }
}

impl<T: 'static> Deref for TaskGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.section
            .as_ref()
            .and_then(|s| s.state().as_any().downcast_ref::<T>())
            .expect("a task guard holds its state until committed")
    }
}

impl<T: 'static> DerefMut for TaskGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.section
            .as_mut()
            .and_then(|s| s.state_mut().as_any_mut().downcast_mut::<T>())
            .expect("a task guard holds its state until committed")
    }
}

impl<T> Drop for TaskGuard<T> {
    fn drop(&mut self) {
        if let Some(section) = self.section.take() {
            self.sink.commit_later(section);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_stops_only_a_running_task() {
        let mut status = TaskStatus {
            id: "1.t".into(),
            phase: TaskPhase::Running,
            message: String::new(),
        };
        assert!(status.is_active());
        assert!(status.cancel());
        assert_eq!(status.phase, TaskPhase::Cancelling);
        assert!(status.is_active());
        assert!(!status.cancel(), "already stopping");
        let mut done = TaskStatus {
            phase: TaskPhase::Done,
            ..status
        };
        assert!(!done.cancel());
        assert_eq!(done.phase, TaskPhase::Done);
        assert!(!TaskStatus::default().is_active());
    }

    #[test]
    fn status_reads_as_the_browser_sees_it() {
        let status = TaskStatus {
            id: "3.t".into(),
            phase: TaskPhase::Interrupted,
            message: "its worker stopped".into(),
        };
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            serde_json::json!({"id": "3.t", "phase": "interrupted", "message": "its worker stopped"})
        );
        let var: Var<TaskStatus> = Var::state_var("job_state", "job");
        assert_eq!(
            var.is_active().js(),
            r#"((job_state$job.phase === "running") || (job_state$job.phase === "cancelling"))"#
        );
    }
}
