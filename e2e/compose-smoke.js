// The browser half of scripts/compose-smoke.sh, on a running compose stack through its gateway, in
// headless Chromium. With the counter app: clicks, SIGKILLs the worker that served them and clicks
// again, restarts the gateway and checks the open tab reconnects with its state, and, with the
// observability profile, finds an event's trace in Jaeger. With the uploads app: uploads files,
// which a worker receives and publishes through the volume it shares with the gateway, and fetches
// them back from the gateway. Prints what it did; exits non-zero on the first failed check.
//
//   node compose-smoke.js   (from scripts/compose-smoke.sh, which sets the variables below)
//
// SMOKE_APP         counter (default) or uploads
// SMOKE_URL         the gateway (http://127.0.0.1:3000)
// SMOKE_PROJECT     the compose project name (docker compose -p)
// SMOKE_COMPOSE     the compose file
// SMOKE_JAEGER      Jaeger's query API (http://127.0.0.1:16686), only with the observability profile
import { execFileSync, spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { launchBrowser, openConnected, waitConnected } from "./harness.js";

const url = process.env.SMOKE_URL ?? "http://127.0.0.1:3000";
const project = process.env.SMOKE_PROJECT ?? "refract-smoke";
const composeFile = process.env.SMOKE_COMPOSE ?? "../docker-compose.yml";
const jaeger = process.env.SMOKE_JAEGER;

const say = (text) => console.log(`  ${text}`);
const docker = (...args) => execFileSync("docker", args, { encoding: "utf8" });
const compose = (...args) => docker("compose", "-p", project, "-f", composeFile, ...args);

/** The worker containers, each { id, name, applied }: how many events its logs say it applied. */
function workers() {
  const ids = compose("ps", "-q", "worker").split("\n").filter(Boolean);
  return ids.map((id) => {
    const name = docker("inspect", "-f", "{{.Name}}", id).trim().replace(/^\//, "");
    // The workers log each applied event at debug level (RUST_LOG=…,refract_worker::engine=debug),
    // on stderr.
    const { stdout, stderr } = spawnSync("docker", ["logs", id], { encoding: "utf8" });
    const applied = (stdout + stderr).split("\n").filter((l) => /\bapplied\b/.test(l)).length;
    return { id, name, applied };
  });
}

/** The counter: clicks through a worker kill and a gateway restart; a trace in Jaeger. */
async function counter(browser) {
  const context = await browser.newContext();
  const page = await openConnected(context, url);
  const count = page.locator("#count");
  const increment = page.getByRole("button", { name: "Increment" });
  const expectCount = (n) => count.filter({ hasText: new RegExp(`^${n}$`) }).waitFor({ timeout: 30_000 });

  // 1. Clicks through the gateway and a worker.
  await expectCount(0);
  for (let i = 0; i < 3; i++) await increment.click();
  await expectCount(3);
  const before = workers();
  const served = before.filter((w) => w.applied > 0);
  assert.equal(served.length, 1, `one worker served the tab: ${JSON.stringify(before)}`);
  const victim = served[0];
  say(`3 clicks → 3, served by ${victim.name} (${before.length} workers)`);

  // 2. SIGKILL that worker; the next clicks go to another one, and none is lost.
  const killedAt = Date.now();
  docker("kill", "--signal", "KILL", victim.id);
  for (let i = 0; i < 2; i++) await increment.click();
  await expectCount(5);
  const after = workers().filter((w) => w.id !== victim.id && w.applied > 0);
  assert.equal(after.length, 1, `another worker took the tab over: ${JSON.stringify(workers())}`);
  say(`${victim.name} killed; 2 clicks → 5 in ${Date.now() - killedAt} ms, served by ${after[0].name}`);
  const state = docker("inspect", "-f", "{{.State.Status}} restarts={{.RestartCount}}", victim.id).trim();
  say(`the killed worker after docker kill: ${state} (restart: unless-stopped)`);

  // 3. Restart the gateway: the open tab reconnects and keeps its state.
  await page.evaluate(() => {
    window.smokeStatuses = [];
    new MutationObserver(() => window.smokeStatuses.push(document.documentElement.dataset.refractStatus))
      .observe(document.documentElement, { attributes: true, attributeFilter: ["data-refract-status"] });
  });
  const restartAt = Date.now();
  compose("restart", "gateway");
  await page.waitForFunction(
    () => window.smokeStatuses.some((s) => s !== "connected") && document.documentElement.dataset.refractStatus === "connected",
    null,
    { timeout: 60_000 },
  );
  await expectCount(5);
  await increment.click();
  await expectCount(6);
  say(`gateway restarted; the tab reconnected with 5 and a click → 6 (${Date.now() - restartAt} ms)`);
  await page.reload();
  await waitConnected(page);
  await expectCount(6);
  say("a reload keeps 6 (same token, state in Redis)");
  assert.deepEqual(page.cspViolations, [], "no CSP violation");
  await context.close();

  // 4. Traces in Jaeger: one event's trace holds spans of the gateway and of a worker.
  if (jaeger) {
    const deadline = Date.now() + 60_000;
    let found;
    while (!found) {
      const res = await fetch(`${jaeger}/api/traces?service=refract-gateway&operation=event&limit=50&lookback=1h`).catch((e) => e);
      if (res.ok) {
        const { data = [] } = await res.json();
        found = data.find((trace) => {
          const services = new Set(trace.spans.map((s) => trace.processes[s.processID]?.serviceName));
          return services.has("refract-gateway") && services.has("refract-worker");
        });
      }
      if (!found) {
        assert.ok(Date.now() < deadline, "no trace with gateway and worker spans reached Jaeger within 60 s");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    say(`Jaeger has trace ${found.traceID}: ${found.spans.length} spans from the gateway and a worker`);
  }
}

/**
 * The uploads app: two files go to a worker (each its own POST /_upload, streamed over gRPC), its
 * handler lists them and publishes them into the shared volume, and the gateway serves them back.
 */
async function uploads(browser) {
  const context = await browser.newContext();
  const page = await openConnected(context, url);
  const files = [
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("uploaded through compose\n") },
    { name: "pixel.png", mimeType: "image/png", buffer: Buffer.alloc(300_000, 7) },
  ];
  await page.getByTestId("refract-upload-input-docs").setInputFiles(files);
  await page.getByTestId("selected").filter({ hasText: /^2$/ }).waitFor();
  await page.getByTestId("send").click();
  await page.getByTestId("sends").filter({ hasText: /^1$/ }).waitFor({ timeout: 30_000 });
  assert.deepEqual(await page.getByTestId("received").allTextContents(), [
    "notes.txt (25 bytes)",
    "pixel.png (300000 bytes)",
  ]);
  say("2 files uploaded through the gateway; the worker's handler received notes.txt (25 bytes), pixel.png (300000 bytes)");
  const links = await page.getByTestId("published").all();
  assert.equal(links.length, 2, "both files published");
  for (const [i, link] of links.entries()) {
    const href = await link.getAttribute("href");
    const answer = await fetch(new URL(href, url));
    assert.equal(answer.status, 200, href);
    assert.ok(Buffer.from(await answer.arrayBuffer()).equals(files[i].buffer), `${href}: the bytes uploaded`);
  }
  say("the gateway serves both published files back from the shared volume, byte for byte");
  await context.close();
}

const browser = await launchBrowser();
try {
  await (process.env.SMOKE_APP === "uploads" ? uploads : counter)(browser);
} finally {
  await browser.close();
}
