// CORS in headless Chromium: a front end on its own dev server (another local port,
// as Vite's http://localhost:5173 would be) calls the development facade with fetch
// (an Authorization header, so the browser sends a preflight first) and subscribes
// over graphql-transport-ws. A page from a foreign origin is refused by the browser.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { DEMO_TOKEN, facadeHooks, freePort, rest, startStack, until } from "../lib/stack.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
// A name that only this browser resolves, to this machine: a foreign origin without DNS.
const FOREIGN_HOST = "foreign.test";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  `--host-resolver-rules=MAP ${FOREIGN_HOST} 127.0.0.1`,
];
const QUERY = "{ customers(first: 100) { nodes { id name email createdAt } } }";
const SUBSCRIPTION =
  "subscription { eventCreated(types: [CUSTOMER_CREATED]) { type resource { ... on Customer { customerId name } } } }";

// The front end: inline JS only, told the facade's URLs in its query string. It reports
// through window.__report (and document.title, for a person watching).
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>cors: running</title></head>
<body><pre id="out"></pre><script>
const params = new URLSearchParams(location.search);
const report = (key, value) => {
  window.__report = { ...(window.__report || {}), [key]: value };
  document.getElementById("out").textContent = JSON.stringify(window.__report, null, 2);
};
async function query() {
  try {
    const response = await fetch(params.get("graphql"), {
      method: "POST",
      credentials: "include",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        Authorization: "Bearer ${DEMO_TOKEN}",
        "apollographql-client-name": "cors-test",
        "apollographql-client-version": "1.0.0",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      },
      body: JSON.stringify({ query: ${JSON.stringify(QUERY)} }),
    });
    const body = await response.json();
    report("query", {
      status: response.status,
      requestId: response.headers.get("x-request-id"),
      customers: body.data.customers.nodes.length,
      first: body.data.customers.nodes[0].name,
    });
  } catch (error) {
    report("query", { error: String(error) });
  }
}
function subscribe() {
  const socket = new WebSocket(params.get("ws"), "graphql-transport-ws");
  socket.onopen = () =>
    socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Bearer ${DEMO_TOKEN}" } }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: ${JSON.stringify(SUBSCRIPTION)} } }));
      report("ws", { subscribed: true });
    } else if (message.type === "next") {
      report("ws", { subscribed: true, event: message.payload.data.eventCreated });
      socket.send(JSON.stringify({ id: "1", type: "complete" }));
      socket.close(1000);
      document.title = "cors: done";
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    }
  };
  socket.onclose = (event) => report("wsClosed", event.code);
}
query().then(() => { if (params.get("ws")) subscribe(); });
</script></body></html>`;

let stack;
let server;
let port;
let profile;
let context;
const problems = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  stack = await startStack();
  port = await freePort();
  server = createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    response.end(request.url.startsWith("/favicon") ? "" : PAGE);
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  profile = await mkdtemp(join(tmpdir(), "spaces-graphql-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await new Promise((ok) => (server ? server.close(ok) : ok()));
  await stack?.stop();
});

async function openPage(origin, withWs) {
  const page = await context.newPage();
  const responses = [];
  page.on("response", (response) => responses.push(response));
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // CORS preflights are the browser's own requests: only the DevTools protocol shows them.
  const preflights = [];
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.requestWillBeSent", ({ request, type }) => {
    if (request.method === "OPTIONS") preflights.push({ url: request.url, type, headers: request.headers });
  });
  await cdp.send("Network.enable");
  const query = new URLSearchParams({ graphql: stack.graphql, ...(withWs ? { ws: stack.ws } : {}) });
  await page.goto(`${origin}/?${query}`, { waitUntil: "load" });
  return { page, responses, preflights };
}

async function reported(page, key, predicate = (v) => v !== undefined) {
  let value;
  await until(
    async () => {
      value = await page.evaluate((k) => window.__report?.[k], key);
      return predicate(value);
    },
    { seconds: 20, what: `the page's ${key} report` },
  );
  return value;
}

test("a page on another local port queries with a preflight and subscribes over WebSocket", async () => {
  const origin = `http://localhost:${port}`;
  const { page, responses, preflights } = await openPage(origin, true);
  const query = await reported(page, "query");
  assert.equal(query.error, undefined, `fetch failed: ${query.error}`);
  assert.equal(query.status, 200);
  assert.equal(query.customers, 100);
  assert.match(query.requestId ?? "", /^[0-9a-f]{32}$/, "X-Request-Id is exposed to the page");
  const graphql = responses.filter((r) => r.url() === stack.graphql);
  const post = graphql.find((r) => r.request().method() === "POST");
  assert.ok(post, "the POST reached the facade");
  const headers = await post.allHeaders();
  assert.equal(headers["access-control-allow-origin"], origin);
  assert.equal(headers["access-control-allow-credentials"], "true");
  // The browser sent a preflight first (Authorization is not a safelisted header).
  const asked = preflights.filter((p) => p.url === stack.graphql);
  assert.equal(asked.length, 1, JSON.stringify(preflights));
  assert.equal(asked[0].headers.Origin, origin);
  assert.match(asked[0].headers["Access-Control-Request-Headers"], /authorization/);
  // The browser asked for compression, and decoded what it got.
  assert.ok(["zstd", "br", "gzip"].includes(headers["content-encoding"]), headers["content-encoding"]);

  await reported(page, "ws", (v) => v?.subscribed === true);
  const hooksBefore = (await facadeHooks(stack)).length;
  await until(async () => (await facadeHooks(stack)).length >= Math.max(1, hooksBefore), {
    what: "the facade's REST Hook for the page's subscription",
  });
  const event = await rest(stack.sandbox, "/_sandbox/activity", {
    method: "POST",
    body: { type: "customer.created" },
  });
  const ws = await reported(page, "ws", (v) => v?.event !== undefined);
  assert.equal(ws.event.type, "CUSTOMER_CREATED");
  assert.equal(ws.event.resource.customerId, event.data.object.id);
  assert.equal(ws.event.resource.name, event.data.object.name);
  assert.equal(await page.title(), "cors: done");
  assert.deepEqual(problems, []);
  await page.close();
});

test("the preflight itself: answered by the facade for the page's origin", async () => {
  const origin = `http://127.0.0.1:${port}`;
  const response = await fetch(stack.graphql, {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers":
        "authorization,content-type,apollographql-client-name,apollographql-client-version,traceparent",
    },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("access-control-allow-origin"), origin);
  assert.equal(response.headers.get("access-control-allow-credentials"), "true");
  assert.match(response.headers.get("access-control-allow-headers"), /apollographql-client-name/);
});

test("a page from a foreign origin cannot read the facade's answers", async () => {
  const customerReads = async () =>
    (await rest(stack.sandbox, "/_sandbox/stats")).by_route["GET /api/v1/customers"] ?? 0;
  const readsBefore = await customerReads();
  assert.ok(readsBefore > 0, "the first test's query read customers upstream");
  const { page, preflights } = await openPage(`http://${FOREIGN_HOST}:${port}`, false);
  const query = await reported(page, "query");
  assert.match(query.error ?? "", /TypeError|Failed to fetch/, JSON.stringify(query));
  // Refused at the preflight: the POST itself was never sent, so nothing ran upstream.
  assert.equal(preflights.filter((p) => p.url === stack.graphql).length, 1);
  assert.equal(await customerReads(), readsBefore);
  await page.close();
});
