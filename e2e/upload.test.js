// The uploads example in a real browser: files chosen in the upload zone are uploaded on Send
// (each its own POST /_upload) and its handler lists their names and sizes and publishes them;
// the published files are served back by the gateway (GET /_files/…) with safe headers, nothing
// else under /_files is, and Unpublish deletes them; the zone refuses too many files and a wrong
// type; the server refuses a file over its limit (--max-upload-bytes) with a clear message; a
// cancelled upload sends no event. No upload is left in the upload folder (published files live
// in its public/ folders until unpublished). In stack mode the gateway serves the files the
// workers published: `stack` gives both the same --upload-dir.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, startApp } from "./harness.js";

/** The server's limit for one file, in bytes. */
const LIMIT = 2_000_000;

let app;
let browser;
let uploadDir;

before(async () => {
  uploadDir = await mkdtemp(path.join(tmpdir(), "refract-e2e-uploads-"));
  app = await startApp("uploads", { args: ["--upload-dir", uploadDir, "--max-upload-bytes", String(LIMIT)] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await rm(uploadDir, { recursive: true, force: true });
});

/** Every file under the upload folder: uploads, or with `published` the published files. */
async function filesLeft({ published = false } = {}) {
  const entries = await readdir(uploadDir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .filter((p) => p.split(path.sep).includes("public") === published);
}

/** Waits until the upload folder holds no file (the event's files go after it). */
async function untilNoFileLeft() {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = await filesLeft();
    if (left.length === 0) return;
    if (Date.now() > deadline) assert.fail(`files left in the upload folder: ${left.join(", ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const text = (page, id) => page.getByTestId(id).textContent();
const input = (page) => page.getByTestId("refract-upload-input-docs");
const file = (name, mimeType, size, fill = "x") => ({ name, mimeType, buffer: Buffer.alloc(size, fill) });

async function open() {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  page.on("console", (m) => {
    if (m.type() === "error") page.errors = [...(page.errors ?? []), m.text()];
  });
  return { context, page };
}

/**
 * `GET` of `href` on the app (outside the browser: a published file needs no session); the
 * status, the headers and the body.
 */
async function fetchFile(href) {
  const answer = await fetch(new URL(href, app.url), { redirect: "manual" });
  return { status: answer.status, headers: answer.headers, body: Buffer.from(await answer.arrayBuffer()) };
}

/** The published files' links on the page: their names and hrefs. */
async function publishedLinks(page) {
  const links = page.getByTestId("published");
  return Promise.all((await links.all()).map(async (l) => ({ name: await l.textContent(), href: await l.getAttribute("href") })));
}

/** Waits until the sends counter shows `n`. */
const sends = (page, n) => page.getByTestId("sends").filter({ hasText: new RegExp(`^${n}$`) }).waitFor();

test("one file, then several: the handler lists their names and sizes; nothing is left on the server", async () => {
  const { context, page } = await open();
  await input(page).setInputFiles(file("notes.txt", "text/plain", 5));
  await page.getByTestId("selected").filter({ hasText: /^1$/ }).waitFor();
  await page.getByTestId("refract-upload-files-docs").filter({ hasText: "notes.txt (5 B)" }).waitFor();
  await page.getByTestId("send").click();
  await sends(page, 1);
  assert.deepEqual(await page.getByTestId("received").allTextContents(), ["notes.txt (5 bytes)"]);
  // The trigger's chain went on: the selection is cleared (and with it the progress).
  await page.getByTestId("selected").filter({ hasText: /^0$/ }).waitFor();
  assert.equal(await text(page, "progress"), "0");
  await untilNoFileLeft();

  await input(page).setInputFiles([
    file("report.pdf", "application/pdf", 300_000),
    file("photo.png", "image/png", 1_000_000),
    file("../../evil name.txt", "text/plain", 12),
  ]);
  await page.getByTestId("selected").filter({ hasText: /^3$/ }).waitFor();
  await page.getByTestId("send").click();
  await sends(page, 2);
  assert.deepEqual(await page.getByTestId("received").allTextContents(), [
    "report.pdf (300000 bytes)",
    "photo.png (1000000 bytes)",
    "evil name.txt (12 bytes)",
  ]);
  await untilNoFileLeft();
  assert.equal((await filesLeft({ published: true })).length, 8, "4 published files and their metadata");
  await context.close();
});

test("published files are served back with safe headers, nothing else under /_files is, and Unpublish deletes them", async () => {
  const { context, page } = await open();
  await input(page).setInputFiles([
    file("note é.txt", "text/plain", 6, "n"),
    file("pic.png", "image/png", 20, "p"),
    file("doc.pdf", "application/pdf", 30, "d"),
  ]);
  await page.getByTestId("selected").filter({ hasText: /^3$/ }).waitFor();
  await page.getByTestId("send").click();
  await page.getByTestId("received").filter({ hasText: "doc.pdf (30 bytes)" }).waitFor();
  const links = (await publishedLinks(page)).slice(-3);
  assert.deepEqual(
    links.map((l) => l.name),
    ["note é.txt", "pic.png", "doc.pdf"],
  );
  const expected = [
    ["text/plain; charset=utf-8", "attachment; filename*=UTF-8''note%20%C3%A9.txt", "n", 6],
    ["image/png", "inline; filename*=UTF-8''pic.png", "p", 20],
    ["application/pdf", "attachment; filename*=UTF-8''doc.pdf", "d", 30],
  ];
  for (const [i, [type, disposition, fill, size]] of expected.entries()) {
    assert.match(links[i].href, /^\/_files\/[0-9a-f]{32}\/[0-9a-f]{32}\/[^/]+$/);
    const got = await fetchFile(links[i].href);
    assert.equal(got.status, 200, links[i].href);
    assert.deepEqual(got.body, Buffer.alloc(size, fill));
    assert.equal(got.headers.get("content-type"), type);
    assert.equal(got.headers.get("content-disposition"), disposition);
    assert.equal(got.headers.get("x-content-type-options"), "nosniff");
    assert.equal(got.headers.get("content-security-policy"), "default-src 'none'; sandbox");
    assert.equal(got.headers.get("cache-control"), "private");
  }
  // Only what was published, by its exact path, is served.
  const [, digest, id] = links[0].href.match(/^\/_files\/([0-9a-f]{32})\/([0-9a-f]{32})\//);
  for (const bad of [
    `/_files/${digest}/${id}/other.txt`,
    `/_files/${digest}/${id}/..%2F..%2F..%2Fetc%2Fpasswd`,
    `/_files/..%2F..%2F..%2F..%2Fetc/${id}/passwd`,
    `/_files/${digest}/..%2F${id}/note%20%C3%A9.txt`,
    `/_files/${digest}/${id}.json/note%20%C3%A9.txt`,
    `/_files/${digest}/public/${id}`,
    `/_files/${digest}/${id}`,
    "/_files/../../../etc/passwd",
  ]) {
    const got = await fetchFile(bad);
    assert.equal(got.status, 404, bad);
    assert.ok(!got.body.toString().includes("root:"), bad);
  }
  await page.getByTestId("unpublish").click();
  await page.getByTestId("published").first().waitFor({ state: "detached" });
  for (const link of links) assert.equal((await fetchFile(link.href)).status, 404, link.href);
  const ids = links.map((l) => l.href.split("/")[3]);
  const left = await filesLeft({ published: true });
  assert.deepEqual(
    left.filter((p) => ids.some((i) => p.includes(i))),
    [],
    "the unpublished files are gone from the folder",
  );
  await untilNoFileLeft();
  await context.close();
});

test("too many files and a wrong type are refused in the zone, with a message", async () => {
  const { context, page } = await open();
  const four = ["a", "b", "c", "d"].map((n) => file(`${n}.txt`, "text/plain", 3));
  await input(page).setInputFiles(four);
  const error = page.getByTestId("refract-upload-error-docs");
  await error.filter({ hasText: "Choose at most 3 files (4 were chosen)." }).waitFor();
  assert.equal(await text(page, "selected"), "0");

  await input(page).setInputFiles([file("tool.exe", "application/x-msdownload", 10), file("ok.txt", "text/plain", 2)]);
  await error.filter({ hasText: '"tool.exe" is not of an accepted type' }).waitFor();
  await page.getByTestId("selected").filter({ hasText: /^1$/ }).waitFor();
  assert.deepEqual(await page.getByTestId("refract-upload-files-docs").locator("li").allTextContents(), ["ok.txt (2 B)"]);
  await context.close();
});

test("a file over the server's limit is refused with a clear message; no event, no file left", async () => {
  const { context, page } = await open();
  await input(page).setInputFiles([file("small.txt", "text/plain", 10), file("huge.bin", "application/octet-stream", LIMIT + 1)]);
  await page.getByTestId("selected").filter({ hasText: /^2$/ }).waitFor();
  await page.getByTestId("send").click();
  await page
    .getByTestId("refract-upload-error-docs")
    .filter({ hasText: `over this server's limit of ${LIMIT} bytes` })
    .waitFor();
  // A toast says so too.
  await page.getByText(`over this server's limit of ${LIMIT} bytes`).first().waitFor();
  assert.equal(await text(page, "progress"), "0");
  assert.equal(await text(page, "sends"), "0", "no event was sent");
  assert.equal(await text(page, "selected"), "2", "the files stay chosen");
  // The small file that did arrive is the sweep's (after --upload-ttl-secs); the large one left
  // nothing. The page's other triggers still answer.
  const left = await filesLeft();
  assert.ok(left.length <= 2, `only the small file and its metadata: ${left}`);
  await rm(uploadDir, { recursive: true, force: true });
  await context.close();
});

test("a cancelled upload sends no event and leaves no partial file", async () => {
  const { context, page } = await open();
  // Slow uploads down (Chromium's network emulation), so Cancel comes mid-transfer.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 200 * 1024,
  });
  await input(page).setInputFiles(file("large.bin", "application/octet-stream", 1_900_000));
  await page.getByTestId("selected").filter({ hasText: /^1$/ }).waitFor();
  await page.getByTestId("send").click();
  await page.getByTestId("refract-upload-progress-docs").waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="progress"]').textContent) > 0);
  await page.getByTestId("cancel").click();
  await page.getByTestId("progress").filter({ hasText: /^0$/ }).waitFor();
  await page.getByText("The upload was cancelled.").first().waitFor();
  await untilNoFileLeft();
  // Nothing arrives later either.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await text(page, "sends"), "0");
  assert.equal(await text(page, "selected"), "1", "the file stays chosen");
  await context.close();
});
