//! Operations on `Var<bool>` and `Var<Option<T>>`.
//!
//! An `Option` is `null` or the value in the browser, as serde writes it; so, as in JSON, an
//! `Option<Option<T>>` cannot tell `Some(None)` from `None`.

use serde::Serialize;

use super::{Expr, IntoVar, Var};

impl std::ops::Not for Var<bool> {
    type Output = Var<bool>;
    fn not(self) -> Var<bool> {
        self.unary(|js| format!("(!{js})"))
    }
}

impl Var<bool> {
    /// `self && other`.
    pub fn and(&self, other: impl IntoVar<bool>) -> Var<bool> {
        self.binary("&&", other.into_var().expr())
    }
    /// `self || other`.
    pub fn or(&self, other: impl IntoVar<bool>) -> Var<bool> {
        self.binary("||", other.into_var().expr())
    }
    /// `self ^ other`: whether exactly one of the two holds.
    pub fn xor(&self, other: impl IntoVar<bool>) -> Var<bool> {
        self.binary("!==", other.into_var().expr())
    }
    /// `if_true` when the var holds, else `if_false`: a value-level `if self { a } else { b }`
    /// (JavaScript's `self ? a : b`; only the chosen side is evaluated). To show one component or
    /// another, use the compiler's `cond` instead.
    pub fn if_else<T>(&self, if_true: impl IntoVar<T>, if_false: impl IntoVar<T>) -> Var<T> {
        let (a, b) = (if_true.into_var(), if_false.into_var());
        let js = format!("({} ? {} : {})", self.js(), a.js(), b.js());
        Var::from_expr(Expr::combine(js, &[self.expr(), a.expr(), b.expr()]))
    }
}

impl<T> Var<Option<T>> {
    /// Whether the value is present (not `null`).
    pub fn is_some(&self) -> Var<bool> {
        self.unary(|js| format!("({js} != null)"))
    }
    /// Whether the value is absent (`null`).
    pub fn is_none(&self) -> Var<bool> {
        self.unary(|js| format!("({js} == null)"))
    }
    /// The value, or `default` when absent (Rust's `unwrap_or`).
    pub fn unwrap_or(&self, default: impl IntoVar<T>) -> Var<T> {
        self.binary("??", default.into_var().expr())
    }
    /// `self` when present, else `other` (Rust's `Option::or`).
    pub fn or(&self, other: impl IntoVar<Option<T>>) -> Var<Option<T>> {
        self.binary("??", other.into_var().expr())
    }
}

impl<T: Default + Serialize> Var<Option<T>> {
    /// The value, or `T::default()` when absent (Rust's `unwrap_or_default`).
    pub fn unwrap_or_default(&self) -> Var<T> {
        self.binary("??", &Expr::literal(&T::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_and_bool_ops() {
        let o: Var<Option<String>> = Var::state_var("s", "name");
        assert_eq!(o.unwrap_or("anon").js(), r#"(s$name ?? "anon")"#);
        assert_eq!(o.unwrap_or_default().js(), r#"(s$name ?? "")"#);
        let b: Var<bool> = Var::state_var("s", "on");
        let v = b.if_else(o.unwrap_or_default(), "off");
        assert_eq!(v.js(), r#"(s$on ? (s$name ?? "") : "off")"#);
        assert_eq!(v.expr().deps.len(), 2);
        assert_eq!(b.xor(true).js(), "(s$on !== true)");
    }
}
