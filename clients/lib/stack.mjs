// A sandbox and the facade as real processes on free loopback ports, started the
// way `spaces-graphql demo` starts them: development profile, the demo token
// prefilled in GraphiQL's headers editor.
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ARTIFACTS = join(ROOT, "tests", "artifacts");
export const DEMO_TOKEN = "demo-alice";
export const DEMO_HEADERS = JSON.stringify({ Authorization: `Bearer ${DEMO_TOKEN}` });
const PYTHON = process.env.SPACES_GRAPHQL_PYTHON || join(ROOT, ".venv", "bin", "python");

export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const children = new Set();
process.on("exit", () => {
  for (const child of children) kill(child, "SIGKILL");
});

function kill(child, signal) {
  try {
    process.kill(-child.pid, signal); // its whole process group
  } catch {
    // already gone
  }
}

function start(name, args, env = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = openSync(join(ARTIFACTS, `clients-${name}.log`), "w");
  const child = spawn(PYTHON, ["-m", "spaces_graphql.cli", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", log, log],
    detached: true,
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

async function waitFor(url, child, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not come up in ${seconds} s`);
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  kill(child, "SIGTERM");
  const timer = setTimeout(() => kill(child, "SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Starts a sandbox and a development-profile facade; `stop()` ends both. */
export async function startStack() {
  const sandboxPort = await freePort();
  const sandbox = start("sandbox", ["sandbox", "--port", String(sandboxPort)]);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  await waitFor(`${sandboxUrl}/_sandbox/stats`, sandbox);
  const facadePort = await freePort();
  const facade = start(
    "facade",
    [
      "serve",
      "--port", String(facadePort),
      "--upstream", `${sandboxUrl}/api/v1`,
      "--profile", "development",
    ],
    { SPACES_GRAPHQL_IDE_DEFAULT_HEADERS: DEMO_HEADERS },
  );
  const facadeUrl = `http://127.0.0.1:${facadePort}`;
  try {
    await waitFor(`${facadeUrl}/healthz`, facade);
  } catch (error) {
    await stop(sandbox);
    throw error;
  }
  return {
    sandbox: sandboxUrl,
    facade: facadeUrl,
    graphql: `${facadeUrl}/graphql`,
    ws: `ws://127.0.0.1:${facadePort}/graphql`,
    async stop() {
      await Promise.all([stop(facade), stop(sandbox)]);
    },
  };
}

/** The sandbox's REST API with Spaces' own auth: Basic, the token as username. */
export async function rest(sandbox, path, { token = DEMO_TOKEN, method = "GET", body } = {}) {
  const response = await fetch(`${sandbox}${path}`, {
    method,
    headers: {
      Authorization: `Basic ${Buffer.from(`${token}:`).toString("base64")}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Every customer of `token`'s account, newest first, paged as Spaces pages. */
export async function restCustomers(sandbox, token = DEMO_TOKEN) {
  const all = [];
  let after = null;
  for (;;) {
    const query = new URLSearchParams({ limit: "100" });
    if (after) query.set("starting_after", after);
    const page = await rest(sandbox, `/api/v1/customers?${query}`, { token });
    all.push(...page.data);
    if (!page.has_more) return all;
    after = page.data.at(-1).id;
  }
}

/** The facade's REST Hooks registered upstream for `token`'s account. */
export async function facadeHooks(stack, token = DEMO_TOKEN) {
  const page = await rest(stack.sandbox, "/api/v1/resource_subscriptions?limit=100", { token });
  return page.data.filter((hook) => hook.target_url.startsWith(`${stack.facade}/hooks/`));
}

export async function until(predicate, { seconds = 10, what = "condition" } = {}) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not met within ${seconds} s`);
}
