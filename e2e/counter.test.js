// The counter example in a real browser: clicks round-trip through the server, state survives a
// reload (same token), a second tab has its own state, and the banner shows while the server is
// down; /tools runs client actions and triggers; /jobs runs a background job and a streamed answer.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, startApp, waitConnected } from "./harness.js";

let app;
let browser;

before(async () => {
  app = await startApp("counter");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

const count = (page) => page.locator("#count");

test("three clicks on Increment show 3; Decrement takes one away", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  await assert.doesNotReject(count(page).filter({ hasText: /^0$/ }).waitFor());
  const increment = page.getByRole("button", { name: "Increment" });
  for (let i = 0; i < 3; i++) await increment.click();
  await count(page).filter({ hasText: /^3$/ }).waitFor();
  await page.getByRole("button", { name: "Decrement" }).click();
  await count(page).filter({ hasText: /^2$/ }).waitFor();
  assert.equal(await count(page).textContent(), "2");
  assert.deepEqual(page.cspViolations, [], "the compiled app runs under the gateway's CSP");
  await context.close();
});

test("a substate's handler reads its parent: Snapshot saves the count", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  const increment = page.getByRole("button", { name: "Increment" });
  for (let i = 0; i < 3; i++) await increment.click();
  await count(page).filter({ hasText: /^3$/ }).waitFor();
  await page.getByRole("button", { name: "Snapshot" }).click();
  await page.locator("#snapshots").filter({ hasText: /^Snapshots: 3$/ }).waitFor();
  await page.getByRole("button", { name: "Add 10" }).click();
  await count(page).filter({ hasText: /^13$/ }).waitFor();
  await page.getByRole("button", { name: "Snapshot" }).click();
  await page.locator("#snapshots").filter({ hasText: /^Snapshots: 3, 13$/ }).waitFor();
  await context.close();
});

test("a reload keeps the state (same token); a second tab has its own", async () => {
  const context = await browser.newContext();
  const first = await openConnected(context, app.url);
  await first.getByRole("button", { name: "Add 10" }).click();
  await count(first).filter({ hasText: /^10$/ }).waitFor();
  const token = await first.evaluate(() => sessionStorage.getItem("refract_token"));
  assert.ok(token && token.length > 20, "the server issued a token");

  await first.reload();
  await waitConnected(first);
  await count(first).filter({ hasText: /^10$/ }).waitFor();
  assert.equal(await first.evaluate(() => sessionStorage.getItem("refract_token")), token);

  const second = await openConnected(context, app.url);
  assert.equal(await count(second).textContent(), "0");
  await second.getByRole("button", { name: "Increment" }).click();
  await count(second).filter({ hasText: /^1$/ }).waitFor();
  assert.notEqual(await second.evaluate(() => sessionStorage.getItem("refract_token")), token);
  assert.equal(await count(first).textContent(), "10", "the first tab is unaffected");
  await context.close();
});

test("the banner shows while the server is down, and the page reconnects", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  const banner = page.getByTestId("refract-connection-banner");
  assert.equal(await banner.count(), 0);
  const port = app.port;
  await app.stop();
  await banner.waitFor({ state: "visible", timeout: 15_000 });
  app = await startApp("counter", { port });
  await waitConnected(page);
  await banner.waitFor({ state: "detached", timeout: 15_000 });
  await page.getByRole("button", { name: "Increment" }).click();
  await count(page).filter({ hasText: /^1$/ }).waitFor();
  await context.close();
});

test("a handler reads the page's query from its context: Add step adds ?step=", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, `${app.url}/?step=5`);
  await page.getByRole("button", { name: "Add step" }).click();
  await count(page).filter({ hasText: /^5$/ }).waitFor();
  await page.getByRole("button", { name: "Add step" }).click();
  await count(page).filter({ hasText: /^10$/ }).waitFor();
  await context.close();
});

/** Polls `check()` (async) every 50 ms until it is true, for at most 10 s. */
async function until(what, check) {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("client actions, triggers and a streaming handler on /tools: a script's value comes back to a handler, set_value clears a debounced input, and the rest", async () => {
  const context = await browser.newContext({ viewport: { width: 1111, height: 600 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
  await context.addCookies([{ name: "theme", value: "dark", url: app.url }]);
  const page = await openConnected(context, `${app.url}/tools`);
  const click = (name) => page.getByRole("button", { name, exact: true }).click();

  // call_script_then: the handler asks for window.innerWidth and gets it back as an argument.
  await click("Measure");
  await page.locator("#width").filter({ hasText: "Width: 1111" }).waitFor();

  // on_mount ran when the page opened.
  await page.locator("#opened").filter({ hasText: "opened 1 times" }).waitFor();
  // Typing into a debounced input (the default, 300 ms) sends one event once typing pauses.
  const note = page.locator("input#note");
  await note.pressSequentially("remember this", { delay: 20 });
  await page.locator("#note-echo").filter({ hasText: "remember this" }).waitFor();
  // One event for 13 keys (two only if the machine stalled more than 300 ms mid-typing).
  const changes = Number((await page.locator("#note-changes").textContent()).split(" ")[0]);
  assert.ok(changes >= 1 && changes <= 2, `${changes} events for 13 keys`);
  assert.equal(await note.inputValue(), "remember this");
  await page.locator("input#keys").press("Enter");
  await page.locator("#last-key").filter({ hasText: "Enter" }).waitFor();
  await page.locator("#hover-box").hover();
  await page.locator("#hover-box").filter({ hasText: "hovered 1 times" }).waitFor();
  // prevent_default: the link's click is counted and the page stays.
  await page.locator("#kept-link").click();
  await page.locator("#kept-link").filter({ hasText: "link clicked 1 times" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/tools");
  // stop_propagation: the inner button's click does not reach the panel; the panel's own does.
  await page.locator("#inner").click();
  await page.locator("#inner").filter({ hasText: "inner clicked 1 times" }).waitFor();
  await page.locator("#panel").click({ position: { x: 5, y: 5 } });
  await page.locator("#panel").filter({ hasText: "panel clicked 1 times" }).waitFor();
  assert.equal(await page.locator("#inner").textContent(), "inner clicked 1 times");
  // throttle(200): 20 scroll events in one go send the first at once and the last at the end of
  // the window: two events.
  await page.evaluate(() => {
    const log = document.getElementById("log");
    for (let i = 0; i < 20; i++) log.dispatchEvent(new Event("scroll"));
  });
  await page.locator("#scrolls").filter({ hasText: "2 scrolls" }).waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await page.locator("#scrolls").textContent(), "2 scrolls");
  // A page-bound action reading a var: copy the note.
  await click("Copy");
  await until("the clipboard", async () => (await page.evaluate(() => navigator.clipboard.readText())) === "remember this");
  // set_value (its on_change fires, so the server hears "") then set_focus.
  await click("Clear");
  await until("the cleared note", async () => (await note.inputValue()) === "");
  await page.locator("#note-echo").filter({ hasText: /^$/ }).waitFor({ state: "attached" });
  await until("the focus", () => page.evaluate(() => document.activeElement?.id === "note"));

  const logged = page.waitForEvent("console", (m) => m.text() === "hello from refract");
  await click("Log");
  await logged;
  // alert() blocks inside the click until the dialog is answered.
  const [alerted] = await Promise.all([
    page.waitForEvent("dialog").then(async (d) => {
      await d.accept();
      return d.message();
    }),
    click("Alert"),
  ]);
  assert.equal(alerted, "Hello!");

  await click("Forget theme");
  await until("the cookie's removal", async () => !(await context.cookies(app.url)).some((c) => c.name === "theme"));
  await page.evaluate(() => localStorage.setItem("kept", "1"));
  await click("Clear storage");
  await until("an empty local storage", () => page.evaluate(() => localStorage.length === 0));
  await click("To the end");
  await until("the scroll", () => page.evaluate(() => window.scrollY > 0));

  // A streaming handler: each of its 10 flushes reaches the page before it returns.
  await page.evaluate(() => {
    const progress = document.getElementById("progress");
    window.__steps = [];
    new MutationObserver(() => window.__steps.push(progress.textContent)).observe(progress, {
      subtree: true,
      characterData: true,
      childList: true,
    });
  });
  await click("Stream");
  await page.locator("#progress").filter({ hasText: "step 10 of 10" }).waitFor();
  const steps = new Set(await page.evaluate(() => window.__steps));
  assert.ok(steps.size >= 5, `intermediate steps seen: ${[...steps]}`);

  await page.evaluate(() => (window.__sameDocument = true));
  await click("Reload");
  await until("the reload", () => page.evaluate(() => window.__sameDocument !== true).catch(() => false));
  await waitConnected(page);
  await page.locator("#width").filter({ hasText: "Width: 1111" }).waitFor();

  // A render that throws shows the error boundary's notice, not a blank page; the handler's
  // follow-up mends the state, so the notice's Reload brings the page back.
  await click("Break the page");
  const notice = page.getByTestId("refract-render-error");
  await notice.waitFor();
  await notice.getByRole("button", { name: "Reload" }).click();
  await waitConnected(page);
  await page.locator("#width").filter({ hasText: "Width: 1111" }).waitFor();
  assert.equal(await notice.count(), 0);
  assert.deepEqual(page.cspViolations, [], "scripts run under the app's CSP (allow_call_script)");
  await context.close();
});

test("/jobs: a background job counts to 50 while Ping answers at once; Cancel stops the next one; an answer streams word by word", async (t) => {
  const context = await browser.newContext();
  const page = await openConnected(context, `${app.url}/jobs`);
  const click = (name) => page.getByRole("button", { name, exact: true }).click();
  const status = page.locator("#job-status");

  await click("Start job");
  await status.filter({ hasText: "running" }).waitFor();
  // Each ping is answered while the job runs (the task holds the lock only for its sections).
  const latencies = [];
  for (let n = 1; n <= 5; n++) {
    // Measured in the page: from the click to the answer's render.
    const ms = await page.evaluate(async (n) => {
      const pings = document.getElementById("pings");
      const ping = [...document.querySelectorAll("button")].find((b) => b.textContent === "Ping");
      const answered = new Promise((resolve) => {
        const seen = new MutationObserver(() => {
          if (pings.textContent === `${n} pings`) {
            seen.disconnect();
            resolve();
          }
        });
        seen.observe(pings, { subtree: true, characterData: true, childList: true });
      });
      const sent = performance.now();
      ping.click();
      await answered;
      return performance.now() - sent;
    }, n);
    latencies.push(Math.round(ms));
  }
  const during = await status.textContent();
  t.diagnostic(`ping round trips while the job ran (ms): ${latencies.join(", ")}; status then: ${during}`);
  assert.match(during, /running$/, "the pings were answered while the job ran");
  assert.ok(Math.max(...latencies) < 500, `pings answered within 500 ms: ${latencies}`);
  await status.filter({ hasText: "50 of 50 · done" }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator("#job-progress").getAttribute("value"), "50");

  // Cancel stops a running job at its next step.
  await click("Start job");
  await status.filter({ hasText: /^[2-9]\d* of 50 · running$/ }).waitFor();
  await click("Cancel");
  await status.filter({ hasText: "cancelled" }).waitFor();
  const stopped = Number((await status.textContent()).split(" ")[0]);
  assert.ok(stopped < 50, `stopped at ${stopped}`);

  // A streaming handler: the answer grows a word at a time.
  await page.evaluate(() => {
    const answer = document.getElementById("answer");
    window.__answers = [];
    new MutationObserver(() => window.__answers.push(answer.textContent)).observe(answer, {
      subtree: true,
      characterData: true,
      childList: true,
    });
  });
  await click("Ask");
  await page.locator("#answer").filter({ hasText: /still being written\.$/ }).waitFor();
  const seen = new Set(await page.evaluate(() => window.__answers));
  assert.ok(seen.size >= 5, `intermediate answers seen: ${seen.size}`);
  await context.close();
});
