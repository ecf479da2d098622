// The todo example in a real browser: add (Enter and the Add button), tick, delete, reload.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { launchBrowser, openConnected, startApp, waitConnected } from "./harness.js";

let app;
let browser;

before(async () => {
  app = await startApp("todo");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

test("adds, toggles and deletes items, and keeps them over a reload", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  const input = page.getByPlaceholder("What needs doing?");
  const items = page.locator(".todo-item");
  const open = page.locator("#open-count");
  await open.filter({ hasText: "0 open" }).waitFor();

  await input.fill("Buy milk");
  await input.press("Enter");
  await items.filter({ hasText: "Buy milk" }).waitFor();
  assert.equal(await input.inputValue(), "", "the form is cleared after submit");

  await input.fill("Walk the dog");
  await page.getByRole("button", { name: "Add" }).click();
  await items.filter({ hasText: "Walk the dog" }).waitFor();
  await open.filter({ hasText: "2 open" }).waitFor();
  assert.equal(await items.count(), 2);

  const milk = items.filter({ hasText: "Buy milk" });
  await milk.getByRole("checkbox").click();
  await open.filter({ hasText: "1 open" }).waitFor();
  assert.equal(await milk.getByRole("checkbox").getAttribute("aria-checked"), "true");

  await items.filter({ hasText: "Walk the dog" }).getByRole("button", { name: "Delete" }).click();
  await items.filter({ hasText: "Walk the dog" }).waitFor({ state: "detached" });
  await open.filter({ hasText: "0 open" }).waitFor();
  assert.equal(await items.count(), 1);

  await page.reload();
  await waitConnected(page);
  await items.filter({ hasText: "Buy milk" }).waitFor();
  assert.equal(await items.count(), 1);
  assert.equal(await items.first().getByRole("checkbox").getAttribute("aria-checked"), "true");
  await context.close();
});

test("follow-ups: a toast on add, an error toast, Export downloads the list, Finish all chains into /done without a reload", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  const input = page.getByPlaceholder("What needs doing?");
  const toast = (text) => page.locator("[data-sonner-toast]").filter({ hasText: text });
  await input.fill("Water plants");
  await input.press("Enter");
  await toast("Added “Water plants”").waitFor();
  await input.fill("Feed the cat");
  await input.press("Enter");
  await page.locator(".todo-item").filter({ hasText: "Feed the cat" }).waitFor();
  // A handler's error shows as a toast with its message (the development default of run and stack).
  await input.fill("x".repeat(501));
  await input.press("Enter");
  await toast("an item is at most 500 characters").waitFor();
  assert.equal(await page.locator(".todo-item").count(), 2, "nothing was added");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "todo.txt");
  assert.equal(await readFile(await download.path(), "utf8"), "[ ] Water plants\n[ ] Feed the cat\n");

  await page.evaluate(() => (window.__sameDocument = true));
  await page.getByRole("button", { name: "Finish all" }).click();
  await page.locator("#all-done").waitFor();
  assert.equal(new URL(page.url()).pathname, "/done");
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "navigated without a reload");
  await toast("Cleared 2 done").waitFor();
  // clear_done also counted them in another state, committed in the same event.
  await page.locator("#cleared").filter({ hasText: "2 items cleared in all" }).waitFor();
  await page.getByRole("link", { name: "Back to the list" }).click();
  await page.locator("#open-count").filter({ hasText: "0 open" }).waitFor();
  assert.equal(await page.locator(".todo-item").count(), 0);
  await context.close();
});
