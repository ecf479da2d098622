// Refract's client actions: the effects a handler's follow-ups ask the browser for (`_redirect`,
// `_set_value`, …), run by the queue of client.js. DOM-only, no React: react.jsx plugs React
// Router and sonner in through `redirectWith` and `toastWith`. Globals (`document`, `location`, …)
// are read only when an action runs, so Node can import this module in the unit tests.
//
// An action is `fn(args, client)`; it returns nothing, or follow-up queue items (or a promise of
// them, which the queue waits for): client.js puts them first in the queue, one level deeper.

/** How long a downloaded Blob's URL lives after the click (the download must have started). */
const REVOKE_AFTER_MS = 10_000;

/** The toast levels `_toast` accepts: each is a function of sonner's `toast`. */
const TOAST_LEVELS = ["info", "success", "warning", "error"];

/**
 * Whether `value` is a thenable (a promise, or what `await` treats as one).
 * @param {unknown} value
 * @returns {boolean}
 */
export function isThenable(value) {
  return typeof value?.then === "function";
}

/**
 * The element with id `id`.
 * @param {string} id
 * @returns {HTMLElement}
 * @throws {Error} when the page has none (the queue logs it)
 */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`no element has the id "${id}"`);
  return element;
}

/**
 * Whether `path` is a path of this app (`/…`, not the protocol-relative `//host/…`).
 * @param {string} path
 * @returns {boolean}
 */
function isInAppPath(path) {
  return path.startsWith("/") && !path.startsWith("//");
}

/**
 * `url` if it is a path of this app or an `http(s)` URL; anything else (`javascript:`, `data:`)
 * is refused, so a handler that redirects to a user-supplied address cannot run script.
 * @param {string} url
 * @returns {string}
 * @throws {Error} for another scheme
 */
function webUrl(url) {
  if (isInAppPath(url) || /^https?:\/\//i.test(url) || /^\/\/[^/]/.test(url)) return url;
  throw new Error(`refusing "${url}": only paths of this app and http(s) URLs`);
}

/**
 * The `_redirect {path, replace}` action: a path of this app goes to `navigate(path, {replace})`
 * (client-side, the socket stays open); anything else, or every path when `navigate` is null, is a
 * page load (`location.assign`, or `location.replace` when `replace`).
 * @param {((path: string, options: {replace: boolean}) => unknown) | null} navigate client-side
 *   navigation; what it returns, the action returns (a promise holds the queue until it settles)
 * @returns {(args: {path: string, replace?: boolean}) => unknown}
 */
export function redirectWith(navigate) {
  return ({ path, replace = false }) => {
    webUrl(path);
    if (navigate && isInAppPath(path)) return navigate(path, { replace: Boolean(replace) });
    if (replace) location.replace(path);
    else location.assign(path);
  };
}

/**
 * The `_toast {level, message, description?, duration_ms?}` action, shown by `toast` (sonner's).
 * @param {{info: Function, success: Function, warning: Function, error: Function}} toast
 * @returns {(args: {level: string, message: string, description?: string|null, duration_ms?: number|null}) => void}
 * @throws {Error} (from the action) for a level that is not one of info, success, warning, error
 */
export function toastWith(toast) {
  return ({ level, message, description, duration_ms }) => {
    if (!TOAST_LEVELS.includes(level)) throw new Error(`unknown toast level "${level}"`);
    toast[level](message, { description: description ?? undefined, duration: duration_ms ?? undefined });
  };
}

/**
 * `_set_value {id, value}`: sets an element's value through the native setter of its kind, so
 * React's value tracking sees a change, then dispatches a bubbling `input` (and, for a select, a
 * `change`: what React's onChange listens to there).
 */
function setValue({ id, value }) {
  const element = byId(id);
  const kind = [HTMLInputElement, HTMLTextAreaElement, HTMLSelectElement].find((k) => element instanceof k);
  if (kind) Object.getOwnPropertyDescriptor(kind.prototype, "value").set.call(element, value);
  else element.value = value;
  element.dispatchEvent(new Event("input", { bubbles: true }));
  if (kind === HTMLSelectElement) element.dispatchEvent(new Event("change", { bubbles: true }));
}

/**
 * The bytes of a base64 string.
 * @param {string} base64
 * @returns {Uint8Array}
 */
function decodeBase64(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * `_download {filename, url?, data?, base64?, mime?}`: clicks an `<a download>` of the url, or of a
 * Blob URL of the text `data` or the bytes `base64` (revoked later).
 * @throws {Error} unless exactly one of url, data, base64 is given
 */
function download({ filename, url, data, base64, mime }) {
  if ([url, data, base64].filter((v) => v != null).length !== 1) {
    throw new Error("_download needs exactly one of url, data, base64");
  }
  const blob = url == null ? new Blob([data ?? decodeBase64(base64)], { type: mime ?? "application/octet-stream" }) : null;
  const href = blob ? URL.createObjectURL(blob) : webUrl(url);
  const link = document.createElement("a");
  link.href = href;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  if (blob) setTimeout(() => URL.revokeObjectURL(href), REVOKE_AFTER_MS);
}

/**
 * A value as JSON: `null` for `undefined` and for what JSON cannot hold (a function, a BigInt, a cycle).
 * @param {unknown} value
 * @returns {unknown}
 */
export function toJson(value) {
  try {
    return JSON.parse(JSON.stringify(value ?? null) ?? "null");
  } catch {
    return null;
  }
}

/**
 * `_call_script {js, callback?}`: evaluates `js` in the global scope. With a callback, its event
 * follows, with the script's value (awaited when it is a thenable) as JSON under `callback.result`
 * (unless that is null: a callback that does not take the value).
 * A script that throws (or rejects) throws here, so the queue logs it and no callback follows.
 * @returns {{handler: string, args: object}[] | Promise<{handler: string, args: object}[]>}
 */
function callScript({ js, callback }) {
  // A callback that ignores the value (its builder did not take it) has no `result`.
  const withValue = (value) => (callback.result == null ? {} : { [callback.result]: toJson(value) });
  const followUps = (value) =>
    callback ? [{ handler: callback.handler, args: { ...callback.args, ...withValue(value) } }] : [];
  const value = (0, eval)(js);
  return isThenable(value) ? Promise.resolve(value).then(followUps) : followUps(value);
}

/** `_remove_cookie {name, path?, domain?}`: expires the cookie (path default `/`). */
function removeCookie({ name, path, domain }) {
  document.cookie = `${name}=; Max-Age=0; path=${path ?? "/"}${domain ? `; domain=${domain}` : ""}`;
}

/**
 * The client actions every client knows, by handler name. `_toast` is not among them: react.jsx
 * adds it (`toastWith(sonner's toast)`) and replaces `_redirect` by `redirectWith(navigate)`.
 * @type {Record<string, (args: object, client: object) => unknown>}
 */
export const defaultActions = Object.freeze({
  _redirect: redirectWith(null),
  _set_value: setValue,
  _set_focus: ({ id }) => byId(id).focus(),
  _scroll_to: ({ id }) => byId(id).scrollIntoView({ behavior: "smooth" }),
  _download: download,
  // Returned, so the queue waits for it and logs a rejection.
  _set_clipboard: ({ text }) => navigator.clipboard.writeText(text),
  _console_log: ({ message }) => console.log(message),
  _window_alert: ({ message }) => alert(message),
  _call_script: callScript,
  _remove_cookie: removeCookie,
  _clear_local_storage: () => localStorage.clear(),
  _reload: () => location.reload(),
});
