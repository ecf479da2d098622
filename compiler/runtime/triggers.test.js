// Unit tests of triggers.js with fake timers: `node --test compiler/runtime/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { triggerRunner } from "./triggers.js";

/** Timers run by hand: `advance(ms)` fires, in time order, those due by then. */
function fakeTimers() {
  let now = 0;
  let next = 0;
  const pending = new Map();
  return {
    setTimeout: (f, ms) => {
      pending.set(++next, { f, at: now + ms });
      return next;
    },
    clearTimeout: (id) => pending.delete(id),
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].f();
      }
      now = until;
    },
  };
}

function setup() {
  const queued = [];
  const timers = fakeTimers();
  const fire = triggerRunner((events) => queued.push(...events.map((e) => e.args.n)), timers);
  return { queued, timers, fire };
}

const ev = (n) => [{ handler: "s.h", args: { n } }];

test("without modifiers the events are queued at once; the event's default and propagation are kept", () => {
  const { queued, fire } = setup();
  const calls = [];
  const domEvent = { preventDefault: () => calls.push("pd"), stopPropagation: () => calls.push("sp") };
  fire(ev(1), domEvent);
  fire(ev(2), "a plain value, as Radix's onValueChange gives");
  assert.deepEqual(queued, [1, 2]);
  assert.deepEqual(calls, []);
});

test("preventDefault, stopPropagation and reset act at once, even when the events are debounced", () => {
  const { queued, fire } = setup();
  const calls = [];
  const domEvent = {
    preventDefault: () => calls.push("pd"),
    stopPropagation: () => calls.push("sp"),
    currentTarget: { reset: () => calls.push("reset") },
  };
  fire(ev(1), domEvent, { preventDefault: true, stopPropagation: true, reset: true, debounce: 100, site: "/#1" });
  assert.deepEqual(calls, ["pd", "sp", "reset"]);
  assert.deepEqual(queued, []);
});

test("debounce: fast firing sends one event, with the last values, once quiet", () => {
  const { queued, timers, fire } = setup();
  const options = { debounce: 300, site: "/#1" };
  for (const n of [1, 2, 3, 4]) {
    fire(ev(n), { currentTarget: null }, options);
    timers.advance(100);
  }
  assert.deepEqual(queued, []);
  timers.advance(200);
  assert.deepEqual(queued, [4]);
  fire(ev(5), undefined, options);
  timers.advance(300);
  assert.deepEqual(queued, [4, 5]);
});

test("debounce is per element of a repeated site, and per site", () => {
  const { queued, timers, fire } = setup();
  const [rowA, rowB] = [{}, {}];
  fire(ev(1), { currentTarget: rowA }, { debounce: 100, site: "/#1" });
  fire(ev(2), { currentTarget: rowB }, { debounce: 100, site: "/#1" });
  fire(ev(3), { currentTarget: rowA }, { debounce: 100, site: "/#2" });
  timers.advance(100);
  assert.deepEqual(queued.sort(), [1, 2, 3]);
});

test("throttle: the first firing at once, the last of each busy window at its end, then quiet", () => {
  const { queued, timers, fire } = setup();
  const options = { throttle: 100, site: "/#3" };
  fire(ev(1), undefined, options);
  assert.deepEqual(queued, [1]);
  fire(ev(2), undefined, options);
  fire(ev(3), undefined, options);
  timers.advance(100);
  assert.deepEqual(queued, [1, 3]);
  fire(ev(4), undefined, options);
  timers.advance(100);
  assert.deepEqual(queued, [1, 3, 4]);
  timers.advance(100);
  // The window closed with nothing pending: the next firing goes at once.
  fire(ev(5), undefined, options);
  assert.deepEqual(queued, [1, 3, 4, 5]);
});

test("a trigger without modifiers first releases what debounce and throttle hold back, in firing order", () => {
  const { queued, timers, fire } = setup();
  fire(ev(1), undefined, { throttle: 100, site: "/#3" });
  fire(ev(2), undefined, { throttle: 100, site: "/#3" });
  fire(ev(3), undefined, { debounce: 300, site: "/#1" });
  // Typing, then a click within the debounce: the typed text goes before the click.
  fire(ev(4));
  assert.deepEqual(queued, [1, 2, 3, 4]);
  timers.advance(1000);
  assert.deepEqual(queued, [1, 2, 3, 4], "nothing is sent twice");
});
