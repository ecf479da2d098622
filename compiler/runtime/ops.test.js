// Tests of ops.js: `node --test compiler/runtime/`. The unit tests pin the helpers' edge cases;
// the table test evaluates every case of var_ops.cases.json (the JavaScript of a `Var` built in
// Rust, and the value Rust's std computed for it; see core/tests/var_ops.rs) with `$rf` bound to
// this module, and compares values strictly (-0 is not 0).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as $rf from "./ops.js";

const cases = JSON.parse(readFileSync(new URL("./var_ops.cases.json", import.meta.url), "utf8"));

/**
 * The value of a case's expression, with `$rf` in scope as a page module has it.
 * @param {string} js
 */
const evaluate = (js) => new Function("$rf", `return (${js});`)($rf);

test("every case of the table computes in Node what Rust computes", () => {
  assert.ok(cases.length >= 170, `only ${cases.length} cases`);
  const failures = [];
  for (const { name, js, expected } of cases) {
    try {
      assert.deepStrictEqual(evaluate(js), expected);
    } catch (e) {
      failures.push(`${name}: ${js}\n  ${e.message.split("\n").join("\n  ")}`);
    }
  }
  assert.deepEqual(failures, []);
});

test("charCount counts scalar values, not UTF-16 units", () => {
  assert.equal($rf.charCount("a😀e\u0301"), 4);
  assert.equal("a😀e\u0301".length, 5);
});

test("cmpStr orders by code point, as Rust orders strings", () => {
  assert.equal($rf.cmpStr("😀", "\uff71"), 1, "U+1F600 is after U+FF71");
  assert.equal("😀" < "\uff71", true, "JavaScript's < says otherwise");
  assert.equal($rf.cmpStr("\ud7ff", "😀"), -1);
  assert.equal($rf.cmpStr("ab", "a"), 1);
  assert.equal($rf.cmpStr("", ""), 0);
  assert.deepEqual(["b", "😀", "\uffff", "a"].sort($rf.cmpStr), ["a", "b", "\uffff", "😀"]);
});

test("trim removes Unicode White_Space: U+0085 yes, U+FEFF no", () => {
  assert.equal($rf.trim("\u0085 x\u3000"), "x");
  assert.equal($rf.trim("\ufeffx"), "\ufeffx");
  assert.equal($rf.trimStart("\u2028x "), "x ");
  assert.equal($rf.trimEnd(" x\u2029"), " x");
});

test("split, replace and charsSlice work on characters and never throw", () => {
  assert.deepEqual($rf.split("a😀", ""), ["", "a", "😀", ""]);
  assert.deepEqual($rf.split("", ""), ["", ""]);
  assert.equal($rf.replace("a$b", "$", "$&$'"), "a$&$'b");
  assert.equal($rf.replace("😀", "", "-"), "-😀-");
  assert.equal($rf.charsSlice("😀ab", -1, 2), "😀a");
  assert.equal($rf.charsSlice("abc", 3, 1), "");
  assert.equal($rf.charsSlice("abc", Infinity, Infinity), "");
  assert.equal($rf.repeat("ab", -1), "");
});

test("parseF64 and parseI64 accept what Rust's parse accepts", () => {
  assert.equal($rf.parseF64("1."), 1);
  assert.equal($rf.parseF64("-.5e1"), -5);
  assert.equal($rf.parseF64("inF"), Infinity);
  assert.equal($rf.parseF64("-infinity"), -Infinity);
  assert.ok(Number.isNaN($rf.parseF64("NaN")));
  for (const bad of ["", " 1", "1 ", "0x1", "1_0", "e1", ".", "+", "Infinityx"]) {
    assert.equal($rf.parseF64(bad), null, bad);
  }
  assert.equal($rf.parseI64("-9223372036854775808"), -(2 ** 63));
  assert.equal($rf.parseI64("9223372036854775808"), null);
  assert.equal(Object.is($rf.parseI64("-0"), 0), true);
  for (const bad of ["", "+", "1.0", "1e3", " 1", "٣"]) assert.equal($rf.parseI64(bad), null, bad);
});

test("equal compares values deeply, objects in any key order, NaN unequal", () => {
  assert.ok($rf.equal({ a: [1, { b: null }], c: "x" }, { c: "x", a: [1, { b: null }] }));
  assert.ok(!$rf.equal({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!$rf.equal([1], { 0: 1 }));
  assert.ok(!$rf.equal(NaN, NaN));
  assert.ok($rf.equal(-0, 0));
  assert.ok($rf.contains([[1, 2]], [1, 2]));
  assert.equal($rf.indexOf(["a", "b", "a"], "a"), 0);
  assert.equal($rf.indexOf([], "a"), null);
});

test("list helpers clamp and give null for nothing", () => {
  assert.deepEqual($rf.slice([1, 2, 3], -1, 2), [1, 2]);
  assert.deepEqual($rf.slice([1, 2, 3], 2, 1), []);
  assert.equal($rf.minOf([]), null);
  assert.equal($rf.maxOf([2, NaN, 5]), 5);
  assert.equal(Object.is($rf.sumFloats([]), -0), true);
  assert.equal(Object.is($rf.sum([]), 0), true);
});

test("map helpers read own properties only, keys in Rust order", () => {
  const map = JSON.parse('{"b":1,"10":2,"9":3,"__proto__":4}');
  assert.deepEqual(Object.keys(map), ["9", "10", "b", "__proto__"], "JavaScript's own order");
  assert.deepEqual($rf.sortedKeys(map), ["10", "9", "__proto__", "b"]);
  assert.deepEqual($rf.sortedValues(map), [2, 3, 4, 1]);
  assert.equal($rf.getKey(map, "__proto__"), 4);
  assert.equal($rf.getKey({}, "toString"), null);
  assert.equal($rf.getKeyOr({}, "constructor", 7), 7);
  assert.equal($rf.getKeyOr({ a: null }, "a", 7), null);
});

test("integer division truncates, remainders take the dividend's sign, no -0, 0 for / 0", () => {
  assert.equal($rf.idiv(-7, 2), -3);
  assert.equal(Object.is($rf.idiv(-1, 2), 0), true);
  assert.equal($rf.idiv(5, 0), 0);
  assert.equal($rf.irem(-7, 3), -1);
  assert.equal(Object.is($rf.irem(-6, 3), 0), true);
  assert.equal($rf.irem(5, 0), 0);
  assert.equal($rf.iremEuclid(-7, -3), 2);
  assert.equal($rf.iremEuclid(5, 0), 0);
  assert.equal($rf.remEuclid(-0.5, 2), 1.5);
});

test("float helpers: round half away from zero, NaN-skipping min/max, clamp, powi, toI64", () => {
  assert.equal($rf.round(-2.5), -3);
  assert.equal(Math.round(-2.5), -2, "what JavaScript does");
  assert.equal(Object.is($rf.round(-0.4), -0), true);
  assert.equal($rf.round(0.49999999999999994), 0);
  assert.equal($rf.fmin(NaN, 1), 1);
  assert.equal($rf.fmax(1, NaN), 1);
  assert.ok(Number.isNaN($rf.fmin(NaN, NaN)));
  assert.equal($rf.clamp(5, 0, 3), 3);
  assert.equal($rf.powi(2, -3), 0.125);
  assert.equal($rf.powi(3, 0), 1);
  assert.equal($rf.powi(-2, 5), -32);
  assert.equal($rf.toI64(1e30), 2 ** 63);
  assert.equal($rf.toI64(-1e30), -(2 ** 63));
  assert.equal(Object.is($rf.toI64(-0.9), 0), true);
});

test("toFixed writes Rust's {:.N}: exact ties to even, other values by their exact binary value", () => {
  assert.equal($rf.toFixed(0.125, 2), "0.12");
  assert.equal((0.125).toFixed(2), "0.13", "what JavaScript does");
  assert.equal($rf.toFixed(0.375, 2), "0.38");
  assert.equal($rf.toFixed(2.5, 0), "2");
  assert.equal($rf.toFixed(-2.5, 0), "-2");
  assert.equal($rf.toFixed(1.005, 2), "1.00", "1.005 is 1.00499999999999989…");
  assert.equal($rf.toFixed(2.675, 2), "2.67");
  assert.equal($rf.toFixed(-0.001, 2), "-0.00");
  assert.equal($rf.toFixed(-0, 0), "-0");
  assert.equal($rf.toFixed(1e21, 0), "1000000000000000000000");
  assert.equal($rf.toFixed(5e-324, 0), "0");
  assert.equal($rf.toFixed(0.1, 25), "0.1000000000000000055511151");
  assert.equal($rf.toFixed(Infinity, 2), "inf");
  assert.equal($rf.toFixed(-Infinity, 2), "-inf");
  assert.equal($rf.toFixed(NaN, 2), "NaN");
});

test("formatGrouped puts a comma between groups of three integer digits, whatever the locale", () => {
  assert.equal($rf.formatGrouped(1234567.891, 2), "1,234,567.89");
  assert.equal($rf.formatGrouped(-999.5, 0), "-1,000");
  assert.equal($rf.formatGrouped(999, 0), "999");
  assert.equal($rf.formatGrouped(0.5, 3), "0.500");
  assert.equal($rf.formatGrouped(-Infinity, 1), "-inf");
});

test("timestamps: RFC 3339 in, canonical UTC text out, years 0000 to 9999", () => {
  assert.equal($rf.parseTimestamp("2024-02-29T13:30:00.98765+01:30"), "2024-02-29T12:00:00.987Z");
  assert.equal($rf.parseTimestamp("0099-01-01T00:00:00Z"), "0099-01-01T00:00:00.000Z", "not 1999");
  assert.equal($rf.parseTimestamp("2100-02-29T00:00:00Z"), null, "2100 is no leap year");
  assert.equal($rf.parseTimestamp("2024-04-31T00:00:00Z"), null);
  assert.equal($rf.parseTimestamp("2024-01-01T00:00:00.Z"), null);
  assert.equal($rf.parseTimestamp("2024-01-01T00:00:00+01:60"), null);
  assert.equal($rf.millis("1970-01-01T00:00:01.000Z"), 1000);
  assert.ok(Number.isNaN($rf.millis("soon")));
  assert.equal($rf.timestamp(-1e20), "0000-01-01T00:00:00.000Z");
  assert.equal($rf.timestamp(1e20), "9999-12-31T23:59:59.999Z");
  assert.equal($rf.addMillis("2024-02-28T00:00:00.000Z", 86_400_000), "2024-02-29T00:00:00.000Z");
});

test("formatTimestamp writes each directive in UTC and English, unknown ones as they are", () => {
  const t = "2024-03-05T09:07:08.042Z";
  assert.equal(
    $rf.formatTimestamp(t, "%Y %y %m %d %e %H %I %p %M %S %3f %j %a %A %b %B %u %F %T %% %q %"),
    "2024 24 03 05  5 09 09 AM 07 08 042 065 Tue Tuesday Mar March 2 2024-03-05 09:07:08 % %q %",
  );
  assert.equal($rf.formatTimestamp("2024-03-10T12:00:00.000Z", "%u %I %p"), "7 12 PM");
  assert.equal($rf.formatTimestamp("1969-12-31T23:59:59.500Z", "%s"), "-1");
  assert.equal($rf.formatTimestamp(t, "%3"), "%3");
});

test("entries: sorted by code point, each pair kept while its value is the same object", () => {
  const shared = { n: 1 };
  const first = $rf.entries({ b: shared, a: 2, "😀": 3, "ｱ": 4 });
  assert.deepEqual(first.map(([k]) => k), ["a", "b", "ｱ", "😀"]);
  const second = $rf.entries({ b: shared, a: 3, "😀": 3, "ｱ": 4 });
  assert.equal(second[1], first[1], "an unchanged value keeps its pair");
  assert.notEqual(second[0], first[0], "a changed value gets a new pair");
  assert.deepEqual(second[0], ["a", 3]);
  assert.deepEqual($rf.entries(null), []);
  assert.deepEqual($rf.entries(undefined), []);
});

test("timestamp of NaN reads as the epoch instead of throwing", () => {
  assert.equal($rf.timestamp(NaN), "1970-01-01T00:00:00.000Z");
});
