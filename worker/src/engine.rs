//! The engine: processes events over a [`StateStore`] and the app's states.
//!
//! For one event: resolve the handler (unknown handlers never touch the store), take the token's
//! lock and load only the handler's shard, skip a sequence number already applied, run the handler,
//! diff the vars against their values before it, and commit the changed shard, the new version, the
//! sequence number and the published delta in one step. A handler that fails or panics releases the
//! lock and writes nothing.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::{self, Either};
use refract_core::actions::CLIENT_ACTIONS;
use refract_core::storage::STORAGE_METHOD;
use refract_core::upload::{UploadArgError, upload_refs};
use refract_core::{
    Emitter, EventContext, EventError, EventSpec, FollowUp, Routes, StateDescriptor, StateObject,
    StateRegistry,
};
use refract_proto::{
    ErrorCode, EventRequest, Failure, Hydration, Outcome, Processor, UploadBody, UploadRequest,
    Uploaded,
};
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::flush::{Change, Committed, EventOf, Running, StateAt};
use crate::panics::InHandler;
use crate::store::{Lease, StateStore, StoreError};
use crate::tasks::{self, TaskLimits, TaskRun};
use crate::uploads::{UploadConfig, Uploads};

/// The app's own error hook: the follow-ups (client actions, usually a toast) the browser runs
/// for a failed event. It is the app's code: a panic in it is caught and logged, and the default
/// generic toast is sent instead.
pub type ErrorHook = Arc<dyn Fn(&Failure) -> Vec<EventSpec> + Send + Sync>;

/// What the browser is told to run when an event fails for the app's reasons
/// ([`Failure::is_apps`]: its handler failed, its arguments, its state's size, …).
#[derive(Clone, Default)]
pub enum ErrorActions {
    /// A toast saying that something went wrong, without detail (production; the default).
    #[default]
    Generic,
    /// A toast with the failure's message (development).
    Detailed,
    /// The app's own hook.
    Hook(ErrorHook),
}

/// The text of [`ErrorActions::Generic`]'s toast.
pub const GENERIC_ERROR: &str = "Something went wrong. Please try again.";

/// What a worker runs of an app: its states, its pages' routes (for handlers' context) and its
/// error hook, if it has one.
#[derive(Clone, Default)]
pub struct AppCode {
    /// The states and their handlers.
    pub states: Arc<StateRegistry>,
    /// The pages' routes: a handler's context says which one its page matched, with its params.
    pub routes: Arc<Routes>,
    /// What to show about a failure of the app's (see [`ErrorActions::Hook`]).
    pub on_error: Option<ErrorHook>,
}

/// Runs events of an app's states on a store, and their background tasks.
pub struct Engine<S> {
    states: Arc<StateRegistry>,
    routes: Arc<Routes>,
    store: Arc<S>,
    max_state_bytes: u64,
    max_chain_depth: u32,
    error_actions: ErrorActions,
    task_limits: TaskLimits,
    tasks: Arc<tasks::Running>,
    uploads: Arc<Uploads>,
}

/// The default of [`Engine::max_state_bytes`]: 4 MiB.
pub const DEFAULT_MAX_STATE_BYTES: u64 = 4 << 20;

/// The default of [`Engine::max_chain_depth`].
pub const DEFAULT_MAX_CHAIN_DEPTH: u32 = 32;

impl<S: StateStore> Engine<S> {
    /// An engine for the app's `states` over `store`.
    pub fn new(states: Arc<StateRegistry>, store: S) -> Self {
        crate::panics::install();
        Engine {
            states,
            routes: Arc::default(),
            store: Arc::new(store),
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            max_chain_depth: DEFAULT_MAX_CHAIN_DEPTH,
            error_actions: ErrorActions::default(),
            task_limits: TaskLimits::default(),
            tasks: Arc::default(),
            uploads: Arc::new(Uploads::new(UploadConfig::default())),
        }
    }

    /// An engine of `app` over `store`: its states, routes and error hook (or, without one, the
    /// generic toast).
    pub fn for_app(app: &AppCode, store: S) -> Self {
        let engine = Engine::new(app.states.clone(), store).routes(app.routes.clone());
        match &app.on_error {
            Some(hook) => engine.error_actions(ErrorActions::Hook(hook.clone())),
            None => engine,
        }
    }

    /// Finds each event's page among `routes`, for its context's `route` and `params` (default:
    /// no routes, so none is found).
    pub fn routes(mut self, routes: Arc<Routes>) -> Self {
        self.routes = routes;
        self
    }

    /// What the browser runs when an event fails for the app's reasons (default: a generic
    /// toast).
    pub fn error_actions(mut self, actions: ErrorActions) -> Self {
        self.error_actions = actions;
        self
    }

    /// Refuses, with `state_too_large`, an event after which the token's stored states would take
    /// more than `bytes` bytes together (their serialised JSON, backend vars included); the state
    /// then stays as it was. Default [`DEFAULT_MAX_STATE_BYTES`].
    pub fn max_state_bytes(mut self, bytes: u64) -> Self {
        self.max_state_bytes = bytes;
        self
    }

    /// Stops event chains at `depth`: an event deeper than that is refused, and one at that depth
    /// whose handler returns follow-ups fails, both with `chain_too_deep` (state untouched).
    /// Default [`DEFAULT_MAX_CHAIN_DEPTH`].
    pub fn max_chain_depth(mut self, depth: u32) -> Self {
        self.max_chain_depth = depth;
        self
    }

    /// Bounds background tasks (default [`TaskLimits::default`]); a lease under
    /// [`MIN_TASK_LEASE`](crate::tasks::MIN_TASK_LEASE) is raised to it.
    pub fn task_limits(mut self, limits: TaskLimits) -> Self {
        self.task_limits = TaskLimits {
            lease: limits.lease.max(tasks::MIN_TASK_LEASE),
            ..limits
        };
        self
    }

    /// Keeps uploaded files as `config` says (default [`UploadConfig::default`]).
    pub fn uploads(mut self, config: UploadConfig) -> Self {
        self.uploads = Arc::new(Uploads::new(config));
        self
    }

    /// The uploaded files this engine keeps.
    pub fn upload_store(&self) -> &Uploads {
        &self.uploads
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// How many background tasks this engine runs now.
    pub fn running_tasks(&self) -> usize {
        self.tasks.count()
    }

    /// Records interrupted the background tasks (of any worker) whose heartbeat stopped; returns
    /// how many expired registry entries it handled. [`Engine::supervise_tasks`] calls it every
    /// second.
    ///
    /// # Errors
    /// [`StoreError`] when the task registry cannot be read.
    pub async fn sweep_tasks(&self) -> Result<usize, StoreError> {
        tasks::sweep(&*self.store, &self.states, self.task_limits.lease).await
    }

    /// Sweeps the task registry every second (see [`Engine::sweep_tasks`]) until `shutdown`
    /// completes, then drains this engine's tasks: waits for them up to the drain limit, then
    /// stops the rest, which record themselves interrupted.
    pub async fn supervise_tasks(&self, shutdown: impl Future<Output = ()>) {
        let sweeping = async {
            let mut every = tokio::time::interval(tasks::SWEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(error) = self.sweep_tasks().await {
                    tracing::warn!(%error, "the task registry could not be swept");
                }
                self.uploads.sweep_if_due().await;
            }
        };
        tokio::select! {
            () = shutdown => {}
            never = sweeping => match never {},
        }
        if self.running_tasks() > 0 {
            tracing::info!(
                running = self.running_tasks(),
                "draining: waiting for background tasks"
            );
        }
        self.tasks.drain(self.task_limits.drain).await;
    }
}

/// A failure of the engine's own work (serialising a state's vars): a bug, not the event's fault.
pub(crate) fn internal(e: impl std::fmt::Display) -> Failure {
    Failure::new(ErrorCode::Internal, e.to_string())
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Unavailable(_) => ErrorCode::Unavailable,
            StoreError::LockTimeout => ErrorCode::Busy,
            StoreError::LockLost => ErrorCode::LockLost,
        };
        Failure::new(code, e.to_string())
    }
}

/// The state `desc` from its stored bytes, or its default when nothing is stored. Bytes that no
/// longer decode (the state's struct changed in a deploy, or the shard was damaged) are migrated:
/// see [`migrate`]; that is logged and counted (`refract_state_migrations_total`), and the next
/// commit stores the migrated state.
///
/// # Errors
/// [`ErrorCode::CorruptState`] when not even the migrated state decodes (a bug in the state's
/// serialisation).
pub(crate) fn decode(
    desc: &StateDescriptor,
    shard: Option<&[u8]>,
    token: &str,
) -> Result<Box<dyn StateObject>, Failure> {
    let Some(bytes) = shard else {
        return Ok((desc.new)());
    };
    match (desc.decode)(bytes) {
        Ok(state) => Ok(state),
        Err(error) => {
            let state = migrate(desc, bytes).ok_or_else(|| {
                Failure::new(
                    ErrorCode::CorruptState,
                    format!("the stored state `{}` cannot be migrated", desc.name),
                )
            })?;
            tracing::warn!(
                state = desc.name,
                token = %&token[..token.len().min(8)],
                %error,
                "a stored state no longer decodes: kept the fields that do, defaulted the rest"
            );
            refract_telemetry::metrics().state_migrated(desc.name);
            Ok(state)
        }
    }
}

/// The state `desc` rebuilt from stored bytes that do not decode as it: start from the default
/// state's fields and take, one by one, each stored field of the same name whose value still
/// decodes there; fields the state no longer has are dropped. Bytes that are not a JSON object
/// give the default state. `None` only when the default itself does not round-trip.
fn migrate(desc: &StateDescriptor, bytes: &[u8]) -> Option<Box<dyn StateObject>> {
    let defaults = (desc.new)().encode().ok()?;
    let mut merged: Map<String, Value> = serde_json::from_slice(&defaults).ok()?;
    if let Ok(Value::Object(stored)) = serde_json::from_slice::<Value>(bytes) {
        for (field, value) in stored {
            let Some(slot) = merged.get_mut(&field) else {
                continue;
            };
            let default = std::mem::replace(slot, value);
            let fits = serde_json::to_vec(&merged)
                .ok()
                .is_some_and(|candidate| (desc.decode)(&candidate).is_ok());
            if !fits && let Some(slot) = merged.get_mut(&field) {
                *slot = default;
            }
        }
    }
    (desc.decode)(&serde_json::to_vec(&merged).ok()?).ok()
}

/// The follow-ups `specs` a handler returned, as the browser gets them: each names a registered
/// handler or a client action and carries values only.
///
/// # Errors
/// `handler_failed` naming the first follow-up that does not (a bug in the handler).
fn follow_ups(
    states: &StateRegistry,
    handler: &str,
    specs: &[EventSpec],
) -> Result<Vec<FollowUp>, Failure> {
    let failed = |why: String| {
        Failure::from(EventError::HandlerFailed(format!(
            "handler `{handler}` returned {why}; the event was not applied"
        )))
    };
    specs
        .iter()
        .map(|spec| {
            let known = if spec.is_action() {
                CLIENT_ACTIONS.contains(&spec.handler.as_str())
            } else {
                states.resolve(&spec.handler).is_ok()
            };
            if !known {
                return Err(failed(format!(
                    "a follow-up to `{}`, which does not exist",
                    spec.handler
                )));
            }
            let follow_up = spec.to_follow_up().map_err(failed)?;
            // A script's callback is an event too: it must name a handler.
            if spec.handler == "_call_script"
                && let Some(callback) = follow_up
                    .args
                    .get("callback")
                    .and_then(|c| c.get("handler"))
                && callback.as_str().is_none_or(|h| states.resolve(h).is_err())
            {
                return Err(failed(format!(
                    "a script whose callback {callback} is no handler"
                )));
            }
            Ok(follow_up)
        })
        .collect()
}

/// Runs `f`, the app's code (decoding a state, its computed vars): a panic in it is a failure,
/// `handler_failed` naming `what`, not the worker's.
pub(crate) fn caught<T>(what: &str, f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    crate::panics::in_handler(|| std::panic::catch_unwind(AssertUnwindSafe(f))).unwrap_or_else(
        |_| Err(EventError::HandlerFailed(format!("reading `{what}` panicked")).into()),
    )
}

/// Sets a storage var of `state` (of `desc`) from the browser: `args` is `{"var", "value"}`. A
/// value that does not fit the var's type resets it to its default, which is logged and
/// reported in the browser's console; the event is applied either way (the browser then keeps
/// the default). Returns the follow-ups, and the var whose value was rejected.
///
/// # Errors
/// `bad_arguments` when `args` is not of that shape or names no storage var of the state.
fn set_storage(
    state: &mut dyn StateObject,
    desc: &StateDescriptor,
    args: Value,
) -> Result<(Vec<EventSpec>, Option<String>), Failure> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Stored {
        var: String,
        value: Value,
    }
    let bad = |why: String| -> Failure {
        EventError::BadArguments(format!("`{}.{STORAGE_METHOD}`: {why}", desc.name)).into()
    };
    let Stored { var, value } = serde_json::from_value(args).map_err(|e| bad(e.to_string()))?;
    match state.set_storage(&var, value) {
        Ok(true) => Ok((Vec::new(), None)),
        Ok(false) => Err(bad(format!("no storage var `{var}`"))),
        Err(error) => {
            tracing::warn!(state = desc.name, var, %error, "a storage value from the browser does not fit its var: reset to its default");
            let report = refract_core::actions::console_log(format!(
                "refract: the stored value of `{}.{var}` does not fit its type ({error}); it was reset to its default",
                desc.name
            ));
            Ok((vec![report], Some(var)))
        }
    }
}

/// The most bytes of follow-ups kept with a tab's seq (see [`kept_follow_ups`]).
pub const MAX_KEPT_FOLLOW_UPS_BYTES: usize = 64 << 10;

/// What of `then` is kept with its tab's seq, for a resend's `ack` or a hydrate (a JSON array;
/// `None` for nothing): all but the downloads that carry their file (those go in the delta only,
/// and are not repeated when the answer is lost).
///
/// # Errors
/// `handler_failed` when the rest is over [`MAX_KEPT_FOLLOW_UPS_BYTES`]: a chain whose events
/// could be lost. Events should carry ids, not data.
fn kept_follow_ups(then: &[FollowUp]) -> Result<Option<Arc<str>>, Failure> {
    let carries_file = |f: &FollowUp| {
        f.handler == "_download" && (f.args.contains_key("data") || f.args.contains_key("base64"))
    };
    let kept: Vec<&FollowUp> = then.iter().filter(|f| !carries_file(f)).collect();
    if kept.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_string(&kept).map_err(internal)?;
    if text.len() > MAX_KEPT_FOLLOW_UPS_BYTES {
        return Err(EventError::HandlerFailed(format!(
            "the handler's follow-ups take {} bytes, over the {MAX_KEPT_FOLLOW_UPS_BYTES} bytes \
             kept for a resend; pass ids, not data, to follow-up events",
            text.len()
        ))
        .into());
    }
    Ok(Some(text.into()))
}

/// The follow-ups stored with a tab's last applied event (a JSON array), or none when there are
/// none or they do not read back (logged: they were written by this engine).
fn stored_follow_ups(stored: Option<&str>) -> Vec<FollowUp> {
    let Some(text) = stored else {
        return Vec::new();
    };
    serde_json::from_str(text).unwrap_or_else(|error| {
        tracing::warn!(%error, "the stored follow-ups of an event do not read back; dropped");
        Vec::new()
    })
}

impl<S: StateStore> Engine<S> {
    /// Runs `event`, whose arguments name the uploads `refs` (see [`upload_refs`]).
    async fn run(
        &self,
        mut event: EventRequest,
        refs: Result<Vec<String>, UploadArgError>,
    ) -> Result<Outcome, Failure> {
        let (desc, method) = self.states.resolve(&event.handler)?;
        if event.depth > self.max_chain_depth {
            return Err(self.chain_too_deep(&event.handler));
        }
        let started = Instant::now();
        // A substate's parent is read with it, in the same round trip.
        let parent = desc.parent.and_then(|name| self.states.get(name));
        let both;
        let names: &[&str] = match parent {
            Some(p) => {
                both = [desc.name, p.name];
                &both
            }
            None => std::slice::from_ref(&desc.name),
        };
        let (loaded, lease) = self
            .store
            .acquire(&event.token, &event.tab, names)
            .instrument(tracing::info_span!("acquire", state = desc.name))
            .await?;
        refract_telemetry::metrics().lock_wait(started.elapsed().as_secs_f64() * 1000.0);
        if event.seq <= loaded.last_seq {
            lease.release().await;
            // Only the tab's last applied event's follow-ups are kept: the runtime resends only
            // its in-flight event, which is that one.
            let then = if event.seq == loaded.last_seq {
                stored_follow_ups(loaded.then.as_deref())
            } else {
                Vec::new()
            };
            return Ok(Outcome::Duplicate { then });
        }
        // A seq may only follow the last applied one: an `ack` then always means "applied".
        if event.seq > loaded.last_seq + 1 {
            lease.release().await;
            return Err(Failure::new(
                ErrorCode::SeqGap,
                format!(
                    "event {} of this tab follows {}: events in between were never applied; resync and number it {}",
                    event.seq,
                    loaded.last_seq,
                    loaded.last_seq + 1
                ),
            ));
        }
        // Uploads named by the arguments become their files: after the seq checks, so a resend
        // of an applied event (whose files are gone) is a duplicate, not a failure.
        let upload_ids = match self
            .uploads
            .resolve(&event.token, refs, &mut event.args)
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        let original = loaded.shards.first().cloned().flatten();
        let handler = &event.handler;
        let of = || EventOf {
            tab: &event.tab,
            seq: Some(event.seq),
            max_state_bytes: self.max_state_bytes,
        };
        // The app's code (decoding its state, its computed vars, the handler) runs caught: a
        // panic in it fails the event with `handler_failed`, as an error would.
        let prepared = caught(desc.name, || {
            let state = decode(desc, original.as_deref(), &event.token)?;
            let vars = state.vars().map_err(internal)?;
            Ok((state, vars))
        });
        let (mut state, before) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        let at = Committed {
            states: BTreeMap::from([(
                desc.name,
                StateAt {
                    vars: before,
                    bytes: original,
                },
            )]),
            version: loaded.version,
            stored_bytes: loaded.stored_bytes,
            then_stored: loaded.then.is_some(),
            streamed: false,
        };
        if let Some(var) = desc.status_var(method) {
            let start = TaskStart {
                desc,
                method,
                var,
                state,
                at,
                upload_ids,
            };
            return self.start_task(&event, start, lease).await;
        }
        let (route, params) = match self.routes.find(&event.context.page.path) {
            Some(found) => (Some(found.route), found.params),
            None => (None, Default::default()),
        };
        let cx = EventContext {
            session: event.token.clone(),
            tab: event.tab.clone(),
            route,
            params,
            ..event.context
        };
        let running = Running {
            event: of(),
            own: desc,
            states: &self.states,
            token: &event.token,
            lease: &*lease,
            at: tokio::sync::Mutex::new(at),
            others: Default::default(),
            doubt: Default::default(),
        };
        let parent_shard = loaded.shards.get(1).cloned().flatten();
        let run = async {
            if let Some(parent) = parent {
                running
                    .adopt(parent, parent_shard)
                    .await
                    .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
            }
            let specs = if method == STORAGE_METHOD {
                let (specs, rejected) = set_storage(&mut *state, desc, event.args)?;
                if let Some(var) = rejected {
                    // The delta carries the var even when it was at its default already, so
                    // that the browser drops the value it could not keep.
                    if let Some(own) = running.at.lock().await.states.get_mut(desc.name) {
                        own.vars.remove(&var);
                    }
                }
                specs
            } else {
                state
                    .dispatch(method, event.args, &cx, Emitter::new(&running))
                    .await?
            };
            let then = follow_ups(&self.states, handler, &specs)?;
            // Only what can run another event deepens a chain: an event, or a script's callback.
            let deepens = then.iter().any(|f| {
                !f.handler.starts_with('_')
                    || (f.handler == "_call_script"
                        && f.args.get("callback").is_some_and(|c| !c.is_null()))
            });
            if deepens && event.depth >= self.max_chain_depth {
                return Err(self.chain_too_deep(handler));
            }
            Ok::<_, Failure>((Change::of(desc, &*state)?, then))
        };
        // The handler may delete published files: it knows the upload folder.
        let run = refract_core::upload::with_upload_dir(self.uploads.config().dir.clone(), run);
        let applied = AssertUnwindSafe(InHandler(Box::pin(run)))
            .catch_unwind()
            .map(move |caught| {
                caught.unwrap_or_else(|_| {
                    Err(EventError::HandlerFailed(format!("handler `{handler}` panicked")).into())
                })
            })
            .instrument(tracing::info_span!("handler", method));
        // The handler runs first at each wake-up; a handler that finishes at once never even
        // starts the lease's renewal timer.
        let applied = match future::select(pin!(applied), lease.keep_alive()).await {
            Either::Left((applied, _)) => applied,
            Either::Right(((), applied)) => applied.await,
        };
        let finished = caught("the other states", || Ok(running.finish()));
        let (at, others, doubt) = match finished {
            Ok(finished) => finished,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        // A flush that may or may not have been written: the tab resends the event, which is
        // then a duplicate (something was flushed) or runs again (nothing was).
        if let Some(doubt) = doubt {
            lease.release().await;
            return Err(doubt);
        }
        let flushed = at.version > loaded.version;
        let step = caught("the handler's states", || {
            let (own, then) = applied?;
            let kept = kept_follow_ups(&then)?;
            let changes = std::iter::once(own).chain(others?).collect();
            of().step(&at, changes, true, then, kept)
        });
        let step = match step {
            Ok(step) => step,
            // A streaming handler that flushed was applied from its first flush (its seq is
            // recorded): its failure afterwards keeps what was flushed, drops the rest, and
            // answers the event as applied, with the failure's error actions to run.
            Err(e) if flushed => {
                tracing::debug!(code = %e.code, error = %e.message, "failed after flushing");
                let shown = self.with_error_actions(e).then;
                match of().step(&at, Vec::new(), true, shown, None) {
                    Ok(step) => step,
                    Err(e) => {
                        lease.release().await;
                        return Err(e);
                    }
                }
            }
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        let (version, frame) = (step.commit.version, step.commit.frame.clone());
        lease
            .commit(step.commit)
            .instrument(tracing::info_span!(
                "commit",
                version = refract_telemetry::int(version)
            ))
            .await?;
        Ok(Outcome::Applied { version, frame })
    }

    /// Starts a background task for `event` (its handler is `start`'s): checks its arguments and
    /// that no task of that handler is running, records it in the task registry, and answers the
    /// event with the commit that sets its status `running`; the task then runs on its own.
    async fn start_task(
        &self,
        event: &EventRequest,
        start: TaskStart<'_>,
        lease: Box<dyn Lease>,
    ) -> Result<Outcome, Failure> {
        let TaskStart {
            desc,
            method,
            var,
            state,
            at,
            upload_ids,
        } = start;
        let id = format!("{}.{}", event.seq, event.tab);
        let run = Arc::new(TaskRun::new(
            self.store.clone(),
            *desc,
            var,
            &event.token,
            id.clone(),
            self.max_state_bytes,
            self.task_limits.max_section,
        ));
        let mut state = state;
        let prepared = caught(desc.name, || {
            let work = (desc.start)(method, event.args.clone(), run.clone())?;
            let status = tasks::status_mut(&mut *state, var)?;
            if status.is_active() {
                return Err(EventError::HandlerFailed(format!(
                    "`{}` is already running (task {}); cancel it or wait for it to end",
                    event.handler, status.id
                ))
                .into());
            }
            let slot = self
                .tasks
                .reserve(self.task_limits.max_running)
                .ok_or_else(|| {
                    Failure::new(
                        ErrorCode::Overloaded,
                        format!(
                            "this server runs {} background tasks, its most; try again later",
                            self.task_limits.max_running
                        ),
                    )
                })?;
            *status = refract_core::TaskStatus {
                id: id.clone(),
                phase: refract_core::TaskPhase::Running,
                message: String::new(),
            };
            let of = EventOf {
                tab: &event.tab,
                seq: Some(event.seq),
                max_state_bytes: self.max_state_bytes,
            };
            let step = of.step(
                &at,
                vec![Change::of(desc, &*state)?],
                true,
                Vec::new(),
                None,
            )?;
            Ok((work, slot, step))
        });
        let (work, slot, step) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        let entry = run.entry();
        if let Err(e) = self
            .store
            .keep_task(&entry, self.task_limits.lease, false)
            .await
        {
            lease.release().await;
            return Err(e.into());
        }
        let (version, frame) = (step.commit.version, step.commit.frame.clone());
        if let Err(e) = lease.commit(step.commit).await {
            // Not started: its entry would only be swept. (A commit in doubt that did happen
            // leaves a status no task keeps: the sweep records it interrupted.)
            if e == StoreError::LockLost {
                let _ = self.store.forget_task(&entry).await;
            }
            return Err(e.into());
        }
        tracing::debug!(handler = %event.handler, id, "task started");
        // Its uploads live as long as its work: kept from the sweep, deleted when it ends. The
        // work may delete published files: it knows the upload folder.
        let work: refract_core::TaskFuture = if upload_ids.is_empty() {
            work
        } else {
            let held = self.uploads.hold(&event.token, upload_ids);
            Box::pin(async move {
                tokio::select! {
                    ended = work => ended,
                    never = held.keep_fresh() => match never {},
                }
            })
        };
        let work = Box::pin(refract_core::upload::with_upload_dir(
            self.uploads.config().dir.clone(),
            work,
        ));
        tasks::spawn(run, work, self.task_limits, slot);
        Ok(Outcome::Applied { version, frame })
    }

    /// `failure` with what the browser should run about it, when it is the app's.
    fn with_error_actions(&self, mut failure: Failure) -> Failure {
        if !failure.is_apps() {
            return failure;
        }
        let toast = |message: &str| vec![refract_core::actions::toast::error(message)];
        let specs = match &self.error_actions {
            ErrorActions::Generic => toast(GENERIC_ERROR),
            ErrorActions::Detailed => {
                toast(failure.code.public_message().unwrap_or(&failure.message))
            }
            ErrorActions::Hook(hook) => {
                let called = crate::panics::in_handler(|| {
                    std::panic::catch_unwind(AssertUnwindSafe(|| hook(&failure)))
                });
                called.unwrap_or_else(|_| {
                    tracing::error!(code = %failure.code, "the app's error hook panicked");
                    toast(GENERIC_ERROR)
                })
            }
        };
        // Client actions only: an event that failed in turn would call the hook again, without end.
        let (actions, events): (Vec<EventSpec>, Vec<EventSpec>) =
            specs.into_iter().partition(EventSpec::is_action);
        if let Some(event) = events.first() {
            tracing::error!(handler = %event.handler, "the app's error hook returned events; it may return client actions only, they were dropped");
        }
        match follow_ups(&self.states, "the error hook", &actions) {
            Ok(then) => failure.then = then,
            Err(bad) => {
                tracing::error!(error = %bad.message, "the app's error hook returned follow-ups that cannot run")
            }
        }
        failure
    }

    /// Of the uploads `event` names (`refs`), the ids the engine deletes once the event is over
    /// (`None` when it names none), and whether its handler is a background task's (whose
    /// started work holds them: see [`Uploads::hold`]).
    fn consumed_uploads(
        &self,
        event: &EventRequest,
        refs: &Result<Vec<String>, UploadArgError>,
    ) -> Option<(Vec<String>, bool)> {
        let ids = refs.as_ref().ok().filter(|ids| !ids.is_empty())?.clone();
        let task = matches!(
            self.states.resolve(&event.handler),
            Ok((desc, method)) if desc.status_var(method).is_some()
        );
        Some((ids, task))
    }

    fn chain_too_deep(&self, handler: &str) -> Failure {
        Failure::new(
            ErrorCode::ChainTooDeep,
            format!(
                "`{handler}` is past the event chain limit of {} follow-ups in a row (a handler \
                 that keeps returning events?); the event was not applied",
                self.max_chain_depth
            ),
        )
    }
}

/// What a background handler's start needs of its event: the handler, its status var, the
/// state as loaded and where it stands.
struct TaskStart<'a> {
    desc: &'a StateDescriptor,
    method: &'a str,
    var: &'static str,
    state: Box<dyn StateObject>,
    at: Committed,
    /// The uploads its arguments name, which its work holds.
    upload_ids: Vec<String>,
}

#[async_trait]
impl<S: StateStore> Processor for Engine<S> {
    async fn process(&self, event: EventRequest) -> Result<Outcome, Failure> {
        let span = tracing::info_span!(
            "process",
            handler = %event.handler,
            seq = refract_telemetry::int(event.seq)
        );
        let started = Instant::now();
        // The arguments are walked for upload references once: for the run and the clean-up.
        let refs = upload_refs(&event.args);
        let uploads = self.consumed_uploads(&event, &refs);
        let token = uploads.as_ref().map(|_| event.token.clone());
        let result = self.run(event, refs).instrument(span.clone()).await;
        if let (Some((ids, task)), Some(token)) = (uploads, token) {
            // Applied, or failed for good: its files go. A failure the tab resends with the same
            // or the next seq (retryable, `seq_gap`) keeps them for the resend. A background
            // task that started (or a resend of its start) holds them until its work ends.
            let resent = result
                .as_ref()
                .is_err_and(|e| e.code.retryable() || e.code == ErrorCode::SeqGap);
            let held = task && result.is_ok();
            if !resent && !held {
                self.uploads.discard(&token, &ids).await;
            }
        }
        let outcome = span.in_scope(|| match &result {
            Ok(Outcome::Applied { version, .. }) => {
                tracing::debug!(version, "applied");
                "applied"
            }
            Ok(Outcome::Duplicate { .. }) => {
                tracing::debug!("duplicate");
                "duplicate"
            }
            Err(e) => {
                tracing::debug!(code = %e.code, error = %e.message, "failed");
                e.code.as_str()
            }
        });
        refract_telemetry::metrics().event(
            "worker",
            outcome,
            started.elapsed().as_secs_f64() * 1000.0,
        );
        result.map_err(|failure| self.with_error_actions(failure))
    }

    async fn hydrate(&self, token: &str, tab: &str) -> Result<Hydration, Failure> {
        let descs: Vec<&StateDescriptor> = self.states.iter().collect();
        let names: Vec<&str> = descs.iter().map(|d| d.name).collect();
        let loaded = self.store.snapshot(token, tab, &names).await?;
        let mut state = Map::new();
        for (desc, shard) in descs.iter().zip(&loaded.shards) {
            let decoded = decode(desc, shard.as_deref(), token)?;
            // Computed vars are the app's code: a panic in one fails the hydrate, not the worker.
            let vars = crate::panics::in_handler(|| {
                std::panic::catch_unwind(AssertUnwindSafe(|| decoded.vars()))
            })
            .map_err(|_| {
                Failure::new(
                    ErrorCode::HandlerFailed,
                    format!("a computed var of `{}` panicked", desc.name),
                )
            })?
            .map_err(internal)?;
            state.insert(desc.name.to_owned(), Value::Object(vars));
        }
        Ok(Hydration {
            version: loaded.version,
            last_seq: loaded.last_seq,
            state,
            then: stored_follow_ups(loaded.then.as_deref()),
        })
    }

    async fn touch(&self, tokens: &[String]) -> Result<(), Failure> {
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        Ok(self.store.touch(&tokens).await?)
    }

    async fn upload(&self, request: UploadRequest, body: UploadBody) -> Result<Uploaded, Failure> {
        self.uploads.store(request, body).await
    }
}
