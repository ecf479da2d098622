// Starts example apps as real processes and drives them in headless Chromium (Debian's package,
// through playwright-core). Used by the *.test.js files; run with `node --test` from e2e/.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/**
 * The topology the tests run on: `embedded` (one process, the default) or `stack` (Redis, two
 * worker processes and a gateway, as `<app> stack --workers 2` starts them).
 */
export const mode = process.env.REFRACT_E2E_MODE ?? "embedded";

/**
 * Starts `target/debug/<name>` (`run`, or `stack --workers 2` in stack mode) on `port` with a fixed
 * token secret and waits until `/_health` answers (the first start builds the frontend: up to 5
 * minutes). Returns { url, port, stop() }.
 */
export async function startApp(name, { port, args = [], env = {} } = {}) {
  port ??= await freePort();
  const bin = path.join(root, "target", "debug", name);
  const command = mode === "stack" ? ["stack", "--workers", "2"] : ["run"];
  const child = spawn(
    bin,
    [...command, "--port", String(port), "--build-dir", path.join(root, "examples", name, ".web"), ...args],
    { env: { ...process.env, REFRACT_SECRET: "e2e-secret", RUST_LOG: "warn", ...env }, stdio: ["ignore", "inherit", "inherit"] },
  );
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`${name} exited early with code ${code}`);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const ok = await Promise.race([
      fetch(`${url}/_health`).then((r) => r.ok, () => false),
      exited,
    ]);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not become healthy within 5 minutes`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  exited.catch(() => {});
  return {
    url,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15000);
      await once(child, "exit");
      clearTimeout(timer);
    },
  };
}

/** Headless Chromium with the flags this sandbox needs (no network beyond loopback). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/**
 * Opens `url` in a new page of `context` and waits until the runtime has hydrated. The page's
 * `cspViolations` collects what the browser blocked under the gateway's Content-Security-Policy.
 */
export async function openConnected(context, url) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  page.cspViolations = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) page.cspViolations.push(m.text());
  });
  await page.goto(url);
  await waitConnected(page);
  return page;
}

/** Waits until the runtime reports the socket hydrated. */
export async function waitConnected(page) {
  await page.locator('html[data-refract-status="connected"]').waitFor({ timeout: 30_000 });
}
