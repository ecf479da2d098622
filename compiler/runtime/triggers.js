// Event triggers: what a compiled page's callback does when it fires. It applies the trigger's
// modifiers (preventDefault, stopPropagation, a form's reset, debounce, throttle) and hands the
// events to the queue; events held back by a debounce or throttle go first when a trigger without
// one fires, so the server sees events in the order their triggers fired. No React, no DOM beyond the event it is given: react.jsx binds it to the
// tab's client.

/**
 * @typedef {object} TriggerOptions
 * @property {boolean} [preventDefault] call the event's `preventDefault()` at once
 * @property {boolean} [stopPropagation] call the event's `stopPropagation()` at once
 * @property {boolean} [reset] reset the form that fired (its events are already evaluated)
 * @property {number} [debounce] ms: queue only once the trigger has been quiet this long, with
 *   the events of its last firing
 * @property {number} [throttle] ms: queue at most once per window: the first firing at once, the
 *   last one of a window at its end
 * @property {string} [site] which trigger of which page this is (`"/search#2"`), set with
 *   `debounce` and `throttle`
 */

/**
 * The element a DOM event fired on, or null for a component callback's plain value (Radix's
 * `onValueChange("a")`).
 * @param {unknown} domEvent
 * @returns {object | null}
 */
function elementOf(domEvent) {
  const target = domEvent?.currentTarget;
  return typeof target === "object" && target !== null ? target : null;
}

/**
 * Rate-limit state per instance of a trigger site: the site's own, or one per element when the
 * site is repeated (the rows of a `foreach`), so that rows do not swallow each other's events.
 */
class Instances {
  constructor() {
    /** @type {Map<string, {shared: object, byElement: WeakMap<object, object>}>} */
    this.sites = new Map();
  }

  /**
   * The mutable state of `site` fired on `element` (created empty).
   * @param {string} site
   * @param {object | null} element
   * @returns {object}
   */
  get(site, element) {
    let entry = this.sites.get(site);
    if (!entry) this.sites.set(site, (entry = { shared: {}, byElement: new WeakMap() }));
    if (!element) return entry.shared;
    let state = entry.byElement.get(element);
    if (!state) entry.byElement.set(element, (state = {}));
    return state;
  }
}

/**
 * A trigger runner: `fire(events, domEvent, options)` is what compiled pages call as `addEvents`.
 * @param {(events: {handler: string, args?: object}[]) => void} queue where events go
 * @param {{setTimeout: Function, clearTimeout: Function}} [timers]
 * @returns {(events: {handler: string, args?: object}[], domEvent?: unknown, options?: TriggerOptions) => void}
 */
export function triggerRunner(
  queue,
  timers = { setTimeout: globalThis.setTimeout.bind(globalThis), clearTimeout: globalThis.clearTimeout.bind(globalThis) },
) {
  const instances = new Instances();
  /** Instances holding events not queued yet, in the order they fired. */
  const waiting = new Set();

  /** Queues what `state` holds back, if anything. */
  function release(state) {
    waiting.delete(state);
    const events = state.pending;
    state.pending = undefined;
    if (events) queue(events);
  }

  /**
   * Queues every event held back (debounced, or waiting for a throttle window's end) before an
   * unlimited trigger's: events reach the server in the order their triggers fired, so a click
   * right after typing sees the typed text.
   */
  function releaseAll() {
    for (const state of [...waiting]) {
      if (state.timer !== undefined) timers.clearTimeout(state.timer);
      state.timer = undefined;
      release(state);
    }
  }

  /** Holds `events` until `state` has been quiet for `ms`, replacing what was held. */
  function debounce(state, ms, events) {
    if (state.timer !== undefined) timers.clearTimeout(state.timer);
    state.pending = events;
    waiting.add(state);
    state.timer = timers.setTimeout(() => {
      state.timer = undefined;
      release(state);
    }, ms);
  }

  /** Queues `events` now unless a window is open; then they wait for its end (the latest wins). */
  function throttle(state, ms, events) {
    if (state.open) {
      state.pending = events;
      waiting.add(state);
      return;
    }
    queue(events);
    state.open = true;
    const close = () => {
      if (state.pending) {
        release(state);
        timers.setTimeout(close, ms);
      } else {
        state.open = false;
      }
    };
    timers.setTimeout(close, ms);
  }

  return function fire(events, domEvent, options = {}) {
    if (options.preventDefault) domEvent?.preventDefault?.();
    if (options.stopPropagation) domEvent?.stopPropagation?.();
    if (options.reset) domEvent?.currentTarget?.reset?.();
    const limited = options.debounce > 0 || options.throttle > 0;
    if (!limited) {
      releaseAll();
      queue(events);
      return;
    }
    const state = instances.get(options.site ?? "", elementOf(domEvent));
    // Both set: debouncing already sends at most once per quiet spell.
    if (options.debounce > 0) debounce(state, options.debounce, events);
    else throttle(state, options.throttle, events);
  };
}
