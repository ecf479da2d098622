//! States, their handlers, and their type-erased form the worker runs.
//!
//! `#[derive(State)]` implements [`State`] (the name and the frontend vars), `#[refract::handlers]`
//! implements [`Handlers`] (dispatch by name, computed vars); together they make a [`StateObject`]
//! that a [`StateDescriptor`] can create, decode from a stored shard, and run events on.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::context::EventContext;
use crate::emitter::Emitter;
use crate::error::EventError;
use crate::event::EventSpec;
use crate::storage::{STORAGE_METHOD, StorageVar};
use crate::task::{TaskSink, TaskStatus};

/// A background task's work, ready to run: what [`Handlers::start`] returns. It yields the
/// task's error's text if it failed.
pub type TaskFuture = BoxFuture<'static, Result<(), String>>;

/// A boxed, sendable future, the return of [`Handlers::dispatch`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A state: a struct whose serialisable fields are vars. Implemented by `#[derive(State)]`.
///
/// The whole struct (backend vars included) is what is stored as the token's shard; only the
/// frontend vars (and computed vars) reach the browser.
pub trait State: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The state's name: the snake case of the type's name (`CounterState` → `counter_state`).
    const NAME: &'static str;

    /// The name of the state's parent, for a substate (`#[state(parent = AuthState)]`; see
    /// [`Substate`]).
    const PARENT: Option<&'static str> = None;

    /// The state's client storage vars (see [`crate::storage`]).
    const STORAGE: &'static [StorageVar] = &[];

    /// Sets the storage var `var` to `value` (what the browser holds; `null` when it holds
    /// nothing, which gives the field its default). Returns `Ok(false)` when `var` is no
    /// storage var.
    ///
    /// # Errors
    /// The decoding error when `value` does not fit the field's type: the field is then reset
    /// to its default.
    fn set_storage(&mut self, var: &str, value: Value) -> Result<bool, String> {
        let _ = (var, value);
        Ok(false)
    }

    /// The frontend vars, by field name; backend vars are left out.
    ///
    /// # Errors
    /// When a field's `Serialize` implementation fails.
    fn frontend_vars(&self) -> Result<Map<String, Value>, serde_json::Error>;
}

/// A substate: a state declared with a parent (`#[derive(State)] #[state(parent = AuthState)]`),
/// whose handlers read the parent's vars by taking `parent: &Parent<AuthState>`. The parent is
/// loaded with the substate, in the same store read under the same lock, for every event of the
/// substate; it is read-only there (change it from its own handlers, or through `States`).
pub trait Substate: State {
    /// The parent state.
    type Parent: Handlers;
}

/// The event handlers and computed vars of a state. Implemented by `#[refract::handlers]`.
pub trait Handlers: State {
    /// The handlers' method names (background ones included).
    const HANDLERS: &'static [&'static str];

    /// The background handlers: `(method, status var)`, the var being the task's
    /// [`TaskStatus`](crate::TaskStatus) field.
    const BACKGROUND: &'static [(&'static str, &'static str)] = &[];

    /// The background handler `method`'s work with `args` (checked now), to run as the task
    /// `task`; it has not started.
    ///
    /// # Errors
    /// [`EventError::UnknownHandler`] when `method` is no background handler,
    /// [`EventError::BadArguments`] when `args` do not fit it.
    fn start(
        method: &str,
        args: Value,
        task: std::sync::Arc<dyn TaskSink>,
    ) -> Result<TaskFuture, EventError> {
        let _ = (args, task);
        Err(EventError::UnknownHandler(format!(
            "{}.{method}",
            Self::NAME
        )))
    }

    /// The status var `var` of a background handler (see [`Handlers::BACKGROUND`]); `None` for
    /// any other name.
    fn task_status(&mut self, var: &str) -> Option<&mut TaskStatus> {
        let _ = var;
        None
    }

    /// Adds the computed vars' current values to `vars`.
    ///
    /// # Errors
    /// When a computed value's `Serialize` implementation fails.
    fn computed_vars(&self, vars: &mut Map<String, Value>) -> Result<(), serde_json::Error>;

    /// Runs the handler `method` with `args` (a JSON object keyed by parameter name) for the
    /// event described by `cx` (which a handler with a `&EventContext` parameter receives), its
    /// flushes going to `emit` (for a handler with an `&Emitter` parameter). Returns the
    /// handler's follow-ups (see [`HandlerResult`]).
    ///
    /// # Errors
    /// [`EventError::UnknownHandler`], [`EventError::BadArguments`], or
    /// [`EventError::HandlerFailed`] with the handler's own message.
    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        args: Value,
        cx: &'a EventContext,
        emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>>;
}

/// A state's value behind a trait object: what the worker loads, runs and stores.
pub trait StateObject: Send + Sync {
    /// Frontend vars and computed vars, by name.
    ///
    /// # Errors
    /// When a var fails to serialise.
    fn vars(&self) -> Result<Map<String, Value>, StateError>;

    /// The stored form of the whole state (backend vars included), JSON bytes.
    ///
    /// # Errors
    /// When the state fails to serialise.
    fn encode(&self) -> Result<Vec<u8>, StateError>;

    /// The state as `Any`, to be had back as its own type.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;

    /// The state as `Any`, to be read as its own type.
    fn as_any(&self) -> &dyn std::any::Any;

    /// A background task's status var; see [`Handlers::task_status`].
    fn task_status(&mut self, var: &str) -> Option<&mut TaskStatus>;

    /// Sets a storage var from the browser; see [`State::set_storage`].
    ///
    /// # Errors
    /// As [`State::set_storage`].
    fn set_storage(&mut self, var: &str, value: Value) -> Result<bool, String>;

    /// Runs one handler; see [`Handlers::dispatch`].
    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        args: Value,
        cx: &'a EventContext,
        emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>>;
}

impl<S: Handlers> StateObject for S {
    fn vars(&self) -> Result<Map<String, Value>, StateError> {
        let mut vars = self.frontend_vars().map_err(StateError::encode::<S>)?;
        self.computed_vars(&mut vars)
            .map_err(StateError::encode::<S>)?;
        Ok(vars)
    }

    fn encode(&self) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec(self).map_err(StateError::encode::<S>)
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn task_status(&mut self, var: &str) -> Option<&mut TaskStatus> {
        <S as Handlers>::task_status(self, var)
    }

    fn set_storage(&mut self, var: &str, value: Value) -> Result<bool, String> {
        <S as State>::set_storage(self, var, value)
    }

    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        args: Value,
        cx: &'a EventContext,
        emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>> {
        Handlers::dispatch(self, method, args, cx, emit)
    }
}

/// A state's (de)serialisation failed.
#[derive(thiserror::Error, Debug)]
pub enum StateError {
    /// A state could not be serialised.
    #[error("state `{state}` could not be serialised: {source}")]
    Encode {
        /// The state's name.
        state: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A stored shard could not be read back into the state (its type changed incompatibly, or the
    /// bytes are corrupt).
    #[error("stored shard of state `{state}` could not be read: {source}")]
    Decode {
        /// The state's name.
        state: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
}

impl StateError {
    fn encode<S: State>(source: serde_json::Error) -> Self {
        StateError::Encode {
            state: S::NAME,
            source,
        }
    }
}

/// Reads a state back from its stored bytes.
pub type DecodeFn = fn(&[u8]) -> Result<Box<dyn StateObject>, StateError>;

/// Makes a background handler's work; see [`Handlers::start`].
pub type StartFn = fn(&str, Value, std::sync::Arc<dyn TaskSink>) -> Result<TaskFuture, EventError>;

/// How to make, decode and call one state type, without knowing the type.
#[derive(Clone, Copy)]
pub struct StateDescriptor {
    /// The state's name.
    pub name: &'static str,
    /// Its handlers' method names.
    pub handlers: &'static [&'static str],
    /// Its parent's name, for a substate (see [`Substate`]).
    pub parent: Option<&'static str>,
    /// Its client storage vars (see [`State::STORAGE`]).
    pub storage: &'static [StorageVar],
    /// Its background handlers and their status vars (see [`Handlers::BACKGROUND`]).
    pub background: &'static [(&'static str, &'static str)],
    /// Makes a background handler's work (see [`Handlers::start`]).
    pub start: StartFn,
    /// A new state with default values.
    pub new: fn() -> Box<dyn StateObject>,
    /// A state read back from its stored bytes (see [`StateObject::encode`]).
    pub decode: DecodeFn,
}

impl StateDescriptor {
    /// The descriptor of `S`.
    pub fn of<S: Handlers>() -> Self {
        StateDescriptor {
            name: S::NAME,
            handlers: S::HANDLERS,
            parent: S::PARENT,
            storage: S::STORAGE,
            background: S::BACKGROUND,
            start: S::start,
            new: || Box::new(S::default()),
            decode: |bytes| match serde_json::from_slice::<S>(bytes) {
                Ok(state) => Ok(Box::new(state)),
                Err(source) => Err(StateError::Decode {
                    state: S::NAME,
                    source,
                }),
            },
        }
    }
}

impl StateDescriptor {
    /// The status var of the background handler `method`; `None` for an ordinary handler.
    pub fn status_var(&self, method: &str) -> Option<&'static str> {
        self.background
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, var)| *var)
    }
}

impl std::fmt::Debug for StateDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDescriptor")
            .field("name", &self.name)
            .field("handlers", &self.handlers)
            .finish()
    }
}

/// The states of an app, by name.
#[derive(Clone, Debug, Default)]
pub struct StateRegistry {
    states: BTreeMap<&'static str, StateDescriptor>,
}

impl StateRegistry {
    /// Adds `S`. A second state with the same name replaces the first.
    pub fn register<S: Handlers>(&mut self) {
        let d = StateDescriptor::of::<S>();
        self.states.insert(d.name, d);
    }

    /// The state named `name`.
    pub fn get(&self, name: &str) -> Option<&StateDescriptor> {
        self.states.get(name)
    }

    /// All states, by name.
    pub fn iter(&self) -> impl Iterator<Item = &StateDescriptor> {
        self.states.values()
    }

    /// A substate whose parent is not registered, as `(substate, parent)`; `None` when every
    /// parent is.
    pub fn missing_parent(&self) -> Option<(&'static str, &'static str)> {
        self.iter().find_map(|d| {
            d.parent
                .filter(|p| self.get(p).is_none())
                .map(|p| (d.name, p))
        })
    }

    /// Splits `state_name.method` and checks that it names a registered handler.
    ///
    /// # Errors
    /// [`EventError::UnknownHandler`] otherwise.
    pub fn resolve<'h>(&self, handler: &'h str) -> Result<(&StateDescriptor, &'h str), EventError> {
        let unknown = || EventError::UnknownHandler(handler.to_owned());
        let (state, method) = handler.split_once('.').ok_or_else(unknown)?;
        let desc = self.get(state).ok_or_else(unknown)?;
        if desc.handlers.contains(&method) || (method == STORAGE_METHOD && !desc.storage.is_empty())
        {
            Ok((desc, method))
        } else {
            Err(unknown())
        }
    }

    /// Every state's client storage vars, as the browser runtime reads them: a JSON array of
    /// [`StorageVar`]s, each with its `state`.
    pub fn storage_vars(&self) -> Value {
        let vars = self.iter().flat_map(|d| {
            d.storage.iter().map(|sv| {
                let mut entry = serde_json::to_value(sv).unwrap_or_default();
                if let Value::Object(fields) = &mut entry {
                    fields.insert("state".into(), Value::from(d.name));
                }
                entry
            })
        });
        Value::Array(vars.collect())
    }

    /// `{state_name: {var: value}}` of every state at its default value: the compiled page's
    /// initial store, and the state of a token nothing was stored for yet.
    ///
    /// # Errors
    /// When a default state fails to serialise.
    pub fn default_vars(&self) -> Result<Map<String, Value>, StateError> {
        let mut all = Map::new();
        for d in self.states.values() {
            all.insert(d.name.to_owned(), Value::Object((d.new)().vars()?));
        }
        Ok(all)
    }
}

/// Deserialises the arguments of the handler `state.method` (a JSON object keyed by parameter name; `null` counts as
/// `{}`) into the struct `A` the handler macro generates.
///
/// # Errors
/// [`EventError::BadArguments`] naming the handler and what is wrong.
pub fn decode_args<A: DeserializeOwned>(
    state: &str,
    method: &str,
    args: Value,
) -> Result<A, EventError> {
    let args = if args.is_null() {
        Value::Object(Map::new())
    } else {
        args
    };
    serde_json::from_value(args)
        .map_err(|e| EventError::BadArguments(format!("handler `{state}.{method}`: {e}")))
}

/// What a handler may return: nothing, its follow-ups, or either in a `Result` whose error is
/// `Display` (the error's text is what the browser receives, and the event is not applied).
///
/// Follow-ups are event specs (another handler, `Self::step(2)`, or a client action such as
/// `toast::success("Saved")`) that the browser runs next, in order: `()`, an [`EventSpec`], an
/// `Option<EventSpec>`, a `Vec<EventSpec>` or an array of them, or any of these in `Result<_, E>`.
pub trait HandlerResult {
    /// The follow-ups, or `Err` with the handler's message if it failed.
    ///
    /// # Errors
    /// The handler's error, as text.
    fn into_result(self) -> Result<Vec<EventSpec>, String>;
}

impl HandlerResult for () {
    fn into_result(self) -> Result<Vec<EventSpec>, String> {
        Ok(Vec::new())
    }
}

impl HandlerResult for EventSpec {
    fn into_result(self) -> Result<Vec<EventSpec>, String> {
        Ok(vec![self])
    }
}

impl HandlerResult for Option<EventSpec> {
    fn into_result(self) -> Result<Vec<EventSpec>, String> {
        Ok(self.into_iter().collect())
    }
}

impl HandlerResult for Vec<EventSpec> {
    fn into_result(self) -> Result<Vec<EventSpec>, String> {
        Ok(self)
    }
}

impl<const N: usize> HandlerResult for [EventSpec; N] {
    fn into_result(self) -> Result<Vec<EventSpec>, String> {
        Ok(self.into())
    }
}

impl<T: HandlerResult, E: Display> HandlerResult for Result<T, E> {
    fn into_result(self) -> Result<Vec<EventSpec>, String> {
        self.map_err(|e| e.to_string())?.into_result()
    }
}

/// The delta between two var maps of one state: the vars of `after` whose value differs from
/// `before` (or that `before` lacks).
pub fn diff(before: &Map<String, Value>, after: Map<String, Value>) -> Map<String, Value> {
    after
        .into_iter()
        .filter(|(k, v)| before.get(k) != Some(v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_keeps_only_changed_and_new_vars() {
        let before = json!({"a": 1, "b": [1, 2], "c": "x"});
        let after = json!({"a": 1, "b": [1, 2, 3], "c": "x", "d": null});
        let d = diff(
            before.as_object().unwrap(),
            after.as_object().unwrap().clone(),
        );
        assert_eq!(Value::Object(d), json!({"b": [1, 2, 3], "d": null}));
    }

    #[test]
    fn decode_args_reports_the_handler() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Args {
            n: i64,
        }
        let err = decode_args::<Args>("s", "add", json!({"n": "five"})).unwrap_err();
        assert!(matches!(err, EventError::BadArguments(_)), "{err}");
        assert!(err.to_string().contains("s.add"), "{err}");
        assert!(decode_args::<Args>("s", "add", json!({"n": 1, "m": 2})).is_err());
        assert_eq!(
            decode_args::<Args>("s", "add", json!({"n": 4})).unwrap().n,
            4
        );
    }

    #[test]
    fn handler_results() {
        assert_eq!(().into_result(), Ok(vec![]));
        assert_eq!(Err::<(), _>("boom").into_result(), Err("boom".to_owned()));
        let next = || EventSpec::new("s.next");
        assert_eq!(next().into_result(), Ok(vec![next()]));
        assert_eq!(Some(next()).into_result(), Ok(vec![next()]));
        assert_eq!([next(), next()].into_result().map(|v| v.len()), Ok(2));
        assert_eq!(
            Ok::<_, String>(vec![next()]).into_result(),
            Ok(vec![next()])
        );
    }
}
