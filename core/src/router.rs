//! Vars of the page's location, for pages: the path, the route's params and the query string, as
//! React Router sees them in the browser (they change on client-side navigation without a
//! server round trip), and whether the tab has its state from the server yet. Handlers read the
//! same values from their [`EventContext`](crate::EventContext).
//!
//! They read a pseudo-state, [`ROUTER`], that the compiler binds to the browser's location
//! instead of the server's state.

use crate::var::{Expr, Var};

/// The name of the pseudo-state that router vars read (`__router`): no app state has it (state
/// names are snake case identifiers, without leading underscores).
pub const ROUTER: &str = "__router";

/// The page's path, e.g. `/posts/2`.
pub fn path() -> Var<String> {
    Var::state_var(ROUTER, "path")
}

/// The route param `name` of the page (`id` of `/posts/:id`, `*` for a splat), or `""` when the
/// route has none of that name.
pub fn param(name: &str) -> Var<String> {
    lookup("params", name)
}

/// The query string's value `name` (`q` of `?q=rust`; the first when repeated), or `""` when
/// absent.
pub fn query(name: &str) -> Var<String> {
    lookup("query", name)
}

/// Whether the tab has its state from the server (its first `hydrate` arrived, and it is
/// connected): `false` while the page shows the build's default values, so a page can show a
/// spinner instead. A page's `on_load` events may still be running when it turns `true`.
pub fn is_hydrated() -> Var<bool> {
    Var::state_var(ROUTER, "hydrated")
}

fn lookup(var: &str, name: &str) -> Var<String> {
    let map = Var::<()>::state_var(ROUTER, var).into_expr();
    let key = Expr::literal(name);
    Var::from_expr(Expr {
        js: format!(
            "(Object.hasOwn({m}, {k}) ? {m}[{k}] : \"\")",
            m = map.js,
            k = key.js
        ),
        deps: map.deps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dep;

    #[test]
    fn router_vars_read_the_pseudo_state() {
        let id = param("id");
        assert_eq!(
            id.js(),
            r#"(Object.hasOwn(__router$params, "id") ? __router$params["id"] : "")"#
        );
        assert!(id.expr().deps.contains(&Dep::State {
            state: ROUTER.into(),
            var: "params".into()
        }));
        assert_eq!(
            query("q").js(),
            r#"(Object.hasOwn(__router$query, "q") ? __router$query["q"] : "")"#
        );
        assert_eq!(path().js(), "__router$path");
        assert_eq!(is_hydrated().js(), "__router$hydrated");
    }
}
