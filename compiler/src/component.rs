//! The component tree pages are written in: elements with props, event triggers and children,
//! text, `foreach` over a list var and `cond` on a bool var.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use refract_core::{EventSpec, Expr, IntoEventChain, IntoValueEvents, IntoVar, Renderable, Var};
use serde::Serialize;

/// The fields of a submitted form, by input `name`: the value `on_submit` passes to its handler.
pub type FormData = HashMap<String, String>;

/// Where an element's React component comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A component of Radix Themes (`Flex`, `TextField.Root`, ...).
    Radix(&'static str),
    /// A plain HTML element (`img`, `form`, ...).
    Html(&'static str),
    /// React Router's `Link`, for links inside the app.
    RouterLink,
    /// `React.Fragment`: children with no element around them (what `foreach` and `cond` return).
    Fragment,
    /// A component of any npm package; see [`Component::external`].
    External(External),
}

/// A React component imported from an npm package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct External {
    /// The npm package, e.g. `react-markdown`.
    pub package: String,
    /// Its version range for `package.json`, e.g. `^9.0.0`.
    pub version: String,
    /// The exported name, or `None` for the default export.
    pub export: Option<String>,
    /// The local name the page uses (a valid JavaScript identifier, starting upper-case).
    pub local: String,
}

/// A prop set by a trigger: the JSX prop, what the trigger passes, and what the runtime does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trigger {
    /// The React prop, e.g. `onClick`.
    pub prop: &'static str,
    /// The handler calls, in order.
    pub events: Vec<EventSpec>,
    /// Call `preventDefault()` and reset the form (`on_submit`).
    pub form_submit: bool,
}

/// One element: its component, props, triggers and children.
#[derive(Clone, Debug)]
pub struct Component {
    pub(crate) source: Source,
    pub(crate) props: Vec<(String, Expr)>,
    pub(crate) triggers: Vec<Trigger>,
    pub(crate) children: Vec<Node>,
}

/// A node of a page: an element, text, a list or a conditional.
#[derive(Clone)]
pub enum Node {
    /// An element.
    Element(Component),
    /// Text: a literal, or a var shown as text.
    Text(Expr),
    /// One `body` per item of `list`; see [`foreach`].
    Foreach {
        /// The list.
        list: Expr,
        /// Builds an item's node from the item and index vars.
        body: Rc<dyn Fn(Expr, Expr) -> Node>,
    },
    /// `then` when `condition` holds, else `otherwise`; see [`cond`].
    Cond {
        /// The condition.
        condition: Expr,
        /// Shown when it holds.
        then: Box<Node>,
        /// Shown when it does not.
        otherwise: Option<Box<Node>>,
    },
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Element(c) => c.fmt(f),
            Node::Text(e) => write!(f, "Text({})", e.js),
            Node::Foreach { list, .. } => write!(f, "Foreach({})", list.js),
            Node::Cond { condition, .. } => write!(f, "Cond({})", condition.js),
        }
    }
}

impl From<Component> for Node {
    fn from(c: Component) -> Node {
        Node::Element(c)
    }
}

impl<T: Renderable> From<T> for Node {
    fn from(t: T) -> Node {
        Node::Text(t.into_text_expr())
    }
}

/// A prop value: a literal or a var.
pub trait IntoProp {
    /// The prop's expression.
    fn into_prop(self) -> Expr;
}

impl<T> IntoProp for Var<T> {
    fn into_prop(self) -> Expr {
        self.into_expr()
    }
}

impl<T> IntoProp for &Var<T> {
    fn into_prop(self) -> Expr {
        self.expr().clone()
    }
}

macro_rules! literal_props {
    ($($t:ty),*) => {$(
        impl IntoProp for $t {
            fn into_prop(self) -> Expr { Expr::literal(&self) }
        }
    )*};
}
literal_props!(&str, String, bool, i32, i64, u32, u64, f64);

impl Component {
    fn new(source: Source) -> Self {
        Component {
            source,
            props: Vec::new(),
            triggers: Vec::new(),
            children: Vec::new(),
        }
    }

    /// A Radix Themes component by its JSX name (`"Card"`, `"Tabs.Root"`).
    pub fn radix(name: &'static str) -> Self {
        Component::new(Source::Radix(name))
    }

    /// A plain HTML element (`"section"`, `"img"`).
    pub fn html(tag: &'static str) -> Self {
        Component::new(Source::Html(tag))
    }

    /// Any React component from npm: `package` at `version` (added to the app's `package.json`;
    /// `npm install` reruns when it changes), `export` its exported name (`None`: the default
    /// export), shown in the page as `local` (a JavaScript identifier starting upper-case).
    /// Props and children work as for built-in components:
    ///
    /// ```
    /// # use refract_compiler::Component;
    /// let md = Component::external("react-markdown", "^9.0.0", None, "Markdown").child("**bold**");
    /// ```
    pub fn external(package: &str, version: &str, export: Option<&str>, local: &str) -> Self {
        Component::new(Source::External(External {
            package: package.to_owned(),
            version: version.to_owned(),
            export: export.map(str::to_owned),
            local: local.to_owned(),
        }))
    }

    /// Sets the React prop `name` (camelCase, as React spells it) to a literal or a var.
    pub fn prop(mut self, name: &str, value: impl IntoProp) -> Self {
        self.props.retain(|(n, _)| n != name);
        self.props.push((name.to_owned(), value.into_prop()));
        self
    }

    /// Appends a child: a component, text, or a var shown as text.
    pub fn child(mut self, child: impl Into<Node>) -> Self {
        self.children.push(child.into());
        self
    }

    /// Appends children.
    pub fn children<N: Into<Node>>(mut self, children: impl IntoIterator<Item = N>) -> Self {
        self.children.extend(children.into_iter().map(Into::into));
        self
    }

    fn trigger(mut self, prop: &'static str, events: Vec<EventSpec>, form_submit: bool) -> Self {
        self.triggers.retain(|t| t.prop != prop);
        self.triggers.push(Trigger {
            prop,
            events,
            form_submit,
        });
        self
    }

    /// Runs handlers when the element is clicked: `button("+").on_click(CounterState::increment)`.
    pub fn on_click(self, events: impl IntoEventChain) -> Self {
        self.trigger("onClick", events.into_chain(), false)
    }

    /// Runs handlers on each change of an input, passing its text:
    /// `input().on_change(FormState::set_name)`.
    pub fn on_change(self, events: impl IntoValueEvents<String>) -> Self {
        let events = events.into_chain(Var::raw("_e.target.value"));
        self.trigger("onChange", events, false)
    }

    /// Runs handlers when an input loses focus, passing its text.
    pub fn on_blur(self, events: impl IntoValueEvents<String>) -> Self {
        let events = events.into_chain(Var::raw("_e.target.value"));
        self.trigger("onBlur", events, false)
    }

    /// Runs handlers when a checkbox is ticked or cleared, passing whether it is now ticked.
    pub fn on_checked_change(self, events: impl IntoValueEvents<bool>) -> Self {
        let events = events.into_chain(Var::raw("(_e === true)"));
        self.trigger("onCheckedChange", events, false)
    }

    /// Runs handlers when a form is submitted (a submit button, or Enter in an input), passing its
    /// fields by input name ([`FormData`]); the page does not reload and the form is cleared.
    pub fn on_submit(self, events: impl IntoValueEvents<FormData>) -> Self {
        let events = events.into_chain(Var::raw("formData(_e)"));
        self.trigger("onSubmit", events, true)
    }
}

fn text_prop(c: Component, name: &str, value: impl IntoProp) -> Component {
    c.prop(name, value)
}

/// A vertical stack (Radix `Flex`, column, gap 3).
pub fn vstack<N: Into<Node>>(children: impl IntoIterator<Item = N>) -> Component {
    Component::radix("Flex")
        .prop("direction", "column")
        .prop("gap", "3")
        .children(children)
}

/// A horizontal stack (Radix `Flex`, row, gap 3, centred on the cross axis).
pub fn hstack<N: Into<Node>>(children: impl IntoIterator<Item = N>) -> Component {
    Component::radix("Flex")
        .prop("direction", "row")
        .prop("gap", "3")
        .prop("align", "center")
        .children(children)
}

/// A plain box (Radix `Box`). Named `r#box` because `box` is reserved in Rust.
pub fn r#box<N: Into<Node>>(children: impl IntoIterator<Item = N>) -> Component {
    Component::radix("Box").children(children)
}

/// A heading (Radix `Heading`) showing `content`.
pub fn heading(content: impl Into<Node>) -> Component {
    Component::radix("Heading").child(content)
}

/// Text (Radix `Text`) showing `content`.
pub fn text(content: impl Into<Node>) -> Component {
    Component::radix("Text").child(content)
}

/// A button (Radix `Button`) labelled `label`.
pub fn button(label: impl Into<Node>) -> Component {
    Component::radix("Button").child(label)
}

/// A text input (Radix `TextField.Root`). Set `placeholder`, `name` (its key in a form's
/// [`FormData`]) and `defaultValue` with [`Component::prop`] or the helpers below.
pub fn input() -> Component {
    Component::radix("TextField.Root")
}

impl Component {
    /// The input's placeholder.
    pub fn placeholder(self, value: impl IntoProp) -> Self {
        text_prop(self, "placeholder", value)
    }
    /// The input's name in its form.
    pub fn name(self, value: impl IntoProp) -> Self {
        text_prop(self, "name", value)
    }
    /// Radix size, `"1"` to `"9"` depending on the component.
    pub fn size(self, value: impl IntoProp) -> Self {
        text_prop(self, "size", value)
    }
    /// Radix variant `soft` (buttons, badges).
    pub fn variant_soft(self) -> Self {
        text_prop(self, "variant", "soft")
    }
    /// Radix colour, e.g. `"crimson"`.
    pub fn color(self, value: impl IntoProp) -> Self {
        text_prop(self, "color", value)
    }
}

/// A link showing `content`: to a route of the app when `href` starts with `/` (no page reload),
/// else to another site.
pub fn link(content: impl Into<Node>, href: &str) -> Component {
    if href.starts_with('/') && !href.starts_with("//") {
        Component::radix("Link").prop("asChild", true).child(
            Component::new(Source::RouterLink)
                .prop("to", href)
                .child(content),
        )
    } else {
        Component::radix("Link").prop("href", href).child(content)
    }
}

/// A link whose target is a var (always treated as another site's address).
pub fn link_to(content: impl Into<Node>, href: impl IntoProp) -> Component {
    Component::radix("Link").prop("href", href).child(content)
}

/// An avatar (Radix `Avatar`) showing the image at `src`, or `fallback` while it loads or fails.
pub fn avatar(src: impl IntoProp, fallback: &str) -> Component {
    Component::radix("Avatar")
        .prop("src", src)
        .prop("fallback", fallback)
}

/// An image (`<img>`) at `src` with the text alternative `alt`.
pub fn image(src: impl IntoProp, alt: impl IntoProp) -> Component {
    Component::html("img").prop("src", src).prop("alt", alt)
}

/// A checkbox (Radix `Checkbox`) ticked when `checked` holds; see
/// [`Component::on_checked_change`].
pub fn checkbox(checked: impl IntoVar<bool>) -> Component {
    Component::radix("Checkbox").prop("checked", checked.into_var())
}

/// A form (`<form>`); see [`Component::on_submit`].
pub fn form<N: Into<Node>>(children: impl IntoIterator<Item = N>) -> Component {
    Component::html("form").children(children)
}

/// One node per item of `list`: `body` gets the item and its index as vars. React keys are the
/// indexes.
pub fn foreach<T: 'static, N: Into<Node>>(
    list: Var<Vec<T>>,
    body: impl Fn(Var<T>, Var<i64>) -> N + 'static,
) -> Component {
    Component::new(Source::Fragment).child(Node::Foreach {
        list: list.into_expr(),
        body: Rc::new(move |item, index| body(Var::from_expr(item), Var::from_expr(index)).into()),
    })
}

/// `then` while `condition` holds, else `otherwise`.
pub fn cond(
    condition: impl IntoVar<bool>,
    then: impl Into<Node>,
    otherwise: impl Into<Node>,
) -> Component {
    conditional(condition, then.into(), Some(otherwise.into()))
}

/// `then` while `condition` holds, else nothing.
pub fn when(condition: impl IntoVar<bool>, then: impl Into<Node>) -> Component {
    conditional(condition, then.into(), None)
}

fn conditional(condition: impl IntoVar<bool>, then: Node, otherwise: Option<Node>) -> Component {
    Component::new(Source::Fragment).child(Node::Cond {
        condition: condition.into_var().into_expr(),
        then: Box::new(then),
        otherwise: otherwise.map(Box::new),
    })
}

/// A literal JSON value as a prop (for props of complex shape, such as a chart's data).
pub fn json_prop<T: Serialize>(value: &T) -> Var<T> {
    Var::from_expr(Expr::literal(value))
}
