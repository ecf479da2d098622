//! Event specs: a call of one event handler, with its arguments as expressions, bound to an event
//! trigger of a component.
//!
//! `#[refract::handlers]` gives every handler an associated function of the same name that builds its
//! [`EventSpec`]: `CounterState::add(5)` or, for a trigger that carries a value,
//! `input().on_blur(GithubState::set_user)` (the trigger passes its value as the argument).

use crate::var::{Expr, Var};

/// A call of the event handler `handler` (`state_name.method`) with named argument expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    /// `state_name.method_name`.
    pub handler: String,
    /// The handler's parameters by name, each an expression evaluated in the browser when the
    /// trigger fires.
    pub args: Vec<(String, Expr)>,
}

impl EventSpec {
    /// A call of `handler` with no arguments yet.
    pub fn new(handler: impl Into<String>) -> Self {
        EventSpec {
            handler: handler.into(),
            args: Vec::new(),
        }
    }

    /// Adds the argument `name`.
    pub fn arg<T>(mut self, name: &str, value: Var<T>) -> Self {
        self.args.push((name.to_owned(), value.into_expr()));
        self
    }
}

/// What a trigger without a value (`on_click`) accepts: one spec, several (run in order), or a
/// handler's spec builder that takes no argument (`CounterState::increment`).
pub trait IntoEventChain {
    /// The specs, in the order they run.
    fn into_chain(self) -> Vec<EventSpec>;
}

impl IntoEventChain for EventSpec {
    fn into_chain(self) -> Vec<EventSpec> {
        vec![self]
    }
}

impl IntoEventChain for Vec<EventSpec> {
    fn into_chain(self) -> Vec<EventSpec> {
        self
    }
}

impl<F: FnOnce() -> EventSpec> IntoEventChain for F {
    fn into_chain(self) -> Vec<EventSpec> {
        vec![self()]
    }
}

/// What a trigger carrying a value of type `V` accepts (`on_change`, `on_blur`, `on_submit`): a
/// spec builder taking that value (`TodoState::set_text`), a closure building specs from it, or
/// fixed specs that ignore it.
pub trait IntoValueEvents<V> {
    /// The specs, given the trigger's value.
    fn into_chain(self, value: Var<V>) -> Vec<EventSpec>;
}

impl<V> IntoValueEvents<V> for EventSpec {
    fn into_chain(self, _value: Var<V>) -> Vec<EventSpec> {
        vec![self]
    }
}

impl<V> IntoValueEvents<V> for Vec<EventSpec> {
    fn into_chain(self, _value: Var<V>) -> Vec<EventSpec> {
        self
    }
}

impl<V, F: FnOnce(Var<V>) -> EventSpec> IntoValueEvents<V> for F {
    fn into_chain(self, value: Var<V>) -> Vec<EventSpec> {
        vec![self(value)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::var::IntoVar;

    fn add(n: impl IntoVar<i64>) -> EventSpec {
        EventSpec::new("counter_state.add").arg("n", n.into_var())
    }

    fn increment() -> EventSpec {
        EventSpec::new("counter_state.increment")
    }

    #[test]
    fn builders_and_chains() {
        assert_eq!(
            IntoEventChain::into_chain(increment)[0].handler,
            "counter_state.increment"
        );
        let bound = add(5);
        assert_eq!(bound.args, vec![("n".to_owned(), Expr::literal(&5))]);
        let from_value = IntoValueEvents::into_chain(add, Var::raw("Number(_e.target.value)"));
        assert_eq!(from_value[0].args[0].1.js, "Number(_e.target.value)");
        assert_eq!(
            IntoEventChain::into_chain(vec![increment(), add(1)]).len(),
            2
        );
    }
}
