//! Refract: write a web app's state, event handlers and pages in Rust; Refract compiles the pages
//! to a React app and runs every event on the server.
//!
//! ```no_run
//! use refract::prelude::*;
//!
//! #[derive(State, Default, serde::Serialize, serde::Deserialize)]
//! pub struct CounterState {
//!     count: i64,
//! }
//!
//! #[refract::handlers]
//! impl CounterState {
//!     pub fn increment(&mut self) {
//!         self.count += 1;
//!     }
//! }
//!
//! fn index() -> Flex {
//!     vstack((
//!         heading(CounterState::count()),
//!         button("Increment").on_click(CounterState::increment),
//!     ))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     App::new("Counter").state::<CounterState>().page("/", index).main()
//! }
//! ```
//!
//! A handler that declares `cx: &EventContext` (any name, any position) gets its event's
//! context; the page does not pass it. Taken any other way it is refused, since it would then be
//! an argument the page chooses:
//!
//! ```compile_fail
//! use refract::prelude::*;
//!
//! #[derive(State, Default, serde::Serialize, serde::Deserialize)]
//! pub struct Visits {
//!     from: String,
//! }
//!
//! #[refract::handlers]
//! impl Visits {
//!     pub fn visit(&mut self, cx: EventContext) {
//!         self.from = cx.page.path;
//!     }
//! }
//! ```
//!
//! * [`State`](macro@State), [`handlers`] and [`VarFields`](macro@VarFields): the app model (see
//!   `refract_macros`);
//! * [`ui`]: the components pages are built from;
//! * [`actions`]: client actions (redirect, toast, download, …) that handlers return as
//!   follow-ups, or pages bind to triggers;
//! * [`App`]: the builder and the app's command line (`run`, `export`).

extern crate self as refract;

mod app;
mod cli;
mod page;
mod stack;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::{App, AppError, Server};
pub use page::PageOptions;
pub use refract_compiler::Theme;
pub use refract_core as core;
pub use refract_core::EventContext;
pub use refract_core::actions;
pub use refract_core::color_mode;
pub use refract_core::router;
pub use refract_macros::{State, VarFields, handlers};
pub use refract_proto::{ErrorCode, Failure};
pub use serde;
pub use serde_json;

/// The components and helpers pages are built from.
pub mod ui {
    pub use refract_compiler::components::*;
    pub use refract_compiler::{
        AreaChart, BarChart, CodeBlock, Icon, Language, LineChart, Markdown, Paint, PieChart,
        ScatterChart, area_chart, bar_chart, code_block, icon, line_chart, markdown, pie_chart,
        scatter_chart,
    };
    pub use refract_compiler::{
        Children, Component, Element, Form, FormData, IntoProp, Match, Node, cond, foreach,
        foreach_entries, foreach_keyed, match_var, when,
    };
    pub use refract_compiler::{Upload, selected_files, upload, upload_files, upload_progress};
    pub use refract_core::format_var;
}

/// Everything an app module usually needs: `use refract::prelude::*;`.
pub mod prelude {
    pub use crate::ui::*;
    pub use crate::{App, PageOptions, State, Theme, VarFields};
    pub use refract_core::actions::*;
    pub use refract_core::color_mode;
    pub use refract_core::router;
    pub use refract_core::{
        Emitter, EventContext, EventSpec, FlushError, IntoVar, Parent, StateAccessError, States,
        Task, TaskError, TaskPhase, TaskStatus, Var,
    };
    pub use refract_core::{PublishedFile, PublishedFileFields, UploadedFile};
}
