// Unit tests of client.js with a fake WebSocket, storage and timers: `node --test compiler/runtime/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RefractClient, jsonEqual, share } from "./client.js";

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  // Test helpers.
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame) {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }
  lastSent() {
    return this.sent.at(-1);
  }
}

function fakeStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return {
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, v),
    removeItem: (k) => data.delete(k),
    data,
  };
}

function fakeTimers() {
  const pending = [];
  return {
    pending,
    setTimeout: (f, ms) => pending.push({ f, ms }) - 1,
    clearTimeout: (i) => {
      if (pending[i]) pending[i].f = () => {};
    },
    runNext() {
      pending.shift().f();
    },
  };
}

/** The tab id every test's client has. */
const TAB = "tab-1";

function setup({ storage = fakeStorage(), initialState = { counter_state: { count: 0 } }, location, actions, browserStorage } = {}) {
  FakeSocket.all = [];
  const timers = fakeTimers();
  const client = new RefractClient({
    url: "ws://test/_event",
    initialState,
    storage,
    WebSocketImpl: FakeSocket,
    tab: TAB,
    backoff: { initialMs: 100, maxMs: 1000, factor: 2 },
    timers,
    location,
    actions,
    browserStorage,
  });
  client.start();
  const socket = () => FakeSocket.all.at(-1);
  return { client, storage, timers, socket };
}

const hydrate = (extra = {}) => ({
  type: "hydrate",
  token: "T",
  version: 0,
  last_seq: 0,
  state: { counter_state: { count: 0 } },
  ...extra,
});

test("says hello with no token, stores the issued one, and resumes it on the next socket", () => {
  const { client, storage, socket, timers } = setup();
  assert.equal(client.getVar("counter_state", "count"), 0, "initial state before hydrate");
  socket().open();
  assert.deepEqual(socket().lastSent(), { type: "hello", token: null, tab: TAB });
  socket().receive(hydrate({ token: "tok-1" }));
  assert.equal(storage.getItem("refract_token"), "tok-1");
  assert.equal(client.getStatus(), "connected");
  socket().close();
  assert.equal(client.getStatus(), "disconnected");
  timers.runNext();
  socket().open();
  assert.deepEqual(socket().lastSent(), { type: "hello", token: "tok-1", tab: TAB });
});

test("hydrate notifies only vars whose value changed and keeps unchanged identities", () => {
  const { client, socket } = setup({ initialState: { s: { a: 1, list: [1, 2], obj: { x: 1 } } } });
  const before = client.getVar("s", "obj");
  const calls = { a: 0, list: 0, obj: 0 };
  for (const name of Object.keys(calls)) client.subscribe("s", name, () => calls[name]++);
  socket().open();
  socket().receive(hydrate({ state: { s: { a: 1, list: [1, 2, 3], obj: { x: 1 } } } }));
  assert.deepEqual(calls, { a: 0, list: 1, obj: 0 });
  assert.equal(client.getVar("s", "obj"), before, "unchanged value keeps its identity");
  assert.deepEqual(client.getVar("s", "list"), [1, 2, 3]);
});

test("a delta notifies only its vars; unsubscribe stops notifications", () => {
  const { client, socket } = setup({ initialState: { s: { a: 1, b: 2 } } });
  socket().open();
  socket().receive(hydrate({ state: { s: { a: 1, b: 2 } } }));
  let a = 0;
  let b = 0;
  const stopA = client.subscribe("s", "a", () => a++);
  client.subscribe("s", "b", () => b++);
  socket().receive({ type: "delta", version: 1, seq: null, delta: { s: { a: 5 } } });
  assert.deepEqual([a, b], [1, 0]);
  assert.equal(client.getVar("s", "a"), 5);
  stopA();
  socket().receive({ type: "delta", version: 2, seq: null, delta: { s: { a: 6 } } });
  assert.equal(a, 1);
});

test("a version gap is not applied: the client resyncs with hello", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate({ version: 4 }));
  const sentBefore = socket().sent.length;
  socket().receive({ type: "delta", version: 6, seq: null, delta: { counter_state: { count: 9 } } });
  assert.equal(client.getVar("counter_state", "count"), 0);
  assert.equal(socket().sent.length, sentBefore + 1);
  assert.deepEqual(socket().lastSent(), { type: "hello", token: "T", tab: TAB });
});

test("one event in flight: the next is sent only after the first completes (delta, ack or error)", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate());
  client.addEvents([{ handler: "counter_state.increment", args: {} }, { handler: "counter_state.add", args: { n: 2 } }]);
  client.addEvents([{ handler: "counter_state.reset" }]);
  const events = () => socket().sent.filter((f) => f.type === "event");
  assert.deepEqual(events(), [{ type: "event", seq: 1, handler: "counter_state.increment", args: {} }]);
  socket().receive({ type: "delta", version: 1, seq: 1, tab: TAB, delta: { counter_state: { count: 1 } } });
  assert.equal(events().length, 2);
  assert.deepEqual(events()[1], { type: "event", seq: 2, handler: "counter_state.add", args: { n: 2 } });
  const errors = [];
  client.onError((f) => errors.push(f.code));
  const log = console.error;
  console.error = () => {};
  socket().receive({ type: "error", seq: 2, code: "handler_failed", message: "no" });
  console.error = log;
  assert.deepEqual(errors, ["handler_failed"]);
  assert.equal(events().length, 3);
  assert.equal(events()[2].seq, 2, "the failed event's number is free again");
  client.addEvents([{ handler: "counter_state.last", args: {} }]);
  assert.equal(events().length, 3, "seq 2 still in flight");
  socket().receive({ type: "ack", seq: 2 });
  assert.equal(events().length, 4);
  assert.deepEqual(events()[3], { type: "event", seq: 3, handler: "counter_state.last", args: {} });
});

test("a retryable error keeps the event in flight and resends it with the same seq after a backoff", () => {
  const { client, socket, timers } = setup();
  socket().open();
  socket().receive(hydrate());
  client.addEvents([{ handler: "counter_state.increment", args: {} }, { handler: "counter_state.add", args: { n: 2 } }]);
  const events = () => socket().sent.filter((f) => f.type === "event");
  const statuses = [];
  client.subscribeStatus(() => statuses.push(client.getStatus()));
  const errors = [];
  client.onError((f) => errors.push(f.code));
  const log = console.error;
  console.error = () => {};
  try {
    socket().receive({ type: "error", seq: 1, code: "unavailable", message: "down", retryable: true });
    assert.equal(events().length, 1, "not resent at once");
    assert.equal(client.getStatus(), "retrying");
    const first = timers.pending.at(-1).ms;
    assert.ok(first <= 100 && first >= 80, `first retry after ${first} ms`);
    timers.runNext();
    assert.deepEqual(events()[1], { type: "event", seq: 1, handler: "counter_state.increment", args: {} });
    socket().receive({ type: "error", seq: 1, code: "busy", message: "locked", retryable: true });
    const second = timers.pending.at(-1).ms;
    assert.ok(second <= 200 && second >= 160, `second retry after ${second} ms`);
    timers.runNext();
    assert.equal(events()[2].seq, 1, "still the same seq");
    socket().receive({ type: "delta", version: 1, seq: 1, tab: TAB, delta: { counter_state: { count: 1 } } });
    assert.equal(client.getStatus(), "connected");
    assert.deepEqual(events()[3], { type: "event", seq: 2, handler: "counter_state.add", args: { n: 2 } });
    assert.deepEqual(errors, [], "retried failures are not the app's errors");
    socket().receive({ type: "error", seq: 2, code: "handler_failed", message: "no", retryable: false });
    assert.equal(timers.pending.length, 0, "a failure that is not retryable completes the event");
  } finally {
    console.error = log;
  }
  assert.deepEqual(errors, ["handler_failed"]);
  assert.deepEqual(statuses, ["retrying", "connected"]);
});

test("a delta for another seq, an empty delta and an error without seq", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate());
  client.addEvents([{ handler: "s.a", args: {} }, { handler: "s.b", args: {} }]);
  const events = () => socket().sent.filter((f) => f.type === "event");
  socket().receive({ type: "delta", version: 1, seq: null, delta: { counter_state: { count: 7 } } });
  assert.equal(client.getVar("counter_state", "count"), 7, "seq null: applied");
  assert.equal(events().length, 1, "seq null does not complete the event");
  const log = console.error;
  console.error = () => {};
  try {
    socket().receive({ type: "error", seq: null, code: "malformed_frame", message: "?" });
  } finally {
    console.error = log;
  }
  assert.equal(events().length, 1, "an error without seq does not complete the event");
  socket().receive({ type: "delta", version: 2, seq: 1, tab: TAB, delta: {} });
  assert.equal(events().length, 2, "an empty delta completes its event");
  assert.equal(events()[1].seq, 2);
});

test("after a version gap, deltas wait for the resync hydrate and events are held back", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate({ version: 1 }));
  socket().receive({ type: "delta", version: 3, seq: null, delta: { counter_state: { count: 3 } } });
  socket().receive({ type: "delta", version: 4, seq: null, delta: { counter_state: { count: 4 } } });
  assert.equal(socket().sent.filter((f) => f.type === "hello").length, 2, "one resync hello, not one per delta");
  assert.equal(client.getVar("counter_state", "count"), 0);
  client.addEvents([{ handler: "counter_state.increment", args: {} }]);
  assert.equal(socket().sent.filter((f) => f.type === "event").length, 0, "no event before the hydrate");
  socket().receive(hydrate({ version: 4, state: { counter_state: { count: 4 } } }));
  assert.equal(client.getVar("counter_state", "count"), 4);
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 1, handler: "counter_state.increment", args: {} });
  socket().receive({ type: "delta", version: 5, seq: 1, tab: TAB, delta: { counter_state: { count: 5 } } });
  assert.equal(client.getVar("counter_state", "count"), 5);
});

test("status: listeners, the <html> attribute, and stop() does not reconnect", () => {
  const had = "document" in globalThis;
  const saved = globalThis.document;
  globalThis.document = { documentElement: { dataset: {} } };
  try {
    const { client, socket, timers } = setup();
    const dataset = globalThis.document.documentElement.dataset;
    assert.equal(dataset.refractStatus, "connecting");
    const seen = [];
    const unsubscribe = client.subscribeStatus(() => seen.push(client.getStatus()));
    socket().open();
    socket().receive(hydrate());
    assert.equal(dataset.refractStatus, "connected");
    socket().close();
    assert.equal(dataset.refractStatus, "disconnected");
    assert.deepEqual(seen, ["connected", "disconnected"]);
    timers.runNext();
    socket().open();
    socket().receive(hydrate());
    unsubscribe();
    const sockets = FakeSocket.all.length;
    client.stop();
    assert.equal(client.getStatus(), "disconnected");
    assert.deepEqual(seen, ["connected", "disconnected", "connected"]);
    assert.equal(timers.pending.length, 0, "no reconnect scheduled after stop()");
    assert.equal(FakeSocket.all.length, sockets);
  } finally {
    if (had) globalThis.document = saved;
    else delete globalThis.document;
  }
});

test("events wait for the hydrate; numbering continues from last_seq + 1", () => {
  const { client, socket } = setup();
  client.addEvents([{ handler: "counter_state.increment", args: {} }]);
  socket().open();
  assert.equal(socket().sent.filter((f) => f.type === "event").length, 0, "nothing before hydrate");
  socket().receive(hydrate({ last_seq: 41 }));
  assert.equal(socket().lastSent().seq, 42);
});

test("after a reconnect the in-flight event is resent with the same seq, or dropped if applied", () => {
  const { client, socket, timers } = setup();
  socket().open();
  socket().receive(hydrate());
  client.addEvents([{ handler: "counter_state.increment", args: {} }, { handler: "counter_state.reset", args: {} }]);
  assert.equal(socket().lastSent().seq, 1);
  socket().close();
  timers.runNext();
  socket().open();
  socket().receive(hydrate({ last_seq: 0 }));
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 1, handler: "counter_state.increment", args: {} });
  socket().close();
  timers.runNext();
  socket().open();
  socket().receive(hydrate({ version: 1, last_seq: 1 }));
  // seq 1 was applied before the socket died: it is dropped and the next event goes out as seq 2.
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 2, handler: "counter_state.reset", args: {} });
});

test("invalid_token forgets the stored token and asks for a new one", () => {
  const storage = fakeStorage({ refract_token: "forged" });
  const { socket } = setup({ storage });
  socket().open();
  assert.deepEqual(socket().lastSent(), { type: "hello", token: "forged", tab: TAB });
  const log = console.error;
  console.error = () => {};
  socket().receive({ type: "error", seq: null, code: "invalid_token", message: "not ours" });
  console.error = log;
  assert.equal(storage.getItem("refract_token"), null);
  assert.deepEqual(socket().lastSent(), { type: "hello", token: null, tab: TAB });
});

test("reconnect delays grow by the factor, cap at the maximum, and reset after a hydrate", () => {
  const { socket, timers } = setup();
  const delays = [];
  for (let i = 0; i < 6; i++) {
    socket().close();
    delays.push(timers.pending[0].ms);
    timers.runNext();
  }
  // Jitter only shortens a delay (by up to 20%), so the cap holds.
  const base = [100, 200, 400, 800, 1000, 1000];
  delays.forEach((d, i) => assert.ok(d <= base[i] && d >= base[i] * 0.8, `delay ${i}: ${d}`));
  socket().open();
  socket().receive(hydrate());
  socket().close();
  assert.ok(timers.pending[0].ms <= 100, "back to the initial delay");
});

test("malformed or unknown frames are logged, never thrown", () => {
  const { client, socket } = setup();
  socket().open();
  const log = console.error;
  let logged = 0;
  console.error = () => logged++;
  try {
    assert.doesNotThrow(() => socket().receive("{not json"));
    assert.doesNotThrow(() => socket().receive({ type: "surprise" }));
    assert.doesNotThrow(() => socket().receive("null"));
    assert.doesNotThrow(() => socket().receive({ type: "hydrate", token: "T", version: 0, last_seq: 0, state: { s: null } }));
    assert.doesNotThrow(() => socket().receive({ type: "hydrate", token: "T" }));
  } finally {
    console.error = log;
  }
  assert.equal(logged, 5);
  assert.equal(client.getStatus(), "connecting");
  assert.equal(client.getVar("counter_state", "count"), 0, "store untouched");
});

test("a listener that throws does not stop the store or the other listeners", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate());
  client.subscribe("counter_state", "count", () => {
    throw new Error("boom");
  });
  let calls = 0;
  client.subscribe("counter_state", "count", () => calls++);
  const log = console.error;
  let logged = 0;
  console.error = () => logged++;
  try {
    assert.doesNotThrow(() => socket().receive({ type: "delta", version: 1, seq: null, delta: { counter_state: { count: 1 } } }));
    assert.equal(calls, 1);
    assert.equal(logged, 1);
    socket().receive({ type: "delta", version: 2, seq: null, delta: { counter_state: { count: 2 } } });
  } finally {
    console.error = log;
  }
  assert.equal(client.getVar("counter_state", "count"), 2, "versions stayed in step");
});

test("jsonEqual compares structure", () => {
  assert.ok(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!jsonEqual([1], { 0: 1 }));
  assert.ok(!jsonEqual(null, {}));
});

test("a delta answers the in-flight event only when its tab is this page's", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate());
  client.addEvents([{ handler: "counter_state.increment", args: {} }]);
  const events = () => socket().sent.filter((f) => f.type === "event");
  // Another tab sharing the token applied its own event 1: the store takes it, our event waits.
  socket().receive({ type: "delta", version: 1, seq: 1, tab: "other", delta: { counter_state: { count: 1 } } });
  assert.equal(client.getVar("counter_state", "count"), 1);
  client.addEvents([{ handler: "counter_state.increment", args: {} }]);
  assert.equal(events().length, 1, "still in flight");
  socket().receive({ type: "delta", version: 2, seq: 1, tab: TAB, delta: { counter_state: { count: 2 } } });
  assert.equal(events().length, 2, "answered: the next event goes");
  assert.equal(events()[1].seq, 2);
});

test("each page makes its own tab id", async () => {
  const { newTabId } = await import("./client.js");
  const a = newTabId();
  assert.match(a, /^[A-Za-z0-9_-]{16}$/);
  assert.notEqual(a, newTabId());
});

test("a failed event's number is taken by the next one; a seq_gap renumbers the event after a resync", () => {
  const { client, socket } = setup();
  socket().open();
  socket().receive(hydrate({ last_seq: 4 }));
  const events = () => socket().sent.filter((f) => f.type === "event");
  const log = console.error;
  console.error = () => {};
  try {
    client.addEvents([{ handler: "counter_state.fail", args: {} }]);
    assert.equal(events()[0].seq, 5);
    socket().receive({ type: "error", seq: 5, code: "handler_failed", message: "no", retryable: false });
    client.addEvents([{ handler: "counter_state.increment", args: {} }]);
    assert.equal(events()[1].seq, 5, "not applied, so its number is free again");
    // The server forgot this tab (its state was lost): the event is refused as a gap.
    socket().receive({ type: "error", seq: 5, code: "seq_gap", message: "resync", retryable: false });
    assert.deepEqual(socket().lastSent(), { type: "hello", token: "T", tab: TAB });
    socket().receive(hydrate({ version: 0, last_seq: 0 }));
    assert.deepEqual(events()[2], { type: "event", seq: 1, handler: "counter_state.increment", args: {} });
    socket().receive({ type: "delta", version: 1, seq: 1, tab: TAB, delta: { counter_state: { count: 1 } } });
    client.addEvents([{ handler: "counter_state.increment", args: {} }]);
    assert.equal(events()[3].seq, 2);
  } finally {
    console.error = log;
  }
});

test("the page's path and query go with hello, and with an event when it was triggered elsewhere", () => {
  const location = { pathname: "/posts/1", search: "?tab=a" };
  const { client, socket } = setup({ location });
  socket().open();
  assert.deepEqual(socket().lastSent(), { type: "hello", token: null, tab: TAB, page: { path: "/posts/1", query: "tab=a" } });
  socket().receive(hydrate());
  client.addEvents([{ handler: "s.h", args: {} }]);
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 1, handler: "s.h", args: {} }, "same page: not repeated");
  socket().receive({ type: "ack", seq: 1 });
  // Client-side navigation, then two clicks: the first tells the new page, the second need not.
  location.pathname = "/posts/2";
  location.search = "";
  client.addEvents([{ handler: "s.h", args: {} }, { handler: "s.h", args: {} }]);
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 2, handler: "s.h", args: {}, page: { path: "/posts/2", query: "" } });
  socket().receive({ type: "ack", seq: 2 });
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 3, handler: "s.h", args: {} });
  // A new socket's hello names the current page; the event in flight keeps the page it came from.
  location.pathname = "/elsewhere";
  socket().close();
  client.timers.runNext();
  socket().open();
  assert.deepEqual(socket().lastSent().page, { path: "/elsewhere", query: "" });
  socket().receive(hydrate({ last_seq: 2 }));
  assert.deepEqual(socket().lastSent(), { type: "event", seq: 3, handler: "s.h", args: {}, page: { path: "/posts/2", query: "" } });
});

/** The event frames `socket` sent. */
const eventsOf = (socket) => socket.sent.filter((f) => f.type === "event");

/** A connected, hydrated client (see `setup`); `events()`: the event frames sent on every socket. */
function connected(options) {
  const parts = setup(options);
  parts.socket().open();
  parts.socket().receive(hydrate());
  return { ...parts, events: () => FakeSocket.all.flatMap(eventsOf) };
}

/** Runs `fn` with `console.error` replaced; returns what was logged, one array of arguments per call. */
async function logged(fn) {
  const log = console.error;
  const calls = [];
  console.error = (...args) => calls.push(args);
  try {
    await fn();
  } finally {
    console.error = log;
  }
  return calls;
}

/** Lets pending promise callbacks run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

test("a delta's then runs before the events already queued, one level deeper, depth-first", () => {
  const { client, socket, events } = connected();
  client.addEvents([{ handler: "s.parent", args: {} }, { handler: "s.click", args: {} }]);
  socket().receive({
    type: "delta",
    version: 1,
    seq: 1,
    tab: TAB,
    delta: {},
    then: [{ handler: "s.a", args: { x: 1 } }, { handler: "s.b" }],
  });
  assert.deepEqual(events()[1], { type: "event", seq: 2, handler: "s.a", args: { x: 1 }, depth: 1 });
  socket().receive({ type: "delta", version: 2, seq: 2, tab: TAB, delta: {}, then: [{ handler: "s.deep", args: {} }] });
  assert.deepEqual(events()[2], { type: "event", seq: 3, handler: "s.deep", args: {}, depth: 2 }, "s.a's chain first");
  socket().receive({ type: "ack", seq: 3 });
  assert.deepEqual(events()[3], { type: "event", seq: 4, handler: "s.b", args: {}, depth: 1 });
  socket().receive({ type: "ack", seq: 4 });
  assert.deepEqual(events()[4], { type: "event", seq: 5, handler: "s.click", args: {} }, "the click's depth 0 is left out");
});

test("an ack's then (a resent event whose answer was lost) runs next, one level deeper", () => {
  const { client, socket, timers, events } = connected();
  client.addEvents([{ handler: "s.parent", args: {} }, { handler: "s.click", args: {} }]);
  socket().close();
  timers.runNext();
  socket().open();
  socket().receive(hydrate({ last_seq: 0 }));
  assert.deepEqual(eventsOf(socket()), [{ type: "event", seq: 1, handler: "s.parent", args: {} }], "resent");
  socket().receive({ type: "ack", seq: 1, then: [{ handler: "s.follow", args: { n: 2 } }] });
  assert.deepEqual(events()[2], { type: "event", seq: 2, handler: "s.follow", args: { n: 2 }, depth: 1 });
  socket().receive({ type: "ack", seq: 2 });
  assert.equal(events()[3].handler, "s.click");
});

test("a hydrate's then runs only when the in-flight event is dropped as applied", () => {
  const { client, socket, timers, events } = connected();
  const reconnect = (frame) => {
    socket().close();
    timers.runNext();
    socket().open();
    socket().receive(frame);
  };
  // Nothing in flight: ignored (this tab already ran that chain when its answer came).
  reconnect(hydrate({ then: [{ handler: "s.stale", args: {} }] }));
  assert.deepEqual(events(), []);
  client.addEvents([{ handler: "s.parent", args: {} }, { handler: "s.click", args: {} }]);
  // Not applied yet: resent, and the then (of an older event) is ignored.
  reconnect(hydrate({ then: [{ handler: "s.stale", args: {} }] }));
  assert.deepEqual(
    events().map((e) => [e.seq, e.handler]),
    [
      [1, "s.parent"],
      [1, "s.parent"],
    ],
  );
  // Applied, its answer lost: dropped, and its follow-ups go first.
  reconnect(hydrate({ version: 1, last_seq: 1, then: [{ handler: "s.follow", args: {} }] }));
  assert.deepEqual(events()[2], { type: "event", seq: 2, handler: "s.follow", args: {}, depth: 1 });
  socket().receive({ type: "ack", seq: 2 });
  assert.deepEqual(events()[3], { type: "event", seq: 3, handler: "s.click", args: {} });
});

test("an error ends its event's chain (the rest of it is dropped); its then's actions run; other chains go on", async () => {
  const toasts = [];
  const { client, socket, events } = connected({ actions: { _toast: (args) => toasts.push(args.message) } });
  // One trigger's chain: save, then "Saved"; another trigger's click.
  client.addEvents([{ handler: "s.parent", args: {} }, { handler: "_toast", args: { message: "Saved" } }]);
  client.addEvents([{ handler: "s.click", args: {} }]);
  socket().receive({ type: "ack", seq: 1, then: [{ handler: "s.fails", args: {} }, { handler: "s.sibling", args: {} }] });
  const errors = await logged(() =>
    socket().receive({
      type: "error",
      seq: 2,
      code: "handler_failed",
      message: "no",
      then: [
        { handler: "_toast", args: { level: "error", message: "no" } },
        { handler: "s.log_failure", args: {} },
      ],
    }),
  );
  assert.deepEqual(toasts, ["no"], "the error's toast ran; the chain's \"Saved\" did not");
  assert.ok(errors.some((args) => String(args[0]).includes("s.log_failure")), "an event in an error's then is refused");
  assert.deepEqual(events()[2], { type: "event", seq: 2, handler: "s.click", args: {} });
  assert.equal(events().length, 3, "s.sibling and s.log_failure never run");
});

test("a client action at the head runs when nothing is in flight, even before the hydrate", () => {
  const ran = [];
  const actions = {
    _note: (args, client) => {
      assert.ok(client instanceof RefractClient);
      ran.push(args.n);
    },
  };
  const { client, socket } = setup({ actions });
  client.addEvents([{ handler: "_note", args: { n: 1 } }, { handler: "s.h", args: {} }, { handler: "_note", args: { n: 2 } }]);
  assert.deepEqual(ran, [1], "no socket needed; the event waits for the hydrate");
  socket().open();
  socket().receive(hydrate());
  assert.deepEqual(eventsOf(socket()), [{ type: "event", seq: 1, handler: "s.h", args: {} }]);
  assert.deepEqual(ran, [1], "waits for the event in flight");
  socket().receive({ type: "ack", seq: 1 });
  assert.deepEqual(ran, [1, 2]);
  socket().receive({ type: "delta", version: 1, seq: null, delta: {} });
  client.addEvents([{ handler: "_note", args: { n: 3 } }]);
  assert.deepEqual(ran, [1, 2, 3]);
});

test("an action that throws is logged and the queue goes on", async () => {
  const actions = {
    _boom: () => {
      throw new Error("boom");
    },
  };
  const { client, events } = connected({ actions });
  const calls = await logged(() => client.addEvents([{ handler: "_boom", args: {} }, { handler: "s.h", args: {} }]));
  assert.equal(calls.length, 1);
  assert.match(calls[0][0], /_boom/);
  assert.equal(calls[0][1].message, "boom");
  assert.deepEqual(events(), [{ type: "event", seq: 1, handler: "s.h", args: {} }]);
});

test("_call_script: the queue waits for a thenable, then its callback goes first with the value", async () => {
  const { client, socket, events } = connected();
  const callback = { handler: "s.got", args: { k: "v" }, result: "value" };
  client.addEvents([
    { handler: "_call_script", args: { js: "new Promise((r) => { globalThis.resolveScript = r; })", callback } },
    { handler: "s.click", args: {} },
  ]);
  await settled();
  assert.deepEqual(events(), [], "the click waits for the script");
  globalThis.resolveScript({ list: [1, undefined], f: () => 1 });
  delete globalThis.resolveScript;
  await settled();
  assert.deepEqual(events(), [{ type: "event", seq: 1, handler: "s.got", args: { k: "v", value: { list: [1, null] } }, depth: 1 }]);
  socket().receive({ type: "ack", seq: 1 });
  assert.deepEqual(events()[1], { type: "event", seq: 2, handler: "s.click", args: {} });
});

test("_call_script in a chain: a plain value's callback is one level below the action", () => {
  const { client, socket, events } = connected();
  client.addEvents([{ handler: "s.parent", args: {} }]);
  const callback = { handler: "s.got", args: {}, result: "sum" };
  socket().receive({ type: "ack", seq: 1, then: [{ handler: "_call_script", args: { js: "1 + 1", callback } }] });
  assert.deepEqual(events()[1], { type: "event", seq: 2, handler: "s.got", args: { sum: 2 }, depth: 2 });
});

test("_call_script that throws or rejects is logged and has no callback", async () => {
  const { client, events } = connected();
  const callback = { handler: "s.got", args: {}, result: "value" };
  const calls = await logged(async () => {
    client.addEvents([
      { handler: "_call_script", args: { js: "throw new Error('sync')", callback } },
      { handler: "_call_script", args: { js: "Promise.reject(new Error('async'))", callback } },
      { handler: "s.click", args: {} },
    ]);
    await settled();
  });
  assert.deepEqual(
    calls.map(([, e]) => e.message),
    ["sync", "async"],
  );
  assert.deepEqual(events(), [{ type: "event", seq: 1, handler: "s.click", args: {} }]);
});

test("an unknown _name goes to the server as an event", () => {
  const { client, socket, events } = connected();
  client.addEvents([{ handler: "s.parent", args: {} }]);
  socket().receive({ type: "ack", seq: 1, then: [{ handler: "_bogus", args: { a: 1 } }] });
  assert.deepEqual(events()[1], { type: "event", seq: 2, handler: "_bogus", args: { a: 1 }, depth: 1 });
});

test("setAction adds or replaces an action; a name that is not _name is refused", () => {
  const { client, events } = connected();
  const seen = [];
  client.setAction("_console_log", ({ message }) => seen.push(["log", message]));
  client.setAction("_mine", (args) => seen.push(["mine", args]));
  client.addEvents([
    { handler: "_console_log", args: { message: "hi" } },
    { handler: "_mine", args: { x: 1 } },
  ]);
  assert.deepEqual(seen, [["log", "hi"], ["mine", { x: 1 }]]);
  assert.deepEqual(events(), []);
  assert.throws(() => client.setAction("s.method", () => {}), TypeError);
  assert.throws(() => client.setAction("toast", () => {}), TypeError);
});

test("a follow-up event carries the page it is sent from; a queued click keeps its own", () => {
  const location = { pathname: "/a", search: "" };
  const actions = {
    _redirect: ({ path }) => {
      location.pathname = path;
    },
  };
  const { client, socket, events } = connected({ location, actions });
  client.addEvents([{ handler: "s.go", args: {} }, { handler: "s.click", args: {} }]);
  socket().receive({
    type: "ack",
    seq: 1,
    then: [{ handler: "_redirect", args: { path: "/b" } }, { handler: "s.after", args: {} }],
  });
  assert.deepEqual(events()[1], { type: "event", seq: 2, handler: "s.after", args: {}, depth: 1, page: { path: "/b", query: "" } });
  socket().receive({ type: "ack", seq: 2 });
  assert.deepEqual(events()[2], { type: "event", seq: 3, handler: "s.click", args: {}, page: { path: "/a", query: "" } });
});

test("a frame whose then is not a list of items is logged and ignored", async () => {
  const { client, socket, events } = connected();
  client.addEvents([{ handler: "s.parent", args: {} }]);
  const calls = await logged(() => {
    socket().receive({ type: "ack", seq: 1, then: [{ args: {} }] });
    socket().receive({ type: "ack", seq: 1, then: { handler: "s.h" } });
    socket().receive({ type: "delta", version: 1, seq: 1, tab: TAB, delta: {}, then: [{ handler: "s.h", args: [] }] });
  });
  assert.equal(calls.length, 3);
  assert.equal(client.inFlight.seq, 1, "still in flight");
  assert.equal(events().length, 1);
});

test("reportError sends what the error boundary caught, clipped, and nothing when the socket is closed", () => {
  const { client, socket } = connected();
  const error = new Error("boom");
  client.reportError(error, "\n    at Page");
  const sent = socket().lastSent();
  assert.equal(sent.type, "client_error");
  assert.equal(sent.message, "boom");
  assert.ok(sent.stack.includes("Error: boom") && sent.stack.endsWith("at Page"), sent.stack);
  client.reportError("x".repeat(5000));
  assert.equal(socket().lastSent().message.length, 1024);
  assert.equal(socket().lastSent().stack, undefined);
  const count = socket().sent.length;
  socket().readyState = 3;
  client.reportError(error);
  assert.equal(socket().sent.length, count);
});

test("an action whose promise never settles holds the queue 10 s at most, then the queue goes on", async () => {
  const { client, socket, timers, events } = connected({ actions: { _stuck: () => new Promise(() => {}) } });
  client.addEvents([{ handler: "_stuck", args: {} }, { handler: "s.after", args: {} }]);
  assert.equal(events().length, 0, "the event waits for the action");
  const timeout = timers.pending.find((t) => t.ms === 10_000);
  assert.ok(timeout, "a 10 s timer holds the action");
  const errors = await logged(() => timeout.f());
  assert.ok(String(errors[0][0]).includes("_stuck"), errors);
  assert.deepEqual(events(), [{ type: "event", seq: 1, handler: "s.after", args: {} }]);
  assert.equal(socket().sent.length > 0, true);
});

test("an event whose arguments are no JSON is logged and dropped, its seq unused", async () => {
  const { client, events } = connected();
  const cyclic = {};
  cyclic.self = cyclic;
  const errors = await logged(() =>
    client.addEvents([{ handler: "s.bad", args: { v: cyclic } }, { handler: "s.good", args: {} }]),
  );
  assert.ok(String(errors[0][0]).includes("s.bad"), errors);
  assert.deepEqual(events(), [{ type: "event", seq: 1, handler: "s.good", args: {} }]);
});

test("after a hydrate the browser's storage vars go first, each in its own chain, before events queued earlier; a delta writes them back", () => {
  const written = [];
  const browserStorage = {
    differences: () => [
      { handler: "auth_state._storage", args: { var: "user", value: "ada" } },
      { handler: "auth_state._storage", args: { var: "size", value: 2 } },
    ],
    persist: (delta) => written.push(delta),
    watch: () => {},
  };
  const { client, socket } = setup({ browserStorage });
  // A page's on_load, queued at its mount, before the socket is up.
  client.addEvents([{ handler: "post_state.load", args: { id: "2" } }]);
  socket().open();
  socket().receive(hydrate());
  const sent = () => socket().sent.filter((f) => f.type === "event").map((f) => f.handler);
  assert.deepEqual(sent(), ["auth_state._storage"]);
  // The first is refused: the second still runs (its own chain), then the on_load.
  socket().receive({ type: "error", seq: 1, code: "bad_arguments", message: "no", retryable: false });
  assert.deepEqual(sent(), ["auth_state._storage", "auth_state._storage"]);
  const seq = socket().lastSent().seq;
  socket().receive({ type: "delta", version: 1, seq, tab: TAB, delta: { auth_state: { size: 2 } } });
  assert.deepEqual(sent(), ["auth_state._storage", "auth_state._storage", "post_state.load"]);
  assert.deepEqual(written, [{ auth_state: { size: 2 } }]);
});

test("share keeps the identity of what did not change", () => {
  const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, title: `row ${i}`, tags: ["a"] }));
  const next = JSON.parse(JSON.stringify(rows));
  next[500].title = "changed";
  const kept = share(rows, next);
  assert.notEqual(kept, rows, "a changed list is a new array");
  assert.deepEqual(kept, next);
  assert.equal(kept.filter((row, i) => row === rows[i]).length, 999, "every other row is the old object");
  assert.notEqual(kept[500], rows[500]);
  assert.equal(kept[500].tags, rows[500].tags, "the unchanged part of a changed row is kept too");
  assert.equal(share(rows, JSON.parse(JSON.stringify(rows))), rows, "an equal value is the old one");
});

test("share finds moved items, and treats other shapes as new", () => {
  const a = { id: 1 };
  const b = { id: 2 };
  const moved = share([a, b], [{ id: 0 }, { id: 1 }, { id: 2 }]);
  assert.equal(moved[1], a);
  assert.equal(moved[2], b);
  assert.deepEqual(share({ x: [1] }, [1]), [1]);
  assert.deepEqual(share([1], { 0: 1 }), { 0: 1 });
  assert.equal(share(1, 2), 2);
  assert.equal(share(null, null), null);
  const removed = share({ a: 1, b: 2 }, { a: 1 });
  assert.deepEqual(removed, { a: 1 });
  const proto = share({}, JSON.parse('{"__proto__": {"polluted": true}}'));
  assert.equal(Object.getPrototypeOf(proto), Object.prototype, "a __proto__ key stays a key");
  assert.deepEqual(Object.keys(proto), ["__proto__"]);
});

test("a delta equal to the held value notifies no one; a changed one keeps unchanged rows", () => {
  const client = new RefractClient({ url: "ws://unused", initialState: { s: { rows: [{ id: 1 }, { id: 2 }] } } });
  const before = client.getVar("s", "rows");
  let calls = 0;
  client.subscribe("s", "rows", () => calls++);
  client.setVar("s", "rows", [{ id: 1 }, { id: 2 }]);
  assert.equal(calls, 0);
  assert.equal(client.getVar("s", "rows"), before);
  client.setVar("s", "rows", [{ id: 1 }, { id: 3 }]);
  assert.equal(calls, 1);
  assert.equal(client.getVar("s", "rows")[0], before[0]);
});
