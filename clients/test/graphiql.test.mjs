// GraphiQL in headless Chromium (Debian's package): the demo's page, served from
// the package's own assets, runs the example query and a subscription.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { ARTIFACTS, ROOT, facadeHooks, rest, startStack, until } from "../lib/stack.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let stack;
let profile;
let context;
let page;
const requests = [];
const problems = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  stack = await startStack();
  profile = await mkdtemp(join(tmpdir(), "spaces-graphql-chromium-"));
  // A persistent context is how Playwright takes a fresh --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    // Tall enough to show a customer's subscription with its invoices.
    viewport: { width: 1680, height: 1500 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (request) => requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(stack.graphql, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-container .graphiql-query-editor .CodeMirror");
});

after(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await stack?.stop();
});

/** The full text of a GraphiQL editor (CodeMirror 5 renders only visible lines). */
function editorText(selector) {
  return page.evaluate((s) => document.querySelector(`${s} .CodeMirror`).CodeMirror.getValue(), selector);
}

async function run() {
  await page.click(".graphiql-execute-button");
}

async function resultJson(predicate, what) {
  let parsed;
  await until(
    async () => {
      const text = await editorText(".result-window");
      try {
        parsed = JSON.parse(text);
      } catch {
        return false;
      }
      return predicate(parsed);
    },
    { seconds: 15, what },
  );
  return parsed;
}

test("the page loads only its own origin's assets, with the demo's headers and example query", async () => {
  const query = await editorText(".graphiql-query-editor");
  assert.match(query, /customers\(first: 5\)/);
  assert.match(query, /invoices\(first: 3\)/);
  const headers = await editorText("section.graphiql-editor-tool[aria-label='Headers'] .graphiql-editor:not(.hidden)");
  assert.deepEqual(JSON.parse(headers), { Authorization: "Bearer demo-alice" });
  const foreign = requests.filter((url) => !url.startsWith(`${stack.facade}/`) && !url.startsWith("data:"));
  assert.deepEqual(foreign, [], "every request stays on the facade's origin");
  assert.ok(requests.some((url) => url.includes("/graphiql-assets/vendor/graphiql.min.js")));
});

test("running the example query shows customers with their subscriptions and invoices", async () => {
  await run();
  const result = await resultJson(
    (r) => r.data?.customers?.nodes?.length === 5,
    "five customers in the result pane",
  );
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const customers = result.data.customers.nodes;
  assert.ok(customers.every((c) => typeof c.name === "string" && c.name.length > 0));
  const invoices = customers.flatMap((c) =>
    c.subscriptions.nodes.flatMap((s) => s.invoices.nodes.map((i) => ({ customer: c, invoice: i }))),
  );
  assert.ok(invoices.length > 0, "some customer has a subscription with invoices");
  for (const { customer, invoice } of invoices) {
    assert.equal(typeof invoice.orderNumber, "number");
    assert.equal(invoice.customer.email, customer.email, "an invoice belongs to its customer");
  }
  // The first page of the REST list, in order: the same customers.
  const expected = await rest(stack.sandbox, "/api/v1/customers?limit=5");
  assert.deepEqual(
    customers.map((c) => c.name),
    expected.data.map((c) => c.name),
  );
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, "graphiql.png");
  await page.screenshot({ path: shot });
  if (process.env.UPDATE_DOCS_SCREENSHOT === "1") {
    copyFileSync(shot, join(ROOT, "docs", "graphiql.png"));
  }
  assert.deepEqual(problems, [], "no console errors, CSP violations or page errors");
});

test("a subscription run from GraphiQL receives the next customer.created event", async () => {
  const subscription = `subscription {
  eventCreated(types: [CUSTOMER_CREATED]) {
    type
    resource { ... on Customer { customerId name email } }
  }
}`;
  await page.evaluate(
    (text) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(text),
    subscription,
  );
  // GraphiQL parses the editor's text 100 ms after a change, as it does while one types.
  await page.waitForFunction(() => {
    const editor = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
    return editor.documentAST?.definitions?.[0]?.operation === "subscription";
  });
  const hooksBefore = (await facadeHooks(stack)).length;
  await run();
  // The facade registers its REST Hook upstream once the subscription is live.
  await until(async () => (await facadeHooks(stack)).length > hooksBefore, {
    what: "the facade's REST Hook for demo-alice",
  });
  const event = await rest(stack.sandbox, "/_sandbox/activity", {
    method: "POST",
    body: { type: "customer.created" },
  });
  const result = await resultJson(
    (r) => r.data?.eventCreated?.resource?.customerId === event.data.object.id,
    "the event in the result pane",
  );
  assert.equal(result.data.eventCreated.type, "CUSTOMER_CREATED");
  assert.equal(result.data.eventCreated.resource.name, event.data.object.name);
  await page.screenshot({ path: join(ARTIFACTS, "graphiql-subscription.png") });
  // Stopping it in GraphiQL ends the subscription; the facade then drops its hook.
  await run();
  await until(async () => (await facadeHooks(stack)).length === hooksBefore, {
    what: "the REST Hook removed after the subscription stopped",
  });
  assert.deepEqual(problems, [], "no console errors, CSP violations or page errors");
});
