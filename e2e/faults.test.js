// Faults the runtime must ride out, in a real browser against the counter example (issue 9): a tab
// left open past the token's expiry, a token's state lost while its tab is open, two tabs sharing
// one token ("Duplicate tab"), and outages (a frozen Redis; in stack mode also every worker killed)
// during which clicks are retried with their seq. Each test starts its own app (and, where it
// needs one, a redis-server it controls, used with `--redis` in both modes) and stops them when it
// ends.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { childProcesses, launchBrowser, mode, openConnected, startApp, startRedis } from "./harness.js";

let browser;
/** What a test started and has not stopped yet (stopped in `after` if the test failed midway). */
const running = new Set();

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  // Apps, then the workers a test started again, then Redis: each stops while what it uses runs.
  for (const kind of ["app", "worker", "redis"]) {
    for (const r of [...running].filter((r) => r.kind === kind)) await stop(r);
  }
});

/** Starts the counter app (with `args`) and remembers it for cleanup. */
async function counter(args = []) {
  const app = await startApp("counter", { args, env: { REFRACT_METRICS_PORT: "0" } });
  app.kind = "app";
  running.add(app);
  return app;
}

/** Starts a redis-server and remembers it for cleanup. */
async function redis() {
  const server = await startRedis();
  server.kind = "redis";
  running.add(server);
  return server;
}

async function stop(r) {
  running.delete(r);
  await r.stop();
}

const count = (page) => page.locator("#count");
const increment = (page) => page.getByRole("button", { name: "Increment" });
const connected = (page) => page.locator('html[data-refract-status="connected"]').waitFor();

/** Waits until the page shows the count `n`; fails with the count it shows instead. */
async function showsCount(page, n) {
  try {
    await count(page).filter({ hasText: new RegExp(`^${n}$`) }).waitFor({ timeout: 15_000 });
  } catch (e) {
    const shown = await count(page).textContent().catch(() => "(none)");
    assert.fail(`the page shows the count ${shown}, expected ${n} (${e.message.split("\n")[0]})`);
  }
}

/**
 * Records the JSON frames of `page`'s WebSockets, in order: `{sent, at, ...frame}` (`at`: the
 * frame's index, `sent`: whether the page sent it).
 */
function recordFrames(page) {
  const frames = [];
  const record = (sent) => ({ payload }) => {
    try {
      frames.push({ ...JSON.parse(payload), sent, at: frames.length });
    } catch {
      // Not JSON: not a protocol frame.
    }
  };
  page.on("websocket", (ws) => {
    ws.on("framesent", record(true));
    ws.on("framereceived", record(false));
  });
  return frames;
}

/** Collects the runtime's error log lines (`refract: <code>: …`) of `page`. */
function refractErrors(page) {
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error" && m.text().startsWith("refract:")) errors.push(m.text());
  });
  return errors;
}

test("a tab left idle past the token's expiry keeps its state: the gateway touches it", async () => {
  // The topology's own store: memory (embedded) or the stack's redis-server.
  const app = await counter(["--token-expiry-secs", "3", "--touch-every-secs", "1"]);
  const context = await browser.newContext();
  try {
    const page = await openConnected(context, app.url);
    const errors = refractErrors(page);
    await increment(page).click();
    await increment(page).click();
    await showsCount(page, 2);
    // Idle for longer than the expiry (the premise of the test, not an assertion on timing).
    await page.waitForTimeout(6_000);
    await increment(page).click();
    await showsCount(page, 3);
    await page.reload();
    await connected(page);
    await showsCount(page, 3);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await stop(app);
  }
});

test("a token's state lost while its tab is open (FLUSHALL): the next click starts the new history", async () => {
  const store = await redis();
  const app = await counter(["--redis", store.url]);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const frames = recordFrames(page);
    const errors = refractErrors(page);
    await page.goto(app.url);
    await connected(page);
    for (let i = 0; i < 3; i++) await increment(page).click();
    await showsCount(page, 3);
    assert.notEqual(await store.command("DBSIZE"), "0", "the state is in this Redis");

    assert.equal(await store.command("FLUSHALL"), "OK");
    let flushed = frames.length;
    await increment(page).click();
    // Applied on the new history (count 0 + 1), not left hanging as an event the server never
    // answers, and not refused: the server no longer knows the tab's seq 3, so its seq 4 is a
    // `seq_gap`; the runtime resyncs and sends it again as seq 1.
    await showsCount(page, 1);
    const sinceFlush = frames.slice(flushed);
    assert.deepEqual(
      sinceFlush.filter((f) => f.type === "event" || f.type === "error").map((f) => [f.type, f.seq, f.code]),
      [["event", 4, undefined], ["error", 4, "seq_gap"], ["event", 1, undefined]],
    );
    await increment(page).click();
    await increment(page).click();
    await showsCount(page, 3);

    // Again, now from a tab that has sent nothing yet (a reload is a new tab) on a token with a
    // history (version 3): its first event is numbered 1, so the server applies it at version 1,
    // below the socket's, and the socket must be resynced rather than the answer dropped.
    await page.reload();
    await connected(page);
    await showsCount(page, 3);
    assert.equal(await store.command("FLUSHALL"), "OK");
    flushed = frames.length;
    await increment(page).click();
    await showsCount(page, 1);
    assert.ok(
      frames.slice(flushed).some((f) => !f.sent && f.type === "hydrate" && f.version === 1 && f.last_seq === 1),
      "the event is answered by a hydrate of the new history",
    );
    await increment(page).click();
    await showsCount(page, 2);
    await connected(page);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await stop(app);
    await stop(store);
  }
});

test("two tabs sharing one token (Duplicate tab) lose no click", async () => {
  const app = await counter();
  const first = await browser.newContext();
  const second = await browser.newContext();
  try {
    const a = await openConnected(first, app.url);
    const token = await a.evaluate(() => sessionStorage.getItem("refract_token"));
    assert.ok(token, "the server issued a token");
    // What "Duplicate tab" does: the new tab starts with a copy of the first one's sessionStorage.
    await second.addInitScript((t) => sessionStorage.setItem("refract_token", t), token);
    const b = await openConnected(second, app.url);
    assert.equal(await b.evaluate(() => sessionStorage.getItem("refract_token")), token, "the same token");
    const errors = [a, b].map(refractErrors);

    for (let i = 0; i < 5; i++) {
      await increment(a).click();
      await increment(b).click();
    }
    await showsCount(a, 10);
    await showsCount(b, 10);
    // The stored state agrees (a reload hydrates from the store).
    await a.reload();
    await connected(a);
    await showsCount(a, 10);
    assert.equal(await count(b).textContent(), "10");
    assert.deepEqual(errors.flat(), []);
  } finally {
    await first.close();
    await second.close();
    await stop(app);
  }
});

/**
 * Opens a tab of `app`, starts an outage with `begin()`, clicks Increment 12 times, waits until
 * the page says it is retrying, ends the outage with `end()` about 4 s after it began, and checks
 * that the 12 clicks were each applied once, resent with their seq while the outage lasted.
 */
async function clicksDuringOutage(app, { begin, end }) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const frames = recordFrames(page);
    const errors = refractErrors(page);
    await page.goto(app.url);
    await connected(page);
    const banner = page.getByTestId("refract-connection-banner");
    await showsCount(page, 0);

    await begin();
    try {
      const outage = new Promise((r) => setTimeout(r, 4_000));
      for (let i = 0; i < 12; i++) await increment(page).click();
      await page.locator('html[data-refract-status="retrying"]').waitFor({ timeout: 10_000 });
      await banner.filter({ hasText: "The server is busy — retrying…" }).waitFor();
      assert.equal(await count(page).textContent(), "0", "nothing is applied during the outage");
      await outage;
    } finally {
      await end();
    }

    await showsCount(page, 12);
    await connected(page);
    await banner.waitFor({ state: "detached" });

    // On the wire: each event that failed retryably was resent with its seq unchanged, and the 12
    // events were numbered 1..12 with no gap.
    const events = frames.filter((f) => f.sent && f.type === "event");
    const retryable = frames.filter((f) => !f.sent && f.type === "error" && f.retryable === true);
    assert.ok(retryable.length > 0, "the outage was answered with retryable errors");
    assert.ok(retryable.every((f) => f.code === "unavailable"), JSON.stringify(retryable));
    for (const error of retryable) {
      const next = events.find((e) => e.at > error.at);
      assert.equal(next?.seq, error.seq, `the event after the retryable error of seq ${error.seq} resends it`);
    }
    assert.ok(events.length > 12, "some events were sent more than once");
    assert.deepEqual([...new Set(events.map((e) => e.seq))], Array.from({ length: 12 }, (_, i) => i + 1));

    // The stored state is 12 too (no resend applied twice), and the tab goes on.
    await page.reload();
    await connected(page);
    await showsCount(page, 12);
    await increment(page).click();
    await showsCount(page, 13);
    assert.deepEqual(errors, [], "retryable failures do not reach the app's error log");
  } finally {
    await context.close();
  }
}

test("clicks while the store is frozen (SIGSTOP of Redis) are retried with their seq: each applied once", async () => {
  const store = await redis();
  // A frozen Redis fails an event after 500 ms (`unavailable`, retryable) instead of 5 s.
  const app = await counter(["--redis", store.url, "--redis-timeout-ms", "500"]);
  try {
    await clicksDuringOutage(app, { begin: () => store.pause(), end: () => store.resume() });
  } finally {
    await stop(app);
    await stop(store);
  }
});

test(
  "clicks while every worker is down (SIGKILL, then started again) are retried with their seq",
  { skip: mode !== "stack" && "stack mode only: the embedded mode has no worker process (its outage is the test above)" },
  async () => {
    const app = await counter();
    const workers = childProcesses(app.pid).filter((p) => p.argv[1] === "worker");
    assert.equal(workers.length, 2, "the stack runs two workers");
    const again = [];
    try {
      await clicksDuringOutage(app, {
        begin() {
          for (const w of workers) process.kill(w.pid, "SIGKILL");
        },
        // Started again as the stack started them (same address, options and environment), as an
        // orchestrator would.
        end() {
          for (const w of workers) again.push(restarted(w));
        },
      });
    } finally {
      await stop(app);
      for (const w of again) await stop(w);
    }
  },
);

/** Starts the process `p` (from `childProcesses`) again, remembered for cleanup. */
function restarted(p) {
  const child = spawn(p.argv[0], p.argv.slice(1), { env: p.env, stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  child.on("error", (e) => console.error(`cannot start ${p.argv.join(" ")}:`, e));
  const handle = {
    kind: "worker",
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(handle);
  return handle;
}
