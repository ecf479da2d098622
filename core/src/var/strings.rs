//! Operations on `Var<String>`, with the semantics of Rust's `str` methods of the same names.
//!
//! Lengths and indexes count characters (Unicode scalar values, Rust's `chars()`), not UTF-16 units
//! as JavaScript's `length` does, nor bytes as Rust's `str::len` does: `"😀".into_var().len()` is 1.
//! Case mapping is Unicode's full, locale-independent mapping (`"ß"` upper-cases to `"SS"`), and
//! whitespace is Unicode's `White_Space` (which `U+0085` is in and `U+FEFF` is not, unlike
//! JavaScript's `trim`).

use super::{IntoVar, OPS, Timestamp, Var, call};

impl Var<String> {
    /// The string's length in characters (Unicode scalar values, Rust's `s.chars().count()`).
    pub fn len(&self) -> Var<i64> {
        self.unary(|js| format!("{OPS}charCount({js})"))
    }
    /// Whether the string is empty.
    pub fn is_empty(&self) -> Var<bool> {
        self.unary(|js| format!("({js}.length === 0)"))
    }
    /// Upper-case copy (Rust's `to_uppercase`: Unicode's full mapping, `"ß"` → `"SS"`).
    pub fn to_uppercase(&self) -> Var<String> {
        self.method("toUpperCase", &[])
    }
    /// Lower-case copy (Rust's `to_lowercase`: a final `Σ` becomes `ς`).
    pub fn to_lowercase(&self) -> Var<String> {
        self.method("toLowerCase", &[])
    }
    /// The string without leading and trailing whitespace (Unicode `White_Space`, as Rust's `trim`).
    pub fn trim(&self) -> Var<String> {
        call("trim", &[self.expr()])
    }
    /// The string without leading whitespace (Rust's `trim_start`).
    pub fn trim_start(&self) -> Var<String> {
        call("trimStart", &[self.expr()])
    }
    /// The string without trailing whitespace (Rust's `trim_end`).
    pub fn trim_end(&self) -> Var<String> {
        call("trimEnd", &[self.expr()])
    }
    /// Whether `needle` occurs in the string (always, when `needle` is empty).
    pub fn contains(&self, needle: impl IntoVar<String>) -> Var<bool> {
        self.method("includes", &[needle.into_var().expr()])
    }
    /// Whether the string starts with `prefix`.
    pub fn starts_with(&self, prefix: impl IntoVar<String>) -> Var<bool> {
        self.method("startsWith", &[prefix.into_var().expr()])
    }
    /// Whether the string ends with `suffix`.
    pub fn ends_with(&self, suffix: impl IntoVar<String>) -> Var<bool> {
        self.method("endsWith", &[suffix.into_var().expr()])
    }
    /// The pieces between the occurrences of `separator`, as Rust's
    /// `s.split(separator).collect::<Vec<_>>()`: `"a,b,"` split at `","` is `["a", "b", ""]`, and
    /// an empty separator gives `""`, each character, then `""`.
    pub fn split(&self, separator: impl IntoVar<String>) -> Var<Vec<String>> {
        call("split", &[self.expr(), separator.into_var().expr()])
    }
    /// The string with every occurrence of `from` replaced by `to`, left to right and not
    /// overlapping, as Rust's `replace` (no `$` patterns in `to`, unlike JavaScript's `replace`).
    pub fn replace(&self, from: impl IntoVar<String>, to: impl IntoVar<String>) -> Var<String> {
        let (from, to) = (from.into_var(), to.into_var());
        call("replace", &[self.expr(), from.expr(), to.expr()])
    }
    /// The characters from index `start` up to, not including, `end` (indexes in characters),
    /// clamped so it never fails: a negative index counts as 0, one past the end as the end, and
    /// `end <= start` gives `""`. Rust's `s.chars().skip(start).take(end - start).collect()`;
    /// unlike `&s[start..end]`, which takes byte offsets and panics off a character boundary.
    pub fn chars_slice(&self, start: impl IntoVar<i64>, end: impl IntoVar<i64>) -> Var<String> {
        let (start, end) = (start.into_var(), end.into_var());
        call("charsSlice", &[self.expr(), start.expr(), end.expr()])
    }
    /// The characters, each a one-character string (Rust's `s.chars().collect::<Vec<char>>()`).
    pub fn chars(&self) -> Var<Vec<char>> {
        self.unary(|js| format!("Array.from({js})"))
    }
    /// The string repeated `n` times; a negative `n` counts as 0. Rust's `repeat` takes a `usize`.
    pub fn repeat(&self, n: impl IntoVar<i64>) -> Var<String> {
        call("repeat", &[self.expr(), n.into_var().expr()])
    }
    /// The number the string holds, as Rust's `s.parse::<f64>().ok()`: no surrounding whitespace,
    /// `"1."`, `".5"`, `"1e3"`, `"inf"` and `"NaN"` accepted, `""`, `"0x10"` and `"1_000"` not.
    pub fn parse_f64(&self) -> Var<Option<f64>> {
        call("parseF64", &[self.expr()])
    }
    /// The integer the string holds, as Rust's `s.parse::<i64>().ok()`: an optional sign and
    /// decimal digits only, within `i64`'s range (exact in the browser up to 2^53).
    pub fn parse_i64(&self) -> Var<Option<i64>> {
        call("parseI64", &[self.expr()])
    }
    /// The instant an RFC 3339 string names, as [`Timestamp::parse`]`(s).ok()`.
    pub fn parse_timestamp(&self) -> Var<Option<Timestamp>> {
        call("parseTimestamp", &[self.expr()])
    }
}

/// `a + b` concatenates strings, as Rust's `String + &str`.
impl<R: IntoVar<String>> std::ops::Add<R> for Var<String> {
    type Output = Var<String>;
    fn add(self, rhs: R) -> Var<String> {
        self.binary("+", rhs.into_var().expr())
    }
}

impl Var<Vec<String>> {
    /// The strings joined with `separator` between them (Rust's `join`).
    pub fn join(&self, separator: impl IntoVar<String>) -> Var<String> {
        self.method("join", &[separator.into_var().expr()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> Var<String> {
        Var::state_var("s", "name")
    }

    #[test]
    fn string_ops_compile_to_methods_or_ops_calls_and_keep_deps() {
        assert_eq!(name().to_uppercase().js(), "s$name.toUpperCase()");
        assert_eq!(
            name().replace("a", name()).js(),
            r#"$rf.replace(s$name, "a", s$name)"#
        );
        assert_eq!(
            (name() + "!").js(),
            r#"(s$name + "!")"#,
            "concatenation is JavaScript's +"
        );
        assert_eq!(name().chars_slice(0, 3).expr().deps.len(), 1);
        assert_eq!(name().split(",").js(), r#"$rf.split(s$name, ",")"#);
    }
}
