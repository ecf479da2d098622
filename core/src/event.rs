//! Event specs: a call of one event handler (or a client action), with its arguments as
//! expressions, bound to an event trigger of a component or returned by a handler as a follow-up.
//!
//! `#[refract::handlers]` gives every handler an associated function of the same name that builds its
//! [`EventSpec`]: `CounterState::add(5)` or, for a trigger that carries a value,
//! `input().on_blur(GithubState::set_user)` (the trigger passes its value as the argument). The
//! client actions of [`crate::actions`] build specs too, named `_<action>`.
//!
//! A handler that returns specs (its *follow-ups*) gets them sent to the browser as
//! [`FollowUp`]s: the same call with its arguments as JSON values, which the browser runtime runs
//! next, in order, before any other queued event (see `docs/events.md`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

    /// Whether this is a client action (`_redirect`, …) rather than an event handler call.
    pub fn is_action(&self) -> bool {
        self.handler.starts_with('_')
    }

    /// The spec as a follow-up a handler returned: every argument must be a value, not an
    /// expression the browser would evaluate (a var, the trigger's value).
    ///
    /// # Errors
    /// A message naming the first argument that is not a JSON value.
    pub fn to_follow_up(&self) -> Result<FollowUp, String> {
        let args = self
            .args
            .iter()
            .map(|(name, expr)| {
                // A literal's JavaScript is its JSON text; anything else (a var, `_e.target.value`)
                // does not parse as JSON.
                serde_json::from_str(&expr.js).map(|v| (name.clone(), v)).map_err(|_| {
                    format!(
                        "`{}` returned with argument `{name}` = `{}`, an expression only a page can \
                         evaluate; a handler returns values",
                        self.handler, expr.js
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FollowUp {
            handler: self.handler.clone(),
            args,
        })
    }
}

/// One follow-up of a handler as the browser receives it (the `then` of `docs/protocol.md`): an
/// event handler call (`state_name.method`) or a client action (`_name`), with its arguments by
/// name as JSON values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// `state_name.method`, or `_action` for a client action.
    pub handler: String,
    /// The arguments by parameter name.
    #[serde(default)]
    pub args: Map<String, Value>,
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
    fn follow_ups_carry_values_and_refuse_expressions() {
        let f = add(5).to_follow_up().unwrap();
        assert_eq!(f.handler, "counter_state.add");
        assert_eq!(Value::Object(f.args), serde_json::json!({"n": 5}));
        let text = EventSpec::new("s.h")
            .arg::<String>("s", "a \"quoted\" </script>".into_var())
            .to_follow_up()
            .unwrap();
        assert_eq!(text.args["s"], "a \"quoted\" </script>");
        let err = add(Var::state_var("counter_state", "count"))
            .to_follow_up()
            .unwrap_err();
        assert!(
            err.contains("`n`") && err.contains("counter_state$count"),
            "{err}"
        );
        assert!(!add(1).is_action());
        assert!(EventSpec::new("_toast").is_action());
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
