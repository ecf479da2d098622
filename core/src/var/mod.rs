//! Vars as pages see them: typed JavaScript expressions over state vars.
//!
//! A [`Var<T>`] is an [`Expr`] (the JavaScript source of an expression and the state vars it reads)
//! tagged with the Rust type `T` of its value. Operations are only offered where the type allows them
//! (`+` on numbers, `!` on `bool`, `len` on lists), so a type error in a page is a Rust compile error.
//! The compiler turns each state var `state.var` read by an expression into a React hook bound to the
//! JavaScript identifier `state$var` (see [`Var::state_var`]).
//!
//! Every operation computes in the browser what the Rust std method of the same name computes on the
//! server; where JavaScript has no one expression with Rust's semantics, the expression calls a
//! function of the runtime's `ops.js` (see [`OPS`]). The operations, by the type they apply to:
//!
//! * this module: comparisons ([`Ordered`]), `eq`, `to_text`, `to_json` on any var;
//! * [`strings`]: `Var<String>` (lengths in characters, trimming, splitting, slicing, parsing);
//! * [`lists`]: `Var<Vec<T>>` (lookups that give `Option`s, clamped slices, sums and extremes);
//! * [`maps`]: `Var<HashMap<String, V>>` and `Var<BTreeMap<String, V>>` (JSON objects) ([`StringMap`]);
//! * [`numbers`]: arithmetic, integer division that truncates, rounding, fixed and grouped
//!   formatting ([`Numeric`], [`Integer`], [`Float`], [`format_grouped`]);
//! * [`logic`]: `Var<bool>` (with [`if_else`](Var::if_else), a value-level conditional) and
//!   `Var<Option<T>>`;
//! * [`time`]: instants as RFC 3339 strings ([`Timestamp`]).
//!
//! `docs/vars.md` lists them all with the few places where the browser cannot do what Rust does
//! (integers beyond 2^53, division by zero, `f32` arithmetic).

pub mod lists;
pub mod logic;
pub mod maps;
pub mod numbers;
pub mod strings;
pub mod time;

pub use logic::Choice;
pub use maps::StringMap;
pub use numbers::{Float, Integer, Numeric, Signed, format_grouped};
pub use time::{Timestamp, TimestampError};

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;

/// How an expression calls a function of the browser runtime's `ops.js` (the var operations with
/// no one JavaScript expression of Rust's semantics): `$rf.charCount(s)`. A page module that uses
/// any imports them under this name.
pub const OPS: &str = "$rf.";

/// What an expression reads, so the compiler knows what a component must subscribe to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dep {
    /// A var of a state: the component re-renders when it changes.
    State {
        /// The state's name, e.g. `counter_state`.
        state: String,
        /// The var's name, e.g. `count`.
        var: String,
    },
    /// A JavaScript local in scope, such as the item of a `foreach`.
    Local(String),
}

/// An untyped JavaScript expression and the vars it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// JavaScript source of the expression, always safe to wrap in parentheses.
    pub js: String,
    /// The state vars and locals the expression reads.
    pub deps: BTreeSet<Dep>,
}

impl Expr {
    /// The JSON literal of `value` as a JavaScript expression.
    ///
    /// # Panics
    /// If `value`'s `Serialize` implementation fails (a map with non-string keys, say): such a value
    /// cannot appear in a page at all, and the page is built once at start-up.
    /// An object with a `"__proto__"` key is written as `JSON.parse("…")`: in an object literal that
    /// key would set the object's prototype instead of making a property.
    pub fn literal<T: Serialize + ?Sized>(value: &T) -> Self {
        let json = serde_json::to_string(value)
            .unwrap_or_else(|e| panic!("a page literal must serialise to JSON: {e}"));
        let js = if json.contains("\"__proto__\":") {
            let quoted = serde_json::to_string(&json).expect("a string serialises");
            format!("JSON.parse({quoted})")
        } else {
            json
        };
        Expr {
            js,
            deps: BTreeSet::new(),
        }
    }

    /// The JavaScript local `name`, such as the item of a `foreach`.
    pub fn local(name: &str) -> Self {
        Expr {
            js: name.to_owned(),
            deps: BTreeSet::from([Dep::Local(name.to_owned())]),
        }
    }

    /// Whether the expression reads any state var.
    pub fn reads_state(&self) -> bool {
        self.deps.iter().any(|d| matches!(d, Dep::State { .. }))
    }

    fn combine(js: String, parts: &[&Expr]) -> Self {
        let deps = parts.iter().flat_map(|p| p.deps.iter().cloned()).collect();
        Expr { js, deps }
    }
}

/// A typed JavaScript expression whose value has the Rust type `T`.
pub struct Var<T> {
    expr: Expr,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var::from_expr(self.expr.clone())
    }
}

impl<T> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var({})", self.expr.js)
    }
}

impl<T> Var<T> {
    /// The var `var` of the state `state`, as generated by `#[derive(State)]` accessors.
    pub fn state_var(state: &str, var: &str) -> Self {
        let dep = Dep::State {
            state: state.to_owned(),
            var: var.to_owned(),
        };
        Var::from_expr(Expr {
            js: format!("{state}${var}"),
            deps: BTreeSet::from([dep]),
        })
    }

    /// A JavaScript local named `name` (a `foreach` item, say) that the compiler keeps in scope.
    pub fn local(name: &str) -> Self {
        Var::from_expr(Expr::local(name))
    }

    /// An expression valid where it is used (inside an event trigger's callback, whose event is
    /// `_e`), reading no state var. The escape hatch for what the typed operations do not cover:
    /// the caller vouches for the JavaScript and its type.
    pub fn raw(js: impl Into<String>) -> Self {
        Var::from_expr(Expr {
            js: js.into(),
            deps: BTreeSet::new(),
        })
    }

    /// Wraps an untyped expression; the caller vouches for its type.
    pub fn from_expr(expr: Expr) -> Self {
        Var {
            expr,
            _type: PhantomData,
        }
    }

    /// The untyped expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The untyped expression, by value.
    pub fn into_expr(self) -> Expr {
        self.expr
    }

    /// The JavaScript source.
    pub fn js(&self) -> &str {
        &self.expr.js
    }

    fn unary<U>(&self, f: impl FnOnce(&str) -> String) -> Var<U> {
        Var::from_expr(Expr::combine(f(&self.expr.js), &[&self.expr]))
    }

    fn binary<U>(&self, op: &str, other: &Expr) -> Var<U> {
        let js = format!("({} {op} {})", self.expr.js, other.js);
        Var::from_expr(Expr::combine(js, &[&self.expr, other]))
    }

    /// The same expression, also reading what `other` reads (for an `other` its JavaScript uses).
    fn with_deps_of(mut self, other: &Expr) -> Self {
        self.expr.deps.extend(other.deps.iter().cloned());
        self
    }

    /// `self.name(args…)`: a JavaScript method of the value.
    fn method<U>(&self, name: &str, args: &[&Expr]) -> Var<U> {
        let js = format!("{}.{name}({})", self.expr.js, arguments(args));
        let mut parts = vec![&self.expr];
        parts.extend_from_slice(args);
        Var::from_expr(Expr::combine(js, &parts))
    }

    /// The field `name` of the object this var holds; the caller vouches for its type `U`
    /// (`#[derive(VarFields)]` generates typed accessors that call this).
    pub fn field<U>(&self, name: &str) -> Var<U> {
        self.unary(|js| format!("{js}.{name}"))
    }

    /// `self === other` (strict equality: compare numbers, strings, booleans and [`Timestamp`]s,
    /// whose text is one string per instant; lists and objects are equal only to themselves).
    pub fn eq(&self, other: impl IntoVar<T>) -> Var<bool> {
        self.binary("===", other.into_var().expr())
    }

    /// `self !== other`.
    pub fn ne(&self, other: impl IntoVar<T>) -> Var<bool> {
        self.binary("!==", other.into_var().expr())
    }

    /// `String(self)`: the value as text (JavaScript's, which for numbers is Rust's `to_string`
    /// except that floats of 1e21 and more, or below 1e-6, are written with an exponent).
    pub fn to_text(&self) -> Var<String> {
        self.unary(|js| format!("String({js})"))
    }
}

/// `$rf.name(args…)`: a function of the runtime's `ops.js`.
fn call<U>(name: &str, args: &[&Expr]) -> Var<U> {
    Var::from_expr(Expr::combine(
        format!("{OPS}{name}({})", arguments(args)),
        args,
    ))
}

/// The JavaScript of an argument list, without its parentheses.
fn arguments(args: &[&Expr]) -> String {
    let list: Vec<&str> = args.iter().map(|a| a.js.as_str()).collect();
    list.join(", ")
}

impl<T: Serialize> Var<T> {
    /// The value as compact JSON text, as `serde_json::to_string` writes it, with one difference
    /// the browser cannot avoid: it holds numbers without Rust's distinction of integers and
    /// floats, so it writes them as JavaScript does (`1.0` as `1`, `-0.0` as `0`, `1e-6` as
    /// `0.000001`, `1e16` as `10000000000000000`). Object keys keep the order the value was sent
    /// in (a literal's in its struct's field order, a state var's sorted, as the server sends
    /// states), except that keys that are array indexes (`"0"`, `"42"`) come first in ascending
    /// order, as JavaScript objects keep them.
    pub fn to_json(&self) -> Var<String> {
        self.unary(|js| format!("JSON.stringify({js})"))
    }
}

/// Types whose vars compare with `lt`, `le`, `gt` and `ge` as Rust's `PartialOrd` compares their
/// values: numbers, `bool`, strings and `char`s (by code point, as Rust does, not by UTF-16 unit
/// as JavaScript's `<` does), and [`Timestamp`]s (by instant).
///
/// A newtype held as one of those in JSON may implement it with the default method.
pub trait Ordered {
    /// The JavaScript of `a op b`, where `op` is `<`, `<=`, `>` or `>=`, for two values of this
    /// type; by default JavaScript's operator.
    fn compare_js(a: &str, op: &str, b: &str) -> String {
        format!("({a} {op} {b})")
    }
}

macro_rules! ordered_by_operator {
    ($($t:ty),*) => { $(impl Ordered for $t {})* };
}
ordered_by_operator!(
    i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, bool
);

/// Strings compare by code point: `$rf.cmpStr(a, b) op 0`.
fn compare_text(a: &str, op: &str, b: &str) -> String {
    format!("({OPS}cmpStr({a}, {b}) {op} 0)")
}

impl Ordered for String {
    fn compare_js(a: &str, op: &str, b: &str) -> String {
        compare_text(a, op, b)
    }
}

impl Ordered for char {
    fn compare_js(a: &str, op: &str, b: &str) -> String {
        compare_text(a, op, b)
    }
}

impl<T: Ordered> Var<T> {
    fn compare(&self, op: &str, other: impl IntoVar<T>) -> Var<bool> {
        let other = other.into_var();
        let js = T::compare_js(&self.expr.js, op, &other.expr.js);
        Var::from_expr(Expr::combine(js, &[&self.expr, &other.expr]))
    }

    /// `self < other`.
    pub fn lt(&self, other: impl IntoVar<T>) -> Var<bool> {
        self.compare("<", other)
    }
    /// `self <= other`.
    pub fn le(&self, other: impl IntoVar<T>) -> Var<bool> {
        self.compare("<=", other)
    }
    /// `self > other`.
    pub fn gt(&self, other: impl IntoVar<T>) -> Var<bool> {
        self.compare(">", other)
    }
    /// `self >= other`.
    pub fn ge(&self, other: impl IntoVar<T>) -> Var<bool> {
        self.compare(">=", other)
    }
}

impl Var<String> {
    /// A template literal: `parts` are the literal pieces around the `args`
    /// (`parts.len() == args.len() + 1`). Use the [`format_var!`](crate::format_var) macro, which
    /// checks the count at compile time.
    ///
    /// # Panics
    /// If `parts.len() != args.len() + 1`.
    pub fn template(parts: &[&str], args: &[&Expr]) -> Var<String> {
        assert_eq!(
            parts.len(),
            args.len() + 1,
            "a template needs one more part than args"
        );
        let mut js = String::from("`");
        for (i, part) in parts.iter().enumerate() {
            for c in part.chars() {
                match c {
                    '`' | '\\' | '$' => {
                        js.push('\\');
                        js.push(c);
                    }
                    _ => js.push(c),
                }
            }
            if let Some(arg) = args.get(i) {
                js.push_str("${");
                js.push_str(&arg.js);
                js.push('}');
            }
        }
        js.push('`');
        Var::from_expr(Expr::combine(js, args))
    }
}

/// The number of `{}` placeholders in a format template (used by [`format_var!`](crate::format_var)
/// to check its arguments at compile time).
pub const fn count_placeholders(template: &str) -> usize {
    let bytes = template.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'}' {
            n += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    n
}

/// A JavaScript template literal from a format string with `{}` placeholders and vars:
/// `format_var!("{} open", TodoState::open_count())` is a `Var<String>`. A wrong number of
/// arguments is a compile error.
#[macro_export]
macro_rules! format_var {
    ($template:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::count_placeholders($template) == [$(stringify!($arg)),*].len(),
            "format_var!: the number of {{}} placeholders and arguments differ"
        );
        let args: &[&$crate::Expr] = &[$(&$crate::Renderable::into_text_expr($arg)),*];
        let parts: Vec<&str> = $template.split("{}").collect();
        $crate::Var::<String>::template(&parts, args)
    }};
}

/// Anything that can stand where a `Var<T>` is expected: a var of that type, or a literal value.
pub trait IntoVar<T> {
    /// The var.
    fn into_var(self) -> Var<T>;
}

impl<T: Serialize> IntoVar<T> for T {
    fn into_var(self) -> Var<T> {
        Var::from_expr(Expr::literal(&self))
    }
}

impl<T> IntoVar<T> for Var<T> {
    fn into_var(self) -> Var<T> {
        self
    }
}

impl<T> IntoVar<T> for &Var<T> {
    fn into_var(self) -> Var<T> {
        self.clone()
    }
}

impl IntoVar<String> for &str {
    fn into_var(self) -> Var<String> {
        Var::from_expr(Expr::literal(self))
    }
}

/// Values a page may show as text: strings and numbers, and vars of them.
pub trait Renderable {
    /// The expression of the text.
    fn into_text_expr(self) -> Expr;
}

macro_rules! renderable {
    ($($t:ty),*) => {$(
        impl Renderable for Var<$t> {
            fn into_text_expr(self) -> Expr { self.into_expr() }
        }
        impl Renderable for &Var<$t> {
            fn into_text_expr(self) -> Expr { self.expr().clone() }
        }
        impl Renderable for $t {
            fn into_text_expr(self) -> Expr { Expr::literal(&self) }
        }
    )*};
}
renderable!(
    String,
    char,
    i8,
    i16,
    i32,
    i64,
    isize,
    u8,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    Timestamp,
    crate::TaskPhase
);

impl Renderable for &str {
    fn into_text_expr(self) -> Expr {
        Expr::literal(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count() -> Var<i64> {
        Var::state_var("counter_state", "count")
    }

    #[test]
    fn state_var_is_an_identifier_with_its_dep() {
        let v = count();
        assert_eq!(v.js(), "counter_state$count");
        assert!(v.expr().reads_state());
        assert_eq!(
            v.expr().deps.iter().next(),
            Some(&Dep::State {
                state: "counter_state".into(),
                var: "count".into()
            })
        );
    }

    #[test]
    fn arithmetic_and_comparison_compile_to_js_and_keep_deps() {
        let v = (count() + 1) * count();
        assert_eq!(
            v.js(),
            "((counter_state$count + 1) * counter_state$count + 0)"
        );
        assert_eq!(v.expr().deps.len(), 1);
        let b = !count().gt(3).and(count().ne(7));
        assert_eq!(
            b.js(),
            "(!((counter_state$count > 3) && (counter_state$count !== 7)))"
        );
    }

    #[test]
    fn literals_are_json() {
        let v: Var<String> = "a \"quoted\" </script>".into_var();
        assert_eq!(v.js(), r#""a \"quoted\" </script>""#);
        assert!(!v.expr().reads_state());
    }

    #[test]
    fn format_var_builds_an_escaped_template_literal() {
        let v = crate::format_var!("`$x` {} of {}!", count(), 10);
        assert_eq!(v.js(), "`\\`\\$x\\` ${counter_state$count} of ${10}!`");
        assert_eq!(count_placeholders("a {} b {} {"), 2);
    }

    #[test]
    fn a_literal_object_with_a_proto_key_is_parsed_not_written() {
        let m = std::collections::BTreeMap::from([("__proto__".to_owned(), 1)]);
        assert_eq!(Expr::literal(&m).js, r#"JSON.parse("{\"__proto__\":1}")"#);
    }

    #[test]
    fn strings_and_timestamps_compare_with_ops_numbers_with_operators() {
        let name: Var<String> = Var::state_var("s", "name");
        assert_eq!(name.lt("b").js(), r#"($rf.cmpStr(s$name, "b") < 0)"#);
        let t: Var<Timestamp> = Var::state_var("s", "t");
        assert_eq!(t.ge(&t).js(), "($rf.millis(s$t) >= $rf.millis(s$t))");
        assert_eq!(count().le(2).js(), "(counter_state$count <= 2)");
    }
}
