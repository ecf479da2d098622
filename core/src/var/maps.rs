//! Operations on maps with string keys (`HashMap<String, V>`, `BTreeMap<String, V>`), which are
//! JSON objects in the browser.
//!
//! [`keys`](Var::keys) and [`values`](Var::values) are in the order of the keys, compared as Rust
//! compares strings (by code point): a `BTreeMap`'s order, whatever order the object's properties
//! have in JavaScript (which puts keys such as `"2"` and `"10"` first, as numbers). A `HashMap` has
//! no order in Rust; the browser gives it the same sorted order. Lookups read only the object's own
//! properties, so a key such as `"toString"` is absent unless the map has it.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use super::{IntoVar, Var, call};

/// Maps whose vars are JSON objects: string keys, values of type [`Value`](Self::Value).
pub trait StringMap {
    /// The type of the values.
    type Value;
}

impl<V, S: BuildHasher> StringMap for HashMap<String, V, S> {
    type Value = V;
}

impl<V> StringMap for BTreeMap<String, V> {
    type Value = V;
}

impl<M: StringMap> Var<M> {
    /// The number of entries.
    pub fn len(&self) -> Var<i64> {
        self.unary(|js| format!("Object.keys({js}).length"))
    }
    /// Whether the map has no entry.
    pub fn is_empty(&self) -> Var<bool> {
        self.unary(|js| format!("(Object.keys({js}).length === 0)"))
    }
    /// The keys, sorted (a `BTreeMap`'s `keys().cloned().collect()`).
    pub fn keys(&self) -> Var<Vec<String>> {
        call("sortedKeys", &[self.expr()])
    }
    /// The values, in the order of their sorted keys (a `BTreeMap`'s `values().cloned().collect()`).
    pub fn values(&self) -> Var<Vec<M::Value>> {
        call("sortedValues", &[self.expr()])
    }
    /// Whether the map has the key `key` (Rust's `contains_key`).
    pub fn contains_key(&self, key: impl IntoVar<String>) -> Var<bool> {
        let key = key.into_var();
        self.unary(|js| format!("Object.hasOwn({js}, {})", key.js()))
            .with_deps_of(key.expr())
    }
    /// The value of `key`, or `None` (Rust's `get(key).cloned()`).
    pub fn get(&self, key: impl IntoVar<String>) -> Var<Option<M::Value>> {
        call("getKey", &[self.expr(), key.into_var().expr()])
    }
    /// The value of `key`, or `default` when the map has no such key (Rust's
    /// `get(key).cloned().unwrap_or(default)`).
    pub fn get_or(
        &self,
        key: impl IntoVar<String>,
        default: impl IntoVar<M::Value>,
    ) -> Var<M::Value> {
        let (key, default) = (key.into_var(), default.into_var());
        call("getKeyOr", &[self.expr(), key.expr(), default.expr()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_ops_compile_to_own_property_lookups() {
        let m: Var<HashMap<String, i64>> = Var::state_var("s", "scores");
        let key: Var<String> = Var::state_var("s", "who");
        let has = m.contains_key(&key);
        assert_eq!(has.js(), "Object.hasOwn(s$scores, s$who)");
        assert_eq!(has.expr().deps.len(), 2);
        assert_eq!(
            m.get_or("ann", 0).js(),
            r#"$rf.getKeyOr(s$scores, "ann", 0)"#
        );
        let b: Var<BTreeMap<String, bool>> = Var::state_var("s", "flags");
        assert_eq!(b.keys().js(), "$rf.sortedKeys(s$flags)");
    }
}
