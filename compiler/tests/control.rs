//! Rendering control compiled to JSX: each list item is a memoised row given only the locals it
//! reads, keyed as asked; maps render in key order; `match_var` is one switch in one island.

use std::collections::BTreeMap;

use refract_compiler::{
    AppSpec, Component, Element, Page, foreach, foreach_entries, foreach_keyed, generate,
    match_var, text,
};
use refract_core::{EventSpec, IntoVar, Var, format_var};
use serde_json::json;

#[derive(serde::Serialize)]
struct Row;

fn rows() -> Var<Vec<Row>> {
    Var::state_var("table_state", "rows")
}

fn select(id: impl IntoVar<i64>) -> EventSpec {
    EventSpec::new("table_state.select").arg("id", id.into_var())
}

fn page_source(root: Component) -> String {
    let pages = [Page::new("/", root)];
    let files = generate(&AppSpec {
        title: "t",
        pages: &pages,
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .expect("generates");
    files["src/pages/page_0.jsx"].clone()
}

fn control_page() -> Component {
    let groups: Var<BTreeMap<String, Vec<String>>> = Var::state_var("table_state", "groups");
    let status: Var<String> = Var::state_var("table_state", "status");
    Component::html("div").children((
        foreach_keyed(
            rows(),
            |row| row.field::<i64>("id"),
            |row, _| {
                let id: Var<i64> = row.field("id");
                Component::html("p")
                    .child(row.field::<String>("title"))
                    .on_click(select(id))
            },
        ),
        foreach(rows(), |row, i| {
            text(format_var!("{}: {}", i, row.field::<String>("title")))
        }),
        foreach_entries(groups, |name, members| {
            Component::html("section").children((
                text(name.clone()),
                foreach(members, move |member, _| {
                    text(format_var!("{} in {}", member, name.clone()))
                }),
            ))
        }),
        match_var(status)
            .case("ok".to_owned(), text("fine"))
            .case("bad".to_owned(), text("broken"))
            .default(text("unknown")),
    ))
}

#[test]
fn control_page_snapshot() {
    insta::assert_snapshot!(page_source(control_page()));
}

#[test]
fn rows_are_memoised_components_given_what_they_read() {
    let src = page_source(control_page());
    // The keyed list: the row component gets the item, not the index it does not read.
    assert!(
        src.contains("<C1 key={String(item_1.id)} item_1={item_1} />"),
        "{src}"
    );
    // The list reading the index passes it, keyed by it.
    assert!(
        src.contains("<C3 key={index_1} item_1={item_1} index_1={index_1} />"),
        "{src}"
    );
    // A nested list's rows get the enclosing item they read; entries come from the runtime,
    // sorted by key, each pair kept while its value is unchanged.
    assert!(
        src.contains("($rf.entries(table_state$groups) ?? []).map("),
        "{src}"
    );
    assert!(src.contains("item_1={item_1} item_2={item_2}"), "{src}");
    // The match is one switch on the var.
    assert!(src.contains("switch (table_state$status)"), "{src}");
    assert!(src.contains("case \"ok\":"), "{src}");
}

#[test]
fn a_nested_row_gets_only_the_enclosing_locals_it_reads() {
    let grid: Var<Vec<Vec<String>>> = Var::state_var("table_state", "grid");
    let src = page_source(Component::html("div").child(foreach(grid, |cells, _| {
        foreach(cells, |cell, _| text(cell))
    })));
    // The inner row reads its own cell only: a change to one row of the grid does not render
    // the inner rows of the others again.
    assert!(
        src.contains("<C1 key={index_2} item_2={item_2} />"),
        "{src}"
    );
    assert!(src.contains("function C1({ item_2 })"), "{src}");
}
