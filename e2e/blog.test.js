// The blog example in a real browser: a route param on the page and in its on_load handler,
// client-side navigation between posts without a reload (the socket stays open), and a document
// title and description that follow vars.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, startApp } from "./harness.js";

let app;
let browser;

before(async () => {
  app = await startApp("blog");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test("/posts/2 shows its param and what its on_load loaded; a link to /posts/3 loads it without a reload; the title follows", async () => {
  const context = await browser.newContext();
  // Count the sockets the page opens: navigation must not open another.
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = 0;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets += 1;
      }
    };
  });
  const page = await openConnected(context, `${app.url}/posts/2`);
  await page.locator("#post-heading").filter({ hasText: /^post 2$/ }).waitFor();
  await page.locator("#post-title").filter({ hasText: "Routes and params" }).waitFor();
  await page.waitForFunction(() => document.title === "Routes and params · Blog");
  assert.equal(
    await page.locator('meta[name="description"]').getAttribute("content"),
    "This is post 2, loaded by the page's on_load.",
  );
  await page.evaluate(() => (window.__sameDocument = true));

  await page.locator("#to-3").click();
  await page.locator("#post-heading").filter({ hasText: /^post 3$/ }).waitFor();
  await page.locator("#post-title").filter({ hasText: "Loading data on open" }).waitFor();
  await page.waitForFunction(() => document.title === "Loading data on open · Blog");
  assert.equal(new URL(page.url()).pathname, "/posts/3");
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  assert.equal(await page.evaluate(() => window.__sockets), 1, "the same socket");
  await page.locator("#loads").filter({ hasText: /^2 loads$/ }).waitFor();

  // Back to the list and into a post again: on_load runs on each opening.
  await page.getByRole("link", { name: "Home" }).click();
  await page.locator("#to-1").click();
  await page.locator("#post-title").filter({ hasText: "Hello, Refract" }).waitFor();
  await page.locator("#loads").filter({ hasText: /^3 loads$/ }).waitFor();
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});
