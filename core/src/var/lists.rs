//! Operations on `Var<Vec<T>>` (JSON arrays), with the semantics of Rust's slice methods.
//!
//! Indexes and lengths are `i64`, as the row index `foreach` gives is. Lookups give an
//! `Option` (`null` in the browser) instead of panicking, and slices clamp their bounds. Items
//! compare as Rust's derived `PartialEq` does: by value, deeply (lists item by item, objects key by
//! key in any order), numbers with `===` (so `NaN` equals nothing, `-0.0` equals `0.0`).

use super::{IntoVar, Numeric, Var, call};

impl<T> Var<Vec<T>> {
    /// The number of items.
    pub fn len(&self) -> Var<i64> {
        self.unary(|js| format!("{js}.length"))
    }
    /// Whether the list is empty.
    pub fn is_empty(&self) -> Var<bool> {
        self.unary(|js| format!("({js}.length === 0)"))
    }
    /// The item at `index`, or `None` when `index` is negative or past the end (Rust's `get`).
    pub fn get(&self, index: impl IntoVar<i64>) -> Var<Option<T>> {
        let index = index.into_var();
        self.unary(|js| format!("({js}[{}] ?? null)", index.js()))
            .with_deps_of(index.expr())
    }
    /// The first item, or `None` when the list is empty.
    pub fn first(&self) -> Var<Option<T>> {
        self.unary(|js| format!("({js}[0] ?? null)"))
    }
    /// The last item, or `None` when the list is empty.
    pub fn last(&self) -> Var<Option<T>> {
        self.unary(|js| format!("({js}.at(-1) ?? null)"))
    }
    /// The items from index `start` up to, not including, `end`, clamped so it never fails: a
    /// negative index counts as 0, one past the end as the end, and `end <= start` gives `[]`.
    /// Rust's `&list[start..end]` when both are in bounds and ordered (where it does not panic).
    pub fn slice(&self, start: impl IntoVar<i64>, end: impl IntoVar<i64>) -> Var<Vec<T>> {
        let (start, end) = (start.into_var(), end.into_var());
        call("slice", &[self.expr(), start.expr(), end.expr()])
    }
    /// A reversed copy (the var itself is not changed; Rust's `iter().rev().collect()`).
    pub fn reverse(&self) -> Var<Vec<T>> {
        self.unary(|js| format!("[...{js}].reverse()"))
    }
    /// The items of `self` then those of `other` (Rust's `[a, b].concat()`).
    pub fn concat(&self, other: impl IntoVar<Vec<T>>) -> Var<Vec<T>> {
        let other = other.into_var();
        self.unary(|js| format!("[...{js}, ...{}]", other.js()))
            .with_deps_of(other.expr())
    }
}

impl<T: PartialEq> Var<Vec<T>> {
    /// Whether an item equals `item` (Rust's `contains`).
    pub fn contains(&self, item: impl IntoVar<T>) -> Var<bool> {
        call("contains", &[self.expr(), item.into_var().expr()])
    }
    /// The index of the first item equal to `item`, or `None` (Rust's
    /// `iter().position(|x| x == item)`).
    pub fn index_of(&self, item: impl IntoVar<T>) -> Var<Option<i64>> {
        call("indexOf", &[self.expr(), item.into_var().expr()])
    }
}

impl<T: Numeric> Var<Vec<T>> {
    /// The sum of the items (Rust's `iter().sum()`, added left to right; for floats an empty list
    /// sums to `-0.0`, as Rust's does).
    pub fn sum(&self) -> Var<T> {
        call(if T::FLOAT { "sumFloats" } else { "sum" }, &[self.expr()])
    }
    /// The least item, or `None` when the list is empty: Rust's `iter().min()` for integers,
    /// `iter().copied().reduce(f64::min)` for floats (`NaN`s are skipped).
    pub fn min(&self) -> Var<Option<T>> {
        call("minOf", &[self.expr()])
    }
    /// The greatest item, or `None` when the list is empty (as [`min`](Self::min)).
    pub fn max(&self) -> Var<Option<T>> {
        call("maxOf", &[self.expr()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dep;

    fn items() -> Var<Vec<i64>> {
        Var::state_var("s", "items")
    }

    #[test]
    fn list_ops_compile_to_js_and_keep_the_deps_of_their_arguments() {
        let i: Var<i64> = Var::state_var("s", "i");
        let v = items().get(&i);
        assert_eq!(v.js(), "(s$items[s$i] ?? null)");
        assert!(v.expr().deps.contains(&Dep::State {
            state: "s".into(),
            var: "i".into()
        }));
        assert_eq!(items().len().gt(0).js(), "(s$items.length > 0)");
        assert_eq!(items().sum().js(), "$rf.sum(s$items)");
        let floats: Var<Vec<f64>> = Var::state_var("s", "xs");
        assert_eq!(floats.sum().js(), "$rf.sumFloats(s$xs)");
        assert_eq!(items().concat(vec![1]).js(), "[...s$items, ...[1]]");
    }
}
