//! The component tree pages are written in: elements with props, event triggers and children,
//! text, `foreach` over a list var and `cond` on a bool var.

use std::fmt;

use refract_core::{EventSpec, Expr, Form, IntoEventChain, IntoValueEvents, Renderable, Var};

use crate::control::{Body, Key};

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
    /// A component of Refract's browser runtime (`ColorModeToggle`).
    Runtime(&'static str),
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

/// When a trigger fires: a React prop of the element (`onClick`, `onValueChange`), or the
/// element's mounting or unmounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fires {
    /// The React prop (a callback) named so.
    Prop(String),
    /// When the element is first shown.
    Mount,
    /// When the element is removed from the page.
    Unmount,
}

/// How the runtime runs a trigger's events: the DOM event's default and propagation, and its
/// rate (see [`Component::debounce`], [`Component::throttle`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Modifiers {
    /// Call the event's `preventDefault()`.
    pub prevent_default: bool,
    /// Call the event's `stopPropagation()`.
    pub stop_propagation: bool,
    /// Reset the form that fired (`on_submit`).
    pub reset: bool,
    /// Queue the events only once the trigger has been quiet this long (ms), with the values of
    /// its last firing.
    pub debounce_ms: Option<u32>,
    /// Queue the events at most once per this many ms (the first firing at once, the last of a
    /// window at its end).
    pub throttle_ms: Option<u32>,
}

/// How long an input's `on_change` waits for the typing to pause before its events are sent, by
/// default: typing does not send an event per key.
pub const INPUT_DEBOUNCE_MS: u32 = 300;

/// An event trigger: when it fires, the handler calls and client actions it queues, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trigger {
    /// When it fires.
    pub fires: Fires,
    /// The handler calls and client actions, in order.
    pub events: Vec<EventSpec>,
    /// How they are queued.
    pub modifiers: Modifiers,
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
    /// One `body` per item of `list`; see [`foreach`](crate::foreach).
    Foreach {
        /// The list.
        list: Expr,
        /// Builds an item's node from the item and index vars.
        body: Body,
        /// Builds an item's React key from the item var (`None`: the index).
        key: Option<Key>,
    },
    /// The node of the first case equal to `value`, else `default`; see
    /// [`match_var`](crate::match_var).
    Match {
        /// The value compared.
        value: Expr,
        /// The cases: a value (a JSON literal) and its node.
        cases: Vec<(Expr, Node)>,
        /// Shown when no case is equal.
        default: Option<Box<Node>>,
    },
    /// `then` when `condition` holds, else `otherwise`; see [`cond`](crate::cond).
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
            Node::Match { value, .. } => write!(f, "Match({})", value.js),
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
    pub(crate) fn new(source: Source) -> Self {
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
    /// # use refract_compiler::{Component, Element};
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

    /// Sets the prop `name` to `value`, replacing an earlier value.
    pub(crate) fn set_prop(&mut self, name: &str, value: Expr) {
        self.props.retain(|(n, _)| n != name);
        self.props.push((name.to_owned(), value));
    }

    /// Binds `events` to `fires`, replacing what was bound to it.
    ///
    /// # Panics
    /// When two of `events` take the files of one upload zone (see
    /// [`crate::upload::check_zone_takers`]): pages are built when the app starts.
    fn add_trigger(&mut self, fires: Fires, events: Vec<EventSpec>, modifiers: Modifiers) {
        crate::upload::check_zone_takers(&events);
        self.triggers.retain(|t| t.fires != fires);
        self.triggers.push(Trigger {
            fires,
            events,
            modifiers,
        });
    }

    /// Changes the modifiers of the trigger added last.
    ///
    /// # Panics
    /// When no trigger was added yet, or the last is `on_mount`/`on_unmount` (a page is built
    /// when the app starts: this fails at once).
    fn modify(&mut self, what: &str, change: impl FnOnce(&mut Modifiers)) {
        let Some(last) = self.triggers.last_mut() else {
            panic!("`.{what}()` modifies the trigger before it: add one first (`.on_click(..)`)");
        };
        assert!(
            matches!(last.fires, Fires::Prop(_)),
            "`.{what}()` modifies an event prop's trigger, not `on_mount` or `on_unmount`"
        );
        change(&mut last.modifiers);
    }
}

impl Element for Component {
    fn element(&mut self) -> &mut Component {
        self
    }
}

/// What every element of a page offers, whatever its component: props, children, event triggers
/// and their modifiers. [`Component`] and every typed component (`Button`, `Select`, …)
/// implement it, so `button("Save").on_click(S::save).prop("id", "save")` works on all of them.
pub trait Element: Sized {
    /// The element being built.
    fn element(&mut self) -> &mut Component;

    /// Sets the React prop `name` (camelCase, as React spells it) to a literal or a var: the
    /// escape hatch for a prop the typed builder does not offer.
    fn prop(mut self, name: &str, value: impl IntoProp) -> Self {
        self.element().set_prop(name, value.into_prop());
        self
    }

    /// Appends a child: a component, text, or a var shown as text.
    fn child(mut self, child: impl Into<Node>) -> Self {
        self.element().children.push(child.into());
        self
    }

    /// Appends children: an array or `Vec` of one kind, or a tuple of different kinds
    /// (`(heading("Hi"), button("Go"))`).
    fn children(mut self, children: impl Children) -> Self {
        self.element().children.extend(children.into_nodes());
        self
    }

    /// Binds the event prop `prop` of any component (a Radix part's `onValueChange`, an npm
    /// component's `onSelect`) to handlers and client actions. The prop's callback is given a
    /// value (its first argument), which a handler's builder takes as its argument, decoded on the
    /// server into the parameter's type: `select.on("onValueChange", PickState::pick)` for
    /// `pub fn pick(&mut self, choice: String)`. For DOM events (`onClick`), whose argument is
    /// no value, use the helpers (`on_click`, …) or a closure ignoring it.
    ///
    /// # Panics
    /// When `prop` is not a React event prop (`on` followed by an upper-case letter, then letters
    /// and digits): pages are built when the app starts, so this fails at once.
    fn on<V>(mut self, prop: &str, events: impl IntoValueEvents<V>) -> Self {
        let mut chars = prop.chars();
        let valid = prop.starts_with("on")
            && chars.nth(2).is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_alphanumeric());
        assert!(
            valid,
            "`{prop}` is no React event prop (such as `onValueChange`)"
        );
        let events = events.into_chain(Var::raw("_e"));
        self.element()
            .add_trigger(Fires::Prop(prop.to_owned()), events, Modifiers::default());
        self
    }

    /// Runs handlers when the element is clicked: `button("+").on_click(CounterState::increment)`.
    fn on_click(self, events: impl IntoEventChain) -> Self {
        on_prop(self, "onClick", events.into_chain())
    }

    /// Runs handlers when the element is double-clicked.
    fn on_double_click(self, events: impl IntoEventChain) -> Self {
        on_prop(self, "onDoubleClick", events.into_chain())
    }

    /// Runs handlers on each change of an input, passing its text:
    /// `input().on_change(FormState::set_name)`. Debounced by [`INPUT_DEBOUNCE_MS`] (300 ms): the
    /// text is sent once typing pauses (`.debounce(0)` sends every change).
    fn on_change(mut self, events: impl IntoValueEvents<String>) -> Self {
        let events = events.into_chain(Var::raw("_e.target.value"));
        let modifiers = Modifiers {
            debounce_ms: Some(INPUT_DEBOUNCE_MS),
            ..Modifiers::default()
        };
        self.element()
            .add_trigger(Fires::Prop("onChange".into()), events, modifiers);
        self
    }

    /// Runs handlers when an input loses focus, passing its text.
    fn on_blur(self, events: impl IntoValueEvents<String>) -> Self {
        on_prop(
            self,
            "onBlur",
            events.into_chain(Var::raw("_e.target.value")),
        )
    }

    /// Runs handlers when the element gets the focus.
    fn on_focus(self, events: impl IntoEventChain) -> Self {
        on_prop(self, "onFocus", events.into_chain())
    }

    /// Runs handlers when a key is pressed in the element, passing the key's name as the browser
    /// gives it (`"Enter"`, `"a"`, `"ArrowUp"`).
    fn on_key_down(self, events: impl IntoValueEvents<String>) -> Self {
        on_prop(self, "onKeyDown", events.into_chain(Var::raw("_e.key")))
    }

    /// Runs handlers when a key is released in the element, passing the key's name.
    fn on_key_up(self, events: impl IntoValueEvents<String>) -> Self {
        on_prop(self, "onKeyUp", events.into_chain(Var::raw("_e.key")))
    }

    /// Runs handlers when the pointer enters the element.
    fn on_mouse_enter(self, events: impl IntoEventChain) -> Self {
        on_prop(self, "onMouseEnter", events.into_chain())
    }

    /// Runs handlers when the pointer leaves the element.
    fn on_mouse_leave(self, events: impl IntoEventChain) -> Self {
        on_prop(self, "onMouseLeave", events.into_chain())
    }

    /// Runs handlers when the element scrolls, passing its scroll offset from the top in CSS
    /// pixels. Throttle it (`.throttle(100)`): browsers fire it for every frame.
    fn on_scroll(self, events: impl IntoValueEvents<f64>) -> Self {
        let events = events.into_chain(Var::raw("_e.currentTarget.scrollTop"));
        on_prop(self, "onScroll", events)
    }

    /// Runs handlers when the element is first shown (on each page visit that shows it).
    fn on_mount(mut self, events: impl IntoEventChain) -> Self {
        self.element()
            .add_trigger(Fires::Mount, events.into_chain(), Modifiers::default());
        self
    }

    /// Runs handlers when the element is removed from the page (another page opened, a `cond`
    /// hid it); their arguments are read at that moment.
    fn on_unmount(mut self, events: impl IntoEventChain) -> Self {
        self.element()
            .add_trigger(Fires::Unmount, events.into_chain(), Modifiers::default());
        self
    }

    /// Runs handlers when a checkbox or switch is ticked or cleared, passing whether it is now
    /// ticked.
    fn on_checked_change(self, events: impl IntoValueEvents<bool>) -> Self {
        let events = events.into_chain(Var::raw("(_e === true)"));
        on_prop(self, "onCheckedChange", events)
    }

    /// Runs handlers when a form is submitted (a submit button, or Enter in an input), passing its
    /// fields by control name as a [`Form<T>`](refract_core::Form): any `Deserialize` struct
    /// (numbers parsed, a checkbox or switch a `bool`, a multi-select a `Vec`, an empty field an
    /// `Option`'s `None`) or [`FormData`](refract_core::FormData) (texts by name). A field that
    /// does not fit is refused (`bad_arguments` naming the field). The page does not reload and
    /// the form is cleared.
    fn on_submit<T>(mut self, events: impl IntoValueEvents<Form<T>>) -> Self {
        let events = events.into_chain(Var::raw("formData(_e)"));
        let modifiers = Modifiers {
            prevent_default: true,
            reset: true,
            ..Modifiers::default()
        };
        self.element()
            .add_trigger(Fires::Prop("onSubmit".into()), events, modifiers);
        self
    }

    /// The trigger added last also calls the DOM event's `preventDefault()` (a link that should
    /// not navigate, a key that should not type).
    ///
    /// # Panics
    /// When no trigger was added before it.
    fn prevent_default(mut self) -> Self {
        self.element()
            .modify("prevent_default", |m| m.prevent_default = true);
        self
    }

    /// The trigger added last also calls the DOM event's `stopPropagation()`, so the triggers of
    /// the elements around this one do not fire.
    ///
    /// # Panics
    /// When no trigger was added before it.
    fn stop_propagation(mut self) -> Self {
        self.element()
            .modify("stop_propagation", |m| m.stop_propagation = true);
        self
    }

    /// The trigger added last queues its events only once it has not fired for `ms`
    /// milliseconds, with the values of its last firing: `input().on_change(S::search).debounce(500)`
    /// sends one event when typing pauses. `0` turns debouncing off.
    ///
    /// # Panics
    /// When no trigger was added before it.
    fn debounce(mut self, ms: u32) -> Self {
        self.element()
            .modify("debounce", |m| m.debounce_ms = (ms > 0).then_some(ms));
        self
    }

    /// The trigger added last queues its events at most once every `ms` milliseconds: at once
    /// when it first fires, then with the values of its last firing at the end of each window in
    /// which it fired again. `0` turns throttling off.
    ///
    /// # Panics
    /// When no trigger was added before it.
    fn throttle(mut self, ms: u32) -> Self {
        self.element()
            .modify("throttle", |m| m.throttle_ms = (ms > 0).then_some(ms));
        self
    }
}

/// Binds the event prop `prop` of `el` to `events`, without modifiers.
fn on_prop<E: Element>(mut el: E, prop: &str, events: Vec<EventSpec>) -> E {
    el.element()
        .add_trigger(Fires::Prop(prop.to_owned()), events, Modifiers::default());
    el
}

/// The children of an element: an array or `Vec` of nodes of one kind, a tuple (up to 16) of
/// nodes of different kinds, or `()` for none.
pub trait Children {
    /// The nodes, in order.
    fn into_nodes(self) -> Vec<Node>;
}

impl<N: Into<Node>, const K: usize> Children for [N; K] {
    fn into_nodes(self) -> Vec<Node> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<N: Into<Node>> Children for Vec<N> {
    fn into_nodes(self) -> Vec<Node> {
        self.into_iter().map(Into::into).collect()
    }
}

macro_rules! tuple_children {
    ($($name:ident)*) => {
        impl<$($name: Into<Node>),*> Children for ($($name,)*) {
            #[allow(non_snake_case)]
            fn into_nodes(self) -> Vec<Node> {
                let ($($name,)*) = self;
                vec![$($name.into()),*]
            }
        }
    };
}
tuple_children!();
tuple_children!(A);
tuple_children!(A B);
tuple_children!(A B C);
tuple_children!(A B C D);
tuple_children!(A B C D E);
tuple_children!(A B C D E F);
tuple_children!(A B C D E F G);
tuple_children!(A B C D E F G H);
tuple_children!(A B C D E F G H I);
tuple_children!(A B C D E F G H I J);
tuple_children!(A B C D E F G H I J K);
tuple_children!(A B C D E F G H I J K L);
tuple_children!(A B C D E F G H I J K L M);
tuple_children!(A B C D E F G H I J K L M N);
tuple_children!(A B C D E F G H I J K L M N O);
tuple_children!(A B C D E F G H I J K L M N O P);
