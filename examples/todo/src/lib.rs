//! The todo example: a form to add items, a list with a checkbox and a delete button per item, and
//! a count of the items still open (a computed var). Its handlers also drive the browser with
//! follow-ups: a toast when an item is added, an event chain that clears the done items and then
//! goes to the `/done` page, and a download of the list as a text file.

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// One item of the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, VarFields)]
pub struct TodoItem {
    /// Stable id, used by the handlers to find the item.
    pub id: u64,
    /// What needs doing.
    pub text: String,
    /// Whether it is done.
    pub done: bool,
}

/// The list of one browser tab.
#[derive(State, Default, Serialize, Deserialize)]
pub struct TodoState {
    items: Vec<TodoItem>,
    /// The id of the next item; the browser never sees it.
    #[backend]
    next_id: u64,
}

/// What the user got done over time: shown on the `/done` page.
#[derive(State, Default, Serialize, Deserialize)]
pub struct StatsState {
    /// How many done items were cleared, in all.
    cleared: u64,
}

#[refract::handlers]
impl StatsState {}

/// The longest item accepted, in characters.
const MAX_ITEM_CHARS: usize = 500;

#[refract::handlers]
impl TodoState {
    /// Adds the form's `text` field as a new open item and says so in a toast; blank text adds
    /// nothing.
    pub fn add_item(&mut self, form: FormData) -> Result<Option<EventSpec>, String> {
        let text = form.get("text").map(|t| t.trim()).unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > MAX_ITEM_CHARS {
            return Err(format!("an item is at most {MAX_ITEM_CHARS} characters"));
        }
        self.next_id += 1;
        self.items.push(TodoItem {
            id: self.next_id,
            text: text.to_owned(),
            done: false,
        });
        Ok(Some(toast::success(format!("Added “{text}”"))))
    }

    /// Removes the items that are done, counts them in [`StatsState`] (another state, changed
    /// in the same event), and says how many in a toast.
    pub async fn clear_done(&mut self, states: &States<'_>) -> Result<EventSpec, StateAccessError> {
        let before = self.items.len();
        self.items.retain(|i| !i.done);
        let cleared = before - self.items.len();
        states.get::<StatsState>().await?.cleared += cleared as u64;
        Ok(toast(format!("Cleared {cleared} done")))
    }

    /// Ticks every item, then (an event chain) clears them and goes to the `/done` page.
    pub fn finish_all(&mut self) -> Vec<EventSpec> {
        for item in &mut self.items {
            item.done = true;
        }
        vec![Self::clear_done(), redirect("/done")]
    }

    /// Saves the list as `todo.txt`, one item a line (`[x]` for done).
    pub fn export(&mut self) -> EventSpec {
        let lines: Vec<String> = self
            .items
            .iter()
            .map(|i| format!("[{}] {}\n", if i.done { "x" } else { " " }, i.text))
            .collect();
        download("todo.txt", lines.concat())
    }

    /// Ticks or clears the item `id`.
    pub fn toggle(&mut self, id: u64) {
        if let Some(item) = self.items.iter_mut().find(|i| i.id == id) {
            item.done = !item.done;
        }
    }

    /// Removes the item `id`.
    pub fn delete(&mut self, id: u64) {
        self.items.retain(|i| i.id != id);
    }

    /// The number of items not done.
    #[computed]
    pub fn open_count(&self) -> i64 {
        self.items.iter().filter(|i| !i.done).count() as i64
    }
}

fn item_row(item: Var<TodoItem>, _index: Var<i64>) -> Flex {
    hstack((
        checkbox()
            .checked(item.done())
            .on_checked_change(TodoState::toggle(item.id())),
        text(item.text()).prop("className", "todo-text"),
        button("Delete")
            .variant(Soft)
            .color(Color::Crimson)
            .size(S1)
            .on_click(TodoState::delete(item.id())),
    ))
    .prop("className", "todo-item")
}

fn index() -> Flex {
    vstack((
        heading("Todo").size(S8),
        form([hstack((
            input().name("text").placeholder("What needs doing?"),
            button("Add").r#type(ButtonType::Submit),
        ))])
        .on_submit(TodoState::add_item),
        vstack([foreach(TodoState::items(), item_row)]).prop("id", "todo-list"),
        text(format_var!("{} open", TodoState::open_count())).prop("id", "open-count"),
        hstack([
            button("Clear done")
                .variant(Soft)
                .on_click(TodoState::clear_done),
            button("Finish all")
                .variant(Soft)
                .on_click(TodoState::finish_all),
            button("Export").variant(Soft).on_click(TodoState::export),
        ]),
    ))
    .p(S6)
    .max_width("32rem")
}

fn done() -> Flex {
    vstack((
        heading("All done!").size(S8).prop("id", "all-done"),
        text(format_var!(
            "{} items cleared in all",
            StatsState::cleared()
        ))
        .prop("id", "cleared"),
        link_to("Back to the list", "/"),
    ))
    .p(S6)
}

/// The todo app.
pub fn app() -> App {
    App::new("Todo")
        .state::<TodoState>()
        .state::<StatsState>()
        .page("/", index)
        .page("/done", done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn form(text: &str) -> FormData {
        Form(HashMap::from([("text".to_owned(), text.to_owned())]))
    }

    #[test]
    fn add_toggle_delete() {
        let mut s = TodoState::default();
        let added = s.__handler_add_item(form("  milk ")).unwrap().unwrap();
        assert_eq!(added.handler, "_toast");
        assert_eq!(s.__handler_add_item(form("   ")), Ok(None));
        s.__handler_add_item(form("eggs")).unwrap();
        assert_eq!(
            s.items.iter().map(|i| i.text.as_str()).collect::<Vec<_>>(),
            ["milk", "eggs"]
        );
        s.__handler_toggle(1);
        assert_eq!(s.__computed_open_count(), 1);
        s.__handler_delete(1);
        assert_eq!(s.items.len(), 1);
        assert_eq!(s.items[0].id, 2, "ids are not reused");
        assert!(
            s.__handler_add_item(form(&"x".repeat(MAX_ITEM_CHARS + 1)))
                .is_err()
        );
    }

    #[test]
    fn finish_all_ticks_everything_then_chains_clear_done_and_a_redirect() {
        let mut s = TodoState::default();
        s.__handler_add_item(form("milk")).unwrap();
        s.__handler_add_item(form("eggs")).unwrap();
        let chain = s.__handler_finish_all();
        let names: Vec<&str> = chain.iter().map(|e| e.handler.as_str()).collect();
        assert_eq!(names, ["todo_state.clear_done", "_redirect"]);
        assert_eq!(s.__computed_open_count(), 0);
    }

    #[test]
    fn export_downloads_the_list() {
        let mut s = TodoState::default();
        s.__handler_add_item(form("milk")).unwrap();
        s.__handler_toggle(1);
        s.__handler_add_item(form("eggs")).unwrap();
        let file = s.__handler_export().to_follow_up().unwrap();
        assert_eq!(file.handler, "_download");
        assert_eq!(file.args["filename"], "todo.txt");
        assert_eq!(file.args["data"], "[x] milk\n[ ] eggs\n");
    }
}
