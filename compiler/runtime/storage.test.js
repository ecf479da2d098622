// Unit tests of storage.js with the browser's storage stubbed: `node --test compiler/runtime/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BrowserStorage } from "./storage.js";

/** A `Storage` in memory. */
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
    items,
  };
}

/** A `document` whose `cookie` behaves as a browser's: each write sets or removes one cookie. */
function cookieJar() {
  const jar = new Map();
  const written = [];
  return {
    written,
    get cookie() {
      return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    },
    set cookie(text) {
      written.push(text);
      const [pair, ...attrs] = text.split("; ");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at);
      if (attrs.includes("max-age=0")) jar.delete(name);
      else jar.set(name, pair.slice(at + 1));
    },
  };
}

const cookie = {
  state: "auth_state",
  var: "user",
  kind: "cookie",
  name: "blog_user",
  max_age_secs: 3600,
  path: "/",
  domain: null,
  secure: false,
  same_site: "lax",
  sync: false,
};
const local = { ...cookie, var: "theme", kind: "local", name: "theme", max_age_secs: null, sync: true };

function subject() {
  const document = cookieJar();
  const localStorage = memoryStorage();
  const listeners = [];
  const window = { addEventListener: (type, f) => listeners.push([type, f]) };
  const storage = new BrowserStorage([cookie, local], {
    initialState: { auth_state: { user: "", theme: "light" } },
    document,
    local: localStorage,
    session: memoryStorage(),
    window,
  });
  return { storage, document, localStorage, listeners };
}

test("a delta writes its storage vars to the browser, and they read back", () => {
  const { storage, document, localStorage } = subject();
  storage.persist({ auth_state: { user: "ada; admin=1", other: 1 } });
  assert.equal(document.written.length, 1);
  assert.match(document.written[0], /^blog_user=.+; path=\/; max-age=3600; samesite=lax$/);
  assert.equal(storage.read(cookie), "ada; admin=1", "encoded: a value cannot add cookies");
  storage.persist({ auth_state: { theme: "dark" } });
  assert.equal(localStorage.items.get("theme"), '"dark"');
  storage.persist({ auth_state: { user: null } });
  assert.equal(storage.read(cookie), undefined, "null forgets it");
});

test("after a hydrate, only the vars the browser holds differently are sent", () => {
  const { storage, document, localStorage } = subject();
  const state = { user: "", theme: "light" };
  const getVar = (_s, v) => state[v];
  assert.deepEqual(storage.differences(getVar), [], "nothing held, defaults in the state");
  document.cookie = `blog_user=${encodeURIComponent('"ada"')}; path=/`;
  localStorage.setItem("theme", "not json");
  assert.deepEqual(storage.differences(getVar), [
    { handler: "auth_state._storage", args: { var: "user", value: "ada" } },
    { handler: "auth_state._storage", args: { var: "theme", value: "not json" } },
  ]);
  // The state has a value the browser lost (a cleared cookie): back to the default.
  state.user = "ada";
  document.cookie = "blog_user=; path=/; max-age=0";
  localStorage.removeItem("theme");
  assert.deepEqual(storage.differences(getVar), [
    { handler: "auth_state._storage", args: { var: "user", value: null } },
  ]);
});

test("a synced local storage var follows the other tabs", () => {
  const { storage, localStorage, listeners } = subject();
  const seen = [];
  storage.watch((e) => seen.push(e));
  assert.equal(listeners.length, 1);
  localStorage.setItem("theme", '"dark"');
  const [, onStorage] = listeners[0];
  onStorage({ storageArea: localStorage, key: "theme" });
  onStorage({ storageArea: localStorage, key: "unrelated" });
  onStorage({ storageArea: {}, key: "theme" });
  assert.deepEqual(seen, [{ handler: "auth_state._storage", args: { var: "theme", value: "dark" } }]);
});

test("a value a handler set whose delta a resync replaced is written to the browser, not undone", () => {
  const { storage, document } = subject();
  const state = { user: "", theme: "light" };
  const getVar = (_s, v) => state[v];
  assert.deepEqual(storage.differences(getVar), [], "first hydrate: nothing held");
  // `log_in` set the user; its delta was lost, the next hydrate carries it.
  state.user = "Ada";
  assert.deepEqual(storage.differences(getVar), [], "the browser did not change: the state wins");
  assert.equal(storage.read(cookie), "Ada");
  // Later the cookie is cleared in the browser: that change wins.
  document.cookie = "blog_user=; path=/; max-age=0";
  assert.deepEqual(storage.differences(getVar), [
    { handler: "auth_state._storage", args: { var: "user", value: null } },
  ]);
});

test("a var set to its default is removed from the browser", () => {
  const { storage, document, localStorage } = subject();
  storage.persist({ auth_state: { user: "Ada", theme: "dark" } });
  storage.persist({ auth_state: { user: "", theme: "light" } });
  assert.equal(storage.read(cookie), undefined);
  assert.match(document.written.at(-1), /max-age=0/);
  assert.equal(localStorage.items.has("theme"), false);
});

test("storage that throws, or a malformed cookie, reads as empty and never throws", () => {
  const broken = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("QuotaExceededError");
    },
    removeItem() {},
  };
  const document = { cookie: "bad%name=1; blog_user=%E0%A4%A; other=2" };
  const storage = new BrowserStorage([cookie, local], {
    initialState: { auth_state: { user: "", theme: "light" } },
    document,
    local: broken,
    session: broken,
    window: {},
  });
  const warn = console.warn;
  console.warn = () => {};
  try {
    assert.equal(storage.read(cookie), undefined);
    assert.equal(storage.read(local), undefined);
    assert.doesNotThrow(() => storage.persist({ auth_state: { theme: "dark" } }));
    assert.deepEqual(storage.differences(() => undefined).length, 2);
  } finally {
    console.warn = warn;
  }
});
