// A sandbox and the facade as real processes on free loopback ports, started the
// way `spaces-graphql demo` starts them: development profile, the demo token
// prefilled in GraphiQL's headers editor. startFederationStack() adds the
// supergraph: the facade as a federation subgraph, the loyalty subgraph and
// Hive Gateway in front of both (clients/gateway/).
import { execFile, spawn } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
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

function spawnLogged(name, command, args, { env = {}, cwd = ROOT } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = openSync(join(ARTIFACTS, `clients-${name}.log`), "w");
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", log, log],
    detached: true,
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

function start(name, args, env = {}) {
  return spawnLogged(name, PYTHON, ["-m", "spaces_graphql.cli", ...args], { env });
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

/**
 * Starts a sandbox and a development-profile facade; `stop()` ends both.
 * `label` prefixes the log files' names; `args` and `env` go to `serve`.
 */
export async function startStack({ label = "", args = [], env = {} } = {}) {
  const prefix = label ? `${label}-` : "";
  const sandboxPort = await freePort();
  const sandbox = start(`${prefix}sandbox`, ["sandbox", "--port", String(sandboxPort)]);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  await waitFor(`${sandboxUrl}/_sandbox/stats`, sandbox);
  const facadePort = await freePort();
  const facade = start(
    `${prefix}facade`,
    [
      "serve",
      "--port", String(facadePort),
      "--upstream", `${sandboxUrl}/api/v1`,
      "--profile", "development",
      ...args,
    ],
    { SPACES_GRAPHQL_IDE_DEFAULT_HEADERS: DEMO_HEADERS, ...env },
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

export const FEDERATION_SECRET = "supergraph-test-secret";
const CLIENTS = join(ROOT, "clients");
const HIVE_GATEWAY = join(CLIENTS, "node_modules", "@graphql-hive", "gateway", "dist", "bin.js");

/** What `spaces-graphql schema [--federation]` prints. */
export function printedSchema({ federation = false } = {}) {
  const args = ["-m", "spaces_graphql.cli", "schema", ...(federation ? ["--federation"] : [])];
  return new Promise((ok, fail) => {
    execFile(PYTHON, args, { cwd: ROOT, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      error ? fail(new Error(`spaces-graphql schema: ${error.message}\n${stderr}`)) : ok(stdout),
    );
  });
}

/**
 * The supergraph stack: a sandbox, the facade serving its federation subgraph
 * (`serve --federation`, X-Federation-Secret required on `_service`), the
 * loyalty subgraph (in this process), the two composed offline into
 * tests/artifacts/supergraph.graphql, and Hive Gateway serving that file with
 * clients/gateway/gateway.config.mjs. `stop()` ends them all.
 */
export async function startFederationStack({ secret = FEDERATION_SECRET } = {}) {
  const { composeSupergraph, fetchSubgraphSdl } = await import("../gateway/compose.mjs");
  const { startLoyalty } = await import("../gateway/loyalty.mjs");
  const env = { SPACES_GRAPHQL_FEDERATION: "true", SPACES_GRAPHQL_FEDERATION_SECRET: secret };
  const [facade, loyalty] = await Promise.all([
    startStack({ label: "federation", args: ["--federation"], env }),
    startLoyalty(),
  ]);
  const stopAll = [() => facade.stop(), () => loyalty.close()];
  const stopped = () => Promise.all(stopAll.map((f) => f()));
  try {
    // Composed from what the running facade serves, asked as a composing tool asks.
    const spacesSdl = await fetchSubgraphSdl(facade.graphql, { secret });
    const supergraphSdl = composeSupergraph({
      spacesSdl,
      spacesUrl: facade.graphql,
      loyaltyUrl: loyalty.url,
    });
    const supergraph = join(ARTIFACTS, "supergraph.graphql");
    writeFileSync(supergraph, supergraphSdl);
    const port = await freePort();
    const gateway = spawnLogged(
      "gateway",
      process.execPath,
      [HIVE_GATEWAY, "supergraph", supergraph, "--config-path", join(CLIENTS, "gateway", "gateway.config.mjs"),
        "--host", "127.0.0.1", "--port", String(port)],
      { cwd: CLIENTS, env: { SPACES_GRAPHQL_FEDERATION_SECRET: secret, NODE_ENV: "production" } },
    );
    stopAll.push(() => stop(gateway));
    const gatewayUrl = `http://127.0.0.1:${port}`;
    await waitFor(`${gatewayUrl}/healthcheck`, gateway, 60);
    return {
      ...facade,
      spacesSdl,
      supergraphSdl,
      loyalty,
      gateway: `${gatewayUrl}/graphql`,
      gatewayWs: `ws://127.0.0.1:${port}/graphql`,
      stop: stopped,
    };
  } catch (error) {
    await stopped();
    throw error;
  }
}

/** POSTs one GraphQL operation; resolves { status, body }. */
export async function post(url, query, { token, variables, headers = {} } = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}

/** The sandbox's request counters (`/_sandbox/stats`), reset with `{ reset: true }`. */
export async function sandboxStats(sandbox, { reset = false } = {}) {
  const response = await fetch(`${sandbox}/_sandbox/stats${reset ? "/reset" : ""}`, {
    method: reset ? "POST" : "GET",
  });
  return response.json();
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
