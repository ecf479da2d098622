// The dashboard example in a real browser: lucide icons as SVGs, recharts charts that follow
// their vars (Add point, a background task streaming points), markdown from a var rendered as
// HTML with the HTML typed into it kept as text, and code blocks highlighted with a Copy button
// that fills the clipboard.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, startApp } from "./harness.js";

let app;
let browser;

before(async () => {
  app = await startApp("dashboard");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Polls `check()` (async) every 50 ms until it is true, for at most 15 s. */
async function until(what, check) {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The dots of the visits chart's lines (two lines: two dots a day). */
const dots = (page) => page.locator("#visits-chart .recharts-line-dot").count();

/** The number of days the page says the chart has. */
const days = async (page) => Number((await page.locator("#day-count").textContent()).split(" ")[0]);

test("the page renders with no console or page error: lucide icons as SVGs, a line, a pie and a bar chart", async () => {
  const context = await browser.newContext();
  const errors = [];
  context.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  context.on("weberror", (e) => errors.push(String(e.error())));
  const page = await openConnected(context, app.url);
  page.on("pageerror", (e) => errors.push(String(e)));

  // The icon with a label: an <svg> with lucide's classes, named for screen readers.
  const logo = page.locator("#logo");
  assert.equal(await logo.evaluate((e) => e.tagName.toLowerCase()), "svg");
  assert.match(await logo.getAttribute("class"), /\blucide\b.*\blucide-layout-dashboard\b/);
  assert.equal(await logo.getAttribute("aria-label"), "Dashboard");
  // An icon inside a button is a decoration: hidden, and the button keeps its text's name.
  const plus = page.getByRole("button", { name: "Add point" }).locator("svg.lucide-plus");
  assert.equal(await plus.getAttribute("aria-hidden"), "true");
  assert.equal(await plus.getAttribute("width"), "16");

  await until("the line chart's dots", async () => (await dots(page)) === 10);
  await until("the pie's four slices", async () => (await page.locator("#browsers-chart .recharts-pie-sector").count()) === 4);
  await until("the stacked bars", async () => (await page.locator("#sales-chart .recharts-bar-rectangle").count()) === 8);
  // Legends in the series' order, with their names.
  assert.deepEqual(await page.locator("#visits-chart .recharts-legend-item-text").allTextContents(), ["Visits", "Sign-ups"]);
  assert.deepEqual(await page.locator("#sales-chart .recharts-legend-item-text").allTextContents(), ["Online", "In store"]);
  // The charts fill their container's width.
  const { chart, card } = await page.locator("#visits-chart").evaluate((e) => ({
    chart: e.querySelector(".recharts-wrapper").getBoundingClientRect().width,
    card: e.parentElement.getBoundingClientRect().width,
  }));
  assert.ok(chart > card * 0.9, `chart ${chart}px in ${card}px`);

  assert.deepEqual(errors, []);
  assert.deepEqual(page.cspViolations, []);
  await context.close();
});

test("Add point appends a row to the var and the chart draws its dots; the JSON code block follows", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  await until("the first dots", async () => (await dots(page)) === 10);
  await page.getByRole("button", { name: "Add point" }).click();
  await page.locator("#day-count").filter({ hasText: /^6 days$/ }).waitFor();
  await until("a sixth day's dots", async () => (await dots(page)) === 12);
  await page.getByRole("button", { name: "Add point" }).click();
  await until("a seventh day's dots", async () => (await dots(page)) === 14);
  assert.match(await page.locator("#visits-chart").textContent(), /Day 7/, "on the x axis");
  await page.locator("#data").filter({ hasText: '"day": "Day 7"' }).waitFor();
  await page.getByRole("button", { name: "Reset" }).click();
  await until("back to five days", async () => (await dots(page)) === 10);
  await context.close();
});

test("a background task streams points into the chart; Stop ends it early", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  await until("the first dots", async () => (await dots(page)) === 10);
  const stream = page.getByRole("button", { name: "Stream 10 points" });
  const stop = page.getByRole("button", { name: "Stop" });
  await stream.click();
  await until("Stop to be enabled", () => stop.isEnabled());
  assert.equal(await stream.isDisabled(), true, "one stream at a time");
  await until("two streamed days", async () => (await days(page)) >= 7);
  await until("their dots", async () => (await dots(page)) >= 14);
  await stop.click();
  await until("the stream to end", () => stream.isEnabled());
  const total = await days(page);
  assert.ok(total >= 7 && total < 15, `${total} days: the task stopped early`);
  await until("the chart to show every day", async () => (await dots(page)) === total * 2);
  await context.close();
});

test("markdown from a var renders as HTML; HTML and script links typed into it stay inert", async () => {
  const context = await browser.newContext();
  const page = await openConnected(context, app.url);
  const notes = page.locator("#notes");
  // The default notes: a heading, bold text, a list and a table (GitHub's extension).
  await notes.locator("strong").filter({ hasText: "Visits are up" }).waitFor();
  assert.equal(await notes.locator("h3").textContent(), "This week");
  assert.equal(await notes.locator("ul > li").count(), 2);
  assert.equal(await notes.locator("table td").first().textContent(), "Search");

  const typed = [
    "Some **typed** words",
    "",
    "- one",
    "- two",
    "- three",
    "",
    '<script>window.__xss = "script"</script>',
    "",
    'An image: <img src="x" onerror="window.__xss = \'img\'"> and [a bad link](javascript:window.__xss=1).',
    "",
    "[elsewhere](https://example.com/) and [home](/)",
  ].join("\n");
  await page.locator("#notes-input").fill(typed);
  await notes.locator("strong").filter({ hasText: "typed" }).waitFor();
  assert.equal(await notes.locator("ul > li").count(), 3);
  assert.equal(await notes.locator("script").count(), 0, "no <script> element");
  assert.equal(await notes.locator("img").count(), 0, "no <img> element");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await page.evaluate(() => window.__xss), undefined, "nothing ran");
  // The HTML shows as text.
  assert.match(await notes.textContent(), /<script>window.__xss = "script"<\/script>/);
  assert.match(await notes.textContent(), /<img src="x" onerror=/);
  // The javascript: link is no link; the others are, an external one in a new tab.
  const hrefs = await notes.locator("a").evaluateAll((links) => links.map((a) => [a.textContent, a.getAttribute("href"), a.target, a.rel]));
  assert.deepEqual(hrefs, [
    ["elsewhere", "https://example.com/", "_blank", "nofollow noopener noreferrer"],
    ["home", "/", "", ""],
  ]);
  await context.close();
});

test("code blocks are highlighted; Copy puts the code in the clipboard and says Copied", async () => {
  const context = await browser.newContext();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
  const page = await openConnected(context, app.url);
  const snippet = page.locator("#snippet");
  const tokens = snippet.locator("pre .token");
  await until("highlighted tokens", async () => (await tokens.count()) > 10);
  const colors = new Set(await tokens.evaluateAll((spans) => spans.map((s) => getComputedStyle(s).color)));
  assert.ok(colors.size >= 3, `tokens in ${colors.size} colours`);
  assert.ok((await snippet.locator(".token.string").count()) >= 4, "strings are tokens of their own");

  const copy = snippet.getByRole("button", { name: "Copy" });
  await copy.click();
  await snippet.getByRole("button", { name: "Copied" }).waitFor();
  const expected = [
    "line_chart(DashState::days())",
    '    .x("day")',
    '    .line("visits", Paint::Indigo)',
    '    .named("Visits")',
    '    .line("signups", Paint::Teal)',
    '    .named("Sign-ups")',
  ].join("\n");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), expected);
  // Back to "Copy" after two seconds.
  await snippet.getByRole("button", { name: "Copy" }).waitFor({ timeout: 5000 });

  // The data block's code is a var: its Copy copies what it shows now.
  await page.getByRole("button", { name: "Add point" }).click();
  await page.locator("#data").filter({ hasText: '"day": "Day 6"' }).waitFor();
  await page.locator("#data").getByRole("button", { name: "Copy" }).click();
  await until("the JSON in the clipboard", async () => {
    const text = await page.evaluate(() => navigator.clipboard.readText());
    return text.startsWith("[") && JSON.parse(text).length === 6;
  });
  await context.close();
});
