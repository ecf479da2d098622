//! Arithmetic on number vars, with Rust's semantics where the browser can have them.
//!
//! JavaScript has one number type, `f64`; the Rust type of a var decides which JavaScript an
//! operation compiles to:
//!
//! * integer `/` truncates toward zero and `%` takes the dividend's sign, as Rust's do; where Rust
//!   panics (a division or remainder by zero) the browser gives `0`, and arithmetic that would
//!   overflow the type gives the mathematical result instead of panicking or wrapping;
//! * integers are exact up to 2^53 (JSON numbers are `f64`s in the browser); `i64`/`u64` values
//!   beyond that arrive rounded;
//! * float operations are IEEE 754's, as Rust's: `round` rounds half away from zero (`-2.5` →
//!   `-3.0`), `min`/`max` skip a `NaN`, [`to_fixed`](Var::to_fixed) writes what
//!   `format!("{x:.N}")` writes (exact binary ties to even: `0.125` → `"0.12"`);
//! * `f32` vars compute in `f64` in the browser (their JSON text read as an `f64`), so results may
//!   differ from Rust's `f32` arithmetic in the last digits; `to_fixed` and `format_grouped`
//!   first round to the `f32` Rust would hold.

use super::{Expr, IntoVar, OPS, Ordered, Var, call};
use serde::Serialize;

mod sealed {
    pub trait Sealed {}
}

/// Number types: their vars support arithmetic and ordering. Implemented for Rust's primitive
/// integers and floats only.
pub trait Numeric: Ordered + Serialize + sealed::Sealed {
    /// Whether the type is `f32` or `f64`: its division, remainder and rounding are IEEE 754's.
    const FLOAT: bool;
    /// Whether the type is `f32`, whose values the browser holds as `f64`s.
    const F32: bool;
}

/// Integer types (`i8` … `u64`, `isize`, `usize`): `/` truncates, [`pow`](Var::pow).
pub trait Integer: Numeric {}

/// `f32` and `f64`: rounding, `sqrt`, [`powi`](Var::powi), [`to_fixed`](Var::to_fixed).
pub trait Float: Numeric {}

/// Signed number types: [`abs`](Var::abs) and unary `-`.
pub trait Signed: Numeric {}

macro_rules! numeric {
    ($float:literal, $f32:literal, $markers:tt, $($t:ty),*) => {
        $(numeric!(@one $t, $float, $f32, $markers);)*
    };
    (@one $t:ty, $float:literal, $f32:literal, [$($marker:ident),*]) => {
        impl sealed::Sealed for $t {}
        impl Numeric for $t {
            const FLOAT: bool = $float;
            const F32: bool = $f32;
        }
        $(impl $marker for $t {})*
    };
}
numeric!(false, false, [Integer, Signed], i8, i16, i32, i64, isize);
numeric!(false, false, [Integer], u8, u16, u32, u64, usize);
numeric!(true, false, [Float, Signed], f64);
numeric!(true, true, [Float, Signed], f32);

/// `+`, `-`, `*`, `/` and `%` between a number var and a var or literal of the same type: the
/// JavaScript operator for floats, `$integer` for integers.
macro_rules! arith {
    ($($trait:ident $method:ident $op:literal $integer:ident),*) => {$(
        impl<T: Numeric, R: IntoVar<T>> std::ops::$trait<R> for Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: R) -> Var<T> {
                let rhs = rhs.into_var();
                if T::FLOAT {
                    self.binary($op, rhs.expr())
                } else {
                    $integer(&self, rhs.expr())
                }
            }
        }
    )*};
}
arith!(
    Add add "+" int_add,
    Sub sub "-" int_sub,
    Mul mul "*" int_mul,
    Div div "/" int_div,
    Rem rem "%" int_rem
);

fn int_add<T>(a: &Var<T>, b: &Expr) -> Var<T> {
    a.binary("+", b)
}
fn int_sub<T>(a: &Var<T>, b: &Expr) -> Var<T> {
    a.binary("-", b)
}
/// `a * b + 0`: integers have no `-0` (`0 * -5` is `-0` in JavaScript).
fn int_mul<T>(a: &Var<T>, b: &Expr) -> Var<T> {
    a.unary(|js| format!("({js} * {} + 0)", b.js))
        .with_deps_of(b)
}
/// Truncating division, `0` for a divisor of 0.
fn int_div<T>(a: &Var<T>, b: &Expr) -> Var<T> {
    call("idiv", &[a.expr(), b])
}
/// The remainder with the dividend's sign, `0` for a divisor of 0.
fn int_rem<T>(a: &Var<T>, b: &Expr) -> Var<T> {
    call("irem", &[a.expr(), b])
}

/// Unary `-` (`0 - x` for integers, which have no `-0`).
impl<T: Signed> std::ops::Neg for Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        if T::FLOAT {
            self.unary(|js| format!("(-{js})"))
        } else {
            self.unary(|js| format!("(0 - {js})"))
        }
    }
}

impl<T: Numeric> Var<T> {
    /// The smaller of `self` and `other` (Rust's `Ord::min`; for floats `f64::min`, which returns
    /// the other operand when one is `NaN`).
    pub fn min(&self, other: impl IntoVar<T>) -> Var<T> {
        let f = if T::FLOAT {
            format!("{OPS}fmin")
        } else {
            "Math.min".into()
        };
        self.pair(&f, other)
    }
    /// The larger of `self` and `other` (as [`min`](Self::min)).
    pub fn max(&self, other: impl IntoVar<T>) -> Var<T> {
        let f = if T::FLOAT {
            format!("{OPS}fmax")
        } else {
            "Math.max".into()
        };
        self.pair(&f, other)
    }
    /// `min` when `self < min`, `max` when `self > max`, else `self` (Rust's `clamp`, which
    /// panics when `min > max`; the browser then gives `min` or `max`).
    pub fn clamp(&self, min: impl IntoVar<T>, max: impl IntoVar<T>) -> Var<T> {
        let (min, max) = (min.into_var(), max.into_var());
        call("clamp", &[self.expr(), min.expr(), max.expr()])
    }
    /// The least non-negative remainder of `self / rhs` (Rust's `rem_euclid`; `0` for an integer
    /// `rhs` of 0, where Rust panics).
    pub fn rem_euclid(&self, rhs: impl IntoVar<T>) -> Var<T> {
        let f = if T::FLOAT { "remEuclid" } else { "iremEuclid" };
        call(f, &[self.expr(), rhs.into_var().expr()])
    }
    /// The value as an `f64` (`self as f64`; the same number in the browser).
    pub fn as_f64(&self) -> Var<f64> {
        Var::from_expr(self.expr.clone())
    }
    /// The value as an `i64` (`self as i64`: floats truncate toward zero and saturate, `NaN`
    /// gives 0).
    pub fn as_i64(&self) -> Var<i64> {
        if T::FLOAT {
            call("toI64", &[self.expr()])
        } else {
            Var::from_expr(self.expr.clone())
        }
    }
    /// The value with `decimals` digits after the point and a `,` between groups of three
    /// digits before it: `1234567.891` with 2 decimals is `"1,234,567.89"`. What
    /// [`format_grouped`] writes on the server (rounding as [`to_fixed`](Self::to_fixed)), for
    /// every machine's locale.
    pub fn format_grouped(&self, decimals: impl IntoVar<u32>) -> Var<String> {
        call(
            "formatGrouped",
            &[&self.exact_float(), decimals.into_var().expr()],
        )
    }

    fn pair(&self, f: &str, other: impl IntoVar<T>) -> Var<T> {
        let other = other.into_var();
        self.unary(|js| format!("{f}({js}, {})", other.js()))
            .with_deps_of(other.expr())
    }

    /// The exact value Rust holds: `Math.fround(x)` for an `f32`.
    fn exact_float(&self) -> Expr {
        if T::F32 {
            self.unary::<T>(|js| format!("Math.fround({js})"))
                .into_expr()
        } else {
            self.expr.clone()
        }
    }
}

impl<T: Signed> Var<T> {
    /// The absolute value (Rust's `abs`).
    pub fn abs(&self) -> Var<T> {
        self.unary(|js| format!("Math.abs({js})"))
    }
}

impl<T: Integer> Var<T> {
    /// `self` to the power `exp` (Rust's `pow`; exact while the result is below 2^53).
    pub fn pow(&self, exp: impl IntoVar<u32>) -> Var<T> {
        call("powi", &[self.expr(), exp.into_var().expr()])
    }
}

impl<T: Float> Var<T> {
    /// `self` to the integer power `exp` (Rust's `powi`), by repeated squaring as Rust's runtime
    /// computes it; exact when the result is representable.
    pub fn powi(&self, exp: impl IntoVar<i32>) -> Var<T> {
        call("powi", &[self.expr(), exp.into_var().expr()])
    }
    /// The nearest integer, halves rounded away from zero (Rust's `round`: `2.5` → `3.0`,
    /// `-2.5` → `-3.0`; JavaScript's `Math.round` would give `-2`).
    pub fn round(&self) -> Var<T> {
        call("round", &[self.expr()])
    }
    /// The greatest integer not above the value (Rust's `floor`).
    pub fn floor(&self) -> Var<T> {
        self.unary(|js| format!("Math.floor({js})"))
    }
    /// The least integer not below the value (Rust's `ceil`).
    pub fn ceil(&self) -> Var<T> {
        self.unary(|js| format!("Math.ceil({js})"))
    }
    /// The integer part (Rust's `trunc`).
    pub fn trunc(&self) -> Var<T> {
        self.unary(|js| format!("Math.trunc({js})"))
    }
    /// The square root (Rust's `sqrt`; `NaN` for a negative value).
    pub fn sqrt(&self) -> Var<T> {
        self.unary(|js| format!("Math.sqrt({js})"))
    }
    /// The value with `decimals` digits after the point, exactly as Rust's `format!("{x:.N}")`
    /// writes it: the exact binary value rounded to nearest, exact ties to even (`0.125` with 2
    /// decimals is `"0.12"`, where JavaScript's `toFixed` writes `"0.13"`), a `-` kept on negative
    /// values that round to zero (`"-0.00"`), `"inf"`, `"-inf"` and `"NaN"`.
    pub fn to_fixed(&self, decimals: impl IntoVar<u32>) -> Var<String> {
        call(
            "toFixed",
            &[&self.exact_float(), decimals.into_var().expr()],
        )
    }
}

/// `x` with `decimals` digits after the point and a `,` between groups of three digits before it,
/// as [`Var::format_grouped`] shows it in the browser: `format_grouped(-1234567.891, 2)` is
/// `"-1,234,567.89"`. The digits are Rust's `format!("{x:.decimals$}")`; `inf`, `-inf` and `NaN`
/// are written as it writes them. For an integer, pass `n as f64` (exact up to 2^53).
pub fn format_grouped(x: f64, decimals: usize) -> String {
    let fixed = format!("{x:.decimals$}");
    let (sign, unsigned) = fixed
        .strip_prefix('-')
        .map_or(("", fixed.as_str()), |rest| ("-", rest));
    let (int, fraction) = unsigned.split_at(unsigned.find('.').unwrap_or(unsigned.len()));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return fixed;
    }
    let mut out = String::from(sign);
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out.push_str(fraction);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count() -> Var<i64> {
        Var::state_var("counter_state", "count")
    }

    #[test]
    fn integer_and_float_division_differ() {
        assert_eq!((count() / 2).js(), "$rf.idiv(counter_state$count, 2)");
        assert_eq!((count() % 2).js(), "$rf.irem(counter_state$count, 2)");
        assert_eq!((count() * 2).js(), "(counter_state$count * 2 + 0)");
        let x: Var<f64> = Var::state_var("s", "x");
        assert_eq!((x.clone() / 2.0).js(), "(s$x / 2.0)");
        assert_eq!((-x.clone()).js(), "(-s$x)");
        assert_eq!((-count()).js(), "(0 - counter_state$count)");
        let y: Var<f32> = Var::state_var("s", "y");
        assert_eq!(y.to_fixed(2).js(), "$rf.toFixed(Math.fround(s$y), 2)");
        assert_eq!(x.min(1.0).js(), "$rf.fmin(s$x, 1.0)");
        assert_eq!(count().max(1).js(), "Math.max(counter_state$count, 1)");
    }

    #[test]
    fn format_grouped_groups_the_integer_digits_only() {
        assert_eq!(format_grouped(1234567.891, 2), "1,234,567.89");
        assert_eq!(format_grouped(-999.5, 0), "-1,000");
        assert_eq!(format_grouped(123.0, 1), "123.0");
        assert_eq!(format_grouped(0.0, 0), "0");
        assert_eq!(format_grouped(f64::NEG_INFINITY, 2), "-inf");
        assert_eq!(format_grouped(f64::NAN, 2), "NaN");
    }
}
