//! The table of var operations: each case is a `Var` built from literals and the value Rust's std
//! computes for the same operation, here, at test time. The table is committed as
//! `compiler/runtime/var_ops.cases.json`, which the runtime's tests evaluate in Node
//! (`compiler/runtime/ops.test.js`) and in headless Chromium (`e2e/var_ops.test.js`), so each
//! operation is shown to compute in the browser what it computes in Rust.
//!
//! Rerun with `UPDATE_VAR_OPS=1` after changing a case or an operation's JavaScript.

// The expectations are Rust's std applied to literals, on purpose, even where the result is plain.
#![allow(
    clippy::eq_op,
    clippy::erasing_op,
    clippy::const_is_empty,
    clippy::unnecessary_literal_unwrap,
    clippy::unnecessary_min_or_max
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::path::PathBuf;

use refract_core::{IntoVar, Timestamp, Var, format_grouped, format_var};
use serde::Serialize;
use serde_json::Value;

/// One row of the committed file.
#[derive(Serialize)]
struct Case {
    name: String,
    js: String,
    expected: Value,
}

#[derive(Default)]
struct Table {
    cases: Vec<Case>,
    names: BTreeSet<String>,
}

impl Table {
    /// A case: `var` in the browser must equal `expected`, of the same type, computed by Rust.
    fn case<T: Serialize>(&mut self, name: &str, var: Var<T>, expected: T) {
        let expected = serde_json::to_value(&expected).expect("an expected value is JSON");
        self.push(name, var.js(), expected);
    }

    fn push(&mut self, name: &str, js: &str, expected: Value) {
        assert!(
            self.names.insert(name.to_owned()),
            "two cases named {name:?}"
        );
        assert!(
            !expected.is_null() || name.contains("None") || name.contains("none"),
            "{name}: an expected null (a NaN or an infinity?) must be named as a None case"
        );
        self.cases.push(Case {
            name: name.to_owned(),
            js: js.to_owned(),
            expected,
        });
    }

    /// One case per line, so a change shows as the lines of the cases it changes.
    fn render(&self) -> String {
        let lines: Vec<String> = self
            .cases
            .iter()
            .map(|c| format!("  {}", serde_json::to_string(c).expect("a case is JSON")))
            .collect();
        format!("[\n{}\n]\n", lines.join(",\n"))
    }
}

fn lit<T: Serialize>(value: T) -> Var<T> {
    value.into_var()
}

fn s(text: &str) -> Var<String> {
    text.into_var()
}

fn count(n: usize) -> i64 {
    i64::try_from(n).expect("a small count")
}

/// The range `[start, end)` clamped to `[0, len]` with `end >= start`: what `chars_slice` and
/// list `slice` take.
fn clamped(start: i64, end: i64, len: usize) -> std::ops::Range<usize> {
    let at = |i: i64| usize::try_from(i.max(0)).expect("non-negative").min(len);
    let lo = at(start);
    lo..at(end).max(lo)
}

fn chars_slice(text: &str, start: i64, end: i64) -> String {
    let range = clamped(start, end, text.chars().count());
    text.chars().skip(range.start).take(range.len()).collect()
}

fn instant(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("a valid timestamp")
}

/// A value as the browser holds it: JSON numbers have no integer/float distinction, so a float
/// with an integer value is that integer (and `-0.0` is `0`).
fn as_browser_holds(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            // An integer value below 2^53 converts exactly.
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 2f64.powi(53) => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(as_browser_holds).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, as_browser_holds(v)))
                .collect(),
        ),
        other => other,
    }
}

fn strings(t: &mut Table) {
    for text in ["hello", "", "Straße", "👍🏽", "e\u{301}", "😀"] {
        let n = count(text.chars().count());
        t.case(&format!("len {text:?}"), s(text).len(), n);
    }
    t.case("is_empty of empty", s("").is_empty(), "".is_empty());
    t.case("is_empty of a space", s(" ").is_empty(), " ".is_empty());

    for text in ["Straße", "ǆemal", "ŉ", "ﬁne", "hello wörld", "ß😀"] {
        t.case(
            &format!("to_uppercase {text:?}"),
            s(text).to_uppercase(),
            text.to_uppercase(),
        );
    }
    for text in ["ὈΔΥΣΣΕΎΣ", "ΟΔΟΣ.", "Σ", "ΑΣ Α", "İ", "ABC Ǆ"] {
        t.case(
            &format!("to_lowercase {text:?}"),
            s(text).to_lowercase(),
            text.to_lowercase(),
        );
    }

    let spaced = [
        "  a b  ",
        "\t\n a \r\n",
        "\u{3000}全角\u{3000}",
        "\u{85}x\u{85}",
        "\u{feff}x\u{feff}",
        "\u{a0}\u{2003}x\u{2028}\u{2029}",
        "",
        "   ",
    ];
    for text in spaced {
        t.case(
            &format!("trim {text:?}"),
            s(text).trim(),
            text.trim().to_owned(),
        );
    }
    for text in ["  a  ", "\u{a0}\u{2003}x ", "\u{feff} x"] {
        let start = text.trim_start().to_owned();
        let end = text.trim_end().to_owned();
        t.case(&format!("trim_start {text:?}"), s(text).trim_start(), start);
        t.case(&format!("trim_end {text:?}"), s(text).trim_end(), end);
    }

    for (text, needle) in [("Straße", "ß"), ("abc", ""), ("abc", "d"), ("😀x", "x")] {
        let name = format!("contains {text:?} {needle:?}");
        t.case(&name, s(text).contains(needle), text.contains(needle));
    }
    for (text, prefix) in [("Straße", "Str"), ("abc", ""), ("a", "abc"), ("😀a", "😀")] {
        let name = format!("starts_with {text:?} {prefix:?}");
        t.case(&name, s(text).starts_with(prefix), text.starts_with(prefix));
    }
    for (text, suffix) in [("Straße", "ße"), ("😀", "😀"), ("abc", "ab")] {
        let name = format!("ends_with {text:?} {suffix:?}");
        t.case(&name, s(text).ends_with(suffix), text.ends_with(suffix));
    }

    let splits = [
        ("a,b,,c,", ","),
        ("", ","),
        ("abc", ""),
        ("a😀b", ""),
        ("", ""),
        ("a::b::c", "::"),
        ("aaa", "aa"),
        ("no separator", ";"),
    ];
    for (text, sep) in splits {
        let pieces: Vec<String> = text.split(sep).map(str::to_owned).collect();
        t.case(
            &format!("split {text:?} at {sep:?}"),
            s(text).split(sep),
            pieces,
        );
    }

    let replacements = [
        ("a.b.c", ".", "-"),
        ("aaa", "aa", "b"),
        ("abc", "", "-"),
        ("a😀", "", "|"),
        ("price", "price", "$&$1"),
        ("", "", "x"),
        ("ßß", "ß", "ss"),
        ("x", "y", "z"),
    ];
    for (text, from, to) in replacements {
        let name = format!("replace {from:?} with {to:?} in {text:?}");
        t.case(&name, s(text).replace(from, to), text.replace(from, to));
    }

    let slices = [
        ("Straße", 2, 5),
        ("😀👍🏽e\u{301}", 1, 3),
        ("abc", -5, 2),
        ("abc", 1, 100),
        ("abc", 2, 1),
        ("", 0, 3),
        ("abc", 5, 9),
    ];
    for (text, start, end) in slices {
        let name = format!("chars_slice {text:?} {start}..{end}");
        let expected = chars_slice(text, start, end);
        t.case(&name, s(text).chars_slice(start, end), expected);
    }
    for text in ["añ😀", ""] {
        let chars: Vec<char> = text.chars().collect();
        t.case(&format!("chars {text:?}"), s(text).chars(), chars);
    }

    for (text, n) in [("ab", 3), ("ß", 0), ("x", -2)] {
        let expected = text.repeat(usize::try_from(n).unwrap_or(0));
        t.case(&format!("repeat {text:?} {n}"), s(text).repeat(n), expected);
    }
    t.case(
        "concat with a literal",
        s("Straße") + "!",
        "Straße".to_owned() + "!",
    );
    t.case("concat two vars", s("a") + s("😀"), "a".to_owned() + "😀");
    t.case("concat empty strings", s("") + "", String::new());

    let floats = [
        "3.25", " 1", "1.", ".5", "-1e3", "0x10", "1_000", "", "+.5e-2", "abc", "-0", "1e", ".",
        "1e400x",
    ];
    for text in floats {
        let expected = text.parse::<f64>().ok();
        let name = if expected.is_some() {
            format!("parse_f64 {text:?}")
        } else {
            format!("parse_f64 {text:?} is None")
        };
        t.case(&name, s(text).parse_f64(), expected);
    }
    // An infinity or NaN is null in JSON: the table looks at them through a comparison.
    for text in ["-inf", "Infinity", "1e400"] {
        let negative = text.parse::<f64>().is_ok_and(|x| x < 0.0);
        let var = s(text).parse_f64().unwrap_or(0.0).lt(0.0);
        t.case(&format!("parse_f64 {text:?} is an infinity"), var, negative);
        let huge = text.parse::<f64>().is_ok_and(|x| x.abs() > f64::MAX);
        let var = s(text).parse_f64().unwrap_or(0.0).abs().gt(f64::MAX);
        t.case(&format!("parse_f64 {text:?} is beyond f64::MAX"), var, huge);
    }
    t.case(
        "parse_f64 \"NaN\" is_some",
        s("NaN").parse_f64().is_some(),
        "NaN".parse::<f64>().is_ok(),
    );
    let ints = [
        "42",
        "-17",
        "+5",
        "007",
        "1.0",
        "",
        "9007199254740991",
        "9223372036854775808",
        " 1",
        "-0",
    ];
    for text in ints {
        let expected = text.parse::<i64>().ok();
        let name = if expected.is_some() {
            format!("parse_i64 {text:?}")
        } else {
            format!("parse_i64 {text:?} is None")
        };
        t.case(&name, s(text).parse_i64(), expected);
    }

    let ordered = [
        ("a", "b"),
        ("😀", "\u{ff71}"),
        ("", "a"),
        ("B", "a"),
        ("Straße", "Strasse"),
    ];
    for (a, b) in ordered {
        t.case(&format!("{a:?} lt {b:?}"), s(a).lt(b), a < b);
        t.case(&format!("{a:?} ge {b:?}"), s(a).ge(b), a >= b);
    }
    t.case("eq of equal strings", s("ß").eq("ß"), "ß" == "ß");
    t.case("ne of equal strings", s("ß").ne("ß"), "ß" != "ß");

    for list in [vec!["a", "b"], vec![], vec!["ß"]] {
        let expected = list.join(", ");
        let owned: Vec<String> = list.iter().map(|x| (*x).to_owned()).collect();
        t.case(&format!("join {list:?}"), lit(owned).join(", "), expected);
    }
    let template = format_var!("{} of {}", lit(3), "ten");
    t.case("format_var!", template, format!("{} of {}", 3, "ten"));
}

fn lists(t: &mut Table) {
    let v = vec![10_i64, 20, 30];
    let empty: Vec<i64> = Vec::new();
    t.case("len of a list", lit(v.clone()).len(), count(v.len()));
    t.case("len of an empty list", lit(empty.clone()).len(), 0);
    t.case(
        "is_empty of a list",
        lit(v.clone()).is_empty(),
        v.is_empty(),
    );
    t.case(
        "is_empty of an empty list",
        lit(empty.clone()).is_empty(),
        true,
    );
    t.case("contains 20", lit(v.clone()).contains(20), v.contains(&20));
    t.case("contains 25", lit(v.clone()).contains(25), v.contains(&25));
    let words = vec!["Straße".to_owned(), "😀".to_owned()];
    let ss = "Straße".to_owned();
    t.case(
        "contains a string",
        lit(words.clone()).contains(ss.clone()),
        words.contains(&ss),
    );
    let nested = vec![vec![1_i64, 2], vec![3]];
    t.case(
        "contains a list by value",
        lit(nested.clone()).contains(vec![1, 2]),
        nested.contains(&vec![1, 2]),
    );
    let zeros = vec![-0.0_f64];
    t.case(
        "contains 0.0 in [-0.0]",
        lit(zeros.clone()).contains(0.0),
        zeros.contains(&0.0),
    );
    let options = vec![Some(1_i64), None];
    t.case(
        "contains None",
        lit(options.clone()).contains(None),
        options.contains(&None),
    );

    for i in [0_i64, 2, 3, -1] {
        let expected = usize::try_from(i).ok().and_then(|i| v.get(i)).copied();
        let name = if expected.is_some() {
            format!("get {i}")
        } else {
            format!("get {i} is None")
        };
        t.case(&name, lit(v.clone()).get(i), expected);
    }
    t.case(
        "get of a string list",
        lit(words.clone()).get(1),
        words.get(1).cloned(),
    );
    t.case("first", lit(v.clone()).first(), v.first().copied());
    t.case("last", lit(v.clone()).last(), v.last().copied());
    t.case("first of empty is None", lit(empty.clone()).first(), None);
    t.case("last of empty is None", lit(empty.clone()).last(), None);
    let with_none = vec![None, Some(2_i64)];
    t.case(
        "first item None",
        lit(with_none.clone()).first(),
        with_none.first().copied(),
    );

    for (start, end) in [(1, 3), (-2, 2), (2, 99), (3, 1), (0, 0)] {
        let expected = v[clamped(start, end, v.len())].to_vec();
        t.case(
            &format!("slice {start}..{end}"),
            lit(v.clone()).slice(start, end),
            expected,
        );
    }
    t.case("slice of empty", lit(empty.clone()).slice(0, 2), Vec::new());

    let reversed: Vec<i64> = v.iter().rev().copied().collect();
    t.case("reverse", lit(v.clone()).reverse(), reversed);
    t.case("reverse of empty", lit(empty.clone()).reverse(), Vec::new());
    let rev_words: Vec<String> = words.iter().rev().cloned().collect();
    t.case(
        "reverse of strings",
        lit(words.clone()).reverse(),
        rev_words,
    );
    t.case(
        "concat",
        lit(vec![1_i64, 2]).concat(vec![3]),
        [vec![1, 2], vec![3]].concat(),
    );
    t.case(
        "concat of lists of lists",
        lit(nested.clone()).concat(nested.clone()),
        [nested.clone(), nested.clone()].concat(),
    );
    t.case(
        "concat empty lists",
        lit(empty.clone()).concat(empty.clone()),
        Vec::new(),
    );

    let dup = vec![5_i64, 7, 5];
    let position = |x: i64| dup.iter().position(|y| *y == x).map(count);
    t.case(
        "index_of the first of two",
        lit(dup.clone()).index_of(5),
        position(5),
    );
    t.case("index_of 7", lit(dup.clone()).index_of(7), position(7));
    t.case(
        "index_of missing is None",
        lit(dup.clone()).index_of(9),
        position(9),
    );

    let negatives = vec![-3_i64, 8, -12];
    t.case(
        "sum of integers",
        lit(negatives.clone()).sum(),
        negatives.iter().sum(),
    );
    t.case(
        "sum of no integers",
        lit(empty.clone()).sum(),
        empty.iter().sum(),
    );
    let tenths = vec![0.1_f64, 0.2, 0.3];
    t.case(
        "sum of floats left to right",
        lit(tenths.clone()).sum(),
        tenths.iter().sum(),
    );
    let no_floats: Vec<f64> = Vec::new();
    t.case(
        "sum of no floats is -0.0",
        lit(no_floats.clone()).sum(),
        no_floats.iter().sum(),
    );
    t.case(
        "min of integers",
        lit(negatives.clone()).min(),
        negatives.iter().min().copied(),
    );
    t.case(
        "max of integers",
        lit(negatives.clone()).max(),
        negatives.iter().max().copied(),
    );
    t.case("min of none is None", lit(empty.clone()).min(), None);
    t.case("max of none is None", lit(empty.clone()).max(), None);
    let floats = vec![3.5_f64, -1.25, 2.0];
    t.case(
        "min of floats",
        lit(floats.clone()).min(),
        floats.iter().copied().reduce(f64::min),
    );
    t.case(
        "max of floats",
        lit(floats.clone()).max(),
        floats.iter().copied().reduce(f64::max),
    );
    let bytes = vec![200_u8, 7, 255];
    t.case(
        "max of u8s",
        lit(bytes.clone()).max(),
        bytes.iter().max().copied(),
    );
}

/// A `HashMap` whose order is the same on every run (std's SipHash with fixed keys), so the
/// table's JavaScript is too; it is not sorted, which is what `keys` must make it.
type FixedHashMap<V> = HashMap<String, V, BuildHasherDefault<DefaultHasher>>;

fn maps(t: &mut Table) {
    let scores: FixedHashMap<i64> = [("bob", 3), ("ann", 5), ("émile", 1), ("Zoe", 2)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let sorted: BTreeMap<String, i64> = scores.clone().into_iter().collect();
    let m = || lit(scores.clone());
    t.case("map len", m().len(), count(scores.len()));
    t.case("map is_empty", m().is_empty(), scores.is_empty());
    let empty: FixedHashMap<i64> = FixedHashMap::default();
    t.case("empty map is_empty", lit(empty.clone()).is_empty(), true);
    t.case("empty map keys", lit(empty.clone()).keys(), Vec::new());
    t.case(
        "hash map keys sorted",
        m().keys(),
        sorted.keys().cloned().collect(),
    );
    t.case(
        "hash map values by key",
        m().values(),
        sorted.values().copied().collect(),
    );
    for key in ["ann", "nobody", "toString", "constructor", "__proto__"] {
        let expected = scores.get(key).copied();
        let name = if expected.is_some() {
            format!("map get {key:?}")
        } else {
            format!("map get {key:?} is None")
        };
        t.case(&name, m().get(key), expected);
        let has = format!("map contains_key {key:?}");
        t.case(&has, m().contains_key(key), scores.contains_key(key));
        let or = format!("map get_or {key:?}");
        t.case(
            &or,
            m().get_or(key, -1),
            scores.get(key).copied().unwrap_or(-1),
        );
    }

    let odd_keys: BTreeMap<String, i64> = ["10", "9", "a", "B", "😀", "\u{ff71}", "", "__proto__"]
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k.to_owned(), count(i)))
        .collect();
    let b = || lit(odd_keys.clone());
    t.case(
        "btree keys in Rust order",
        b().keys(),
        odd_keys.keys().cloned().collect(),
    );
    t.case(
        "btree values in key order",
        b().values(),
        odd_keys.values().copied().collect(),
    );
    t.case("btree len with __proto__", b().len(), count(odd_keys.len()));
    t.case(
        "btree get __proto__",
        b().get("__proto__"),
        odd_keys.get("__proto__").copied(),
    );
    t.case(
        "btree get empty key",
        b().get(""),
        odd_keys.get("").copied(),
    );

    let optional: BTreeMap<String, Option<i64>> = BTreeMap::from([("a".to_owned(), None)]);
    let expected = optional.get("a").cloned().unwrap_or(Some(5));
    t.case(
        "get_or keeps a present None",
        lit(optional.clone()).get_or("a", Some(5)),
        expected,
    );
    let lists: BTreeMap<String, Vec<String>> =
        BTreeMap::from([("tags".to_owned(), vec!["x".to_owned()])]);
    t.case(
        "get of a list value",
        lit(lists.clone()).get("tags"),
        lists.get("tags").cloned(),
    );
}

fn numbers(t: &mut Table) {
    for (a, b) in [(7_i64, 2), (-7, 2), (7, -2), (-7, -2), (0, -5), (1, 3)] {
        t.case(&format!("{a} / {b}"), lit(a) / b, a / b);
        t.case(&format!("{a} % {b}"), lit(a) % b, a % b);
    }
    t.case("-6 % 3 is 0, not -0", lit(-6_i64) % 3, -6 % 3);
    t.case("0 * -5 is 0, not -0", lit(0_i64) * -5, 0 * -5);
    t.case(
        "7 / 0 is 0 in the browser",
        lit(7_i64) / 0,
        7_i64.checked_div(0).unwrap_or(0),
    );
    t.case(
        "7 % 0 is 0 in the browser",
        lit(7_i64) % 0,
        7_i64.checked_rem(0).unwrap_or(0),
    );
    t.case("3 + 4 * 2", lit(3_i64) + lit(4_i64) * 2, 3 + 4 * 2);
    t.case("10 - 15", lit(10_i64) - 15, 10 - 15);
    t.case("u8 200 / 3", lit(200_u8) / 3, 200 / 3);
    t.case("i32 -9 / 4", lit(-9_i32) / 4, -9 / 4);
    let big = 9_007_199_254_740_991_i64;
    t.case("2^53 - 1 / 2", lit(big) / 2, big / 2);
    t.case("-(2^53 - 1) % 10", lit(-big) % 10, -big % 10);
    t.case("2^53 - 1 - 1", lit(big) - 1, big - 1);

    t.case("7.0 / 2.0", lit(7.0_f64) / 2.0, 7.0 / 2.0);
    t.case("1.0 / 3.0", lit(1.0_f64) / 3.0, 1.0 / 3.0);
    t.case("-7.5 % 2.0", lit(-7.5_f64) % 2.0, -7.5 % 2.0);
    t.case("0.1 + 0.2", lit(0.1_f64) + 0.2, 0.1 + 0.2);
    t.case("2.5 * -4.0", lit(2.5_f64) * -4.0, 2.5 * -4.0);
    t.case("-(5)", -lit(5_i64), -5);
    t.case("-(0) is 0", -lit(0_i64), 0);
    t.case("-(2.5)", -lit(2.5_f64), -2.5);
    t.case("-(0.0) is -0.0", -lit(0.0_f64), -0.0);

    t.case("abs -5", lit(-5_i64).abs(), (-5_i64).abs());
    t.case("abs -2.5", lit(-2.5_f64).abs(), (-2.5_f64).abs());
    t.case("abs i32 -7", lit(-7_i32).abs(), (-7_i32).abs());
    t.case("min 3 -2", lit(3_i64).min(-2), 3.min(-2));
    t.case("max 3 -2", lit(3_i64).max(-2), 3.max(-2));
    t.case("min 1.5 0.5", lit(1.5_f64).min(0.5), 1.5_f64.min(0.5));
    t.case("max 1.5 0.5", lit(1.5_f64).max(0.5), 1.5_f64.max(0.5));
    let nan = || lit(0.0_f64) / 0.0;
    t.case(
        "min of NaN and 1.0 skips NaN",
        nan().min(1.0),
        f64::NAN.min(1.0),
    );
    t.case(
        "max of 1.0 and NaN skips NaN",
        lit(1.0_f64).max(nan()),
        1.0_f64.max(f64::NAN),
    );
    t.case("NaN as i64 is 0", nan().as_i64(), 0);
    for x in [15_i64, -3, 5] {
        t.case(
            &format!("clamp {x} to 0..=10"),
            lit(x).clamp(0, 10),
            x.clamp(0, 10),
        );
    }
    t.case(
        "clamp 2.5 to 0..=1",
        lit(2.5_f64).clamp(0.0, 1.0),
        2.5_f64.clamp(0.0, 1.0),
    );

    for (a, b) in [(-7_i64, 3), (7, -3), (-7, -3), (-6, 3), (7, 3)] {
        t.case(
            &format!("{a} rem_euclid {b}"),
            lit(a).rem_euclid(b),
            a.rem_euclid(b),
        );
    }
    t.case(
        "-7.5 rem_euclid 2.0",
        lit(-7.5_f64).rem_euclid(2.0),
        (-7.5_f64).rem_euclid(2.0),
    );
    t.case(
        "7.5 rem_euclid -2.0",
        lit(7.5_f64).rem_euclid(-2.0),
        7.5_f64.rem_euclid(-2.0),
    );
    t.case(
        "rem_euclid by 0 is 0 in the browser",
        lit(5_i64).rem_euclid(0),
        0,
    );

    for (x, e) in [(2_i64, 10), (-3, 3), (10, 0), (0, 0), (2, 52), (7, 18)] {
        t.case(&format!("{x} pow {e}"), lit(x).pow(e), x.pow(e));
    }
    for (x, e) in [
        (1.5_f64, 3),
        (2.0, -2),
        (-0.5, 3),
        (10.0, 0),
        (0.5, 10),
        (3.0, 5),
    ] {
        t.case(&format!("{x} powi {e}"), lit(x).powi(e), x.powi(e));
    }

    let rounded = [
        2.5_f64,
        -2.5,
        0.5,
        -0.5,
        1.5,
        0.499_999_999_999_999_94,
        -0.4,
        2.4999,
        4_503_599_627_370_497.0,
        -7.0,
    ];
    for x in rounded {
        t.case(&format!("round {x}"), lit(x).round(), x.round());
    }
    for x in [-1.5_f64, -0.5, 2.7, -2.7, 3.0] {
        t.case(&format!("floor {x}"), lit(x).floor(), x.floor());
        t.case(&format!("ceil {x}"), lit(x).ceil(), x.ceil());
        t.case(&format!("trunc {x}"), lit(x).trunc(), x.trunc());
    }
    for x in [2.0_f64, 16.0, 0.25, 1e-10] {
        t.case(&format!("sqrt {x}"), lit(x).sqrt(), x.sqrt());
    }
    t.case("f32 2.5 round", lit(2.5_f32).round(), 2.5_f32.round());
    t.case("f32 9 sqrt", lit(9.0_f32).sqrt(), 9.0_f32.sqrt());

    let as_f64 = |n: i64| n as f64;
    t.case("7 as_f64", lit(7_i64).as_f64(), as_f64(7));
    t.case("7 as_f64 / 2", lit(7_i64).as_f64() / 2.0, as_f64(7) / 2.0);
    for x in [2.9_f64, -2.9, -0.5, 1e20, -1e20] {
        t.case(&format!("{x} as_i64"), lit(x).as_i64(), x as i64);
    }
    t.case("i64 as_i64", lit(-4_i64).as_i64(), -4);

    let fixed = [
        (0.125_f64, 2),
        (0.375, 2),
        (2.5, 0),
        (3.5, 0),
        (-2.5, 0),
        (0.5, 0),
        (1.5, 0),
        (1234.5, 0),
        (1.005, 2),
        (1.0, 2),
        (-0.001, 2),
        (-0.0, 1),
        (123.456, 1),
        (0.1, 20),
        (1e21, 2),
        (1e300, 0),
        (5e-324, 3),
        (1e15 + 0.5, 0),
        (-1.25, 1),
        (2.675, 2),
    ];
    for (x, n) in fixed {
        let digits = n as usize;
        t.case(
            &format!("to_fixed {x:e} {n}"),
            lit(x).to_fixed(n),
            format!("{x:.digits$}"),
        );
    }
    t.case(
        "to_fixed f32 0.1 10",
        lit(0.1_f32).to_fixed(10),
        format!("{:.10}", 0.1_f32),
    );
    t.case(
        "to_fixed f32 2.5 0",
        lit(2.5_f32).to_fixed(0),
        format!("{:.0}", 2.5_f32),
    );
    t.case(
        "to_fixed of 0.1 + 0.2",
        (lit(0.1_f64) + 0.2).to_fixed(17),
        format!("{:.17}", 0.1 + 0.2),
    );

    let grouped = [
        (1_234_567.891_f64, 2),
        (-1234.5, 0),
        (999.999, 2),
        (0.0, 2),
        (100.0, 0),
        (0.125, 2),
        (1e21, 0),
        (-0.4, 0),
        (12_345.678_9, 3),
    ];
    for (x, n) in grouped {
        let name = format!("format_grouped {x} {n}");
        t.case(
            &name,
            lit(x).format_grouped(n),
            format_grouped(x, n as usize),
        );
    }
    for n in [1000_i64, -999_999, 12_345_678_901_234, 7] {
        let name = format!("format_grouped integer {n}");
        t.case(
            &name,
            lit(n).format_grouped(0),
            format_grouped(as_f64(n), 0),
        );
    }
    t.case(
        "format_grouped f32 1234.5 1",
        lit(1234.5_f32).format_grouped(1),
        format_grouped(f64::from(1234.5_f32), 1),
    );

    t.case("3 lt 5", lit(3_i64).lt(5), 3 < 5);
    t.case("2.5 ge 2.5", lit(2.5_f64).ge(2.5), 2.5 >= 2.5);
    t.case("-0.0 eq 0.0", lit(-0.0_f64).eq(0.0), -0.0 == 0.0);
    t.case("to_text 42", lit(42_i64).to_text(), 42.to_string());
    t.case("to_text 2.5", lit(2.5_f64).to_text(), 2.5.to_string());
    t.case("to_text 1.0", lit(1.0_f64).to_text(), 1.0.to_string());
    t.case("to_text -7", lit(-7_i32).to_text(), (-7).to_string());
}

fn logic(t: &mut Table) {
    for a in [true, false] {
        t.case(&format!("not {a}"), !lit(a), !a);
        for b in [true, false] {
            t.case(&format!("{a} and {b}"), lit(a).and(b), a && b);
            t.case(&format!("{a} or {b}"), lit(a).or(b), a || b);
            t.case(&format!("{a} xor {b}"), lit(a).xor(b), a ^ b);
        }
        let chosen = if a { "yes" } else { "no" };
        t.case(
            &format!("{a} if_else"),
            lit(a).if_else("yes", "no"),
            chosen.to_owned(),
        );
    }
    let big = lit(7_i64).gt(3).if_else(lit(7_i64) * 2, 0);
    t.case(
        "if_else of computed numbers",
        big,
        if 7 > 3 { 7 * 2 } else { 0 },
    );

    let some = Some(2_i64);
    let none: Option<i64> = None;
    t.case("is_some of Some", lit(some).is_some(), some.is_some());
    t.case("is_some of None", lit(none).is_some(), none.is_some());
    t.case("is_none of None", lit(none).is_none(), none.is_none());
    t.case(
        "unwrap_or of Some",
        lit(some).unwrap_or(9),
        some.unwrap_or(9),
    );
    t.case(
        "unwrap_or of None",
        lit(none).unwrap_or(9),
        none.unwrap_or(9),
    );
    t.case(
        "Some(0) unwrap_or keeps 0",
        lit(Some(0_i64)).unwrap_or(9),
        Some(0).unwrap_or(9),
    );
    let empty_text = Some(String::new());
    t.case(
        "Some(\"\") unwrap_or keeps \"\"",
        lit(empty_text.clone()).unwrap_or("x"),
        empty_text.clone().unwrap_or_else(|| "x".to_owned()),
    );
    t.case("None or Some(3)", lit(none).or(Some(3)), none.or(Some(3)));
    t.case(
        "Some(2) or Some(3)",
        lit(some).or(Some(3)),
        some.or(Some(3)),
    );
    t.case("None or None", lit(none).or(None), none.or(None));
    t.case(
        "unwrap_or_default of None string",
        lit(None::<String>).unwrap_or_default(),
        String::new(),
    );
    t.case(
        "unwrap_or_default of None i64",
        lit(none).unwrap_or_default(),
        none.unwrap_or_default(),
    );
    t.case(
        "unwrap_or_default of Some",
        lit(some).unwrap_or_default(),
        some.unwrap_or_default(),
    );
    t.case(
        "unwrap_or_default of None list",
        lit(None::<Vec<i64>>).unwrap_or_default(),
        Vec::new(),
    );
    t.case(
        "unwrap_or_default of None bool",
        lit(None::<bool>).unwrap_or_default(),
        false,
    );
}

fn time(t: &mut Table) {
    let texts = [
        "2024-02-29T12:30:00Z",
        "2024-02-29T18:00:00+05:30",
        "2024-02-29t12:30:00z",
        "2024-02-29 12:30:00Z",
        "2024-02-29T12:30:00.5Z",
        "2024-02-29T12:30:00.123456Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:60Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59.999-00:01",
        "10000-01-01T00:00:00Z",
        "2024-01-01T00:00:00+00:01",
        "1969-12-31T23:59:59.999Z",
        "not a date",
        "2024-01-01",
    ];
    for text in texts {
        let expected = Timestamp::parse(text).ok();
        let name = if expected.is_some() {
            format!("parse_timestamp {text:?}")
        } else {
            format!("parse_timestamp {text:?} is None")
        };
        t.case(&name, s(text).parse_timestamp(), expected);
    }

    let instants = [
        "1970-01-01T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "1969-07-20T20:17:40Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
    ];
    for text in instants {
        let at = instant(text);
        t.case(&format!("millis of {text}"), lit(at).millis(), at.millis());
    }
    for ms in [
        0_i64,
        1_700_000_000_123,
        -1,
        300_000_000_000_000,
        -70_000_000_000_000,
    ] {
        let var = Var::<Timestamp>::from_millis(ms);
        t.case(
            &format!("from_millis {ms}"),
            var,
            Timestamp::from_millis(ms),
        );
    }
    let adds = [
        ("2024-02-28T12:00:00Z", 86_400_000_i64),
        ("1900-02-28T00:00:00Z", 86_400_000),
        ("1970-01-01T00:00:00Z", -1),
        ("9999-12-31T00:00:00Z", 86_400_000),
    ];
    for (text, ms) in adds {
        let at = instant(text);
        let name = format!("{text} add_millis {ms}");
        t.case(&name, lit(at).add_millis(ms), at.add_millis(ms));
    }

    let early = instant("2024-01-01T00:30:00+01:00");
    let late = instant("2023-12-31T23:45:00Z");
    t.case(
        "timestamps lt by instant",
        lit(early).lt(late),
        early < late,
    );
    t.case(
        "timestamps ge by instant",
        lit(early).ge(late),
        early >= late,
    );
    t.case("timestamps eq", lit(early).eq(early), early == early);
    let offset_text = "2024-01-01T00:30:00+01:00";
    let raw: Var<Timestamp> = Var::raw(serde_json::to_string(offset_text).unwrap());
    t.case(
        "offset text lt compares instants, not text",
        raw.lt(late),
        instant(offset_text) < late,
    );

    let formats = [
        ("2024-03-05T09:07:08.042Z", "%Y-%m-%d %H:%M:%S"),
        ("2024-03-05T09:07:08.042Z", "%a %e %b %Y, %3f ms"),
        ("2024-03-05T09:07:08.042Z", "%A, %B %d"),
        ("2024-03-05T00:15:00Z", "%I:%M %p"),
        ("2024-03-05T12:15:00Z", "%I:%M %p"),
        ("2024-03-05T23:15:00Z", "%I:%M %p"),
        ("2024-12-31T10:00:00Z", "day %j"),
        ("2023-12-31T10:00:00Z", "day %j"),
        ("0005-06-07T00:00:00Z", "%y/%Y"),
        ("0000-01-01T00:00:00Z", "%F %T %a"),
        ("1969-12-31T23:59:59.500Z", "%s"),
        ("2024-03-10T00:00:00Z", "%u %a"),
        ("2024-03-05T09:07:08Z", "100%% at %Q%"),
        ("2024-03-05T09:07:08Z", "📅 %F"),
        ("1900-03-01T00:00:00Z", "%F %A"),
        ("2024-02-29T12:30:00Z", "%s"),
    ];
    for (text, pattern) in formats {
        let at = instant(text);
        let name = format!("format {text} {pattern:?}");
        t.case(&name, lit(at).format(pattern), at.format(pattern));
    }
}

fn json(t: &mut Table) {
    let texts = [
        "plain",
        "quote \" backslash \\",
        "line\nbreak\ttab",
        "\u{1}\u{1f}\u{7f}",
        "😀 ß",
        "</script>",
        "\u{2028}",
    ];
    for text in texts {
        let expected = serde_json::to_string(text).unwrap();
        t.case(&format!("to_json {text:?}"), s(text).to_json(), expected);
    }
    t.case(
        "to_json -5",
        lit(-5_i64).to_json(),
        serde_json::to_string(&-5).unwrap(),
    );
    t.case(
        "to_json 2.5",
        lit(2.5_f64).to_json(),
        serde_json::to_string(&2.5).unwrap(),
    );
    t.case(
        "to_json true",
        lit(true).to_json(),
        serde_json::to_string(&true).unwrap(),
    );
    t.case(
        "to_json None",
        lit(None::<i64>).to_json(),
        "null".to_owned(),
    );

    // Whole floats: the browser holds 1.0 as 1 and writes "1" where serde_json writes "1.0".
    let floats = vec![1.0_f64, 2.5, -0.0];
    let held = as_browser_holds(serde_json::to_value(&floats).unwrap());
    t.case(
        "to_json of whole floats writes them as integers",
        lit(floats).to_json(),
        serde_json::to_string(&held).unwrap(),
    );
    let sorted: BTreeMap<String, i64> = BTreeMap::from([("b".to_owned(), 1), ("a".to_owned(), 2)]);
    t.case(
        "to_json of a BTreeMap",
        lit(sorted.clone()).to_json(),
        serde_json::to_string(&sorted).unwrap(),
    );

    #[derive(Serialize, Clone)]
    struct Item {
        title: String,
        done: bool,
        tags: Vec<String>,
        due: Option<Timestamp>,
        estimate: f64,
    }
    let item = Item {
        title: "Write \"docs\"".to_owned(),
        done: false,
        tags: vec!["ß".to_owned()],
        due: Some(instant("2024-02-29T12:30:00Z")),
        estimate: 1.5,
    };
    t.case(
        "to_json of a struct keeps field order",
        lit(item.clone()).to_json(),
        serde_json::to_string(&item).unwrap(),
    );
    let list = vec![Some(1_i64), None];
    t.case(
        "to_json of a list with None",
        lit(list.clone()).to_json(),
        serde_json::to_string(&list).unwrap(),
    );
}

fn table() -> Table {
    let mut t = Table::default();
    strings(&mut t);
    lists(&mut t);
    maps(&mut t);
    numbers(&mut t);
    logic(&mut t);
    time(&mut t);
    json(&mut t);
    t
}

#[test]
fn the_committed_table_is_what_rust_computes() {
    let table = table();
    assert!(table.cases.len() >= 170, "only {} cases", table.cases.len());
    let rendered = table.render();
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../compiler/runtime/var_ops.cases.json");
    if std::env::var_os("UPDATE_VAR_OPS").is_some() {
        std::fs::write(&path, &rendered).expect("write the table");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} differs from the {} cases Rust computes: rerun with UPDATE_VAR_OPS=1 \
         (`UPDATE_VAR_OPS=1 cargo test -p refract-core --test var_ops`), then run \
         `node --test compiler/runtime/` and `cd e2e && node --test var_ops.test.js`",
        path.display(),
        table.cases.len()
    );
}
