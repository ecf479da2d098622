// The blog example in a real browser: a route param on the page and in its on_load handler,
// client-side navigation between posts without a reload (the socket stays open), a document
// title and description that follow vars, unknown paths answered 404 with the app's not-found
// page, `export`'s per-route HTML files, a login cookie var behind an on_load guard, and a local
// storage var synced across tabs, the colour mode and the app's assets.
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
  await page.waitForFunction(() => document.title === "Blog", null, { timeout: 5000 });
  await page.locator("#to-1").click();
  await page.locator("#post-title").filter({ hasText: "Hello, Refract" }).waitFor();
  await page.locator("#loads").filter({ hasText: /^3 loads$/ }).waitFor();
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("an unknown path shows the not-found page with status 404; /about is a page with its head in its HTML", async () => {
  const missing = await fetch(`${app.url}/no/such/page`);
  assert.equal(missing.status, 404);
  const shell = await missing.text();
  assert.match(shell, /<div id="root">/, "the app's shell, which shows the not-found page");
  assert.match(shell, /<meta name="robots" content="noindex" \/>/, "404.html");
  const about = await fetch(`${app.url}/about`);
  assert.equal(about.status, 200);
  const html = await about.text();
  assert.match(html, /<title>About · Blog<\/title>/, "crawlers see the page's title");
  assert.match(html, /<meta name="description" content="Who writes this blog, and why." data-refract-static \/>/);
  const post = await fetch(`${app.url}/posts/9`);
  assert.equal(post.status, 200, "a param route is a page");
  const postHtml = await post.text();
  assert.doesNotMatch(postHtml, /A small blog made with Refract/, "not the home page's head");
  assert.match(postHtml, /<div id="root">/);

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
    assert.match(about, /<meta property="og:type" content="website" data-refract-static \/>/);
    assert.match(about, /<link rel="canonical" href="https:\/\/blog.example\/about" data-refract-static \/>/);
    const index = await readFile(path.join(out, "index.html"), "utf8");
    assert.match(index, /<meta name="description" content="A small blog made with Refract." data-refract-static \/>/);
    const shell = await readFile(path.join(out, "refract-shell.html"), "utf8");
    assert.doesNotMatch(shell, /data-refract-static/, "the shell carries no page's head");
    const notFound = await readFile(path.join(out, "404.html"), "utf8");
    assert.match(notFound, /<meta name="robots" content="noindex" \/>/);
    const routes = JSON.parse(await readFile(path.join(out, "refract-routes.json"), "utf8"));
    assert.deepEqual(routes, ["/", "/about", "/login", "/drafts", "/posts/:id"]);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test("an on_load guard sends a visitor without the login cookie to /login; logged in, the page opens, also after a reload and in a new tab", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, `${app.url}/drafts`);
  await page.locator("#login").waitFor();
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.locator("#name").fill("Ada");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#drafts").filter({ hasText: "Drafts of Ada" }).waitFor();
  const cookie = (await context.cookies(app.url)).find((c) => c.name === "blog_user");
  assert.equal(decodeURIComponent(cookie?.value ?? ""), '"Ada"', "the cookie var is in the browser");

  await page.reload();
  await page.locator("#drafts").filter({ hasText: "Drafts of Ada" }).waitFor();
  // A new tab has a new token (a new state): the cookie logs it in before the guard runs.
  const second = await openConnected(context, `${app.url}/drafts`);
  await second.locator("#drafts").filter({ hasText: "Drafts of Ada" }).waitFor();
  assert.equal(new URL(second.url()).pathname, "/drafts");

  await second.getByRole("button", { name: "Log out" }).click();
  await second.getByRole("heading", { name: "Blog" }).waitFor();
  assert.equal(
    (await context.cookies(app.url)).find((c) => c.name === "blog_user"),
    undefined,
    "logging out (the var back at its default) deletes the cookie",
  );
  const third = await openConnected(context, `${app.url}/drafts`);
  await third.locator("#login").waitFor();
  await context.close();
});

test("a synced local storage var set in one tab appears in the other; a stored value of the wrong type is reset", async () => {
  const context = await browser.newContext();
  const first = await openConnected(context, app.url);
  const second = await openConnected(context, app.url);
  await first.getByRole("button", { name: "Larger text" }).click();
  await first.locator("#text-size").filter({ hasText: "Text size: 1" }).waitFor();
  await second.locator("#text-size").filter({ hasText: "Text size: 1" }).waitFor();
  assert.equal(await first.evaluate(() => localStorage.getItem("blog_text_size")), "1");

  // Not a number: the server resets the var to its default and the page says so in its console.
  // (Alone in the browser: other tabs would see the change and reset it first.)
  await first.close();
  await second.close();
  const page = await context.newPage();
  const logged = [];
  page.on("console", (m) => logged.push(m.text()));
  await page.goto(app.url);
  // Its state took the browser's value first (so no late event overwrites the reset below).
  await page.locator("#text-size").filter({ hasText: "Text size: 1" }).waitFor();
  await page.evaluate(() => localStorage.setItem("blog_text_size", '"huge"'));
  await page.reload();
  await page.locator("#text-size").filter({ hasText: "Text size: 0" }).waitFor();
  // Its default: the browser keeps nothing.
  await page.waitForFunction(() => localStorage.getItem("blog_text_size") === null);
  assert.ok(logged.some((t) => t.includes("prefs_state.text_size")), logged.join("\n"));
  await context.close();
});

test("the colour mode follows the system, toggles, and survives a reload; assets are served at /", async () => {
  const context = await browser.newContext({ colorScheme: "dark" });
  const page = await openConnected(context, app.url);
  const theme = () => page.evaluate(() => document.querySelector(".radix-themes")?.classList.contains("dark"));
  await page.locator("#color-mode").filter({ hasText: "dark mode" }).waitFor();
  assert.equal(await theme(), true, "the system's dark mode");
  assert.equal(await page.evaluate(() => document.querySelector(".radix-themes")?.dataset.accentColor), "indigo");
  await page.getByTestId("refract-color-mode").click();
  await page.locator("#color-mode").filter({ hasText: "light mode" }).waitFor();
  assert.equal(await theme(), false);
  await page.reload();
  await page.locator("#color-mode").filter({ hasText: "light mode" }).waitFor();
  assert.equal(await theme(), false, "the choice is remembered");

  const icon = await fetch(`${app.url}/favicon.svg`);
  assert.equal(icon.status, 200);
  assert.match(await icon.text(), /<svg/);
  assert.equal(await page.locator('link[rel="icon"]').getAttribute("href"), "/favicon.svg");
  await context.close();
});

/** Runs `bin` with `args` to its end; rejects on a non-zero exit. */
function run(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited with ${code}`))));
  });
}
