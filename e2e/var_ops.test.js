// The var operations' table (compiler/runtime/var_ops.cases.json, made from Rust's std by
// core/tests/var_ops.rs) evaluated in headless Chromium: the browser's own string, number and
// date functions must give, through ops.js, what Rust gives. No app server: a made-up origin is
// served from memory, its page imports ops.js as a module (as a compiled page does) and exposes it
// as `window.$rf`. The same in both modes of scripts/test.sh.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { launchBrowser, root } from "./harness.js";

const runtime = path.join(root, "compiler", "runtime");
const opsSource = readFileSync(path.join(runtime, "ops.js"), "utf8");
const cases = JSON.parse(readFileSync(path.join(runtime, "var_ops.cases.json"), "utf8"));
const origin = "http://var-ops.test";
const page = `<!doctype html><meta charset="utf-8"><title>var ops</title>
<script type="module">import * as ops from "/ops.js"; window.$rf = ops;</script>`;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** A page of the made-up origin with ops.js loaded as `window.$rf`. */
async function opsPage() {
  const context = await browser.newContext();
  await context.route(`${origin}/**`, (route) => {
    const isOps = new URL(route.request().url()).pathname === "/ops.js";
    route.fulfill({
      contentType: isOps ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8",
      body: isOps ? opsSource : page,
    });
  });
  const tab = await context.newPage();
  tab.on("pageerror", (e) => console.error("page error:", e));
  await tab.goto(`${origin}/`);
  await tab.waitForFunction(() => window.$rf !== undefined);
  return { context, tab };
}

test("every case of the table computes in Chromium what Rust computes", async () => {
  assert.ok(cases.length >= 170, `only ${cases.length} cases`);
  const { context, tab } = await opsPage();
  // Playwright carries -0, NaN and the infinities across, so values compare as strictly as in Node.
  const results = await tab.evaluate((all) => {
    return all.map(({ js }) => {
      try {
        return { value: new Function("$rf", `return (${js});`)(window.$rf) };
      } catch (e) {
        return { error: String(e) };
      }
    });
  }, cases);
  const failures = [];
  cases.forEach(({ name, js, expected }, i) => {
    const { value, error } = results[i];
    try {
      assert.equal(error, undefined);
      assert.deepStrictEqual(value, expected);
    } catch (e) {
      failures.push(`${name}: ${js}\n  ${e.message.split("\n").join("\n  ")}`);
    }
  });
  assert.deepEqual(failures, []);
  await context.close();
});

test("the browser's -0 reaches the comparison (the table's -0.0 cases are not vacuous)", async () => {
  const { context, tab } = await opsPage();
  const zero = await tab.evaluate(() => window.$rf.sumFloats([]));
  assert.ok(Object.is(zero, -0));
  await context.close();
});
