//! Rendering control: what a page shows depending on vars. [`foreach`] renders a node per item
//! of a list var ([`foreach_keyed`] with keys that keep each item's elements across changes,
//! [`foreach_entries`] per entry of a map var); [`cond`] and [`when`] pick a node by a bool var;
//! [`match_var`] picks one by a var's value.
//!
//! Each item of a list renders as its own memoised component: when one item of a 1,000-item
//! list changes, only that item's elements render again (the runtime keeps the identity of the
//! items that did not change, see `share` in `runtime/client.js`).

use std::marker::PhantomData;
use std::rc::Rc;

use refract_core::{Expr, IntoVar, OPS, StringMap, Var};
use serde::Serialize;

use crate::component::{Component, Element, Node, Source};

/// Builds an item's node from the item and index expressions.
pub(crate) type Body = Rc<dyn Fn(Expr, Expr) -> Node>;
/// Builds an item's React key from the item expression.
pub(crate) type Key = Rc<dyn Fn(Expr) -> Expr>;

/// One node per item of `list`: `body` gets the item and its index (from 0) as vars:
///
/// ```
/// # use refract_compiler::{foreach, text};
/// # use refract_core::{Var, format_var};
/// let names: Var<Vec<String>> = Var::state_var("people", "names");
/// let list = foreach(names, |name, i| text(format_var!("{}. {}", i + 1, name)));
/// ```
///
/// React tells the items apart by their index: when items are inserted, removed or reordered,
/// use [`foreach_keyed`] so each keeps its elements (an input's focus, an open menu).
pub fn foreach<T: 'static, N: Into<Node>>(
    list: Var<Vec<T>>,
    body: impl Fn(Var<T>, Var<i64>) -> N + 'static,
) -> Component {
    list_of(list.into_expr(), body, None)
}

/// [`foreach`] with each item keyed by `key(item)` (an id field, say), shown as text; keys must
/// be unique within the list:
///
/// ```
/// # use refract_compiler::{foreach_keyed, text};
/// # use refract_core::Var;
/// # #[derive(serde::Serialize)] struct Todo;
/// let todos: Var<Vec<Todo>> = Var::state_var("todos", "items");
/// let list = foreach_keyed(todos, |t| t.field::<u64>("id"), |t, _| text(t.field::<String>("title")));
/// ```
pub fn foreach_keyed<T: 'static, K, N: Into<Node>>(
    list: Var<Vec<T>>,
    key: impl Fn(Var<T>) -> Var<K> + 'static,
    body: impl Fn(Var<T>, Var<i64>) -> N + 'static,
) -> Component {
    let key: Key = Rc::new(move |item| key(Var::from_expr(item)).into_expr());
    list_of(list.into_expr(), body, Some(key))
}

fn list_of<T, N: Into<Node>>(
    list: Expr,
    body: impl Fn(Var<T>, Var<i64>) -> N + 'static,
    key: Option<Key>,
) -> Component {
    Component::new(Source::Fragment).child(Node::Foreach {
        list,
        body: Rc::new(move |item, index| body(Var::from_expr(item), Var::from_expr(index)).into()),
        key,
    })
}

/// One node per entry of the map `map`, in the order of the keys (by code point, as a
/// `BTreeMap` iterates, so a `HashMap` shows in a stable order too), keyed by the entry's key:
/// `body` gets the key and the value as vars. An entry whose value did not change does not
/// render again.
pub fn foreach_entries<M: StringMap + 'static, N: Into<Node>>(
    map: Var<M>,
    body: impl Fn(Var<String>, Var<M::Value>) -> N + 'static,
) -> Component {
    // The runtime keeps each entry's pair while its value is unchanged, so its row is skipped.
    let list = Expr {
        js: format!("{OPS}entries({})", map.js()),
        deps: map.expr().deps.clone(),
    };
    let part = |item: &Expr, i: usize| Expr {
        js: format!("{}[{i}]", item.js),
        deps: item.deps.clone(),
    };
    let body = move |entry: Var<(String, M::Value)>, _| {
        let entry = entry.into_expr();
        body(
            Var::from_expr(part(&entry, 0)),
            Var::from_expr(part(&entry, 1)),
        )
    };
    list_of(list, body, Some(Rc::new(move |item| part(&item, 0))))
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

/// A node chosen by the value of a var; see [`match_var`]. Converts into a [`Node`].
pub struct Match<T> {
    value: Expr,
    cases: Vec<(Expr, Node)>,
    default: Option<Box<Node>>,
    _value: PhantomData<fn() -> T>,
}

/// Shows the node of the first case equal to `value`, else the default (or nothing):
///
/// ```
/// # use refract_compiler::{match_var, text};
/// # use refract_core::Var;
/// let status: Var<String> = Var::state_var("upload", "status");
/// let shown = match_var(status)
///     .case("done".to_owned(), text("Uploaded"))
///     .case("failed".to_owned(), text("Failed"))
///     .default(text("Uploading…"));
/// ```
///
/// Cases compare with JavaScript's `===` on the JSON of the values: use strings (unit enum
/// variants serialise as strings), numbers and booleans; an object or list never matches.
pub fn match_var<T: Serialize>(value: impl IntoVar<T>) -> Match<T> {
    Match {
        value: value.into_var().into_expr(),
        cases: Vec::new(),
        default: None,
        _value: PhantomData,
    }
}

impl<T: Serialize> Match<T> {
    /// Shows `node` when the value equals `case` (the first equal case wins).
    pub fn case(mut self, case: T, node: impl Into<Node>) -> Self {
        self.cases.push((Expr::literal(&case), node.into()));
        self
    }

    /// Shows `node` when no case equals the value (without it: nothing).
    pub fn default(mut self, node: impl Into<Node>) -> Self {
        self.default = Some(Box::new(node.into()));
        self
    }
}

impl<T> From<Match<T>> for Node {
    fn from(m: Match<T>) -> Node {
        Node::Match {
            value: m.value,
            cases: m.cases,
            default: m.default,
        }
    }
}
