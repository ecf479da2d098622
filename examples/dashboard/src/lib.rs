//! The dashboard example: a line chart of daily visits that grows when "Add point" is clicked
//! or while a background task streams points into it, a donut of browser shares and a stacked
//! bar chart of sales, notes typed as markdown and shown rendered (safely: HTML in them stays
//! text), the chart's data as a highlighted JSON code block and a Rust snippet, each with a Copy
//! button, and lucide icons (the favicons in `assets/` are lucide's `layout-dashboard`).

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// One day of the visits chart.
#[derive(Clone, Serialize, Deserialize)]
pub struct Day {
    /// The x axis' label.
    day: String,
    /// Visits that day.
    visits: u32,
    /// Sign-ups that day.
    signups: u32,
}

impl Day {
    /// The `n`th day (from 1), with made-up but repeatable numbers.
    fn nth(n: u32) -> Day {
        Day {
            day: format!("Day {n}"),
            visits: 120 + (n * 37) % 80,
            signups: 6 + (n * 13) % 11,
        }
    }
}

/// One slice of the browsers donut.
#[derive(Clone, Serialize, Deserialize)]
pub struct Share {
    /// The browser.
    browser: String,
    /// Its share of visits, in percent.
    share: u32,
}

/// One quarter of the (static) sales chart.
#[derive(Serialize)]
struct Quarter {
    quarter: &'static str,
    online: u32,
    store: u32,
}

/// The notes a new tab starts with.
const NOTES: &str = "### This week\n\n**Visits are up** after the launch.\n\n\
- Check the sign-up funnel\n- Ship the *new* onboarding\n\n\
| Channel | Share |\n| --- | ---: |\n| Search | 48% |\n| Social | 21% |\n";

/// The snippet the page shows: how this chart is made.
const SNIPPET: &str = r#"line_chart(DashState::days())
    .x("day")
    .line("visits", Paint::Indigo)
    .named("Visits")
    .line("signups", Paint::Teal)
    .named("Sign-ups")"#;

/// A tab's dashboard.
#[derive(State, Serialize, Deserialize)]
pub struct DashState {
    /// The visits chart's rows, oldest first.
    days: Vec<Day>,
    /// The browsers donut's slices.
    shares: Vec<Share>,
    /// The notes, as markdown.
    notes: String,
    /// The streaming task's status, kept by the engine.
    stream: TaskStatus,
}

impl Default for DashState {
    fn default() -> Self {
        let shares = [("Chrome", 62), ("Safari", 20), ("Firefox", 11), ("Edge", 7)];
        DashState {
            days: (1..=5).map(Day::nth).collect(),
            shares: shares
                .into_iter()
                .map(|(browser, share)| Share {
                    browser: browser.into(),
                    share,
                })
                .collect(),
            notes: NOTES.into(),
            stream: TaskStatus::default(),
        }
    }
}

#[refract::handlers]
impl DashState {
    /// Appends the next day to the visits chart.
    pub fn add_point(&mut self) {
        self.push_day();
    }

    /// Replaces the notes (the text area's text, once typing pauses).
    pub fn set_notes(&mut self, notes: String) {
        self.notes = notes;
    }

    /// Back to the first five days.
    pub fn reset(&mut self) {
        self.days = (1..=5).map(Day::nth).collect();
    }

    /// Streams `count` days into the chart in the background, one every `ms` milliseconds; the
    /// page stays live meanwhile.
    #[background(status = stream)]
    pub async fn stream_points(task: Task<Self>, count: u32, ms: u64) -> Result<(), TaskError> {
        for _ in 0..count {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            let mut dash = task.lock().await?;
            dash.push_day();
            dash.commit().await?;
        }
        Ok(())
    }

    /// Asks the streaming task to stop (at its next point).
    pub fn stop_stream(&mut self) {
        self.stream.cancel();
    }

    /// The chart's rows as pretty JSON, for the data code block.
    #[computed]
    pub fn days_json(&self) -> String {
        serde_json::to_string_pretty(&self.days).unwrap_or_default()
    }
}

impl DashState {
    fn push_day(&mut self) {
        let n = u32::try_from(self.days.len()).unwrap_or(u32::MAX - 1) + 1;
        self.days.push(Day::nth(n));
    }
}

/// A card with a titled section: an icon, a heading and the content.
fn section(icon_name: &str, title: &str, content: impl Into<Node>) -> Component {
    Component::radix("Card").child(vstack((
        hstack((
            icon(icon_name).size(18).color(Paint::Accent),
            heading(title).size(S4),
        ))
        .prop("gap", "2"),
        content.into(),
    )))
}

fn index() -> Flex {
    let stream = DashState::stream();
    let quarters = vec![
        Quarter {
            quarter: "Q1",
            online: 40,
            store: 24,
        },
        Quarter {
            quarter: "Q2",
            online: 30,
            store: 28,
        },
        Quarter {
            quarter: "Q3",
            online: 52,
            store: 21,
        },
        Quarter {
            quarter: "Q4",
            online: 61,
            store: 33,
        },
    ];
    vstack((
        hstack((
            icon!("layout-dashboard")
                .size(28)
                .color(Paint::Accent)
                .label("Dashboard")
                .prop("id", "logo"),
            heading("Dashboard").size(S7),
            spacer(),
            color_mode_toggle(),
        )),
        section(
            "activity",
            "Visits",
            vstack((
                hstack((
                    button(icon!("plus").size(16))
                        .child("Add point")
                        .on_click(DashState::add_point),
                    button(icon!("play").size(16))
                        .child("Stream 10 points")
                        .variant(Soft)
                        .on_click(DashState::stream_points(10, 300))
                        .disabled(stream.is_active()),
                    button(icon!("square").size(16))
                        .child("Stop")
                        .variant(Soft)
                        .on_click(DashState::stop_stream)
                        .disabled(!stream.is_active()),
                    button(icon!("rotate-ccw").size(16))
                        .child("Reset")
                        .variant(Soft)
                        .on_click(DashState::reset),
                    text(format_var!("{} days", DashState::days().len())).prop("id", "day-count"),
                )),
                line_chart(DashState::days())
                    .x("day")
                    .line("visits", Paint::Indigo)
                    .named("Visits")
                    .line("signups", Paint::Teal)
                    .named("Sign-ups")
                    .height(280)
                    .prop("id", "visits-chart"),
            )),
        ),
        Component::radix("Grid")
            .prop(
                "columns",
                json_prop(&serde_json::json!({"initial": "1", "md": "2"})),
            )
            .prop("gap", "3")
            .children((
                section(
                    "pie-chart",
                    "Browsers",
                    pie_chart(DashState::shares())
                        .name_key("browser")
                        .value_key("share")
                        .donut()
                        .height(260)
                        .prop("id", "browsers-chart"),
                ),
                section(
                    "chart-column-stacked",
                    "Sales",
                    bar_chart(quarters)
                        .x("quarter")
                        .bar("online", Paint::Indigo)
                        .named("Online")
                        .bar("store", Paint::Amber)
                        .named("In store")
                        .stacked()
                        .height(260)
                        .prop("id", "sales-chart"),
                ),
            )),
        section(
            "notebook-pen",
            "Notes",
            Component::radix("Grid")
                .prop(
                    "columns",
                    json_prop(&serde_json::json!({"initial": "1", "md": "2"})),
                )
                .prop("gap", "3")
                .children((
                    text_area()
                        .prop("id", "notes-input")
                        .rows(12)
                        .value(DashState::notes())
                        .placeholder("Markdown: **bold**, - lists, | tables |")
                        .on_change(DashState::set_notes),
                    markdown(DashState::notes()).prop("id", "notes"),
                )),
        ),
        section(
            "code",
            "Data",
            vstack((
                code_block(SNIPPET, Language::Rust)
                    .title("src/lib.rs")
                    .prop("id", "snippet"),
                code_block(DashState::days_json(), Language::Json)
                    .line_numbers(true)
                    .prop("id", "data"),
            )),
        ),
    ))
    .prop("p", "5")
    .prop("maxWidth", "1100px")
    .prop("mx", "auto")
}

/// The dashboard app.
pub fn app() -> App {
    App::new("Dashboard")
        .theme(Theme::new().accent_color("indigo"))
        .state::<DashState>()
        // assets/favicon.svg; browsers that ask for /favicon.ico get the same icon as a PNG.
        .page_with("/", index, PageOptions::new().link("icon", "/favicon.svg"))
}
