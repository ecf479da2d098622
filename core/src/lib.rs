//! The app model of Refract, shared by the macros, the compiler and the worker.
//!
//! * [`Var`] is a typed JavaScript expression over state vars, used in pages;
//! * [`EventSpec`] is a call of an event handler (or a client action, [`actions`]) bound to an
//!   event trigger or returned by a handler as a follow-up ([`FollowUp`]);
//! * [`State`] and [`Handlers`] are what `#[derive(State)]` and `#[refract::handlers]` implement;
//!   [`StateObject`] and [`StateDescriptor`] are their type-erased forms, which the worker runs;
//! * [`diff`] computes the delta of an event;
//! * [`EventError`] is the typed failure of one event;
//! * [`EventContext`] is what a handler may know about the event it runs for, and [`Emitter`]
//!   how a streaming handler sends its progress;
//! * [`Task`] is a running background task, and [`TaskStatus`] the var that shows it;
//! * [`Routes`] are the pages' path patterns, and which one a path matches; [`router`] the vars
//!   of the page's location;
//! * [`UploadedFile`] is a file the browser uploaded for an event, and [`PublishedFile`] one the
//!   app serves back ([`upload`]).
//!
//! Nothing here does I/O, except the methods of [`UploadedFile`] that read, keep or publish its
//! file, and [`PublishedFile::delete`].

pub mod actions;
pub mod color_mode;
mod context;
mod emitter;
mod error;
mod event;
mod form;
pub mod router;
mod routes;
mod state;
pub mod storage;
mod task;
pub mod upload;
mod var;

pub use context::{ClientHeaders, EventContext, PageContext};
pub use emitter::{Emitter, EventSink, FlushError, Parent, StateAccessError, StateGuard, States};
pub use error::EventError;
pub use event::{EventSpec, FollowUp, IntoEventChain, IntoValueEvents};
pub use form::{Form, FormData};
pub use routes::{NOT_FOUND_FILE, ROUTES_FILE, RouteError, RouteMatch, Routes, SHELL_FILE};
pub use state::{
    BoxFuture, HandlerResult, Handlers, StartFn, State, StateDescriptor, StateError, StateObject,
    StateRegistry, Substate, TaskFuture, decode_args, diff,
};
pub use storage::{StorageKind, StorageVar};
pub use task::{Section, Task, TaskError, TaskGuard, TaskPhase, TaskResult, TaskSink, TaskStatus};
pub use upload::{PublishedFile, PublishedFileFields, UploadedFile};
pub use var::{
    Choice, Dep, Expr, Float, Integer, IntoVar, Numeric, OPS, Ordered, Renderable, Signed,
    StringMap, Timestamp, TimestampError, Var, count_placeholders, format_grouped,
};
