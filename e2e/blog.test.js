// The blog example in a real browser: a route param on the page and in its on_load handler,
// client-side navigation between posts without a reload (the socket stays open), a document
// title and description that follow vars, unknown paths answered 404 with the app's not-found
// page, and `export`'s per-route HTML files.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, root, startApp } from "./harness.js";

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

test("an unknown path shows the not-found page with status 404; /about is a page with its head in its HTML", async () => {
  const missing = await fetch(`${app.url}/no/such/page`);
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /<div id="root">/, "the app's shell, which shows the not-found page");
  const about = await fetch(`${app.url}/about`);
  assert.equal(about.status, 200);
  const html = await about.text();
  assert.match(html, /<title>About · Blog<\/title>/, "crawlers see the page's title");
  assert.match(html, /<meta name="description" content="Who writes this blog, and why." data-refract-static \/>/);
  assert.equal((await fetch(`${app.url}/posts/9`)).status, 200, "a param route is a page");

  const context = await browser.newContext();
  const page = await openConnected(context, `${app.url}/no/such/page`);
  await page.locator("#not-found").waitFor();
  await page.getByText("Nothing lives at /no/such/page.").waitFor();
  await page.getByRole("link", { name: "Back to the blog" }).click();
  await page.getByRole("heading", { name: "Blog" }).waitFor();
  await context.close();
});

test("export writes one HTML file per static route with its head, a 404 page and the app's shell", async () => {
  const out = await mkdtemp(path.join(tmpdir(), "blog-export-"));
  try {
    const bin = path.join(root, "target", "debug", "blog");
    await run(bin, ["export", "--out", out, "--build-dir", path.join(root, "examples", "blog", ".web")]);
    const about = await readFile(path.join(out, "about", "index.html"), "utf8");
    assert.match(about, /<title>About · Blog<\/title>/);
    assert.match(about, /<meta property="og:description" content="Who writes this blog, and why." data-refract-static \/>/);
    const index = await readFile(path.join(out, "index.html"), "utf8");
    assert.match(index, /<meta name="description" content="A small blog made with Refract." data-refract-static \/>/);
    const notFound = await readFile(path.join(out, "404.html"), "utf8");
    assert.match(notFound, /<meta name="robots" content="noindex" \/>/);
    const routes = JSON.parse(await readFile(path.join(out, "refract-routes.json"), "utf8"));
    assert.deepEqual(routes, ["/", "/about", "/posts/:id"]);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

/** Runs `bin` with `args` to its end; rejects on a non-zero exit. */
function run(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited with ${code}`))));
  });
}
