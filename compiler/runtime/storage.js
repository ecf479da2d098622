// Client storage vars (refract_core::storage): state vars that live in the browser, in a cookie,
// localStorage or sessionStorage. The browser's value is the truth when it changed there: after
// each hydrate the client sends the values the browser holds differently from the state (an
// event `<state>._storage {var, value}`) if the browser changed them since this page last read
// or wrote them (a cleared cookie, another tab, the first load); otherwise the state's value is
// newer (a handler set it and its delta was lost to a resync) and is written to the browser.
// Every delta that changes one writes it to the browser (its default removes it). Synced local
// storage vars follow the browser's other tabs through the `storage` event. Storage that throws
// (blocked, full, a malformed cookie) is logged and treated as empty: it never stops the client.

/**
 * @typedef {{state: string, var: string, kind: "cookie" | "local" | "session", name: string,
 *   max_age_secs: number | null, path: string, domain: string | null, secure: boolean,
 *   same_site: string, sync: boolean}} StorageVar
 */

import { jsonEqual } from "./client.js";

/** A value as stored: JSON text. */
const encode = (value) => JSON.stringify(value);

/** A stored text as a value: JSON, or the text itself (a cookie another script wrote). */
function decode(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `f()`, or `fallback` when it throws (storage blocked or full, a malformed cookie): logged. */
function guarded(what, f, fallback) {
  try {
    return f();
  } catch (error) {
    console.warn(`refract: ${what} failed`, error);
    return fallback;
  }
}

/** A global that may throw when read (`localStorage` where storage is blocked). */
const global = (name) => guarded(`reading ${name}`, () => globalThis[name], undefined);

export class BrowserStorage {
  /**
   * @param {StorageVar[]} vars the app's storage vars
   * @param {object} [options]
   * @param {Record<string, Record<string, unknown>>} [options.initialState] the vars' defaults
   * @param {{cookie: string}} [options.document] where cookies are (default: the page's)
   * @param {Storage} [options.local] default: `localStorage`
   * @param {Storage} [options.session] default: `sessionStorage`
   * @param {EventTarget} [options.window] where `storage` events arrive (default: the page's)
   */
  constructor(
    vars,
    {
      initialState = {},
      document = globalThis.document,
      local = global("localStorage"),
      session = global("sessionStorage"),
      window = globalThis.window,
    } = {},
  ) {
    this.vars = vars;
    /** @type {Map<StorageVar, string>} each var's value (JSON) as this page last read or wrote it */
    this.known = new Map();
    this.initialState = initialState;
    this.document = document;
    this.local = local;
    this.session = session;
    this.window = window;
  }

  /** The item store of `sv`. */
  area(sv) {
    return sv.kind === "local" ? this.local : this.session;
  }

  /**
   * What the browser holds for `sv`, or `undefined`.
   * @param {StorageVar} sv
   */
  read(sv) {
    return guarded(`reading ${sv.name}`, () => this.readRaw(sv), undefined);
  }

  /** {@link read}, which may throw. */
  readRaw(sv) {
    if (sv.kind === "cookie") {
      for (const pair of (this.document?.cookie ?? "").split(";")) {
        const at = pair.indexOf("=");
        if (at < 0 || pair.slice(0, at).trim() !== encodeURIComponent(sv.name)) continue;
        return decode(decodeURIComponent(pair.slice(at + 1).trim()));
      }
      return undefined;
    }
    const text = this.area(sv)?.getItem(sv.name);
    return text == null ? undefined : decode(text);
  }

  /**
   * Keeps `value` for `sv` in the browser (`null`: forgets it).
   * @param {StorageVar} sv
   * @param {unknown} value
   */
  write(sv, value) {
    guarded(`writing ${sv.name}`, () => this.writeRaw(sv, value), undefined);
    this.known.set(sv, encode(value ?? null));
  }

  /** {@link write}, which may throw. */
  writeRaw(sv, value) {
    if (sv.kind === "cookie") {
      const parts = [`${encodeURIComponent(sv.name)}=${value == null ? "" : encodeURIComponent(encode(value))}`];
      parts.push(`path=${sv.path}`);
      if (value == null) parts.push("max-age=0");
      else if (sv.max_age_secs != null) parts.push(`max-age=${sv.max_age_secs}`);
      if (sv.domain) parts.push(`domain=${sv.domain}`);
      parts.push(`samesite=${sv.same_site}`);
      if (sv.secure) parts.push("secure");
      if (this.document) this.document.cookie = parts.join("; ");
      return;
    }
    const area = this.area(sv);
    if (value == null) area?.removeItem(sv.name);
    else area?.setItem(sv.name, encode(value));
  }

  /**
   * After a hydrate: the events that set the state's storage vars to what the browser holds,
   * for those the browser changed since this page last read or wrote them (all of them on the
   * page's first hydrate); a var the browser does not hold is sent as `null` (its default)
   * unless the state has its default already. A var the browser did not change but the state
   * did (a handler's delta lost to the resync) is written to the browser instead.
   * @param {(state: string, name: string) => unknown} getVar the state's current values
   * @returns {{handler: string, args: {var: string, value: unknown}}[]}
   */
  differences(getVar) {
    const events = [];
    for (const sv of this.vars) {
      const held = this.read(sv);
      const current = getVar(sv.state, sv.var);
      const fallback = this.initialState[sv.state]?.[sv.var];
      if (jsonEqual(current, held === undefined ? fallback : held)) {
        this.known.set(sv, encode(held ?? null));
        continue;
      }
      if (this.known.get(sv) === encode(held ?? null)) {
        this.store(sv, current);
        continue;
      }
      this.known.set(sv, encode(held ?? null));
      events.push({ handler: `${sv.state}._storage`, args: { var: sv.var, value: held ?? null } });
    }
    return events;
  }

  /** Writes `value` of `sv` to the browser; its default removes it. */
  store(sv, value) {
    const fallback = this.initialState[sv.state]?.[sv.var];
    this.write(sv, jsonEqual(value, fallback) ? null : value);
  }

  /**
   * Writes to the browser the storage vars a delta changed.
   * @param {Record<string, Record<string, unknown>>} delta
   */
  persist(delta) {
    for (const sv of this.vars) {
      const vars = delta?.[sv.state];
      if (vars && Object.hasOwn(vars, sv.var)) this.store(sv, vars[sv.var]);
    }
  }

  /**
   * Calls `onChange(event)` when another tab changes a synced local storage var, with the event
   * that sets it here.
   * @param {(event: {handler: string, args: {var: string, value: unknown}}) => void} onChange
   */
  watch(onChange) {
    const synced = this.vars.filter((sv) => sv.kind === "local" && sv.sync);
    if (synced.length === 0 || !this.window?.addEventListener) return;
    this.window.addEventListener("storage", (e) => {
      if (e.storageArea !== this.local) return;
      for (const sv of synced) {
        if (e.key !== sv.name && e.key !== null) continue;
        const value = this.read(sv);
        this.known.set(sv, encode(value ?? null));
        onChange({ handler: `${sv.state}._storage`, args: { var: sv.var, value: value ?? null } });
      }
    });
  }
}
