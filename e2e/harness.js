// Starts example apps as real processes and drives them in headless Chromium (Debian's package,
// through playwright-core). Used by the *.test.js files; run with `node --test` from e2e/.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The ports `freePort` draws from: outside the kernel's ephemeral range (Linux's
 * ip_local_port_range), where no outgoing connection's local port and no bind(0) can take a port
 * before the app started on it binds it. Below the range (from 10000), else above it; null when
 * neither leaves 1000 ports. The same rule as refract_process::launch::free_port.
 */
const portPool = (() => {
  let [first, last] = [49152, 65535];
  try {
    [first, last] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  } catch {
    // Not Linux: the IANA dynamic range.
  }
  if (first >= 11000) return { start: 10000, size: first - 10000 };
  if (last <= 64535) return { start: last + 1, size: 65535 - last - 1 };
  return null;
})();
let handedOut = Math.floor(Math.random() * (portPool?.size ?? 1));

/** Whether `port` (0: any) can be bound on 127.0.0.1; the port bound, or null. */
async function tryBind(port) {
  const server = createServer();
  server.listen(port, "127.0.0.1");
  const bound = await Promise.race([
    once(server, "listening").then(() => server.address().port),
    once(server, "error").then(() => null),
  ]);
  if (bound !== null) {
    server.close();
    await once(server, "close");
  }
  return bound;
}

/**
 * A free TCP port on 127.0.0.1, outside the ephemeral range (`portPool`), walked from a random
 * start so parallel test files rarely try the same one; each handed out once per process.
 */
export async function freePort() {
  for (let tries = 0; portPool && tries < portPool.size; tries++) {
    const port = portPool.start + (handedOut++ % portPool.size);
    if ((await tryBind(port)) !== null) return port;
  }
  const any = await tryBind(0);
  if (any === null) throw new Error("no TCP port can be bound on 127.0.0.1");
  return any;
}

/**
 * The topology the tests run on: `embedded` (one process, the default) or `stack` (Redis, two
 * worker processes and a gateway, as `<app> stack --workers 2` starts them).
 */
export const mode = process.env.REFRACT_E2E_MODE ?? "embedded";

/**
 * Starts `target/debug/<name>` (`run`, or `stack --workers 2` in stack mode) on `port` with a fixed
 * token secret and waits until `/_health` answers (the first start builds the frontend: up to 5
 * minutes). Returns { url, port, pid, stop() }.
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
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15000);
      await once(child, "exit");
      clearTimeout(timer);
    },
  };
}

/**
 * The running child processes of `pid` (as `stack` starts its Redis, workers and gateway), read
 * from /proc: [{ pid, argv, env }], so a test can signal one, or start it again as it was started.
 * @param {number} pid
 */
export function childProcesses(pid) {
  const children = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) !== pid || state === "Z") continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").slice(0, -1);
      const env = {};
      for (const pair of readFileSync(`/proc/${entry}/environ`, "utf8").split("\0")) {
        const eq = pair.indexOf("=");
        if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      children.push({ pid: Number(entry), argv, env });
    } catch {
      // It exited while being read.
    }
  }
  return children;
}

/**
 * Sends one command to the Redis on 127.0.0.1:`port` and returns its reply, for commands whose
 * reply is one line (a status, an integer: PING, FLUSHALL, DBSIZE). An error reply rejects.
 * @param {number} port
 * @param {...string} args the command and its arguments
 * @returns {Promise<string>}
 */
export async function redisCommand(port, ...args) {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    const parts = args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`);
    socket.write(`*${args.length}\r\n${parts.join("")}`);
    let reply = "";
    for await (const chunk of socket) {
      reply += chunk;
      if (reply.includes("\r\n")) break;
    }
    const line = reply.slice(0, reply.indexOf("\r\n"));
    if (line.startsWith("-")) throw new Error(`redis ${args[0]}: ${line.slice(1)}`);
    if (!/^[+:]/.test(line)) throw new Error(`redis ${args[0]}: unexpected reply ${JSON.stringify(reply)}`);
    return line.slice(1);
  } finally {
    socket.destroy();
  }
}

/**
 * Starts a `redis-server` on a free port of 127.0.0.1, without persistence, and waits until it
 * answers PING. Returns { port, url, pid, command(...args), pause(), resume(), stop() }: `pause`
 * and `resume` SIGSTOP and SIGCONT it (a frozen Redis: connections stay open, nothing answers);
 * `stop` resumes it if paused, then kills it.
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  let failed = null;
  child.on("error", (e) => (failed = e));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (failed) throw new Error(`cannot start redis-server: ${failed.message}`);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error("redis-server exited early");
    const pong = await redisCommand(port, "PING").catch(() => null);
    if (pong === "PONG") break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("redis-server did not answer PING within 10 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    command: (...args) => redisCommand(port, ...args),
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited;
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

/**
 * Makes the pages of `context` record which React components render in each commit, through the
 * hook React DevTools uses (React calls it in production builds too). A component counts as
 * rendered in a commit when its props or its hooks' state are not the objects seen at the
 * previous commit (a memoised component that bails out keeps both). Call before opening pages.
 * Read with `renderedIn(page, selector)`.
 * @param {import("playwright-core").BrowserContext} context
 */
export async function trackRenders(context) {
  await context.addInitScript(() => {
    const seen = new WeakMap();
    /** The DOM elements of the components rendered since the last reset. */
    const rendered = [];
    const FUNCTION_TAGS = new Set([0, 11, 14, 15]); // function, forwardRef, memo, simple memo
    const HOST = 5;
    /** The component's element, when it renders one at its top (a list renders many: null). */
    const ownElement = (fiber) => {
      const found = [];
      const collect = (f) => {
        for (; f && found.length < 2; f = f.sibling) {
          if (f.tag === HOST) found.push(f.stateNode);
          else collect(f.child);
        }
      };
      collect(fiber.child);
      return found.length === 1 ? found[0] : null;
    };
    const walk = (fiber) => {
      for (let f = fiber; f; f = f.sibling) {
        if (FUNCTION_TAGS.has(f.tag)) {
          const last = seen.get(f) ?? (f.alternate && seen.get(f.alternate));
          const now = { props: f.memoizedProps, state: f.memoizedState };
          if (!last || last.props !== now.props || last.state !== now.state) rendered.push(ownElement(f));
          seen.set(f, now);
          if (f.alternate) seen.set(f.alternate, now);
        }
        walk(f.child);
      }
    };
    let renderers = 0;
    globalThis.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
      supportsFiber: true,
      renderers: new Map(),
      inject(internals) {
        this.renderers.set(++renderers, internals);
        return renderers;
      },
      onScheduleFiberRoot() {},
      onCommitFiberRoot(_id, root) {
        walk(root.current);
      },
      onCommitFiberUnmount() {},
      onPostCommitFiberRoot() {},
      checkDCE() {},
    };
    globalThis.__refractRenders = rendered;
  });
}

/**
 * What rendered since the last call (see `trackRenders`): for each rendered component whose
 * element is inside an element matching `selector`, that element's `data-testid` (or text);
 * components outside any such element, or rendering several elements at their top (a list),
 * are counted apart. Resets the record.
 * @returns {Promise<{inside: string[], outside: number}>}
 */
export async function renderedIn(page, selector) {
  return page.evaluate((selector) => {
    const rendered = globalThis.__refractRenders.splice(0);
    const inside = [];
    let outside = 0;
    for (const element of rendered) {
      const match = element?.closest?.(selector);
      if (match) inside.push(match.dataset.testid ?? match.textContent);
      else outside++;
    }
    return { inside, outside };
  }, selector);
}
