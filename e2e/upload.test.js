// The uploads example in a real browser: files chosen in the upload zone are uploaded on Send
// (each its own POST /_upload) and its handler lists their names and sizes; the zone refuses too
// many files and a wrong type; the server refuses a file over its limit (--max-upload-bytes) with
// a clear message; a cancelled upload sends no event. No file is left in the upload folder.
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

/** Every file under the upload folder. */
async function filesLeft() {
  const entries = await readdir(uploadDir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
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
