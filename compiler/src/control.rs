//! Rendering control: what a page shows depending on vars. `foreach` renders a node per item
//! of a list var, `cond` and `when` pick a node by a bool var.

use std::rc::Rc;

use refract_core::{IntoVar, Var};

use crate::component::{Component, Element, Node, Source};

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
