//! Snapshot tests of the generated project: the emitted code is deterministic and reads only what
//! each island needs.

use refract_compiler::{
    AppSpec, ButtonType, Component, Element, FormData, Page, S7, button, checkbox, cond, foreach,
    form, generate, heading, hstack, input, link, select, text, vstack, when,
};
use refract_core::{EventSpec, IntoVar, Var, format_var};
use serde_json::json;

fn count() -> Var<i64> {
    Var::state_var("counter_state", "count")
}

fn add(n: impl IntoVar<i64>) -> EventSpec {
    EventSpec::new("counter_state.add").arg("n", n.into_var())
}

fn increment() -> EventSpec {
    EventSpec::new("counter_state.increment")
}

fn counter_page() -> Page {
    let root = vstack((
        heading(count()).size(S7),
        hstack([
            button("Increment").on_click(increment),
            button("Add 5").on_click(add(5)),
        ]),
        cond(
            count().gt(10),
            text("big"),
            text(format_var!("only {}", count())),
        ),
        when(count().lt(0), text("negative")),
        link("About", "/about"),
    ));
    Page::new("/", root)
}

#[derive(serde::Serialize)]
struct Item;

fn item_text(item: &Var<Item>) -> Var<String> {
    item.field("text")
}

fn item_done(item: &Var<Item>) -> Var<bool> {
    item.field("done")
}

fn add_item(form: impl IntoVar<FormData>) -> EventSpec {
    EventSpec::new("todo_state.add_item").arg("form", form.into_var())
}

fn toggle(index: impl IntoVar<i64>) -> EventSpec {
    EventSpec::new("todo_state.toggle").arg("index", index.into_var())
}

fn todo_page() -> Page {
    let items: Var<Vec<Item>> = Var::state_var("todo_state", "items");
    let root = vstack((
        form((
            input().name("text").placeholder("What needs doing?"),
            button("Add").r#type(ButtonType::Submit),
        ))
        .on_submit(add_item),
        foreach(items, |item, index| {
            hstack((
                checkbox()
                    .checked(item_done(&item))
                    .on_checked_change(toggle(&index)),
                text(item_text(&item)),
                button("Delete")
                    .on_click(EventSpec::new("todo_state.delete").arg("index", index.clone())),
            ))
        }),
    ));
    Page::new("/todo", root)
}

#[test]
fn generated_project_snapshots() {
    let initial = json!({"counter_state": {"count": 0}, "todo_state": {"items": []}});
    let pages = [counter_page(), todo_page()];
    let files = generate(&AppSpec {
        title: "Snap <&>",
        pages: &pages,
        initial_state: &initial,
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    insta::assert_snapshot!("counter_page", files["src/pages/page_0.jsx"]);
    insta::assert_snapshot!("todo_page", files["src/pages/page_1.jsx"]);
    insta::assert_snapshot!("main", files["src/main.jsx"]);
    insta::assert_snapshot!("package_json", files["package.json"]);
    assert!(files["index.html"].contains("<title>Snap &lt;&amp;&gt;</title>"));
    let again = generate(&AppSpec {
        title: "Snap <&>",
        pages: &pages,
        initial_state: &initial,
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    assert_eq!(files, again, "generation is deterministic");
}

/// The module of the one page of `pages`.
fn only_page(pages: &[Page]) -> String {
    let files = generate(&AppSpec {
        title: "x",
        pages,
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    files["src/pages/page_0.jsx"].clone()
}

#[test]
fn duplicate_or_relative_routes_are_rejected() {
    let initial = json!({});
    let pages = [counter_page(), counter_page()];
    let err = generate(&AppSpec {
        title: "x",
        pages: &pages,
        initial_state: &initial,
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap_err();
    assert!(err.to_string().contains("routes `/` and `/`"), "{err}");
    let relative = [Page::new("about", text("x"))];
    assert!(
        generate(&AppSpec {
            title: "x",
            pages: &relative,
            initial_state: &initial,
            not_found: None,
            storage_vars: &json!([]),
            theme: &Default::default(),
        })
        .is_err()
    );
}

#[test]
fn external_components_add_their_package() {
    let initial = json!({});
    let md = Component::external("react-markdown", "^9.0.0", None, "Markdown").child("**hi**");
    let chart = Component::external("recharts", "^2.12.0", Some("LineChart"), "LineChart")
        .prop("width", 400);
    let pages = [Page::new("/", vstack([md, chart]))];
    let page = &only_page(&pages);
    assert!(
        page.contains("import Markdown from \"react-markdown\";"),
        "{page}"
    );
    assert!(
        page.contains("import { LineChart } from \"recharts\";"),
        "{page}"
    );
    let files = generate(&AppSpec {
        title: "x",
        pages: &pages,
        initial_state: &initial,
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    assert!(files["package.json"].contains("\"react-markdown\": \"^9.0.0\""));
}

fn set_query(q: impl IntoVar<String>) -> EventSpec {
    EventSpec::new("search_state.set_query").arg("q", q.into_var())
}

fn pick(choice: impl IntoVar<String>) -> EventSpec {
    EventSpec::new("search_state.pick").arg("choice", choice.into_var())
}

fn pressed(key: impl IntoVar<String>) -> EventSpec {
    EventSpec::new("search_state.pressed").arg("key", key.into_var())
}

fn scrolled(top: impl IntoVar<f64>) -> EventSpec {
    EventSpec::new("search_state.scrolled").arg("top", top.into_var())
}

/// A page with every kind of trigger and modifier.
fn triggers_page() -> Page {
    let root = vstack((
        input()
            .on_change(set_query)
            .on_key_down(pressed)
            .prevent_default(),
        input().on_change(set_query).debounce(0),
        input()
            .value(Var::<String>::state_var("search_state", "query"))
            .on_change(set_query),
        select::root(()).on_value_change(pick),
        text("scroll me")
            .on_scroll(scrolled)
            .throttle(100)
            .on_double_click(increment)
            .stop_propagation(),
        text("watched")
            .on_mount(add(1))
            .on_unmount(add(count()))
            .on_mouse_enter(increment)
            .on_mouse_leave(increment)
            .on_focus(increment)
            .on_key_up(pressed),
    ));
    Page::new("/search", root)
}

#[test]
fn triggers_and_their_modifiers() {
    let page = &only_page(&[triggers_page()]);
    insta::assert_snapshot!("triggers_page", page);
    // Inputs are debounced by default, each trigger site keyed on its own.
    assert!(
        page.contains(r#"debounce: 300, site: "/search#1""#),
        "{page}"
    );
    assert_eq!(page.matches("debounce:").count(), 2, "{page}");
    assert!(
        page.contains(r#"throttle: 100, site: "/search#3""#),
        "{page}"
    );
    // A controlled one keeps what is typed locally until the server's value catches up.
    assert!(
        page.contains(
            "<DebouncedInput component={TextField.Root} debounce={300} {..._rest} value={search_state$query}"
        ),
        "{page}"
    );
    assert!(
        page.contains(
            "addEvents([{ handler: \"search_state.pick\", args: { \"choice\": _e } }], _e)"
        ),
        "{page}"
    );
    // The unmount events read the count as of the last render.
    assert!(
        page.contains("unmount.current = () => addEvents("),
        "{page}"
    );
}

#[test]
#[should_panic(expected = "is no React event prop")]
fn a_prop_that_is_no_event_prop_is_refused() {
    let _ = Component::radix("Select.Root").on("value", pick);
}

#[test]
fn a_debounced_trigger_in_a_list_is_keyed_by_row() {
    let items: Var<Vec<Item>> = Var::state_var("todo_state", "items");
    let pages = [Page::new(
        "/rows",
        foreach(items, |_item, _index| input().on_change(set_query)),
    )];
    let files = generate(&AppSpec {
        title: "x",
        pages: &pages,
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    let page = &files["src/pages/page_0.jsx"];
    assert!(
        page.contains(r#"site: "/rows#1" + "/" + index_1"#),
        "{page}"
    );
}

#[test]
#[should_panic(expected = "not `on_mount` or `on_unmount`")]
fn a_modifier_of_a_mount_trigger_is_refused() {
    let _ = text("x").on_mount(increment).debounce(10);
}

#[test]
#[should_panic(expected = "modifies the trigger before it")]
fn a_modifier_needs_a_trigger() {
    let _ = button("x").debounce(10);
}

/// A page with `on_load` (whose argument is a route param), a head (a title from a var, a static
/// description) and router vars: each becomes an island that reads only what it needs, the
/// router vars from React Router rather than the server's state.
#[test]
fn on_load_head_and_router_vars() {
    let title: Var<String> = Var::state_var("post_state", "title");
    let mut page = Page::new(
        "/posts/:id",
        vstack((
            heading(format_var!("post {}", refract_core::router::param("id"))),
            text(refract_core::router::query("tab")),
            when(refract_core::router::is_hydrated(), text(title.clone())),
        )),
    );
    page.on_load =
        vec![EventSpec::new("post_state.load").arg("id", refract_core::router::param("id"))];
    page.head.title = Some(format_var!("{} · Blog", title).into_expr());
    page.head.description = Some(refract_core::Expr::literal("A post."));
    let files = generate(&AppSpec {
        title: "Blog",
        pages: &[page],
        initial_state: &json!({"post_state": {"title": ""}}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    let source = &files["src/pages/page_0.jsx"];
    assert!(source.contains("useRouterVar"), "{source}");
    insta::assert_snapshot!("on_load_head_and_router_vars", source);
}
