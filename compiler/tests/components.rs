//! Typed components: the JSX their props, parts and event props compile to.

use refract_compiler::*;
use refract_core::{EventSpec, IntoVar, Var};
use serde_json::json;

fn pick(choice: impl IntoVar<String>) -> EventSpec {
    EventSpec::new("s.pick").arg("choice", choice.into_var())
}

fn set_open(open: impl IntoVar<bool>) -> EventSpec {
    EventSpec::new("s.set_open").arg("open", open.into_var())
}

fn set_volume(values: impl IntoVar<Vec<f64>>) -> EventSpec {
    EventSpec::new("s.set_volume").arg("values", values.into_var())
}

/// The module of a page showing `root`.
fn page(root: impl Into<Node>) -> String {
    let files = generate(&AppSpec {
        title: "x",
        pages: &[Page::new("/", root)],
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    files["src/pages/page_0.jsx"].clone()
}

#[test]
fn typed_props_and_parts() {
    let open: Var<bool> = Var::state_var("s", "open");
    let fruits: Var<Vec<String>> = Var::state_var("s", "fruits");
    let root = vstack((
        heading("Hi")
            .size(Responsive::new(S4).md(S8))
            .level(HeadingLevel::H2)
            .color(Color::Crimson),
        button("Go")
            .variant(Soft)
            .size(S2)
            .high_contrast(true)
            .disabled(open.clone())
            .mt(-S2),
        grid((badge("new").variant(Outline), card([text("card")]).size(S3)))
            .columns(Responsive::new(S1).sm("1fr 2fr"))
            .gap(S4)
            .width("20rem"),
        select([("a", "Apple"), ("p", "Pear")]).on_value_change(pick),
        select(fruits).name("fruit"),
        slider()
            .default_value(vec![50.0])
            .max(100)
            .on_value_change(set_volume),
        dialog::root((
            dialog::trigger(button("Open")),
            dialog::content((dialog::title("Title"), dialog::close(button("Close"))))
                .max_width("450px"),
        ))
        .open(open)
        .on_open_change(set_open),
        tabs::root((
            tabs::list([tabs::trigger("a", "A"), tabs::trigger("b", "B")]),
            tabs::content("a", [text("a")]),
        ))
        .default_value("a"),
        accordion::root([accordion::item("one", "One", text("first"))]),
        spacer(),
    ))
    .p(Responsive::new(S2).lg(S6));
    let page = page(root);
    insta::assert_snapshot!("typed_components_page", page);
    assert!(
        page.contains(r#"size={{"initial":"4","md":"8"}}"#),
        "{page}"
    );
    assert!(
        page.contains(r#"import { Root as AccordionRoot } from "@radix-ui/react-accordion";"#),
        "{page}"
    );
}

#[test]
fn accordion_adds_its_package() {
    let files = generate(&AppSpec {
        title: "x",
        pages: &[Page::new(
            "/",
            accordion::root([accordion::item("one", "One", text("first"))]),
        )],
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap();
    assert!(files["package.json"].contains(r#""@radix-ui/react-accordion": "^1.2.0""#));
}
