//! Snapshot tests of icons, markdown, code blocks and charts: the JSX they compile to, the npm
//! packages they add, and the runtime module (`code_block.jsx`) only apps that use it get.

use std::collections::BTreeMap;

use refract_compiler::{
    AppSpec, CONTENT_PACKAGES, Element, Language, Page, Paint, area_chart, bar_chart, button,
    code_block, foreach, generate, icon, line_chart, markdown, pie_chart, scatter_chart, text,
    vstack, when,
};
use refract_core::Var;
use serde::Serialize;
use serde_json::json;

fn project(pages: &[Page]) -> BTreeMap<String, String> {
    generate(&AppSpec {
        title: "Extras",
        pages,
        initial_state: &json!({}),
        not_found: None,
        storage_vars: &json!([]),
        theme: &Default::default(),
    })
    .unwrap()
}

fn dependencies(files: &BTreeMap<String, String>) -> serde_json::Value {
    let manifest: serde_json::Value = serde_json::from_str(&files["package.json"]).unwrap();
    manifest["dependencies"].clone()
}

#[test]
fn icons_import_their_lucide_component() {
    let page = Page::new(
        "/",
        vstack((
            icon("arrow-right"),
            icon("layout-dashboard")
                .size(32)
                .color(Paint::Accent)
                .stroke_width(1.5)
                .label("Dashboard"),
            refract_compiler::icon!("box")
                .color("#ff0000")
                .absolute_stroke_width(),
            button(icon("plus").size(16)).child("Add"),
            // A size that follows a var makes the icon an island.
            icon("activity").size(Var::<u32>::state_var("dash_state", "icon_size")),
        )),
    );
    let files = project(&[page]);
    insta::assert_snapshot!("icons_page", files["src/pages/page_0.jsx"]);
    let deps = dependencies(&files);
    assert_eq!(deps["lucide-react"], "~1.81.0");
    // No content components: the runtime's code_block.jsx is a stub, its packages left out.
    assert!(files["src/refract/code_block.jsx"].contains("left out of this build"));
    for (package, _) in CONTENT_PACKAGES {
        assert!(deps.get(package).is_none(), "{package}");
    }
}

#[test]
#[should_panic(
    expected = "no icon named `arow-right` (names are kebab-case, as on https://lucide.dev/icons); did you mean arrow-right"
)]
fn an_unknown_icon_stops_the_app_with_close_names() {
    let _ = icon("arow-right");
}

#[test]
fn markdown_and_code_blocks_use_the_runtime_and_add_its_packages() {
    let notes: Var<String> = Var::state_var("dash_state", "notes");
    let code: Var<String> = Var::state_var("dash_state", "json");
    let page = Page::new(
        "/",
        vstack((
            markdown(&notes).prop("id", "notes"),
            markdown("plain *CommonMark*").gfm(false),
            code_block("fn main() {}\n", Language::Rust)
                .title("main.rs")
                .line_numbers(true),
            code_block(code, Language::Json).copy_button(false),
        )),
    );
    let files = project(&[page]);
    insta::assert_snapshot!("content_page", files["src/pages/page_0.jsx"]);
    let deps = dependencies(&files);
    for (package, version) in CONTENT_PACKAGES {
        assert_eq!(deps[package], *version, "{package}");
    }
    let module = &files["src/refract/code_block.jsx"];
    assert!(
        module.contains("export function CodeBlock(")
            && module.contains("export function MarkdownView(")
    );
    assert!(
        files["src/refract/react.jsx"]
            .contains("export { CodeBlock, MarkdownView } from \"./code_block.jsx\";")
    );
}

#[test]
fn content_inside_lists_and_conditions_is_found() {
    let items: Var<Vec<String>> = Var::state_var("s", "items");
    let in_list = Page::new("/", foreach(items, |item, _| markdown(item)));
    assert!(!project(&[in_list])["src/refract/code_block.jsx"].contains("left out"));
    let shown: Var<bool> = Var::state_var("s", "shown");
    let in_cond = Page::new("/", when(shown, code_block("x", Language::Plain)));
    assert!(!project(&[in_cond])["src/refract/code_block.jsx"].contains("left out"));
}

#[derive(Serialize)]
struct Quarter {
    quarter: &'static str,
    online: u32,
    store: u32,
}

#[derive(Serialize)]
struct Person {
    height: f64,
    weight: f64,
}

#[derive(Serialize)]
struct Point;

#[derive(Serialize)]
struct Share;

fn quarters() -> Vec<Quarter> {
    vec![
        Quarter {
            quarter: "Q1",
            online: 40,
            store: 24,
        },
        Quarter {
            quarter: "Q2",
            online: 30,
            store: 13,
        },
    ]
}

#[test]
fn charts_compile_to_recharts() {
    let points: Var<Vec<Point>> = Var::state_var("dash_state", "points");
    let shares: Var<Vec<Share>> = Var::state_var("dash_state", "shares");
    let page = Page::new(
        "/",
        vstack((
            line_chart(points.clone())
                .x("day")
                .line("visits", Paint::Indigo)
                .named("Visits")
                .line("signups", Paint::Teal)
                .height(240)
                .prop("id", "visits"),
            bar_chart(quarters())
                .x("quarter")
                .bar("online", Paint::Indigo)
                .bar("store", "#82ca9d")
                .stacked()
                .legend(false),
            area_chart(points)
                .x("day")
                .area("visits", Paint::Amber)
                .stacked()
                .grid(false)
                .animate(false),
            pie_chart(shares)
                .name_key("browser")
                .value_key("share")
                .colors([Paint::Blue, Paint::Orange])
                .donut()
                .labels(true),
            scatter_chart(vec![Person {
                height: 170.0,
                weight: 65.5,
            }])
            .x("height")
            .y("weight")
            .points("People", Paint::Crimson)
            .tooltip(false),
        )),
    );
    let files = project(&[page]);
    insta::assert_snapshot!("charts_page", files["src/pages/page_0.jsx"]);
    assert_eq!(dependencies(&files)["recharts"], "^3.11.1");
}

#[test]
#[should_panic(
    expected = "the chart's rows have no field `sales` (they have: online, quarter, store)"
)]
fn a_key_literal_rows_lack_stops_the_app() {
    let _ = refract_compiler::Node::from(
        bar_chart(quarters())
            .x("quarter")
            .bar("sales", Paint::Indigo),
    );
}

#[test]
#[should_panic(expected = "names the series before it")]
fn naming_needs_a_series() {
    let _ = line_chart(quarters()).named("Sales");
}

#[test]
fn text_beside_charts_still_renders() {
    // A chart is an ordinary node: it sits in stacks and conditions like any other.
    let page = Page::new(
        "/",
        vstack((
            text("Sales"),
            bar_chart(quarters())
                .x("quarter")
                .bar("online", Paint::Indigo),
        )),
    );
    assert!(
        project(&[page])["src/pages/page_0.jsx"]
            .contains("<RechartsBarChart data={[{\"quarter\":\"Q1\"")
    );
}
