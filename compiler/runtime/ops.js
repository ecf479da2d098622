// The operations on vars that JavaScript has no one expression for, with Rust's semantics: what
// `refract_core::Var`'s methods compile to as `$rf.<name>(…)`. Pure functions, no DOM, no React,
// nothing that depends on the machine's time zone or locale. `compiler/runtime/var_ops.cases.json`
// (made by `core/tests/var_ops.rs` from Rust std) is the table they are tested against.

// ---------------------------------------------------------------------------------------------
// Strings: characters are Unicode scalar values (Rust's `chars()`), not UTF-16 units.

/**
 * The number of Unicode scalar values in `s` (Rust's `s.chars().count()`), not UTF-16 units.
 * @param {string} s
 * @returns {number}
 */
export function charCount(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Compares strings by code point, as Rust orders `str`s (JavaScript's `<` compares UTF-16 units,
 * which puts "😀" before "ｱ").
 * @param {string} a
 * @param {string} b
 * @returns {number} -1, 0 or 1
 */
export function cmpStr(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    // Only a surrogate against a unit of U+E000–U+FFFF orders differently by code point: move the
    // surrogates above every other unit, and the units above them down into the gap they leave.
    if (x !== y) return codePointRank(x) < codePointRank(y) ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

/** @param {number} unit a UTF-16 unit @returns {number} its rank in code point order */
const codePointRank = (unit) => (unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800);

/** Unicode's White_Space, which Rust's `char::is_whitespace` and `trim` use (U+0085 is in; U+FEFF, which JavaScript's `trim` removes, is not). */
const WHITE_SPACE = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const LEADING_SPACE = new RegExp(`^[${WHITE_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${WHITE_SPACE}]+$`);

/**
 * `s` without leading and trailing whitespace (Rust's `trim`).
 * @param {string} s
 * @returns {string}
 */
export function trim(s) {
  return trimEnd(trimStart(s));
}

/**
 * `s` without leading whitespace (Rust's `trim_start`).
 * @param {string} s
 * @returns {string}
 */
export function trimStart(s) {
  return s.replace(LEADING_SPACE, "");
}

/**
 * `s` without trailing whitespace (Rust's `trim_end`).
 * @param {string} s
 * @returns {string}
 */
export function trimEnd(s) {
  return s.replace(TRAILING_SPACE, "");
}

/**
 * The pieces of `s` between the occurrences of `sep` (Rust's `s.split(sep).collect()`): an empty
 * `sep` gives "", each character, then "".
 * @param {string} s
 * @param {string} sep
 * @returns {string[]}
 */
export function split(s, sep) {
  return sep === "" ? ["", ...s, ""] : s.split(sep);
}

/**
 * `s` with every occurrence of `from` replaced by `to`, left to right, not overlapping (Rust's
 * `replace`; `$` in `to` is literal). An empty `from` matches around every character.
 * @param {string} s
 * @param {string} from
 * @param {string} to
 * @returns {string}
 */
export function replace(s, from, to) {
  return split(s, from).join(to);
}

/**
 * `[start, end)` clamped to `[0, length]`, with `end` at least `start`.
 * @param {number} start
 * @param {number} end
 * @param {number} length
 * @returns {[number, number]}
 */
function clampRange(start, end, length) {
  const lo = Math.min(Math.max(start, 0), length);
  return [lo, Math.min(Math.max(end, lo), length)];
}

/**
 * The characters of `s` from index `start` up to `end` (indexes in characters), clamped: never
 * throws (Rust's `s.chars().skip(start).take(end - start).collect()`).
 * @param {string} s
 * @param {number} start
 * @param {number} end
 * @returns {string}
 */
export function charsSlice(s, start, end) {
  const chars = Array.from(s);
  return chars.slice(...clampRange(start, end, chars.length)).join("");
}

/**
 * `s` repeated `n` times, no times when `n` is negative (Rust's `repeat`).
 * @param {string} s
 * @param {number} n
 * @returns {string}
 */
export function repeat(s, n) {
  return s.repeat(Math.max(0, n));
}

const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_FLOAT_TEXT = /^([+-]?)(inf|infinity|nan)$/i;

/**
 * The number `s` holds, or null (Rust's `s.parse::<f64>().ok()`): no whitespace, no hex, no `_`;
 * "inf", "infinity" and "nan" in any case.
 * @param {string} s
 * @returns {number | null}
 */
export function parseF64(s) {
  if (FLOAT_TEXT.test(s)) return Number(s);
  const special = SPECIAL_FLOAT_TEXT.exec(s);
  if (!special) return null;
  if (special[2].toLowerCase() === "nan") return NaN;
  return special[1] === "-" ? -Infinity : Infinity;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/**
 * The integer `s` holds, or null (Rust's `s.parse::<i64>().ok()`): a sign and decimal digits,
 * within i64's range (exact up to 2^53).
 * @param {string} s
 * @returns {number | null}
 */
export function parseI64(s) {
  if (!/^[+-]?\d+$/.test(s)) return null;
  const n = BigInt(s);
  return n < I64_MIN || n > I64_MAX ? null : Number(n);
}

// ---------------------------------------------------------------------------------------------
// Values: equality as Rust's derived PartialEq on what serde writes.

/**
 * Whether `a` and `b` are equal values, as Rust's derived `PartialEq` compares what they were
 * serialised from: deeply, objects by their keys in any order, numbers with `===` (NaN is equal to
 * nothing, -0 equals 0).
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function equal(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]))
  );
}

// ---------------------------------------------------------------------------------------------
// Lists.

/**
 * Whether an item of `list` equals `item` (Rust's `contains`).
 * @param {unknown[]} list
 * @param {unknown} item
 * @returns {boolean}
 */
export function contains(list, item) {
  return list.some((x) => equal(x, item));
}

/**
 * The index of the first item of `list` equal to `item`, or null (Rust's `position`).
 * @param {unknown[]} list
 * @param {unknown} item
 * @returns {number | null}
 */
export function indexOf(list, item) {
  const i = list.findIndex((x) => equal(x, item));
  return i < 0 ? null : i;
}

/**
 * The items of `list` from `start` up to `end`, clamped: never throws, negative indexes count
 * as 0 (not from the end).
 * @template T
 * @param {T[]} list
 * @param {number} start
 * @param {number} end
 * @returns {T[]}
 */
export function slice(list, start, end) {
  return list.slice(...clampRange(start, end, list.length));
}

/**
 * The sum of integers (Rust's `iter().sum()`; 0 for an empty list).
 * @param {number[]} list
 * @returns {number}
 */
export function sum(list) {
  return list.reduce((a, b) => a + b, 0);
}

/**
 * The sum of floats, left to right from -0 (Rust's `iter().sum::<f64>()`, which is -0.0 for an
 * empty list).
 * @param {number[]} list
 * @returns {number}
 */
export function sumFloats(list) {
  return list.reduce((a, b) => a + b, -0);
}

/**
 * The least item, NaNs skipped, or null for an empty list (Rust's `iter().min()`, or
 * `reduce(f64::min)` for floats).
 * @param {number[]} list
 * @returns {number | null}
 */
export function minOf(list) {
  return list.length === 0 ? null : list.reduce(fmin);
}

/**
 * The greatest item, NaNs skipped, or null for an empty list (as `minOf`).
 * @param {number[]} list
 * @returns {number | null}
 */
export function maxOf(list) {
  return list.length === 0 ? null : list.reduce(fmax);
}

// ---------------------------------------------------------------------------------------------
// Maps (JSON objects with string keys): own properties only, keys in Rust's string order.

/**
 * The keys of `map` in Rust's string order (a `BTreeMap`'s), not JavaScript's property order.
 * @param {Record<string, unknown>} map
 * @returns {string[]}
 */
export function sortedKeys(map) {
  return Object.keys(map).sort(cmpStr);
}

/** The last `[key, value]` pair made for each key, reused while its value is the same. */
const entryPairs = new Map();
/** How many pairs `entries` keeps at most before starting afresh. */
const MAX_ENTRY_PAIRS = 10_000;

/**
 * The `[key, value]` pairs of `map` in the order of `sortedKeys` (`foreach_entries`' list): a
 * pair whose key and value are the ones of a pair made before is that same array, so a row given
 * it renders again only when its value changed.
 * @param {Record<string, unknown> | null | undefined} map
 * @returns {[string, unknown][]}
 */
export function entries(map) {
  if (map == null) return [];
  if (entryPairs.size > MAX_ENTRY_PAIRS) entryPairs.clear();
  return sortedKeys(map).map((key) => {
    const value = map[key];
    const pair = entryPairs.get(key);
    if (pair !== undefined && pair[1] === value) return pair;
    const made = [key, value];
    entryPairs.set(key, made);
    return made;
  });
}

/**
 * The values of `map` in the order of `sortedKeys`.
 * @param {Record<string, unknown>} map
 * @returns {unknown[]}
 */
export function sortedValues(map) {
  return sortedKeys(map).map((k) => map[k]);
}

/**
 * The value of `key` in `map`, or null; inherited properties ("toString") are not keys.
 * @param {Record<string, unknown>} map
 * @param {string} key
 * @returns {unknown}
 */
export function getKey(map, key) {
  return Object.hasOwn(map, key) ? map[key] : null;
}

/**
 * The value of `key` in `map`, or `fallback` when it has no such key (Rust's
 * `get(key).cloned().unwrap_or(fallback)`: a present null value is kept).
 * @param {Record<string, unknown>} map
 * @param {string} key
 * @param {unknown} fallback
 * @returns {unknown}
 */
export function getKeyOr(map, key, fallback) {
  return Object.hasOwn(map, key) ? map[key] : fallback;
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/**
 * Integer division truncating toward zero (Rust's `/` on integers); 0 when `b` is 0, where Rust
 * panics. Exact while `a` is below 2^53.
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function idiv(a, b) {
  return b === 0 ? 0 : Math.trunc(a / b) + 0;
}

/**
 * The integer remainder with the sign of `a` (Rust's `%` on integers); 0 when `b` is 0.
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function irem(a, b) {
  return b === 0 ? 0 : (a % b) + 0;
}

/**
 * The least non-negative integer remainder (Rust's `rem_euclid` on integers); 0 when `b` is 0.
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function iremEuclid(a, b) {
  if (b === 0) return 0;
  const r = a % b;
  return (r < 0 ? r + Math.abs(b) : r) + 0;
}

/**
 * The float remainder made non-negative (Rust's `f64::rem_euclid`: `r + |b|` when `r < 0`).
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function remEuclid(a, b) {
  const r = a % b;
  return r < 0 ? r + Math.abs(b) : r;
}

/**
 * The smaller of two floats, the other one when one is NaN (Rust's `f64::min`).
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function fmin(a, b) {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b);
}

/**
 * The larger of two floats, the other one when one is NaN (Rust's `f64::max`).
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function fmax(a, b) {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b);
}

/**
 * `lo` when `x < lo`, `hi` when `x > hi`, else `x` (Rust's `clamp`, which panics when `lo > hi`).
 * @param {number} x
 * @param {number} lo
 * @param {number} hi
 * @returns {number}
 */
export function clamp(x, lo, hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * `x` to the integer power `n` by repeated squaring, in the order Rust's runtime `powi` (and the
 * exact integer `pow`) multiplies; a negative `n` gives `1 / x^|n|`.
 * @param {number} x
 * @param {number} n
 * @returns {number}
 */
export function powi(x, n) {
  let result = 1;
  let base = x;
  for (let e = Math.abs(n); ; ) {
    if (e % 2 === 1) result *= base;
    e = Math.floor(e / 2);
    if (e === 0) break;
    base *= base;
  }
  return n < 0 ? 1 / result : result;
}

/**
 * The nearest integer, halves away from zero (Rust's `round`; `Math.round(-2.5)` is -2).
 * @param {number} x
 * @returns {number}
 */
export function round(x) {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * `x as i64` for a float: truncated toward zero, saturated at i64's bounds, 0 for NaN.
 * @param {number} x
 * @returns {number}
 */
export function toI64(x) {
  if (Number.isNaN(x)) return 0;
  return Math.min(Math.max(Math.trunc(x), -(2 ** 63)), 2 ** 63) + 0;
}

/**
 * The exact value of a finite double as `mantissa * 2 ** exponent`.
 * @param {number} x
 * @returns {[bigint, number]}
 */
function binaryParts(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? [fraction, -1074] : [fraction | (1n << 52n), biased - 1075];
}

/**
 * `x` with `decimals` digits after the point, as Rust's `format!("{x:.decimals$}")` writes it: the
 * exact binary value rounded to nearest with exact ties to even (0.125 → "0.12", where `toFixed`
 * gives "0.13"), a "-" kept when a negative value rounds to zero, any magnitude in digits (no
 * exponent), "inf", "-inf", "NaN".
 * @param {number} x
 * @param {number} decimals
 * @returns {string}
 */
export function toFixed(x, decimals) {
  if (Number.isNaN(x)) return "NaN";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (!Number.isFinite(x)) return `${sign}inf`;
  const [mantissa, exponent] = binaryParts(Math.abs(x));
  const scale = 10n ** BigInt(decimals);
  let units; // |x| * 10^decimals, rounded
  if (exponent >= 0) {
    units = (mantissa << BigInt(exponent)) * scale;
  } else {
    const numerator = mantissa * scale;
    const denominator = 1n << BigInt(-exponent);
    units = numerator / denominator;
    const twiceRest = (numerator % denominator) * 2n;
    if (twiceRest > denominator || (twiceRest === denominator && units % 2n === 1n)) units += 1n;
  }
  const digits = units.toString().padStart(decimals + 1, "0");
  const point = digits.length - decimals;
  return sign + digits.slice(0, point) + (decimals > 0 ? `.${digits.slice(point)}` : "");
}

/**
 * `x` as `toFixed` writes it, with a "," between groups of three digits before the point
 * ("1,234,567.89"); what `refract_core::format_grouped` writes, whatever the locale.
 * @param {number} x
 * @param {number} decimals
 * @returns {string}
 */
export function formatGrouped(x, decimals) {
  return toFixed(x, decimals).replace(/^(-?)(\d+)/, (_, sign, int) => sign + int.replace(/\B(?=(\d{3})+$)/g, ","));
}

// ---------------------------------------------------------------------------------------------
// Timestamps: RFC 3339 text in UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ", years 0000 to 9999.

const MIN_MILLIS = -62_167_219_200_000;
const MAX_MILLIS = 253_402_300_799_999;
const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * The instant RFC 3339 text names, as canonical text (`YYYY-MM-DDTHH:MM:SS.mmmZ`), or null: what
 * `Timestamp::parse(s).ok()` gives (fraction digits after the third dropped; no leap seconds,
 * no dates that do not exist, years 0000 to 9999 in UTC only).
 * @param {string} s
 * @returns {string | null}
 */
export function parseTimestamp(s) {
  const ms = parseMillis(s);
  return ms === null ? null : timestamp(ms);
}

/**
 * Milliseconds since the epoch of RFC 3339 text, or null.
 * @param {string} s
 * @returns {number | null}
 */
function parseMillis(s) {
  const m = RFC_3339.exec(s);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const milli = Number((m[7] ?? "").slice(0, 3).padEnd(3, "0"));
  const offsetHour = Number(m[9] ?? 0);
  const offsetMinute = Number(m[10] ?? 0);
  if (hour > 23 || minute > 59 || second > 59 || offsetHour > 23 || offsetMinute > 59) return null;
  // setUTCFullYear, unlike Date.UTC, takes years 0 to 99 as they are; a day past the month's
  // end rolls over into the next month, which the check below refuses.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  const offset = (m[8] === "-" ? -1 : 1) * (offsetHour * 60 + offsetMinute);
  const ms = date.getTime() + ((hour * 60 + minute - offset) * 60 + second) * 1000 + milli;
  return ms < MIN_MILLIS || ms > MAX_MILLIS ? null : ms;
}

/**
 * Milliseconds since 1970-01-01T00:00:00Z of a timestamp (`Timestamp::millis`); NaN when `t` is
 * not RFC 3339 text.
 * @param {string} t
 * @returns {number}
 */
export function millis(t) {
  return parseMillis(t) ?? NaN;
}

/**
 * The timestamp `ms` milliseconds after the epoch, clamped to years 0000 to 9999
 * (`Timestamp::from_millis`).
 * @param {number} ms
 * @returns {string}
 */
export function timestamp(ms) {
  // NaN (a timestamp var that did not parse) reads as the epoch rather than throwing.
  const clamped = Number.isNaN(ms) ? 0 : Math.min(Math.max(ms, MIN_MILLIS), MAX_MILLIS);
  return new Date(clamped).toISOString();
}

/**
 * The timestamp `ms` later than `t`, clamped (`Timestamp::add_millis`).
 * @param {string} t
 * @param {number} ms
 * @returns {string}
 */
export function addMillis(t, ms) {
  return timestamp(millis(t) + ms);
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** @param {number} n @param {number} width @returns {string} `n` zero-padded to `width` digits */
const pad = (n, width) => String(n).padStart(width, "0");

/**
 * A timestamp written by a strftime pattern in UTC with English names, as `Timestamp::format`
 * writes it: %Y %y %m %d %e %H %I %p %M %S %3f %j %a %A %b %B %u %s %F %T %%; anything else,
 * unknown directives too, is written as it is.
 * @param {string} t
 * @param {string} pattern
 * @returns {string}
 */
export function formatTimestamp(t, pattern) {
  const ms = millis(t);
  const d = new Date(ms);
  const [year, month, day, hour] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
  const weekday = d.getUTCDay();
  const dayOfYear = Math.floor((ms - new Date(0).setUTCFullYear(year, 0, 1)) / 86_400_000) + 1;
  /** @type {Record<string, () => string>} */
  const directives = {
    Y: () => pad(year, 4),
    y: () => pad(year % 100, 2),
    m: () => pad(month + 1, 2),
    d: () => pad(day, 2),
    e: () => String(day).padStart(2, " "),
    H: () => pad(hour, 2),
    I: () => pad(((hour + 11) % 12) + 1, 2),
    p: () => (hour < 12 ? "AM" : "PM"),
    M: () => pad(d.getUTCMinutes(), 2),
    S: () => pad(d.getUTCSeconds(), 2),
    "3f": () => pad(d.getUTCMilliseconds(), 3),
    j: () => pad(dayOfYear, 3),
    a: () => WEEKDAYS[weekday].slice(0, 3),
    A: () => WEEKDAYS[weekday],
    b: () => MONTHS[month].slice(0, 3),
    B: () => MONTHS[month],
    u: () => String(((weekday + 6) % 7) + 1),
    s: () => String(Math.floor(ms / 1000)),
    F: () => `${directives.Y()}-${directives.m()}-${directives.d()}`,
    T: () => `${directives.H()}:${directives.M()}:${directives.S()}`,
    "%": () => "%",
  };
  return pattern.replace(/%(3f|[\s\S])?/gu, (whole, name) =>
    name !== undefined && Object.hasOwn(directives, name) ? directives[name]() : "%" + (name ?? ""),
  );
}
