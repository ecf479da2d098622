//! The gallery example: every typed component on four pages. `/` shows layout and typography;
//! `/forms` every form control, a select and a slider driving vars shown on the page, a sign-up
//! form and a dialog whose form saves a profile and closes it (its `open` follows a var);
//! `/overlays` dialogs, popovers, hover cards, tooltips and menus; `/data` tabs, tables, data
//! lists, callouts, badges, cards, avatars, progress, skeletons, spinners, an accordion, icons,
//! markdown, a code block and a chart; `/rows` a table of 1,000 rows, one of which changes at a
//! time (only that row renders again).

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// A picture for images and avatars: a gradient, as a `data:` URL (no file to serve).
const PICTURE: &str = "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' \
    viewBox='0 0 160 90'><defs><linearGradient id='g'><stop offset='0' stop-color='%236e56cf'/>\
    <stop offset='1' stop-color='%2312a594'/></linearGradient></defs>\
    <rect width='160' height='90' fill='url(%23g)'/></svg>";

/// What the profile dialog's form sends.
#[derive(Deserialize)]
pub struct Profile {
    /// The name field.
    pub name: String,
    /// The email field.
    pub email: String,
}

/// What the sign-up form sends: each control decoded by its field's type.
#[derive(Deserialize)]
pub struct Signup {
    /// A text field.
    pub username: String,
    /// A number field.
    pub age: u32,
    /// A radio group.
    pub plan: String,
    /// A checkbox: whether it is ticked.
    pub newsletter: bool,
    /// A multi-select (a checkbox group): the ticked topics.
    pub topics: Vec<String>,
    /// A slider.
    pub level: f64,
}

/// The `/forms` page's vars.
#[derive(State, Serialize, Deserialize)]
pub struct FormsState {
    /// The profile's name, saved by the dialog's form.
    name: String,
    /// The profile's email.
    email: String,
    /// Whether the profile dialog is open.
    editing: bool,
    /// The select's choice.
    fruit: String,
    /// How many times each fruit was chosen.
    picks: std::collections::BTreeMap<String, u32>,
    /// The options of the select built from a list var.
    fruits: Vec<String>,
    /// The second select's choice.
    snack: String,
    /// The slider's value.
    volume: f64,
    /// The checkbox.
    agreed: bool,
    /// The switch.
    notify: bool,
    /// The radio group's choice.
    size: String,
    /// The segmented control's choice.
    view: String,
    /// The multi-select's choices.
    tags: Vec<String>,
    /// What the sign-up form sent last.
    signup: String,
}

impl Default for FormsState {
    fn default() -> Self {
        FormsState {
            name: String::new(),
            email: String::new(),
            editing: false,
            fruit: String::new(),
            fruits: vec!["apple".into(), "banana".into(), "cherry".into()],
            picks: std::collections::BTreeMap::new(),
            snack: String::new(),
            volume: 50.0,
            agreed: false,
            notify: true,
            size: "m".into(),
            view: "list".into(),
            tags: Vec::new(),
            signup: String::new(),
        }
    }
}

#[refract::handlers]
impl FormsState {
    /// Opens or closes the profile dialog (its trigger, its Cancel, Escape, a click outside).
    pub fn set_editing(&mut self, open: bool) {
        self.editing = open;
    }

    /// Saves the dialog's form and closes the dialog.
    pub fn save_profile(&mut self, form: Form<Profile>) {
        self.name = form.name.trim().to_owned();
        self.email = form.email.trim().to_owned();
        self.editing = false;
    }

    /// Takes the select's choice.
    pub fn set_fruit(&mut self, fruit: String) {
        *self.picks.entry(fruit.clone()).or_default() += 1;
        self.fruit = fruit;
    }

    /// Takes the second select's choice.
    pub fn set_snack(&mut self, snack: String) {
        self.snack = snack;
    }

    /// Takes the slider's value (a slider gives one value per thumb).
    pub fn set_volume(&mut self, values: Vec<f64>) {
        if let Some(volume) = values.first() {
            self.volume = *volume;
        }
    }

    /// Takes the checkbox.
    pub fn set_agreed(&mut self, agreed: bool) {
        self.agreed = agreed;
    }

    /// Takes the switch.
    pub fn set_notify(&mut self, notify: bool) {
        self.notify = notify;
    }

    /// Takes the radio group's choice.
    pub fn set_size(&mut self, size: String) {
        self.size = size;
    }

    /// Takes the segmented control's choice.
    pub fn set_view(&mut self, view: String) {
        self.view = view;
    }

    /// Takes the multi-select's choices.
    pub fn set_tags(&mut self, tags: Vec<String>) {
        self.tags = tags;
    }

    /// Takes the sign-up form.
    pub fn sign_up(&mut self, form: Form<Signup>) {
        self.signup = format!(
            "{} ({}) on {}, newsletter {}, topics [{}], level {}",
            form.username,
            form.age,
            form.plan,
            if form.newsletter { "yes" } else { "no" },
            form.topics.join(", "),
            form.level
        );
    }
}

/// The `/overlays` page's vars.
#[derive(State, Serialize, Deserialize)]
pub struct OverlaysState {
    /// The menu item chosen last.
    choice: String,
    /// How many times the alert dialog's Delete was confirmed.
    deleted: u32,
    /// The dropdown menu's checkbox item.
    bookmarked: bool,
    /// The dropdown menu's radio group.
    sort: String,
}

impl Default for OverlaysState {
    fn default() -> Self {
        OverlaysState {
            choice: "nothing yet".into(),
            deleted: 0,
            bookmarked: false,
            sort: "name".into(),
        }
    }
}

#[refract::handlers]
impl OverlaysState {
    /// Records the menu item chosen.
    pub fn choose(&mut self, item: String) {
        self.choice = item;
    }

    /// The alert dialog's confirmed action.
    pub fn delete(&mut self) {
        self.deleted += 1;
    }

    /// Takes the checkbox item.
    pub fn set_bookmarked(&mut self, bookmarked: bool) {
        self.bookmarked = bookmarked;
    }

    /// Takes the radio items' choice.
    pub fn set_sort(&mut self, sort: String) {
        self.sort = sort;
    }
}

/// The `/data` page's vars.
#[derive(State, Serialize, Deserialize)]
pub struct DataState {
    /// The open tab.
    tab: String,
    /// The open accordion item (`""`: none).
    section: String,
    /// The progress bar's value, out of 100.
    progress: u32,
    /// The progress bar's values so far, for the chart.
    points: Vec<Point>,
}

/// One value of the progress bar, for the chart.
#[derive(Clone, Serialize, Deserialize)]
pub struct Point {
    /// How many steps were taken before it.
    step: u32,
    /// The value.
    value: u32,
}

impl Default for DataState {
    fn default() -> Self {
        DataState {
            tab: "overview".into(),
            section: String::new(),
            progress: 40,
            points: vec![Point { step: 0, value: 40 }],
        }
    }
}

#[refract::handlers]
impl DataState {
    /// Opens a tab.
    pub fn set_tab(&mut self, tab: String) {
        self.tab = tab;
    }

    /// Opens an accordion item (or none).
    pub fn set_section(&mut self, section: String) {
        self.section = section;
    }

    /// Ten more, round to 0 after 100.
    pub fn step(&mut self) {
        self.progress = (self.progress + 10) % 110;
        let step = self.points.len() as u32;
        self.points.push(Point {
            step,
            value: self.progress,
        });
    }
}

/// One row of the `/rows` page's table.
#[derive(Clone, Serialize, Deserialize, VarFields)]
pub struct RowItem {
    /// Its id, its key in the list.
    pub id: u32,
    /// Its title.
    pub title: String,
    /// How many times it was touched.
    pub hits: u32,
}

/// How many rows the `/rows` page shows.
pub const ROWS: u32 = 1000;

/// The `/rows` page's vars: a long list of which one row changes at a time.
#[derive(State, Serialize, Deserialize)]
pub struct RowsState {
    /// The rows.
    rows: Vec<RowItem>,
}

impl Default for RowsState {
    fn default() -> Self {
        RowsState {
            rows: (1..=ROWS)
                .map(|id| RowItem {
                    id,
                    title: format!("Row {id}"),
                    hits: 0,
                })
                .collect(),
        }
    }
}

#[refract::handlers]
impl RowsState {
    /// Counts a touch of the row `id`; an unknown id changes nothing.
    pub fn touch(&mut self, id: u32) {
        if let Some(row) = self.rows.iter_mut().find(|r| r.id == id) {
            row.hits += 1;
        }
    }
}

/// A page: the navigation, the title and the body, in a container.
fn page(title: &str, body: impl Children) -> Container {
    let tab = |label: &str, href: &str| {
        tab_nav::link(label, href).active(router::path().eq(href.to_owned()))
    };
    container((
        tab_nav::root([
            tab("Layout", "/"),
            tab("Forms", "/forms"),
            tab("Overlays", "/overlays"),
            tab("Data", "/data"),
            tab("Rows", "/rows"),
        ])
        .mb(S4),
        hstack((
            heading(title).size(S8).prop("id", "page-title"),
            spacer(),
            color_mode_toggle(),
        ))
        .mb(S4),
        vstack(body).gap(S6),
    ))
    .size(S3)
    .p(S5)
}

/// A titled part of a page.
fn part(title: &str, body: impl Children) -> Flex {
    vstack((
        heading(title).size(S5).level(HeadingLevel::H2),
        vstack(body),
    ))
    .gap(S3)
}

fn layout_page() -> Container {
    let lines: Vec<Text> = (1..=12).map(|i| text(format!("Line {i}"))).collect();
    page(
        "Layout and typography",
        (
            part(
                "Grid, cards and boxes",
                (
                    grid([
                        card([text("One column on phones")]),
                        card([text("three from 768 px")]),
                        card([text("(a responsive prop)")]),
                    ])
                    .columns(Responsive::new(S1).sm(S3))
                    .gap(S3),
                    hstack((badge("left"), spacer(), badge("right (after a spacer)"))),
                    center([text("centred in 60 px")]).height("60px"),
                    flex((
                        r#box([text("a box with padding 3")]).p(S3),
                        r#box([text("and one with margin -1")]).m(-S1),
                    ))
                    .direction(Responsive::new(Direction::Column).md(Direction::Row))
                    .gap(S2),
                    container([text("A container of size 1: at most 448 px wide")]).size(S1),
                    section([text("A section of size 1: vertical padding")]).size(S1),
                ),
            ),
            part(
                "Insets, aspect ratios, scroll areas, separators",
                (
                    hstack((
                        r#box([card((
                            inset([image(PICTURE, "A violet to teal gradient")])
                                .side(InsetSide::Top)
                                .clip(InsetClip::PaddingBox),
                            text("A card with an inset image").size(S2),
                        ))])
                        .width("220px"),
                        r#box([aspect_ratio(
                            16.0 / 9.0,
                            image(PICTURE, "The gradient at 16:9"),
                        )])
                        .width("220px"),
                    ))
                    .align(Align::Start),
                    scroll_area([vstack(lines).p(S2)])
                        .scrollbars(Scrollbars::Vertical)
                        .r#type(ScrollType::Always)
                        .prop(
                            "style",
                            json_prop(&refract::serde_json::json!({"height": "100px"})),
                        ),
                    separator().size(S4),
                ),
            ),
            part(
                "Typography",
                (
                    heading("A heading of size 7")
                        .size(S7)
                        .level(HeadingLevel::H3),
                    text("Bold crimson text")
                        .weight(Weight::Bold)
                        .color(Color::Crimson),
                    text("Text with ")
                        .child(em("emphasis"))
                        .child(", ")
                        .child(strong("strength"))
                        .child(", ")
                        .child(quote("a quote"))
                        .child(", ")
                        .child(code("code()"))
                        .child(" and ")
                        .child(kbd("Ctrl"))
                        .child(" + ")
                        .child(kbd("K")),
                    blockquote("A block quote: typed props make wrong values compile errors."),
                    code("soft ghost code").variant(Ghost).size(S2),
                    hstack((
                        link("To the forms", "/forms").prop("id", "to-forms"),
                        link("Radix Themes", "https://www.radix-ui.com/themes"),
                        link_to("A link from a var", router::path()).underline(Underline::Always),
                    )),
                ),
            ),
        ),
    )
}

/// The profile dialog: open while `editing` holds; its form saves and closes it.
fn profile_dialog() -> dialog::Root {
    dialog::root((
        dialog::trigger(button("Edit profile").prop("id", "edit-profile")),
        dialog::content((
            dialog::title("Edit profile"),
            dialog::description("Your name and email, kept on the server."),
            form([vstack((
                text_field()
                    .name("name")
                    .placeholder("Name")
                    .prop("id", "profile-name-input"),
                text_field()
                    .name("email")
                    .r#type(InputType::Email)
                    .placeholder("Email"),
                hstack((
                    dialog::close(button("Cancel").variant(Soft).r#type(ButtonType::Button)),
                    button("Save")
                        .r#type(ButtonType::Submit)
                        .prop("id", "save-profile"),
                ))
                .justify(Justify::End),
            ))])
            .on_submit(FormsState::save_profile),
        ))
        .max_width("420px"),
    ))
    .open(FormsState::editing())
    .on_open_change(FormsState::set_editing)
}

fn forms_page() -> Container {
    page(
        "Forms",
        (
            part(
                "Buttons",
                (
                    hstack((
                        button("Solid"),
                        button("Soft").variant(Soft),
                        button("Surface").variant(Surface),
                        button("Outline").variant(Outline),
                        button("Ghost").variant(Ghost),
                        button("Classic").variant(Classic),
                    ))
                    .wrap(FlexWrap::Wrap),
                    hstack((
                        button("Size 1").size(S1),
                        button("Size 4").size(S4).color(Color::Grass),
                        button("Loading").loading(true),
                        button("Disabled").disabled(true),
                        icon_button("+")
                            .label("Add")
                            .variant(Soft)
                            .radius(Radius::Full),
                    ))
                    .wrap(FlexWrap::Wrap),
                ),
            ),
            part(
                "A dialog with a form",
                (
                    text(format_var!("Name: {}", FormsState::name())).prop("id", "profile-name"),
                    text(format_var!("Email: {}", FormsState::email())),
                    hstack([profile_dialog()]),
                ),
            ),
            part(
                "Selects and a slider",
                (
                    hstack((
                        select::root((
                            select::trigger()
                                .placeholder("Pick a fruit")
                                .prop("id", "fruit-select"),
                            select::content(
                                Choices::from([
                                    ("apple", "Apple"),
                                    ("banana", "Banana"),
                                    ("pear", "Pear"),
                                ])
                                .nodes(select::item),
                            ),
                        ))
                        .value(FormsState::fruit())
                        .on_value_change(FormsState::set_fruit),
                        text(format_var!("Fruit: {}", FormsState::fruit())).prop("id", "fruit"),
                        // A map var, an entry per key in key order.
                        hstack([foreach_entries(FormsState::picks(), |fruit, times| {
                            badge(format_var!("{}: {}", fruit, times))
                        })])
                        .prop("id", "picks"),
                    )),
                    hstack((
                        select(FormsState::fruits())
                            .value(FormsState::snack())
                            .on_value_change(FormsState::set_snack),
                        text(format_var!(
                            "Snack (options from a var): {}",
                            FormsState::snack()
                        )),
                    )),
                    slider()
                        .default_value(vec![50.0])
                        .max(100)
                        .on_value_change(FormsState::set_volume)
                        .prop("id", "volume-slider")
                        .prop("aria-label", "Volume"),
                    text(format_var!("Volume: {}", FormsState::volume())).prop("id", "volume"),
                ),
            ),
            part(
                "Choices",
                (
                    text(
                        checkbox()
                            .checked(FormsState::agreed())
                            .on_checked_change(FormsState::set_agreed),
                    )
                    .tag(TextTag::Label)
                    .child(format_var!(" Agreed: {}", FormsState::agreed().to_text())),
                    text(
                        switch()
                            .checked(FormsState::notify())
                            .on_checked_change(FormsState::set_notify)
                            .color(Color::Grass),
                    )
                    .tag(TextTag::Label)
                    .child(format_var!(" Notify: {}", FormsState::notify().to_text())),
                    radio_group([("s", "Small"), ("m", "Medium"), ("l", "Large")])
                        .value(FormsState::size())
                        .on_value_change(FormsState::set_size),
                    segmented_control([("list", "List"), ("grid", "Grid"), ("board", "Board")])
                        .value(FormsState::view())
                        .on_value_change(FormsState::set_view),
                    text(format_var!(
                        "Size {}, view {}",
                        FormsState::size(),
                        FormsState::view()
                    )),
                    multi_select(["red", "green", "blue"])
                        .value(FormsState::tags())
                        .on_value_change(FormsState::set_tags),
                    text(format_var!("Tags: {}", FormsState::tags().join(", "))),
                    radio_cards::root([
                        radio_cards::item("basic", [text("Basic")]),
                        radio_cards::item("team", [text("Team")]),
                    ])
                    .default_value("basic")
                    .columns(S2),
                    checkbox_cards::root([
                        checkbox_cards::item("email", [text("Email")]),
                        checkbox_cards::item("sms", [text("SMS")]),
                    ])
                    .default_value(vec!["email".to_owned()])
                    .columns(S2),
                    hstack((
                        text(radio("a").name("standalone").default_checked(true))
                            .tag(TextTag::Label)
                            .child(" A"),
                        text(radio("b").name("standalone"))
                            .tag(TextTag::Label)
                            .child(" B"),
                    )),
                ),
            ),
            part(
                "A form",
                (
                    form([vstack((
                        text_field()
                            .name("username")
                            .placeholder("User name")
                            .child(text_field::slot([text("@")])),
                        text_field()
                            .name("age")
                            .r#type(InputType::Number)
                            .placeholder("Age"),
                        radio_group([("free", "Free"), ("pro", "Pro")])
                            .name("plan")
                            .default_value("free"),
                        text(checkbox().name("newsletter"))
                            .tag(TextTag::Label)
                            .child(" Newsletter"),
                        multi_select(["rust", "web", "design"]).name("topics"),
                        slider()
                            .name("level")
                            .default_value(vec![3.0])
                            .max(10)
                            .prop("aria-label", "Level"),
                        text_area().name("notes").placeholder("Anything else?"),
                        hstack([button("Sign up").r#type(ButtonType::Submit)]),
                    ))])
                    .on_submit(FormsState::sign_up),
                    text(FormsState::signup()).prop("id", "signup"),
                ),
            ),
        ),
    )
}

fn overlays_page() -> Container {
    let choose = OverlaysState::choose;
    page(
        "Overlays",
        (
            part(
                "Dialogs",
                (
                    hstack((
                        dialog::root((
                            dialog::trigger(button("Open a dialog")),
                            dialog::content((
                                dialog::title("A dialog"),
                                dialog::description(
                                    "It closes by its button, Escape or a click outside.",
                                ),
                                dialog::close(button("Close").variant(Soft)),
                            ))
                            .max_width("420px"),
                        )),
                        alert_dialog::root((
                            alert_dialog::trigger(button("Delete…").color(Color::Red)),
                            alert_dialog::content((
                                alert_dialog::title("Delete it?"),
                                alert_dialog::description("An alert dialog waits for an answer."),
                                hstack((
                                    alert_dialog::cancel(button("Cancel").variant(Soft)),
                                    alert_dialog::action(
                                        button("Delete")
                                            .color(Color::Red)
                                            .on_click(OverlaysState::delete),
                                    ),
                                ))
                                .justify(Justify::End),
                            ))
                            .max_width("420px"),
                        )),
                    )),
                    text(format_var!("Deleted {} times", OverlaysState::deleted())),
                ),
            ),
            part(
                "Popups",
                [hstack((
                    popover::root((
                        // A trigger's element may read a var: it still gets the trigger's
                        // props and ref.
                        popover::trigger(
                            button(format_var!(
                                "Popover ({} deleted)",
                                OverlaysState::deleted()
                            ))
                            .variant(Soft)
                            .prop("id", "popover-trigger"),
                        ),
                        popover::content((
                            text("A popover: click outside to close it."),
                            popover::close(button("Close").size(S1)),
                        ))
                        .width("260px"),
                    )),
                    hover_card::root((
                        hover_card::trigger(link("Hover this link", "https://www.radix-ui.com")),
                        hover_card::content([text("A hover card, for pointer users.")]),
                    )),
                    tooltip("A tooltip", button("Tooltip").variant(Outline)),
                ))],
            ),
            part(
                "Menus",
                (
                    hstack((
                        dropdown_menu::root((
                            dropdown_menu::trigger(
                                button("Menu")
                                    .variant(Soft)
                                    .child(dropdown_menu::trigger_icon()),
                            ),
                            dropdown_menu::content((
                                dropdown_menu::label("Actions"),
                                dropdown_menu::item("Edit")
                                    .shortcut("⌘ E")
                                    .on_click(choose("edit")),
                                dropdown_menu::item("Duplicate").on_click(choose("duplicate")),
                                dropdown_menu::sub((
                                    dropdown_menu::sub_trigger("More"),
                                    dropdown_menu::sub_content([
                                        dropdown_menu::item("Archive").on_click(choose("archive"))
                                    ]),
                                )),
                                dropdown_menu::separator(),
                                dropdown_menu::checkbox_item("Bookmarked")
                                    .checked(OverlaysState::bookmarked())
                                    .on_checked_change(OverlaysState::set_bookmarked),
                                dropdown_menu::radio_group([
                                    dropdown_menu::radio_item("name", "By name"),
                                    dropdown_menu::radio_item("date", "By date"),
                                ])
                                .value(OverlaysState::sort())
                                .on_value_change(OverlaysState::set_sort),
                                dropdown_menu::separator(),
                                dropdown_menu::item("Delete")
                                    .color(Color::Red)
                                    .on_click(choose("delete")),
                            )),
                        )),
                        context_menu::root((
                            context_menu::trigger(
                                card([text("Right-click this card")]).variant(CardVariant::Surface),
                            ),
                            context_menu::content([
                                context_menu::item("Copy").on_click(choose("copy")),
                                context_menu::item("Paste").on_click(choose("paste")),
                            ]),
                        )),
                    )),
                    text(format_var!(
                        "Chosen: {}, bookmarked: {}, sorted by {}",
                        OverlaysState::choice(),
                        OverlaysState::bookmarked().to_text(),
                        OverlaysState::sort()
                    )),
                ),
            ),
        ),
    )
}

fn data_page() -> Container {
    let people = [("Ada", "Engineer", "Active"), ("Grace", "Admiral", "Away")];
    page(
        "Data display",
        (
            part(
                "Tabs",
                [tabs::root((
                    tabs::list([
                        tabs::trigger("overview", "Overview"),
                        tabs::trigger("table", "Table"),
                        tabs::trigger("list", "Data list"),
                    ]),
                    tabs::content(
                        "overview",
                        [text("Each tab's content shows while its tab is open.")
                            .prop("id", "overview-text")],
                    )
                    .mt(S3),
                    tabs::content(
                        "table",
                        [table::root((
                            table::header([table::row([
                                table::column_header_cell("Name"),
                                table::column_header_cell("Role"),
                                table::column_header_cell("Status"),
                            ])]),
                            table::body(people.map(|(name, role, status)| {
                                table::row((
                                    table::row_header_cell(name),
                                    table::cell(role),
                                    table::cell(badge(status).color(if status == "Active" {
                                        Color::Grass
                                    } else {
                                        Color::Gray
                                    })),
                                ))
                            })),
                        ))
                        .variant(TableVariant::Surface)
                        .prop("id", "people")],
                    )
                    .mt(S3),
                    tabs::content(
                        "list",
                        [data_list::root([
                            data_list::item("Name", "Ada Lovelace"),
                            data_list::item("Email", "ada@example.com"),
                            data_list::item("Joined", "1843"),
                        ])],
                    )
                    .mt(S3),
                ))
                .value(DataState::tab())
                .on_value_change(DataState::set_tab)],
            ),
            part(
                "Callouts and badges",
                (
                    callout("A callout: something worth knowing.").color(Color::Amber),
                    callout::root((
                        callout::icon(text("ℹ")),
                        callout::text("A surface callout with an icon."),
                    ))
                    .variant(Surface),
                    hstack((
                        badge("Solid").variant(Solid),
                        badge("Soft"),
                        badge("Surface").variant(Surface),
                        badge("Outline").variant(Outline),
                        badge("Crimson").color(Color::Crimson),
                        badge("Size 3").size(S3).radius(Radius::Full),
                    ))
                    .wrap(FlexWrap::Wrap),
                ),
            ),
            part(
                "Cards, avatars, progress",
                (
                    card([hstack((
                        avatar(PICTURE, "AL").size(S5),
                        avatar("", "RF").variant(Solid).color(Color::Indigo),
                        vstack((
                            text("Ada Lovelace").weight(Weight::Bold),
                            text("A card with avatars").color(Color::Gray),
                        ))
                        .gap(S1),
                    ))])
                    .size(S2),
                    hstack((
                        r#box([progress().value(DataState::progress()).max(100)]).width("200px"),
                        button("Step").size(S1).on_click(DataState::step),
                        text(format_var!("{} %", DataState::progress())),
                    )),
                    r#box([progress().size(S1)]).width("200px"),
                ),
            ),
            part(
                "Loading",
                [hstack((
                    skeleton().width("120px").height("20px"),
                    skeleton().child(text("Hidden while loading")),
                    spinner(),
                    spinner().size(S3),
                ))],
            ),
            part(
                "Accordion",
                [accordion::root([
                    accordion::item(
                        "what",
                        "What is Refract?",
                        text("A Rust web framework: pages in Rust, a React app in the browser."),
                    ),
                    accordion::item(
                        "typed",
                        "How are components typed?",
                        text("Each prop has a type: a Button of size S5 does not compile."),
                    ),
                ])
                .value(DataState::section())
                .on_value_change(DataState::set_section)],
            ),
            part(
                "Icons, markdown, code and charts",
                (
                    hstack((
                        icon("sparkles").color(Paint::Accent).label("Sparkles"),
                        icon!("chart-line"),
                    ))
                    .prop("id", "icons"),
                    markdown("**Markdown** with a [link](/forms) and a list:\n\n- one\n- two")
                        .prop("id", "markdown"),
                    code_block("fn main() {\n    refract::run();\n}", Language::Rust)
                        .title("main.rs"),
                    line_chart(DataState::points())
                        .x("step")
                        .line("value", Paint::Indigo)
                        .named("Progress")
                        .height(200)
                        .prop("id", "progress-chart"),
                    text("More in examples/dashboard.").prop("id", "content-slot"),
                ),
            ),
        ),
    )
}

fn rows_page() -> Container {
    page(
        "Rows",
        (
            text(format_var!(
                "{} rows; touching one renders that row alone.",
                RowsState::rows().len()
            )),
            hstack([button("Touch row 500")
                .on_click(RowsState::touch(500))
                .prop("id", "touch-500")]),
            table::root((
                table::header([table::row([
                    table::column_header_cell("Id"),
                    table::column_header_cell("Title"),
                    table::column_header_cell("Hits"),
                ])]),
                table::body([foreach_keyed(
                    RowsState::rows(),
                    |row| row.id(),
                    |row, _| {
                        table::row((
                            table::row_header_cell(row.id().to_text()),
                            table::cell(row.title()),
                            table::cell(row.hits().to_text()),
                        ))
                        .prop("data-testid", format_var!("row-{}", row.id()))
                        .on_click(RowsState::touch(row.id()))
                    },
                )]),
            ))
            .prop("id", "rows"),
        ),
    )
}

/// The gallery app.
pub fn app() -> App {
    App::new("Gallery")
        .theme(Theme::new().accent_color("iris"))
        .state::<FormsState>()
        .state::<OverlaysState>()
        .state::<DataState>()
        .state::<RowsState>()
        .page("/", layout_page)
        .page("/forms", forms_page)
        .page("/overlays", overlays_page)
        .page("/data", data_page)
        .page("/rows", rows_page)
}
