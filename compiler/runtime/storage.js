// Client storage vars (refract_core::storage): state vars that live in the browser, in a cookie,
// localStorage or sessionStorage. The browser's value is the truth: after each hydrate the client
// sends the values that differ from the state's (an event `<state>._storage {var, value}`), and
// every delta that changes one writes it back to the browser. Synced local storage vars follow
// the browser's other tabs through the `storage` event.

/**
 * @typedef {{state: string, var: string, kind: "cookie" | "local" | "session", name: string,
 *   max_age_secs: number | null, path: string, domain: string | null, secure: boolean,
 *   same_site: string, sync: boolean}} StorageVar
 */

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

/** Whether two JSON values are the same. */
const same = (a, b) => encode(a) === encode(b);

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
      local = globalThis.localStorage,
      session = globalThis.sessionStorage,
      window = globalThis.window,
    } = {},
  ) {
    this.vars = vars;
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
    if (sv.kind === "cookie") {
      for (const pair of (this.document?.cookie ?? "").split(";")) {
        const at = pair.indexOf("=");
        if (at < 0) continue;
        if (decodeURIComponent(pair.slice(0, at).trim()) !== sv.name) continue;
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
   * The events that set the state's storage vars to what the browser holds, for those that
   * differ: a var the browser does not hold is sent as `null` (its default) unless the state
   * already has its default.
   * @param {(state: string, name: string) => unknown} getVar the state's current values
   * @returns {{handler: string, args: {var: string, value: unknown}}[]}
   */
  differences(getVar) {
    const events = [];
    for (const sv of this.vars) {
      const held = this.read(sv);
      const current = getVar(sv.state, sv.var);
      const wanted = held === undefined ? this.initialState[sv.state]?.[sv.var] : held;
      if (same(current, wanted)) continue;
      events.push({ handler: `${sv.state}._storage`, args: { var: sv.var, value: held ?? null } });
    }
    return events;
  }

  /**
   * Writes to the browser the storage vars a delta changed.
   * @param {Record<string, Record<string, unknown>>} delta
   */
  persist(delta) {
    for (const sv of this.vars) {
      const vars = delta?.[sv.state];
      if (vars && Object.hasOwn(vars, sv.var)) this.write(sv, vars[sv.var]);
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
        onChange({ handler: `${sv.state}._storage`, args: { var: sv.var, value: value ?? null } });
      }
    });
  }
}
