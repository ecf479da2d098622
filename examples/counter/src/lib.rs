//! The counter example: a heading showing the count, and buttons that change it on the server;
//! and a `/tools` page whose buttons run client actions, from a handler or bound to the button
//! directly (measure the window with a script, clear an input, copy, log, scroll, focus, …); and a
//! `/jobs` page: an answer streamed word by word, and a long background job with a progress bar
//! and Cancel while the page's other buttons answer at once.

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

/// Snapshots of the count: a substate of [`CounterState`], whose handlers read the count.
#[derive(State, Default, Serialize, Deserialize)]
#[state(parent = CounterState)]
pub struct HistoryState {
    /// The counts saved, oldest first.
    saved: Vec<i64>,
}

#[refract::handlers]
impl HistoryState {
    /// Saves the count as it is now (the parent is loaded with this state, read-only).
    pub fn snapshot(&mut self, counter: &Parent<CounterState>) {
        self.saved.push(counter.count);
    }

    /// The snapshots, as text.
    #[computed]
    pub fn summary(&self) -> String {
        let saved: Vec<String> = self.saved.iter().map(i64::to_string).collect();
        format!("Snapshots: {}", saved.join(", "))
    }
}

/// What the `/tools` page shows.
#[derive(State, Default, Serialize, Deserialize)]
pub struct ToolsState {
    /// The window's width in CSS pixels, as the page's script measured it (0: not yet).
    width: u32,
    /// The note input's text.
    note: String,
    /// How many times the note reached the server (typing is debounced: once per pause).
    note_changes: u32,
    /// The last key pressed in the keys input.
    last_key: String,
    /// How many times the pointer entered the hover box.
    hovers: u32,
    /// How many times the page was opened (its `on_mount`).
    opened: u32,
    /// Whether the page renders something that throws (to show the error boundary).
    broken: bool,
    /// Clicks on the link whose navigation is prevented.
    link_clicks: u32,
    /// Clicks that reached the panel (not those its inner button stopped).
    panel_clicks: u32,
    /// Clicks on the panel's inner button.
    button_clicks: u32,
    /// Scroll events of the log box that reached the server (throttled).
    scrolls: u32,
    /// The streaming handler's last step.
    step: u32,
}

#[refract::handlers]
impl ToolsState {
    /// Asks the page for its width: the script's value comes back to `got_width`.
    pub fn measure(&mut self) -> EventSpec {
        call_script_then("window.innerWidth", Self::got_width)
    }

    /// Stores the width the page measured.
    pub fn got_width(&mut self, width: u32) {
        self.width = width;
    }

    /// Follows the note input.
    pub fn set_note(&mut self, note: String) {
        self.note = note;
        self.note_changes += 1;
    }

    /// Records a key pressed in the keys input.
    pub fn key(&mut self, key: String) {
        self.last_key = key;
    }

    /// Counts the pointer entering the hover box.
    pub fn hovered(&mut self) {
        self.hovers += 1;
    }

    /// Counts the page being opened.
    pub fn open(&mut self) {
        self.opened += 1;
    }

    /// Makes the page render an expression that throws: the page shows the error boundary's
    /// notice (and reports the error to the server) instead of going blank. The follow-up mends
    /// the state at once, so the notice's Reload brings the page back.
    pub fn break_page(&mut self) -> EventSpec {
        self.broken = true;
        Self::mend()
    }

    /// Stops rendering the expression that throws.
    pub fn mend(&mut self) {
        self.broken = false;
    }

    /// Counts a click on the link (which does not navigate).
    pub fn link_clicked(&mut self) {
        self.link_clicks += 1;
    }

    /// Counts a click that reached the panel.
    pub fn panel_clicked(&mut self) {
        self.panel_clicks += 1;
    }

    /// Counts a click on the panel's inner button.
    pub fn button_clicked(&mut self) {
        self.button_clicks += 1;
    }

    /// A streaming handler: ten steps of 80 ms, each sent to the page as soon as it is done.
    pub async fn stream(&mut self, emit: &Emitter<'_>) -> Result<(), FlushError> {
        for step in 1..=10 {
            tokio::time::sleep(std::time::Duration::from_millis(80)).await;
            self.step = step;
            emit.flush(self).await?;
        }
        Ok(())
    }

    /// Counts a scroll of the log box.
    pub fn scrolled(&mut self, _top: f64) {
        self.scrolls += 1;
    }

    /// Clears the note input (which then tells `set_note`) and puts the cursor back in it.
    pub fn clear_note(&mut self) -> Vec<EventSpec> {
        vec![set_value("note", ""), set_focus("note")]
    }
}

fn tools() -> Flex {
    vstack((
        heading(format_var!("Width: {}", ToolsState::width())).prop("id", "width"),
        // Controlled (its value is a var) and debounced (an input's default): one event per pause.
        input()
            .prop("id", "note")
            .value(ToolsState::note())
            .placeholder("A note")
            .on_change(ToolsState::set_note),
        text(ToolsState::note()).prop("id", "note-echo"),
        text(format_var!("{} changes", ToolsState::note_changes())).prop("id", "note-changes"),
        input()
            .prop("id", "keys")
            .placeholder("Press a key")
            .on_key_down(ToolsState::key),
        text(ToolsState::last_key()).prop("id", "last-key"),
        r#box([text(format_var!("hovered {} times", ToolsState::hovers()))])
            .prop("id", "hover-box")
            .on_mouse_enter(ToolsState::hovered),
        text(format_var!("opened {} times", ToolsState::opened())).prop("id", "opened"),
        // Modifiers: a link that does not navigate, a button whose click stays its own, a
        // throttled scroll.
        Component::html("a")
            .prop("href", "https://example.invalid/")
            .prop("id", "kept-link")
            .child(format_var!(
                "link clicked {} times",
                ToolsState::link_clicks()
            ))
            .on_click(ToolsState::link_clicked)
            .prevent_default(),
        r#box((
            text(format_var!(
                "panel clicked {} times",
                ToolsState::panel_clicks()
            )),
            button(format_var!(
                "inner clicked {} times",
                ToolsState::button_clicks()
            ))
            .prop("id", "inner")
            .on_click(ToolsState::button_clicked)
            .stop_propagation(),
        ))
        .prop("id", "panel")
        .on_click(ToolsState::panel_clicked),
        r#box((
            text("a long log"),
            r#box([text("…")]).prop(
                "style",
                json_prop(&refract::serde_json::json!({"height": "400px"})),
            ),
        ))
        .prop("id", "log")
        .prop(
            "style",
            json_prop(&refract::serde_json::json!({"height": "80px", "overflowY": "scroll"})),
        )
        .on_scroll(ToolsState::scrolled)
        .throttle(200),
        text(format_var!("{} scrolls", ToolsState::scrolls())).prop("id", "scrolls"),
        text(format_var!("step {} of 10", ToolsState::step())).prop("id", "progress"),
        // Two rows of buttons (a tuple of children holds up to 16).
        vstack((
            hstack([
                button("Measure").on_click(ToolsState::measure),
                button("Clear").on_click(ToolsState::clear_note),
                button("Copy").on_click(set_clipboard(ToolsState::note())),
                button("Log").on_click(console_log("hello from refract")),
                button("Alert").on_click(window_alert("Hello!")),
            ]),
            hstack([
                button("Forget theme").on_click(remove_cookie("theme")),
                button("Clear storage").on_click(clear_local_storage()),
                button("Reload").on_click(reload()),
                button("To the end").on_click(scroll_to("end")),
                button("Break the page").on_click(ToolsState::break_page),
                button("Stream").on_click(ToolsState::stream),
            ]),
        )),
        when(
            ToolsState::broken(),
            text(Var::<String>::raw("undefined.boom")),
        ),
        r#box([text("The end")]).prop("id", "end").prop(
            "style",
            json_prop(&refract::serde_json::json!({"marginTop": "200vh"})),
        ),
    ))
    .p(S6)
    .on_mount(ToolsState::open)
}

/// What the `/jobs` page shows: an answer streamed word by word, a long job with a progress bar
/// and Cancel, and a counter that answers at once while the job runs.
#[derive(State, Default, Serialize, Deserialize)]
pub struct JobsState {
    /// The "model's" answer so far.
    answer: String,
    /// Whether the answer is still being written.
    writing: bool,
    /// The job's steps done.
    done: u32,
    /// The job's steps in all.
    steps: u32,
    /// The job's status, kept by the engine.
    job: TaskStatus,
    /// Pings answered (while the job runs, too).
    pings: u32,
}

/// The words of the fake model's answer.
const ANSWER: &str = "Refract streams each word to the page as soon as the handler flushes it, \
                      while the rest of the answer is still being written.";

#[refract::handlers]
impl JobsState {
    /// A fake language model: writes its answer a word at a time, each word sent at once.
    pub async fn ask(&mut self, emit: &Emitter<'_>) -> Result<(), FlushError> {
        self.answer.clear();
        self.writing = true;
        for word in ANSWER.split_whitespace() {
            if !self.answer.is_empty() {
                self.answer.push(' ');
            }
            self.answer.push_str(word);
            emit.flush(self).await?;
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        }
        self.writing = false;
        Ok(())
    }

    /// A long job in the background: `steps` steps of `ms` milliseconds; the page stays live.
    #[background(status = job)]
    pub async fn work(task: Task<Self>, steps: u32, ms: u64) -> Result<(), TaskError> {
        {
            let mut jobs = task.lock().await?;
            jobs.done = 0;
            jobs.steps = steps;
            jobs.commit().await?;
        }
        for _ in 0..steps {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            let mut jobs = task.lock().await?;
            jobs.done += 1;
            jobs.commit().await?;
        }
        Ok(())
    }

    /// Asks the job to stop (at its next step).
    pub fn cancel(&mut self) {
        self.job.cancel();
    }

    /// Answers at once, job or not.
    pub fn ping(&mut self) {
        self.pings += 1;
    }
}

fn jobs() -> Flex {
    let job = JobsState::job();
    vstack((
        heading("Jobs"),
        hstack((
            button("Ask").on_click(JobsState::ask),
            text(JobsState::answer()).prop("id", "answer"),
        )),
        hstack((
            button("Start job")
                .on_click(JobsState::work(50, 20))
                .disabled(job.is_active()),
            button("Cancel")
                .variant(Soft)
                .on_click(JobsState::cancel)
                .disabled(!job.is_active()),
            Component::html("progress")
                .prop("id", "job-progress")
                .prop("max", JobsState::steps())
                .prop("value", JobsState::done()),
            text(format_var!(
                "{} of {} · {}",
                JobsState::done(),
                JobsState::steps(),
                job.phase()
            ))
            .prop("id", "job-status"),
            text(job.message()).prop("id", "job-message"),
        )),
        hstack((
            button("Ping").on_click(JobsState::ping),
            text(format_var!("{} pings", JobsState::pings())).prop("id", "pings"),
        )),
    ))
    .p(S6)
}

fn index() -> Flex {
    vstack((
        heading(CounterState::count()).size(S9).prop("id", "count"),
        hstack([
            button("Decrement")
                .color(Color::Crimson)
                .on_click(CounterState::decrement),
            button("Increment")
                .color(Color::Grass)
                .on_click(CounterState::increment),
            button("Add 10")
                .variant(Soft)
                .on_click(CounterState::add(10)),
            button("Add step")
                .variant(Soft)
                .on_click(CounterState::add_step),
            button("Reset").variant(Soft).on_click(CounterState::reset),
            button("Snapshot")
                .variant(Soft)
                .on_click(HistoryState::snapshot),
        ]),
        text(HistoryState::summary()).prop("id", "snapshots"),
    ))
    .align(Align::Center)
    .p(S9)
}

/// The counter app.
pub fn app() -> App {
    App::new("Counter")
        .state::<CounterState>()
        .state::<ToolsState>()
        .state::<JobsState>()
        .state::<HistoryState>()
        .page("/", index)
        .page("/tools", tools)
        .page("/jobs", jobs)
        .allow_call_script()
}
