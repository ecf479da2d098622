//! The counter example: a heading showing the count, and buttons that change it on the server.

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// The count of one browser tab.
#[derive(State, Default, Serialize, Deserialize)]
pub struct CounterState {
    count: i64,
}

#[refract::handlers]
impl CounterState {
    /// Adds one.
    pub fn increment(&mut self) {
        self.count += 1;
    }

    /// Takes one away.
    pub fn decrement(&mut self) {
        self.count -= 1;
    }

    /// Adds `n` (negative to subtract).
    pub fn add(&mut self, n: i64) {
        self.count += n;
    }

    /// Back to zero.
    pub fn reset(&mut self) {
        self.count = 0;
    }

    /// Adds the page's `?step=` (1 when absent or not a number): a handler reading its context.
    pub fn add_step(&mut self, cx: &EventContext) {
        self.count += cx
            .query_param("step")
            .and_then(|step| step.parse::<i64>().ok())
            .unwrap_or(1);
    }
}

fn index() -> Component {
    vstack([
        heading(CounterState::count()).size("9").prop("id", "count"),
        hstack([
            button("Decrement")
                .color("crimson")
                .on_click(CounterState::decrement),
            button("Increment")
                .color("grass")
                .on_click(CounterState::increment),
            button("Add 10")
                .variant_soft()
                .on_click(CounterState::add(10)),
            button("Add step")
                .variant_soft()
                .on_click(CounterState::add_step),
            button("Reset").variant_soft().on_click(CounterState::reset),
        ]),
    ])
    .prop("align", "center")
    .prop("p", "9")
}

/// The counter app.
pub fn app() -> App {
    App::new("Counter").state::<CounterState>().page("/", index)
}
