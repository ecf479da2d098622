//! Operations on `Var<bool>` and `Var<Option<T>>`.
//!
//! An `Option` is `null` or the value in the browser, as serde writes it; so, as in JSON, an
//! `Option<Option<T>>` cannot tell `Some(None)` from `None`.

use serde::Serialize;

use super::{Expr, IntoVar, Timestamp, Var};

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
    /// (JavaScript's `self ? a : b`; only the chosen side is evaluated). `if_true` decides the
    /// type ([`Choice`]): `in_stock.if_else("In stock", "Sold out")` is a `Var<String>`. To show
    /// one component or another, use the compiler's `cond` instead.
    pub fn if_else<C: Choice>(
        &self,
        if_true: C,
        if_false: impl IntoVar<C::Value>,
    ) -> Var<C::Value> {
        let (a, b) = (if_true.into_choice(), if_false.into_var());
        let js = format!("({} ? {} : {})", self.js(), a.js(), b.js());
        Var::from_expr(Expr::combine(js, &[self.expr(), a.expr(), b.expr()]))
    }
}

/// A value [`Var::if_else`] may choose: a var, or a literal, whose type is the result's (a `&str`
/// gives a `Var<String>`, an integer literal without a suffix a `Var<i32>`, as Rust's defaults).
pub trait Choice {
    /// The type of the value.
    type Value;
    /// The value as a var.
    fn into_choice(self) -> Var<Self::Value>;
}

impl<T> Choice for Var<T> {
    type Value = T;
    fn into_choice(self) -> Var<T> {
        self
    }
}

impl<T> Choice for &Var<T> {
    type Value = T;
    fn into_choice(self) -> Var<T> {
        self.clone()
    }
}

impl Choice for &str {
    type Value = String;
    fn into_choice(self) -> Var<String> {
        self.into_var()
    }
}

impl<T: Serialize> Choice for Option<T> {
    type Value = Option<T>;
    fn into_choice(self) -> Var<Option<T>> {
        self.into_var()
    }
}

impl<T: Serialize> Choice for Vec<T> {
    type Value = Vec<T>;
    fn into_choice(self) -> Var<Vec<T>> {
        self.into_var()
    }
}

macro_rules! literal_choice {
    ($($t:ty),*) => {$(
        impl Choice for $t {
            type Value = $t;
            fn into_choice(self) -> Var<$t> {
                self.into_var()
            }
        }
    )*};
}
literal_choice!(
    String, bool, char, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, Timestamp
);

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
        let label: Var<String> = b.if_else("on", "off");
        assert_eq!(label.js(), r#"(s$on ? "on" : "off")"#);
        let n: Var<i64> = b.if_else(1_i64, 2);
        assert_eq!(n.js(), "(s$on ? 1 : 2)");
        let _unsuffixed_integers_are_i32: Var<i32> = b.if_else(1, 2);
    }
}
