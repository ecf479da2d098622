// The gallery example in a real browser: every page of typed components renders with no console or
// page error; a dialog whose open state is a var opens, its form saves to the server and it closes;
// a select and a slider (moved by keyboard) change vars shown on the page; tabs switch content;
// a typed form arrives in a struct (and a field that does not fit is refused, naming it); one
// changed row of a 1,000-row table renders that row alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, renderedIn, startApp, trackRenders } from "./harness.js";

let app;
let browser;

before(async () => {
  app = await startApp("gallery");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** A new context whose console errors and page errors are collected in the returned list. */
async function watchedContext() {
  const context = await browser.newContext();
  const errors = [];
  context.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  context.on("weberror", (e) => errors.push(String(e.error())));
  return { context, errors };
}

/** Opens `path` of the app and collects the page's errors in `errors`. */
async function open(context, errors, path) {
  const page = await openConnected(context, `${app.url}${path}`);
  page.on("pageerror", (e) => errors.push(String(e)));
  return page;
}

test("each page renders its components with no console or page error", async () => {
  const { context, errors } = await watchedContext();
  const pages = [
    ["/", "Layout and typography", "#to-forms"],
    ["/forms", "Forms", "#fruit-select"],
    ["/overlays", "Overlays", "text=Right-click this card"],
    ["/data", "Data display", "#overview-text"],
    ["/rows", "Rows", "[data-testid=row-1000]"],
  ];
  for (const [path, title, marker] of pages) {
    const page = await open(context, errors, path);
    await page.locator("#page-title").filter({ hasText: title }).waitFor();
    await page.locator(marker).first().waitFor();
    // Radix Themes styled it: the theme's root is there, and the page's nav is its TabNav.
    assert.equal(await page.locator(".radix-themes").count() > 0, true, path);
    await page.locator("nav.rt-TabNavRoot").waitFor();
    await page.close();
  }
  // The overlays open without an error too.
  const page = await open(context, errors, "/overlays");
  await page.getByRole("button", { name: "Menu" }).click();
  await page.getByRole("menuitem", { name: "Duplicate" }).click();
  await page.getByText("Chosen: duplicate").waitFor();
  // A trigger whose button reads a var still opens its popover.
  await page.locator("#popover-trigger").filter({ hasText: "Popover (0 deleted)" }).click();
  await page.getByText("A popover: click outside to close it.").waitFor();
  await page.keyboard.press("Escape");
  await page.getByText("A popover: click outside to close it.").waitFor({ state: "detached" });
  await page.getByRole("button", { name: "Open a dialog" }).click();
  await page.getByRole("dialog", { name: "A dialog" }).waitFor();
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached" });
  assert.deepEqual(errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("a dialog whose open state is a var: its form saves the profile and closes it", async () => {
  const { context, errors } = await watchedContext();
  const page = await open(context, errors, "/forms");
  await page.locator("#edit-profile").click();
  // Opened through the server: the trigger asks, the handler sets the var.
  const dialog = page.getByRole("dialog", { name: "Edit profile" });
  await dialog.waitFor();
  await dialog.getByPlaceholder("Name").fill("Ada");
  await dialog.getByPlaceholder("Email").fill("ada@example.com");
  await dialog.locator("#save-profile").click();
  await page.locator("#profile-name").filter({ hasText: /^Name: Ada$/ }).waitFor();
  await page.getByText("Email: ada@example.com").waitFor();
  await dialog.waitFor({ state: "detached" });
  assert.deepEqual(errors, []);
  await context.close();
});

test("a select choice and a slider moved by keyboard change vars shown on the page", async () => {
  const { context, errors } = await watchedContext();
  const page = await open(context, errors, "/forms");
  await page.locator("#fruit-select").click();
  await page.getByRole("option", { name: "Pear" }).click();
  await page.locator("#fruit").filter({ hasText: /^Fruit: pear$/ }).waitFor();
  // The tally of picks, a map var shown entry by entry.
  await page.locator("#picks").filter({ hasText: "pear: 1" }).waitFor();
  assert.equal(await page.locator("#fruit-select").textContent(), "Pear");

  await page.locator("#volume").filter({ hasText: /^Volume: 50$/ }).waitFor();
  const thumb = page.locator("#volume-slider").getByRole("slider");
  await thumb.focus();
  await page.keyboard.press("ArrowRight");
  await page.locator("#volume").filter({ hasText: /^Volume: 51$/ }).waitFor();
  assert.equal(await thumb.getAttribute("aria-valuenow"), "51");
  assert.deepEqual(errors, []);
  await context.close();
});

test("tabs switch their content through a var", async () => {
  const { context, errors } = await watchedContext();
  const page = await open(context, errors, "/data");
  await page.locator("#overview-text").waitFor();
  assert.equal(await page.locator("#people").count(), 0, "the table's tab is closed");
  await page.getByRole("tab", { name: "Table" }).click();
  await page.locator("#people").getByRole("rowheader", { name: "Ada" }).waitFor();
  await page.locator("#overview-text").waitFor({ state: "detached" });
  assert.equal(await page.getByRole("tab", { name: "Table" }).getAttribute("aria-selected"), "true");
  // The accordion opens an item through its var too.
  await page.getByRole("button", { name: "How are components typed?" }).click();
  await page.getByText("a Button of size S5 does not compile").waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});

test("a typed form: a number, a checkbox and a multi-select arrive in a struct; a bad number is refused", async () => {
  const { context, errors } = await watchedContext();
  const page = await open(context, errors, "/forms");
  await page.getByPlaceholder("User name").fill("ada");
  await page.getByPlaceholder("Age").fill("36");
  await page.getByRole("checkbox", { name: "Newsletter" }).click();
  await page.getByRole("checkbox", { name: "rust" }).click();
  await page.getByRole("checkbox", { name: "design" }).click();
  await page.getByRole("button", { name: "Sign up" }).click();
  await page
    .locator("#signup")
    .filter({ hasText: /^ada \(36\) on free, newsletter yes, topics \[rust, design\], level 3$/ })
    .waitFor();

  // A number field holding no number: refused naming the field, the last sign-up stays.
  await page.getByPlaceholder("User name").fill("bob");
  await page.getByPlaceholder("Age").evaluate((input) => {
    input.type = "text";
    input.value = "old";
  });
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByText(/field `age`: expected a whole number/).waitFor();
  assert.match(await page.locator("#signup").textContent(), /^ada \(36\)/);
  // The refusal is logged to the console as an error frame; nothing else failed.
  assert.deepEqual(
    errors.filter((e) => !e.includes("bad_arguments")),
    [],
  );
  await context.close();
});

test("one changed row of 1,000 renders that row alone", async () => {
  const { context, errors } = await watchedContext();
  await trackRenders(context);
  const page = await open(context, errors, "/rows");
  await page.locator("[data-testid=row-1000]").waitFor();
  assert.equal(await page.locator("#rows tbody tr").count(), 1000);
  await renderedIn(page, "[data-testid^=row-]");

  await page.locator("#touch-500").click();
  const row = page.locator("[data-testid=row-500]");
  await row.locator("td").nth(1).filter({ hasText: /^1$/ }).waitFor();
  const first = await renderedIn(page, "[data-testid^=row-]");
  assert.ok(first.inside.length > 0, "the changed row rendered");
  assert.deepEqual([...new Set(first.inside)], ["row-500"], "no other row rendered");

  // A click on another row: that one renders, and row 500 does not again.
  await page.locator("[data-testid=row-7]").click();
  await page.locator("[data-testid=row-7] td").nth(1).filter({ hasText: /^1$/ }).waitFor();
  const second = await renderedIn(page, "[data-testid^=row-]");
  assert.deepEqual([...new Set(second.inside)], ["row-7"]);
  assert.deepEqual(errors, []);
  await context.close();
});
