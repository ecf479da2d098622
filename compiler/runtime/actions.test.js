// Unit tests of actions.js with the browser globals it touches stubbed: `node --test compiler/runtime/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultActions, redirectWith, toastWith, toJson } from "./actions.js";

/**
 * Runs `fn` with globals replaced by `values`, then puts the old ones (or their absence) back.
 * @param {Record<string, unknown>} values
 * @param {() => unknown} fn
 */
async function withGlobals(values, fn) {
  const saved = Object.keys(values).map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]);
  for (const [k, value] of Object.entries(values)) {
    Object.defineProperty(globalThis, k, { value, configurable: true, writable: true });
  }
  try {
    return await fn();
  } finally {
    for (const [k, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, k, descriptor);
      else delete globalThis[k];
    }
  }
}

/** A `location` that records `assign`, `replace` and `reload` calls. */
function fakeLocation() {
  const calls = [];
  return {
    calls,
    assign: (path) => calls.push(["assign", path]),
    replace: (path) => calls.push(["replace", path]),
    reload: () => calls.push(["reload"]),
  };
}

/** A fake element class `name` whose prototype's `value` setter records the values it was given. */
function elementClass(name, setterCalls) {
  return class {
    constructor() {
      this.dispatched = [];
    }
    set value(v) {
      setterCalls.push([name, v]);
    }
    dispatchEvent(event) {
      this.dispatched.push([event.type, event.bubbles]);
    }
  };
}

/** A `document` holding `elements` by id; `cookie` records what was written to it. */
function fakeDocument(elements = {}) {
  const doc = { cookies: [], appended: [] };
  Object.defineProperty(doc, "cookie", { set: (v) => doc.cookies.push(v) });
  doc.getElementById = (id) => elements[id] ?? null;
  doc.body = { appendChild: (e) => doc.appended.push(e) };
  doc.createElement = (tag) => {
    const element = { tag, clicks: 0, removed: false };
    element.click = () => element.clicks++;
    element.remove = () => (element.removed = true);
    return element;
  };
  return doc;
}

test("toJson: JSON values as they are, null for what JSON cannot hold", () => {
  assert.deepEqual(toJson({ a: [1, undefined], b: undefined, c: "x" }), { a: [1, null], c: "x" });
  assert.equal(toJson(undefined), null);
  assert.equal(toJson(() => 1), null);
  assert.equal(toJson(10n), null);
  const cycle = {};
  cycle.self = cycle;
  assert.equal(toJson(cycle), null);
});

test("_redirect: an app path goes to navigate, anything else loads the page", async () => {
  const location = fakeLocation();
  const navigated = [];
  const redirect = redirectWith((path, options) => navigated.push([path, options]));
  await withGlobals({ location }, () => {
    redirect({ path: "/posts/1?x=1" });
    redirect({ path: "/login", replace: true });
    redirect({ path: "https://example.com/" });
    redirect({ path: "//example.com/", replace: true });
    defaultActions._redirect({ path: "/home" });
  });
  assert.deepEqual(navigated, [
    ["/posts/1?x=1", { replace: false }],
    ["/login", { replace: true }],
  ]);
  assert.deepEqual(location.calls, [
    ["assign", "https://example.com/"],
    ["replace", "//example.com/"],
    ["assign", "/home"],
  ]);
  const arrived = Promise.resolve();
  assert.equal(redirectWith(() => arrived)({ path: "/x" }), arrived, "what navigate returns, the queue may wait for");
});

test("_toast: the level's function of toast, with description and duration; an unknown level throws", () => {
  const shown = [];
  const toast = Object.fromEntries(
    ["info", "success", "warning", "error"].map((level) => [level, (...args) => shown.push([level, ...args])]),
  );
  const action = toastWith(toast);
  action({ level: "success", message: "Saved", description: "All good", duration_ms: 1500 });
  action({ level: "error", message: "No", description: null, duration_ms: null });
  assert.deepEqual(shown, [
    ["success", "Saved", { description: "All good", duration: 1500 }],
    ["error", "No", { description: undefined, duration: undefined }],
  ]);
  assert.throws(() => action({ level: "loud", message: "?" }), /loud/);
});

test("_set_value: the native setter of the element's kind, then a bubbling input (and change for a select)", async () => {
  const setterCalls = [];
  const HTMLInputElement = elementClass("input", setterCalls);
  const HTMLTextAreaElement = elementClass("textarea", setterCalls);
  const HTMLSelectElement = elementClass("select", setterCalls);
  const input = new HTMLInputElement();
  // React tracks an input's value with its own setter on the element: it must be bypassed.
  Object.defineProperty(input, "value", { set: () => assert.fail("the instance setter was used") });
  const select = new HTMLSelectElement();
  const div = { dispatched: [], dispatchEvent: (e) => div.dispatched.push([e.type, e.bubbles]) };
  const document = fakeDocument({ name: input, pick: select, plain: div });
  await withGlobals({ document, HTMLInputElement, HTMLTextAreaElement, HTMLSelectElement }, () => {
    defaultActions._set_value({ id: "name", value: "Ada" });
    defaultActions._set_value({ id: "pick", value: "b" });
    defaultActions._set_value({ id: "plain", value: "x" });
    assert.throws(() => defaultActions._set_value({ id: "missing", value: "x" }), /missing/);
  });
  assert.deepEqual(setterCalls, [
    ["input", "Ada"],
    ["select", "b"],
  ]);
  assert.deepEqual(input.dispatched, [["input", true]]);
  assert.deepEqual(select.dispatched, [
    ["input", true],
    ["change", true],
  ]);
  assert.equal(div.value, "x");
  assert.deepEqual(div.dispatched, [["input", true]]);
});

test("_set_focus and _scroll_to act on the element with that id", async () => {
  const calls = [];
  const element = { focus: () => calls.push("focus"), scrollIntoView: (options) => calls.push(options) };
  await withGlobals({ document: fakeDocument({ target: element }) }, () => {
    defaultActions._set_focus({ id: "target" });
    defaultActions._scroll_to({ id: "target" });
  });
  assert.deepEqual(calls, ["focus", { behavior: "smooth" }]);
});

test("_download: clicks a link to the url, or to a Blob URL of the data revoked later; exactly one source", async () => {
  const document = fakeDocument();
  const blobs = [];
  const revoked = [];
  const timers = [];
  const URL = {
    createObjectURL: (blob) => `blob:${blobs.push(blob)}`,
    revokeObjectURL: (href) => revoked.push(href),
  };
  const setTimeout = (f, ms) => timers.push({ f, ms });
  await withGlobals({ document, URL, setTimeout }, () => {
    defaultActions._download({ filename: "a.txt", url: "/files/a.txt" });
    defaultActions._download({ filename: "b.csv", data: "x,y", mime: "text/csv" });
    defaultActions._download({ filename: "c.bin", base64: "aGk=", mime: null });
    assert.throws(() => defaultActions._download({ filename: "d", url: "/d", data: "d" }), /exactly one/);
    assert.throws(() => defaultActions._download({ filename: "e" }), /exactly one/);
    assert.deepEqual(revoked, [], "not at once");
    for (const timer of timers) timer.f();
  });
  assert.deepEqual(
    document.appended.map((a) => [a.href, a.download, a.clicks, a.removed]),
    [
      ["/files/a.txt", "a.txt", 1, true],
      ["blob:1", "b.csv", 1, true],
      ["blob:2", "c.bin", 1, true],
    ],
  );
  assert.deepEqual(
    await Promise.all(blobs.map(async (b) => [b.type, await b.text()])),
    [
      ["text/csv", "x,y"],
      ["application/octet-stream", "hi"],
    ],
  );
  assert.deepEqual(revoked, ["blob:1", "blob:2"]);
});

test("_set_clipboard returns the write, so the queue waits for it and logs a rejection", async () => {
  const written = [];
  const navigator = { clipboard: { writeText: async (text) => written.push(text) } };
  await withGlobals({ navigator }, () => defaultActions._set_clipboard({ text: "copied" }));
  assert.deepEqual(written, ["copied"]);
});

test("_call_script: the callback event gets the script's value, awaited when it is a thenable", async () => {
  const callback = { handler: "s.got", args: { k: 1 }, result: "value" };
  assert.deepEqual(defaultActions._call_script({ js: "[1, 2].length", callback }), [
    { handler: "s.got", args: { k: 1, value: 2 } },
  ]);
  assert.deepEqual(defaultActions._call_script({ js: "undefined", callback: null }), []);
  const pending = defaultActions._call_script({ js: "Promise.resolve({ a: undefined, b: 2 })", callback });
  assert.ok(pending instanceof Promise);
  assert.deepEqual(await pending, [{ handler: "s.got", args: { k: 1, value: { b: 2 } } }]);
  assert.throws(() => defaultActions._call_script({ js: "nope(", callback }), SyntaxError);
  // A callback that does not take the value (`result: null`) gets its own arguments only.
  const ignoring = { handler: "s.done", args: { k: 1 }, result: null };
  assert.deepEqual(defaultActions._call_script({ js: "7", callback: ignoring }), [
    { handler: "s.done", args: { k: 1 } },
  ]);
});

test("_remove_cookie expires it (path / unless given); storage, alert, log and reload actions", async () => {
  const document = fakeDocument();
  const location = fakeLocation();
  const alerts = [];
  const logs = [];
  let cleared = 0;
  const localStorage = { clear: () => cleared++ };
  const console = { log: (m) => logs.push(m) };
  await withGlobals({ document, location, localStorage, alert: (m) => alerts.push(m), console }, () => {
    defaultActions._remove_cookie({ name: "a" });
    defaultActions._remove_cookie({ name: "b", path: "/app", domain: "example.com" });
    defaultActions._clear_local_storage({});
    defaultActions._window_alert({ message: "hey" });
    defaultActions._console_log({ message: { any: ["json"] } });
    defaultActions._reload({});
  });
  assert.deepEqual(document.cookies, ["a=; Max-Age=0; path=/", "b=; Max-Age=0; path=/app; domain=example.com"]);
  assert.equal(cleared, 1);
  assert.deepEqual(alerts, ["hey"]);
  assert.deepEqual(logs, [{ any: ["json"] }]);
  assert.deepEqual(location.calls, [["reload"]]);
  assert.equal(defaultActions._clear_session_storage, undefined, "the token lives there");
});

test("_redirect and _download refuse addresses that are no path of the app and no http(s) URL", async () => {
  const navigate = (path) => path;
  const redirect = redirectWith(navigate);
  for (const bad of ["javascript:alert(1)", "data:text/html,x", "JAVASCRIPT:x", "mailto:a@b"]) {
    assert.throws(() => redirect({ path: bad }), /refusing/, bad);
    await withGlobals({ document: fakeDocument() }, () =>
      assert.throws(() => defaultActions._download({ filename: "f", url: bad }), /refusing/, bad),
    );
  }
  assert.equal(redirect({ path: "/ok" }), "/ok");
});
