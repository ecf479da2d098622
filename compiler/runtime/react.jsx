// React bindings of Refract's runtime, imported by the compiled pages. One client per tab.
import React, { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { useLocation, useNavigate, useParams } from "react-router";
import { Button, Theme } from "@radix-ui/themes";
import { Toaster, toast } from "sonner";
import { defaultActions, redirectWith, toastWith } from "./actions.js";
import { RefractClient } from "./client.js";
import { BrowserStorage } from "./storage.js";
import storageVars from "./storage_vars.json";
import app from "./app.json";
import { triggerRunner } from "./triggers.js";
import { Uploads, xhrSender } from "./upload.js";
import initialState from "./initial_state.json";

// The head tags the build wrote for crawlers: the pages render their own (which follow vars).
for (const tag of document.querySelectorAll("[data-refract-static]")) tag.remove();

/** The tab's connection to the gateway. */
export const client = new RefractClient({
  url: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/_event",
  initialState,
  browserStorage: storageVars.length > 0 ? new BrowserStorage(storageVars, { initialState }) : null,
});
client.setAction("_toast", toastWith(toast));
client.start();

/** The page's upload zones (upload.js): their files, vars and transfers. */
export const uploads = new Uploads({
  send: xhrSender(),
  token: () => client.storage?.getItem("refract_token") ?? null,
  report: ({ code, message }) => {
    console.error(`refract: upload ${code}: ${message}`);
    if (code === "cancelled") toast.info(message);
    else toast.error(message);
  },
});
client.setAction("_cancel_upload", ({ id }) => uploads.cancel(id));
client.setAction("_clear_selected_files", ({ id }) => uploads.clear(id));

/**
 * A var of an upload zone (the pseudo-state `__upload` of `refract::upload`), in the browser.
 * @param {string} name `selected$<id>` (the names chosen), `progress$<id>` (0 to 1) or `error$<id>`
 *   (the zone's last problem, or null)
 */
export function useUploadVar(name) {
  const subscribe = useCallback((onChange) => uploads.subscribe(name, onChange), [name]);
  const get = useCallback(() => uploads.getVar(name), [name]);
  return useSyncExternalStore(subscribe, get, get);
}

/**
 * The current value of `state.name`; the calling component re-renders only when that var changes.
 * @param {string} state state name, e.g. `"counter_state"`
 * @param {string} name var name, e.g. `"count"`
 * @returns {unknown} the var's JSON value (`undefined` if the store has no such var)
 */
export function useVar(state, name) {
  // Stable callbacks, so React does not resubscribe on every render.
  const subscribe = useCallback((onChange) => client.subscribe(state, name, onChange), [state, name]);
  const getSnapshot = useCallback(() => client.getVar(state, name), [state, name]);
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

const subscribeStatus = (onChange) => client.subscribeStatus(onChange);
const getStatus = () => client.getStatus();

/**
 * The connection status; re-renders on each change.
 * @returns {"connecting" | "connected" | "disconnected"}
 */
export function useStatus() {
  return useSyncExternalStore(subscribeStatus, getStatus, getStatus);
}

/**
 * Shows `title` as the document's title while the calling page is shown; the app's title again
 * when it goes (a page without a title of its own shows the app's).
 * @param {string} title
 */
export function useTitle(title) {
  useEffect(() => {
    document.title = title;
    return () => {
      document.title = app.title;
    };
  }, [title]);
}

/** Where the user's choice of colour mode is kept. */
const COLOR_MODE_KEY = "refract_color_mode";

/**
 * The colour mode: the user's choice (kept in localStorage, followed across tabs), else the
 * app's fixed appearance, else the system's setting (followed as it changes).
 */
const colorMode = (() => {
  const listeners = new Set();
  const dark = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
  const read = () => {
    try {
      const chosen = localStorage.getItem(COLOR_MODE_KEY);
      return chosen === "light" || chosen === "dark" ? chosen : null;
    } catch {
      return null;
    }
  };
  let chosen = read();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  dark?.addEventListener?.("change", changed);
  globalThis.addEventListener?.("storage", (e) => {
    if (e.key === COLOR_MODE_KEY || e.key === null) {
      chosen = read();
      changed();
    }
  });
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get() {
      if (chosen) return chosen;
      if (app.appearance === "light" || app.appearance === "dark") return app.appearance;
      return dark?.matches ? "dark" : "light";
    },
    set(mode) {
      chosen = mode;
      try {
        localStorage.setItem(COLOR_MODE_KEY, mode);
      } catch {
        // Not kept (storage blocked): it still applies to this page.
      }
      changed();
    },
  };
})();

const subscribeColorMode = (onChange) => colorMode.subscribe(onChange);
const getColorMode = () => colorMode.get();

/**
 * The page's colour mode and a function that switches it (the choice is remembered).
 * @returns {["light" | "dark", () => void]}
 */
export function useColorMode() {
  const mode = useSyncExternalStore(subscribeColorMode, getColorMode, getColorMode);
  return [mode, () => colorMode.set(mode === "dark" ? "light" : "dark")];
}

/**
 * A var of the browser alone (the pseudo-state `__browser` of `refract_core::color_mode`).
 * @param {"color_mode"} name
 */
export function useBrowserVar(name) {
  const [mode] = useColorMode();
  return name === "color_mode" ? mode : undefined;
}

/** The button that switches between light and dark mode (`color_mode_toggle()`). */
export function ColorModeToggle() {
  const [mode, toggle] = useColorMode();
  const next = mode === "dark" ? "light" : "dark";
  return (
    <Button variant="soft" onClick={toggle} aria-label={`Switch to ${next} mode`} data-testid="refract-color-mode">
      {mode === "dark" ? "☀ Light" : "☾ Dark"}
    </Button>
  );
}

/**
 * Radix Themes' `<Theme>` around the app, in the current colour mode, with the app's settings.
 * @param {object} props Radix Themes' props (accentColor, grayColor, radius, scaling, panelBackground)
 */
export function RefractTheme(props) {
  const [mode] = useColorMode();
  return <Theme {...props} appearance={mode} />;
}

const getHydrated = () => client.hydrated;

/**
 * A var of the page's location (the pseudo-state `__router` of `refract::router`), from React
 * Router: it changes on client-side navigation without a server round trip.
 * @param {"path" | "params" | "query" | "hydrated"} name
 * @returns {unknown} the path (a string), the route's params or the query's values (objects of
 *   strings; a repeated query key keeps its first value), or whether the tab has its state
 */
export function useRouterVar(name) {
  // Every hook on every call, whichever var is asked for (the rules of hooks).
  const params = useParams();
  const { pathname, search } = useLocation();
  const hydrated = useSyncExternalStore(subscribeStatus, getHydrated, getHydrated);
  switch (name) {
    case "path":
      return pathname;
    case "params":
      return params;
    case "query": {
      const query = {};
      for (const [key, value] of new URLSearchParams(search)) if (!Object.hasOwn(query, key)) query[key] = value;
      return query;
    }
    case "hydrated":
      return hydrated;
    default:
      return undefined;
  }
}

/**
 * What compiled pages call when a trigger fires: `addEvents(events, domEvent, options)` applies
 * the trigger's modifiers and queues its events (see triggers.js), after uploading the files of
 * the upload zones they take (upload.js).
 */
export const addEvents = triggerRunner((events) => uploads.dispatch(events, (ready) => client.addEvents(ready)));

/**
 * An event prop of an element that was also given one by its parent (a Radix trigger `asChild`
 * gives its child an `onClick` that opens the menu): calls the parent's first, then the
 * element's own.
 * @param {Function | undefined} given the handler the parent gave
 * @param {Function} own the element's own trigger
 * @returns {Function}
 */
export function chain(given, own) {
  if (typeof given !== "function") return own;
  return (...args) => {
    given(...args);
    return own(...args);
  };
}

/**
 * An input whose value is a var and whose changes reach the server debounced: what is typed shows
 * at once (local state) and the var's value is taken whenever it changes, unless the user typed
 * within the last `debounce` ms (a send is still pending: the typing wins). The compiler uses it
 * for a component with a `value` prop and a debounced `onChange`.
 * @param {{component: React.ElementType, debounce: number, value: unknown, onChange: Function}} props
 *   and any other props, passed to `component`
 */
export function DebouncedInput({ component: Component, debounce, value, onChange, ...rest }) {
  const [local, setLocal] = useState(value ?? "");
  const typedAt = useRef(-Infinity);
  useEffect(() => {
    if (performance.now() - typedAt.current >= debounce) setLocal(value ?? "");
  }, [value, debounce]);
  const change = (e) => {
    typedAt.current = performance.now();
    setLocal(e.target.value);
    onChange(e);
  };
  return <Component {...rest} value={local} onChange={change} />;
}

/**
 * A submitted form's fields by control name, each a list of texts, for the server to decode by
 * the handler's type (`refract_core::Form`): every named control is there, so an unticked
 * checkbox or a multi-select with nothing chosen is an empty list. A name ending in `[]` (Radix
 * sliders with several thumbs) counts without it. Files are left out.
 * @param {Event} domEvent the form's submit event (its `currentTarget` is the form)
 * @returns {Record<string, string[]>}
 */
export function formData(domEvent) {
  const form = domEvent.currentTarget;
  const field = (name) => (name.endsWith("[]") ? name.slice(0, -2) : name);
  const fields = new Map();
  for (const element of form.elements) {
    if (element.name && !element.disabled && element.type !== "file") fields.set(field(element.name), []);
  }
  for (const [name, value] of new FormData(form)) {
    if (typeof value !== "string") continue;
    const key = field(name);
    if (!fields.has(key)) fields.set(key, []);
    fields.get(key).push(value);
  }
  return Object.fromEntries(fields);
}

/** What the banner says in each status that has one. */
const BANNER_TEXT = {
  disconnected: "Connection lost — reconnecting…",
  retrying: "The server is busy — retrying…",
};

/** A banner across the top of the page while the connection is down or an event is being retried. */
export function ConnectionBanner() {
  const status = useStatus();
  const text = BANNER_TEXT[status];
  if (text === undefined) return null;
  return (
    <div
      role="status"
      data-testid="refract-connection-banner"
      style={{
        position: "fixed",
        top: 0,
        left: 0,
        right: 0,
        zIndex: 1000,
        padding: "0.5rem 1rem",
        textAlign: "center",
        background: "var(--red-9, #e5484d)",
        color: "white",
        fontFamily: "system-ui, sans-serif",
      }}
    >
      {text}
    </div>
  );
}

/**
 * Makes `_redirect` navigate client-side with React Router while mounted (inside its router); the
 * default (a page load) is back after unmounting. The queue waits until the new location has
 * rendered, so the chain's next actions (`_set_focus`, …) find the new page's elements.
 */
function useRedirectAction() {
  const navigate = useNavigate();
  const routerLocation = useLocation();
  /** The redirects waiting for their location to render. */
  const waiting = useRef([]);
  const release = () => {
    for (const resolve of waiting.current.splice(0)) resolve();
  };
  useEffect(release, [routerLocation]);
  useEffect(() => {
    const go = (path, options) =>
      new Promise((resolve) => {
        waiting.current.push(resolve);
        navigate(path, options);
      });
    client.setAction("_redirect", redirectWith(go));
    return () => {
      client.setAction("_redirect", defaultActions._redirect);
      release();
    };
  }, [navigate]);
}

/** Catches a page's rendering error: shows a notice instead of a blank page and reports it. */
class ErrorBoundary extends React.Component {
  constructor(props) {
    super(props);
    this.state = { failed: false };
  }

  static getDerivedStateFromError() {
    return { failed: true };
  }

  componentDidCatch(error, info) {
    console.error("refract: the page failed to render", error);
    client.reportError(error, info?.componentStack);
  }

  render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert" data-testid="refract-render-error" style={{ padding: "2rem", fontFamily: "system-ui, sans-serif" }}>
        <p>Something went wrong while showing this page.</p>
        <button type="button" onClick={() => location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}

/**
 * The pages' error boundary: a page that throws while rendering shows a notice (and is reported
 * to the server, which logs and counts it) instead of a blank page; going to another page
 * renders afresh. Rendered inside `<BrowserRouter>`, around the routes.
 * @param {{children: React.ReactNode}} props
 */
export function RefractErrorBoundary({ children }) {
  const { pathname } = useLocation();
  return <ErrorBoundary key={pathname}>{children}</ErrorBoundary>;
}

/**
 * What the runtime shows over every page: the connection banner and the toasts of `_toast`; it
 * also binds `_redirect` to React Router. Rendered once, inside `<BrowserRouter>`.
 */
export function RefractOverlays() {
  useRedirectAction();
  return (
    <>
      <ConnectionBanner />
      <Toaster richColors />
    </>
  );
}
export { CodeBlock, MarkdownView } from "./code_block.jsx";
export { RefractUpload } from "./upload.jsx";
