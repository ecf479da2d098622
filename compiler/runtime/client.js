// Refract's browser runtime: one WebSocket per tab, the queue of events and client actions, and
// the store of vars. Implements the client side of docs/protocol.md. No framework dependency:
// react.jsx binds it to React.

import { defaultActions, isThenable } from "./actions.js";

/** Structural equality of two JSON values (ops.js's `equal`, one home). */
export { equal as jsonEqual } from "./ops.js";

/**
 * `next`, reusing the parts of `old` that are structurally equal: `old` itself when all of it is
 * equal, else a copy whose equal items and fields are `old`'s own objects (an item found at
 * another index of an array too: moved rows keep theirs). So a component given an item that
 * did not change gets the very same object, and a memoised one does not render again.
 * @param {unknown} old the value held
 * @param {unknown} next the value received (JSON)
 * @returns {unknown}
 */
export function share(old, next) {
  if (old === next) return old;
  if (typeof old !== "object" || typeof next !== "object" || old === null || next === null) return next;
  if (Array.isArray(old) !== Array.isArray(next)) return next;
  if (Array.isArray(next)) {
    let same = old.length === next.length;
    /** Old items by their JSON, built on the first item not found at its own index. */
    let byJson = null;
    const items = next.map((item, i) => {
      let kept = i < old.length ? share(old[i], item) : item;
      if (kept !== old[i] && typeof item === "object" && item !== null) {
        byJson ??= new Map(old.map((o) => [JSON.stringify(o), o]));
        kept = byJson.get(JSON.stringify(item)) ?? kept;
      }
      if (kept !== old[i]) same = false;
      return kept;
    });
    return same ? old : items;
  }
  const keys = Object.keys(next);
  let same = keys.length === Object.keys(old).length;
  const entries = keys.map((k) => {
    const had = Object.hasOwn(old, k);
    const kept = had ? share(old[k], next[k]) : next[k];
    if (!had || kept !== old[k]) same = false;
    return [k, kept];
  });
  // fromEntries defines own properties: a `__proto__` key stays a key.
  return same ? old : Object.fromEntries(entries);
}

const TOKEN_KEY = "refract_token";

const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const isSeq = (v) => Number.isInteger(v) && v >= 0;
/** `{state: {var: value}}` as in hydrate's `state` and delta's `delta`. */
const isStateMap = (v) => isObject(v) && Object.values(v).every(isObject);
/** A queue item as frames carry it: `{handler, args?}`. */
const isItem = (v) => isObject(v) && typeof v.handler === "string" && (v.args == null || isObject(v.args));
/** An optional `then`: queue items. */
const isThen = (v) => v == null || (Array.isArray(v) && v.every(isItem));
/** How long the queue waits for a client action's promise before it goes on without it. */
const ACTION_TIMEOUT_MS = 10_000;

/**
 * The first `n` characters of `text` (code points: a surrogate pair is never split).
 * @param {string} text
 * @param {number} n
 * @returns {string}
 */
const clip = (text, n) => Array.from(text).slice(0, n).join("");

/** What `setAction` accepts as a name: `_` and no dot (a dotted name is an event handler's). */
const ACTION_NAME = /^_[^.]+$/;

/**
 * Calls every listener of `listeners` with `args`; one that throws is logged and the others still run.
 * @param {Iterable<Function>} listeners
 * @param {...unknown} args
 */
function callAll(listeners, ...args) {
  for (const listener of [...listeners]) {
    try {
      listener(...args);
    } catch (e) {
      console.error("refract: a listener threw", e);
    }
  }
}

/**
 * A new tab id: 16 random characters of `A-Za-z0-9_-` (96 bits), made once per page load.
 * @returns {string}
 */
export function newTabId() {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let id = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (let shift = 18; shift >= 0; shift -= 6) id += alphabet[(n >> shift) & 63];
  }
  return id;
}

/**
 * Whether a parsed server frame has the fields its `type` needs (docs/protocol.md). Frames of an
 * unknown type pass here and are logged by the dispatcher.
 * @param {unknown} f
 * @returns {boolean}
 */
function isWellFormed(f) {
  if (!isObject(f) || typeof f.type !== "string") return false;
  switch (f.type) {
    case "hydrate":
      return (
        typeof f.token === "string" &&
        Number.isInteger(f.version) &&
        isSeq(f.last_seq) &&
        isStateMap(f.state) &&
        isThen(f.then)
      );
    case "delta":
      return (
        Number.isInteger(f.version) &&
        (f.seq === null || isSeq(f.seq)) &&
        (f.tab === undefined || f.tab === null || typeof f.tab === "string") &&
        isStateMap(f.delta) &&
        isThen(f.then)
      );
    case "ack":
      return isSeq(f.seq) && isThen(f.then);
    case "error":
      return (f.seq === null || f.seq === undefined || isSeq(f.seq)) && typeof f.code === "string" && isThen(f.then);
    default:
      return true;
  }
}

/**
 * The connection of one tab to the gateway.
 *
 * Store: vars keyed by (state, var); listeners are called only when their var's value changes.
 * Queue: items `{handler, args, depth}` run one at a time. An event (`state.method`) gets its `seq`
 * when first sent and keeps it when resent after a reconnect; a hydrate's `last_seq` says which
 * in-flight event was already applied. A client action (`_name` in the action table) runs in the
 * browser, even before a hydrate. The follow-ups (`then`) of a completed event, or those an action
 * returns, go first in the queue, one level deeper: a chain finishes before the next click's.
 * Versions: a delta whose version is not the next one is not applied; the client resyncs instead
 * (and, until the answering hydrate, ignores deltas and holds events back).
 */
export class RefractClient {
  /**
   * @param {object} options
   * @param {string} options.url WebSocket URL of the gateway's `/_event`.
   * @param {Record<string, Record<string, unknown>>} [options.initialState] `{state: {var: value}}`
   *   shown before the first hydrate (the compiled defaults).
   * @param {{getItem(k: string): string|null, setItem(k: string, v: string): void, removeItem(k: string): void}} [options.storage]
   *   Where the token is kept (sessionStorage: one token per tab).
   * @param {typeof WebSocket} [options.WebSocketImpl]
   * @param {string} [options.tab] This page's tab id (default: a new random one).
   * @param {{initialMs: number, maxMs: number, factor: number}} [options.backoff] Reconnect delays in ms.
   * @param {{setTimeout: Function, clearTimeout: Function}} [options.timers]
   * @param {{pathname: string, search: string}} [options.location] Where the page is (default: the
   *   window's); its path and query reach handlers' context with `hello` and events.
   * @param {Record<string, (args: object, client: RefractClient) => unknown>} [options.actions] The client
   *   actions by handler name (default: actions.js's `defaultActions`); see `setAction`.
   * @param {import("./storage.js").BrowserStorage | null} [options.browserStorage] The app's client
   *   storage vars: sent after each hydrate where the browser holds them differently, written
   *   back on each delta that changes them.
   */
  constructor({
    url,
    initialState = {},
    storage = globalThis.sessionStorage,
    WebSocketImpl = globalThis.WebSocket,
    tab,
    backoff = { initialMs: 250, maxMs: 5000, factor: 2 },
    timers = { setTimeout: globalThis.setTimeout.bind(globalThis), clearTimeout: globalThis.clearTimeout.bind(globalThis) },
    location = globalThis.location,
    actions = defaultActions,
    browserStorage = null,
  }) {
    this.browserStorage = browserStorage;
    this.location = location;
    /** The page the server was last told of on this socket (`hello`, or an event's `page`). */
    this.toldPage = null;
    this.url = url;
    this.storage = storage;
    this.WebSocketImpl = WebSocketImpl;
    this.backoff = backoff;
    this.timers = timers;
    /** @type {Map<string, Map<string, unknown>>} */
    this.store = new Map();
    for (const [state, vars] of Object.entries(initialState)) this.store.set(state, new Map(Object.entries(vars)));
    /** @type {Map<string, Set<Function>>} listeners by "state.var" */
    this.listeners = new Map();
    this.statusListeners = new Set();
    this.errorListeners = new Set();
    /** This page's tab id: its events are numbered within it (docs/protocol.md, `hello`). */
    this.tab = tab ?? newTabId();
    this.status = "connecting";
    this.version = 0;
    this.nextSeq = 1;
    /** @type {{handler: string, args?: object, depth: number, page?: {path: string, query: string}}[]} items not run yet */
    this.queue = [];
    /** @type {{seq: number, handler: string, args: object, depth: number, page: {path: string, query: string} | null} | null} */
    this.inFlight = null;
    /** @type {Map<string, (args: object, client: RefractClient) => unknown>} client actions by handler name */
    this.actions = new Map(Object.entries(actions));
    /** The chain the next trigger's items start (a failure drops the rest of its chain). */
    this.nextChain = 1;
    /** Whether a client action is running (an async one holds the queue until it settles). */
    this.actionRunning = false;
    this.socket = null;
    this.hydrated = false;
    this.stopped = false;
    this.delay = backoff.initialMs;
    this.reconnectTimer = null;
    this.retryDelay = backoff.initialMs;
    this.retryTimer = null;
    /** Whether the next hydrate renumbers the in-flight event (after a `seq_gap`). */
    this.renumber = false;
    browserStorage?.watch((event) => this.addEvents([event]));
  }

  /** Opens the socket (and keeps reopening it after it closes, until `stop()`). */
  start() {
    this.stopped = false;
    this.setStatus(this.status, true);
    this.connect();
  }

  /** Closes the socket for good. */
  stop() {
    this.stopped = true;
    if (this.reconnectTimer !== null) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.cancelRetry();
    this.socket?.close();
  }

  /** Opens a new socket and wires its callbacks; a constructor failure counts as a close. */
  connect() {
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (e) {
      console.error("refract: could not open the socket", e);
      this.setStatus("disconnected");
      if (!this.stopped) this.scheduleReconnect();
      return;
    }
    this.socket = ws;
    this.hydrated = false;
    ws.onopen = () => this.sendHello();
    ws.onmessage = (msg) => this.onFrame(msg.data);
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.hydrated = false;
      this.setStatus("disconnected");
      if (!this.stopped) this.scheduleReconnect();
    };
    // A socket error is always followed by `close`, which does the reconnecting.
    ws.onerror = () => {};
  }

  /** Waits the current backoff delay (less up to 20% jitter, so never above maxMs), then reconnects. */
  scheduleReconnect() {
    const wait = Math.min(this.delay, this.backoff.maxMs) * (1 - Math.random() * 0.2);
    this.delay = Math.min(this.delay * this.backoff.factor, this.backoff.maxMs);
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, wait);
  }

  /** Sends `frame` as JSON if the socket is open (otherwise the next hydrate resyncs anyway). */
  send(frame) {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(frame));
  }

  /** Asks for a (re)hydrate with the stored token, or null for a new one, naming the page. */
  sendHello(token = this.storage?.getItem(TOKEN_KEY) ?? null) {
    const page = this.currentPage();
    this.toldPage = page;
    this.send({ type: "hello", token, tab: this.tab, ...(page && { page }) });
  }

  /** The page's path and query (without `?`), or null where there is no location. */
  currentPage() {
    if (!this.location) return null;
    return { path: this.location.pathname, query: this.location.search.replace(/^\?/, "") };
  }

  /** Sends `event`, with its depth when above 0 and its page when the server was last told another. */
  sendEvent(event) {
    const { page, depth, chain: _chain, ...frame } = event;
    const moved = page && !(this.toldPage && page.path === this.toldPage.path && page.query === this.toldPage.query);
    if (moved) this.toldPage = page;
    this.send({ type: "event", ...frame, ...(depth > 0 && { depth }), ...(moved && { page }) });
  }

  /**
   * Handles one frame from the server. Never throws: a malformed frame is logged and ignored.
   * @param {string} text
   */
  onFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      console.error("refract: ignored a malformed frame", e);
      return;
    }
    if (!isWellFormed(frame)) {
      console.error("refract: ignored a malformed frame", frame);
      return;
    }
    try {
      this.dispatch(frame);
    } catch (e) {
      // A listener that throws must not break the socket's message loop.
      console.error("refract: failed to handle a frame", frame, e);
    }
  }

  /** @param {{type: string}} frame a well-formed frame */
  dispatch(frame) {
    switch (frame.type) {
      case "hydrate":
        return this.onHydrate(frame);
      case "delta":
        return this.onDelta(frame);
      case "ack":
        return this.complete(frame.seq, frame.then);
      case "error":
        return this.handleError(frame);
      default:
        console.error("refract: ignored a frame of unknown type", frame);
    }
  }

  /**
   * Replaces the store, stores the token and settles the in-flight event against `last_seq`: one
   * already applied is dropped and the hydrate's `then` (that event's follow-ups) is queued first.
   */
  onHydrate(frame) {
    this.cancelRetry();
    this.storage?.setItem(TOKEN_KEY, frame.token);
    this.version = frame.version;
    this.replaceStore(frame.state ?? {});
    if (this.renumber && this.inFlight) {
      // Refused as a gap, so not applied: it takes the number after the tab's last applied one.
      this.inFlight = { ...this.inFlight, seq: frame.last_seq + 1 };
      this.nextSeq = frame.last_seq + 2;
    } else {
      this.nextSeq = Math.max(this.nextSeq, frame.last_seq + 1);
      if (this.inFlight && this.inFlight.seq <= frame.last_seq) this.settle(frame.then);
    }
    this.renumber = false;
    this.hydrated = true;
    // The browser's storage vars first: the page's `on_load` (queued at its mount) reads them.
    // Each in a chain of its own: one refused does not drop the others.
    const stored = this.browserStorage?.differences((state, name) => this.getVar(state, name)) ?? [];
    for (const item of stored.reverse()) this.queueFirst([item], 0, this.nextChain++);
    this.delay = this.backoff.initialMs;
    this.setStatus("connected");
    if (this.inFlight) this.sendEvent(this.inFlight);
    else this.pump();
  }

  /** Applies a delta in version order; a gap triggers a resync (hello) instead. */
  onDelta(frame) {
    // Until the hydrate that answers our hello, deltas are stale: the hydrate includes them.
    if (!this.hydrated) return;
    if (frame.version !== this.version + 1) {
      this.hydrated = false;
      this.sendHello();
      return;
    }
    this.version = frame.version;
    for (const [state, vars] of Object.entries(frame.delta ?? {})) {
      for (const [name, value] of Object.entries(vars)) this.setVar(state, name, value);
    }
    this.browserStorage?.persist(frame.delta);
    // Tabs sharing a token ("Duplicate tab") get each other's deltas, numbered in their own tab.
    if (frame.seq != null && (frame.tab ?? null) === this.tab) this.complete(frame.seq, frame.then);
  }

  /**
   * Handles an error frame. A `retryable` failure of the in-flight event (busy, unavailable,
   * lock_lost) keeps it in flight and resends it with the same seq after a backoff, with the status
   * `retrying`: it is not an error the app sees. Any other error is logged, completes its event
   * (which ends its chain; the frame's `then`, the app's error actions, runs next), and goes to
   * the error listeners; `invalid_token` also
   * forgets the token and asks for a new one.
   */
  handleError(frame) {
    const ours = frame.seq != null && this.inFlight?.seq === frame.seq;
    if (ours && frame.retryable === true) {
      this.scheduleRetry();
      return;
    }
    if (ours && frame.code === "seq_gap") {
      // The server lost this tab's numbering (its state was lost or forgotten): resync, then
      // number the event after the tab's last applied one and send it again.
      this.renumber = true;
      this.hydrated = false;
      this.sendHello();
      return;
    }
    console.error(`refract: ${frame.code}: ${frame.message}`);
    if (frame.code === "invalid_token") {
      this.storage?.removeItem(TOKEN_KEY);
      this.sendHello(null);
    }
    if (ours) {
      // Not applied: the next event takes its number, so the tab's numbers stay gapless. Its
      // chain ends; the frame's `then` is what the app's error hook chose (a toast, by default).
      this.nextSeq = frame.seq;
      this.fail(frame.seq, frame.then);
    }
    callAll(this.errorListeners, frame);
  }

  /** Resends the in-flight event (same seq) after the retry delay, which grows like reconnects'. */
  scheduleRetry() {
    const event = this.inFlight;
    const wait = Math.min(this.retryDelay, this.backoff.maxMs) * (1 - Math.random() * 0.2);
    this.retryDelay = Math.min(this.retryDelay * this.backoff.factor, this.backoff.maxMs);
    this.setStatus("retrying");
    this.cancelRetry();
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.inFlight === event && this.hydrated) this.sendEvent(event);
    }, wait);
  }

  /** Cancels a scheduled resend (a hydrate resends or settles the in-flight event itself). */
  cancelRetry() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /**
   * Marks the in-flight event `seq` done, queues its follow-ups first and runs the queue on.
   * @param {number} seq
   * @param {{handler: string, args?: object}[]} [then] the event's follow-ups
   */
  complete(seq, then) {
    if (this.inFlight?.seq !== seq) return;
    this.settle(then);
    this.pump();
  }

  /**
   * Ends the in-flight event; its follow-ups `then` go to the front of the queue, one level
   * deeper, in its chain.
   * @param {{handler: string, args?: object}[]} [then]
   */
  settle(then) {
    const { depth, chain } = this.inFlight;
    this.inFlight = null;
    this.retryDelay = this.backoff.initialMs;
    if (this.status === "retrying") this.setStatus("connected");
    this.queueFirst(then, depth + 1, chain);
  }

  /**
   * Ends the in-flight event `seq`, which failed: the rest of its chain is dropped (`[save(),
   * toast("Saved")]` shows no "Saved" when `save` fails), and the client actions of the error's
   * `then` (what the app's error hook chose) run next. Events there are refused: an event that
   * failed in turn would call the hook again, without end.
   * @param {number} seq
   * @param {{handler: string, args?: object}[]} [then]
   */
  fail(seq, then) {
    if (this.inFlight?.seq !== seq) return;
    const { chain } = this.inFlight;
    this.queue = this.queue.filter((item) => item.chain !== chain);
    const actions = (then ?? []).filter((item) => {
      const known = this.actions.has(item.handler);
      if (!known) console.error(`refract: an error's then runs client actions only, not ${item.handler}`);
      return known;
    });
    this.settle(actions);
    this.pump();
  }

  /**
   * Puts `items` at the front of the queue, in order, at `depth`, in `chain`. Their page is taken
   * when sent.
   * @param {{handler: string, args?: object}[] | null | undefined} items nothing unless an array
   * @param {number} depth
   * @param {number} chain
   */
  queueFirst(items, depth, chain) {
    if (!Array.isArray(items)) return;
    this.queue.unshift(...items.map(({ handler, args }) => ({ handler, args, depth, chain })));
  }

  /**
   * Runs the queue while nothing is in flight and no action is running: a client action at the
   * head runs at once (it needs no socket); an event is sent once hydrated.
   */
  pump() {
    while (!this.inFlight && !this.actionRunning && this.queue.length > 0) {
      const action = this.actions.get(this.queue[0].handler);
      if (!action && !this.hydrated) return;
      const item = this.queue.shift();
      if (action) this.runAction(action, item);
      else this.sendNext(item);
    }
  }

  /**
   * Sends `item` as the in-flight event with the next seq (and the current page if it has none).
   * An item whose arguments are no JSON (a cycle, a BigInt from a component's callback) is logged
   * and dropped, its seq unused.
   */
  sendNext(item) {
    try {
      JSON.stringify(item.args ?? {});
    } catch (e) {
      console.error(`refract: the arguments of ${item.handler} are not JSON; not sent`, e);
      return;
    }
    const page = item.page ?? this.currentPage();
    const { handler, depth, chain } = item;
    this.inFlight = { seq: this.nextSeq++, handler, args: item.args ?? {}, depth, chain, page };
    this.sendEvent(this.inFlight);
  }

  /**
   * Runs a client action. The follow-ups it returns go first in the queue, one level deeper, in
   * its chain; when it returns a promise, the queue waits for it, at most `ACTION_TIMEOUT_MS`. A
   * throw, a rejection or a timeout is logged and the queue goes on.
   * @param {(args: object, client: RefractClient) => unknown} action
   * @param {{handler: string, args?: object, depth: number, chain: number}} item the queue item that named it
   */
  runAction(action, item) {
    let settled = false;
    const done = (followUps) => {
      if (settled) return;
      settled = true;
      this.actionRunning = false;
      this.queueFirst(followUps, item.depth + 1, item.chain);
    };
    const failed = (e) => {
      console.error(`refract: the client action ${item.handler} failed`, e);
      done();
    };
    this.actionRunning = true;
    let result;
    try {
      result = action(item.args ?? {}, this);
    } catch (e) {
      failed(e);
      return;
    }
    if (!isThenable(result)) {
      done(result);
      return;
    }
    const timer = this.timers.setTimeout(() => {
      failed(new Error(`did not settle within ${ACTION_TIMEOUT_MS} ms`));
      this.pump();
    }, ACTION_TIMEOUT_MS);
    Promise.resolve(result)
      .then(done, failed)
      .then(() => {
        this.timers.clearTimeout(timer);
        this.pump();
      });
  }

  /**
   * Queues items to run in order, one at a time, at depth 0 and in a chain of their own:
   * events (`state.method`), each remembering the page it was triggered on, and client actions
   * (`_name`).
   * @param {{handler: string, args?: object}[]} events
   */
  addEvents(events) {
    const page = this.currentPage();
    const chain = this.nextChain++;
    this.queue.push(...events.map((e) => ({ ...e, depth: 0, chain, ...(page && { page }) })));
    this.pump();
  }

  /**
   * Tells the server that the page failed to render (its error boundary caught `error`): logged
   * and counted there. Sent only while the socket is open; never answered.
   * @param {unknown} error what was thrown
   * @param {string} [componentStack] React's component stack, if known
   */
  reportError(error, componentStack) {
    const message = clip(String(error?.message ?? error), 1024);
    const stack = clip([error?.stack, componentStack].filter(Boolean).join("\n"), 4096);
    this.send({ type: "client_error", message, ...(stack && { stack }) });
  }

  /**
   * Adds or replaces the client action `name`: queue items with that handler run `fn` in the
   * browser instead of going to the server.
   * @param {string} name `_` and a name without a dot, e.g. `"_redirect"`
   * @param {(args: object, client: RefractClient) => unknown} fn gets the item's args; returns nothing,
   *   or follow-up items `{handler, args}[]` to run next, or a promise of them (the queue waits for it)
   * @throws {TypeError} for a name that is not `_` and a name without a dot
   */
  setAction(name, fn) {
    if (!ACTION_NAME.test(name)) throw new TypeError(`refract: "${name}" is not a client action name ("_", no dot)`);
    this.actions.set(name, fn);
  }

  /**
   * Replaces the whole store by `state`; only vars whose value differs are replaced and notified,
   * and the parts of a value equal to the held one's keep their identity (see `share`).
   * @param {Record<string, Record<string, unknown>>} state
   */
  replaceStore(state) {
    const changed = [];
    const seen = new Set();
    for (const [stateName, vars] of Object.entries(state)) {
      const held = this.store.get(stateName) ?? new Map();
      this.store.set(stateName, held);
      for (const [name, value] of Object.entries(vars)) {
        seen.add(`${stateName}.${name}`);
        const kept = held.has(name) ? share(held.get(name), value) : value;
        if (!held.has(name) || kept !== held.get(name)) {
          held.set(name, kept);
          changed.push(`${stateName}.${name}`);
        }
      }
    }
    for (const [stateName, held] of this.store) {
      for (const name of [...held.keys()]) {
        if (!seen.has(`${stateName}.${name}`)) {
          held.delete(name);
          changed.push(`${stateName}.${name}`);
        }
      }
    }
    for (const key of changed) this.notify(key);
  }

  /**
   * Sets one var and notifies its listeners, unless the value is equal to the one held. The
   * parts of the value equal to the held one's keep their identity (see `share`).
   */
  setVar(state, name, value) {
    let held = this.store.get(state);
    if (!held) this.store.set(state, (held = new Map()));
    const kept = held.has(name) ? share(held.get(name), value) : value;
    if (held.has(name) && kept === held.get(name)) return;
    held.set(name, kept);
    this.notify(`${state}.${name}`);
  }

  /** @param {string} key `state.var` */
  notify(key) {
    callAll(this.listeners.get(key) ?? []);
  }

  /** The current value of `state.name` (undefined when unknown). */
  getVar(state, name) {
    return this.store.get(state)?.get(name);
  }

  /**
   * Calls `listener` whenever `state.name` changes. Returns the unsubscribe function.
   * @returns {() => void}
   */
  subscribe(state, name, listener) {
    const key = `${state}.${name}`;
    if (!this.listeners.has(key)) this.listeners.set(key, new Set());
    this.listeners.get(key).add(listener);
    return () => this.listeners.get(key)?.delete(listener);
  }

  /** `"connecting" | "connected" | "retrying" | "disconnected"` (`retrying`: an event is being resent after a retryable error). */
  getStatus() {
    return this.status;
  }

  /** Calls `listener` on each status change. Returns the unsubscribe function. */
  subscribeStatus(listener) {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /**
   * Calls `listener(frame)` for each `error` frame (`{type, seq, code, message}`).
   * @param {(frame: {seq: number|null, code: string, message: string}) => void} listener
   * @returns {() => void} unsubscribe
   */
  onError(listener) {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Sets the status, mirrors it on `<html data-refract-status>` and notifies (`force`: even if unchanged). */
  setStatus(status, force = false) {
    if (this.status === status && !force) return;
    this.status = status;
    if (typeof document !== "undefined") document.documentElement.dataset.refractStatus = status;
    callAll(this.statusListeners);
  }
}
