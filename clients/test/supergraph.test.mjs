// The facade as a federation subgraph behind a real gateway: Hive Gateway
// (from npm) serving a supergraph composed offline from the facade's subgraph
// SDL and a second, small subgraph (clients/gateway/loyalty.mjs) that adds
// `Customer.loyaltyTier`. Upstream requests are counted by the sandbox itself.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { loyaltyTier } from "../gateway/loyalty.mjs";
import {
  ARTIFACTS,
  DEMO_TOKEN,
  facadeHooks,
  post,
  printedSchema,
  rest,
  restCustomers,
  sandboxStats,
  startFederationStack,
  until,
} from "../lib/stack.mjs";

const BOB = "demo-bob";

let stack;
const measured = {};

before(async () => {
  stack = await startFederationStack();
});

after(async () => {
  writeFileSync(join(ARTIFACTS, "supergraph-counts.json"), `${JSON.stringify(measured, null, 2)}\n`);
  await stack?.stop();
});

/** Runs `query` against `url` with the sandbox's counters reset first; { body, upstream }. */
async function counted(url, query, { token = DEMO_TOKEN, variables } = {}) {
  await sandboxStats(stack.sandbox, { reset: true });
  const { status, body } = await post(url, query, { token, variables });
  const upstream = await sandboxStats(stack.sandbox);
  return { status, body, upstream };
}

test("the supergraph is composed from the SDL the running subgraph serves with its secret", async () => {
  assert.equal(stack.spacesSdl.trim(), (await printedSchema({ federation: true })).trim());
  // Without the secret (or with another) the facade does not hand its subgraph SDL out.
  for (const headers of [{}, { "X-Federation-Secret": "not-the-secret-at-all" }]) {
    const refused = await post(stack.graphql, "{ _service { sdl } }", { token: DEMO_TOKEN, headers });
    assert.ok(refused.body.errors?.length, JSON.stringify(refused.body));
    assert.equal(refused.body.data?._service?.sdl, undefined);
  }
  // Nor through the gateway: the supergraph has no `_service` to ask.
  const viaGateway = await post(stack.gateway, "{ _service { sdl } }", { token: DEMO_TOKEN });
  assert.ok(viaGateway.body.errors?.length, JSON.stringify(viaGateway.body));
  // Both subgraphs own Customer; the billing type keeps its federation name.
  assert.match(stack.supergraphSdl, /type Customer implements Node\s[^{]*@join__type\(graph: LOYALTY, key: "id"\)/);
  assert.match(stack.supergraphSdl, /loyaltyTier: String @join__field\(graph: LOYALTY\)/);
  assert.match(stack.supergraphSdl, /type BillingSubscription implements Node/);
  assert.match(stack.supergraphSdl, /subscription: Subscription/);
});

const CROSS = `query Cross($first: Int!) {
  customers(first: $first) { nodes { id name loyaltyTier } }
}`;

test("a query crossing both subgraphs: the facade's names, the loyalty service's tiers", async () => {
  const asked = stack.loyalty.counter.requests;
  const { status, body, upstream } = await counted(stack.gateway, CROSS, { variables: { first: 25 } });
  assert.equal(status, 200);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const nodes = body.data.customers.nodes;
  assert.equal(nodes.length, 25);
  const rest = (await restCustomers(stack.sandbox)).slice(0, 25);
  assert.deepEqual(
    nodes.map((n) => n.name),
    rest.map((c) => c.name),
  );
  for (const node of nodes) assert.equal(node.loyaltyTier, loyaltyTier(node.id), node.id);
  assert.ok(new Set(nodes.map((n) => n.loyaltyTier)).size > 1, "tiers vary by customer");
  // One batch of 25 representations to the loyalty subgraph, one page upstream:
  // what the facade's part of the query costs sent to the facade itself.
  assert.equal(stack.loyalty.counter.requests - asked, 1);
  const direct = await counted(stack.graphql, CROSS.replace(" loyaltyTier", ""), { variables: { first: 25 } });
  assert.equal(direct.body.errors, undefined, JSON.stringify(direct.body.errors));
  assert.deepEqual(upstream, direct.upstream);
  assert.equal(upstream.requests, 1, JSON.stringify(upstream.by_route));
  measured.cross = { direct: direct.upstream, gateway: upstream, loyaltyRequests: 1 };
});

const NESTED_DIRECT = `query Nested {
  customers(first: 5) {
    nodes {
      name
      subscriptions(first: 3) { nodes { __typename status total { amount } invoices(first: 2) { nodes { invoiceId paid } } } }
      invoices(first: 3) { nodes { invoiceId total { amount currency } } }
    }
  }
}`;
const NESTED_GATEWAY = NESTED_DIRECT.replace("name\n", "name\n      loyaltyTier\n");

test("a nested query costs the same upstream requests through the gateway as sent to the facade", async () => {
  const direct = await counted(stack.graphql, NESTED_DIRECT);
  assert.equal(direct.body.errors, undefined, JSON.stringify(direct.body.errors));
  const gateway = await counted(stack.gateway, NESTED_GATEWAY);
  assert.equal(gateway.body.errors, undefined, JSON.stringify(gateway.body.errors));
  const again = await counted(stack.graphql, NESTED_DIRECT);
  // The facade's part of the answer is the facade's answer.
  const strip = (data) =>
    data.customers.nodes.map(({ loyaltyTier: _tier, ...rest }) => rest);
  assert.deepEqual(strip(gateway.body.data), strip(direct.body.data));
  // The billing resource under its federation name, in the supergraph too.
  const billing = gateway.body.data.customers.nodes.flatMap((c) => c.subscriptions.nodes);
  assert.ok(billing.length > 0);
  for (const node of billing) assert.equal(node.__typename, "BillingSubscription");
  assert.deepEqual(gateway.upstream, direct.upstream);
  assert.deepEqual(again.upstream, direct.upstream);
  measured.nested = { direct: direct.upstream, gateway: gateway.upstream };
});

const RANKED = `query Ranked($ids: [ID!]!) {
  loyaltyRanking(ids: $ids) { id name loyaltyTier invoices(first: 2) { nodes { invoiceId } } }
}`;
const NODES = `query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) { id ... on Customer { name invoices(first: 2) { nodes { invoiceId } } } }
}`;

test("entities the gateway resolves from the facade cost what nodes(ids:) costs", async () => {
  const listed = await post(stack.graphql, "{ customers(first: 40) { nodes { id } } }", { token: DEMO_TOKEN });
  const ids = listed.body.data.customers.nodes.map((n) => n.id).filter((_, i) => i % 4 === 1);
  const direct = await counted(stack.graphql, NODES, { variables: { ids } });
  assert.equal(direct.body.errors, undefined, JSON.stringify(direct.body.errors));
  const gateway = await counted(stack.gateway, RANKED, { variables: { ids } });
  assert.equal(gateway.body.errors, undefined, JSON.stringify(gateway.body.errors));
  const ranked = gateway.body.data.loyaltyRanking;
  assert.deepEqual(
    ranked.map(({ loyaltyTier: _tier, ...rest }) => rest),
    direct.body.data.nodes,
  );
  for (const node of ranked) assert.equal(node.loyaltyTier, loyaltyTier(node.id));
  measured.entities = { customers: ids.length, direct: direct.upstream, gateway: gateway.upstream };
  assert.deepEqual(gateway.upstream, direct.upstream);
});

test("no token: UNAUTHENTICATED through the gateway, and no upstream request", async () => {
  const asked = stack.loyalty.counter.requests;
  const { status, body, upstream } = await counted(stack.gateway, CROSS, { token: null, variables: { first: 5 } });
  measured.unauthenticated = { status, upstream: upstream.requests };
  assert.equal(status, 401, JSON.stringify(body));
  assert.ok(body.errors?.length, JSON.stringify(body));
  for (const error of body.errors) assert.equal(error.extensions?.code, "UNAUTHENTICATED", JSON.stringify(error));
  assert.equal(body.data ?? null, null);
  assert.equal(upstream.requests, 0);
  assert.equal(stack.loyalty.counter.requests, asked, "the loyalty subgraph is not asked");
});

test("with a token the gateway answers with the caller's own data", async () => {
  const query = `{ viewer { email } customers(first: 100) { nodes { customerId name loyaltyTier } } }`;
  const [alice, bob] = await Promise.all([
    post(stack.gateway, query, { token: DEMO_TOKEN }),
    post(stack.gateway, query, { token: BOB }),
  ]);
  for (const answer of [alice, bob]) assert.equal(answer.body.errors, undefined, JSON.stringify(answer.body.errors));
  const [aliceRest, bobRest] = await Promise.all([
    restCustomers(stack.sandbox, DEMO_TOKEN),
    restCustomers(stack.sandbox, BOB),
  ]);
  const [aliceAccount, bobAccount] = await Promise.all([
    rest(stack.sandbox, "/api/v1/account", { token: DEMO_TOKEN }),
    rest(stack.sandbox, "/api/v1/account", { token: BOB }),
  ]);
  assert.equal(alice.body.data.viewer.email, aliceAccount.email);
  assert.equal(bob.body.data.viewer.email, bobAccount.email);
  assert.notEqual(bobAccount.email, aliceAccount.email);
  assert.deepEqual(
    bob.body.data.customers.nodes.map((n) => n.customerId),
    bobRest.slice(0, 100).map((c) => c.id),
  );
  assert.deepEqual(
    alice.body.data.customers.nodes.map((n) => n.customerId),
    aliceRest.slice(0, 100).map((c) => c.id),
  );
  const aliceIds = new Set(aliceRest.map((c) => c.id));
  assert.ok(bobRest.every((c) => !aliceIds.has(c.id)), "the accounts are disjoint");
});

test("an upstream failure for one field is a partial answer: that field null, the rest kept", async () => {
  const query = `{ customers(first: 3) { nodes { customerId name loyaltyTier invoices(first: 2) { nodes { invoiceId } } } } }`;
  const clean = await post(stack.gateway, query, { token: BOB });
  assert.equal(clean.body.errors, undefined, JSON.stringify(clean.body.errors));
  // The next invoices page of demo-bob's fails with a 500 (not retried): one
  // customer's invoices, whichever the facade asks for first.
  const fault = await (
    await fetch(`${stack.sandbox}/_sandbox/faults`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "status", status: 500, route: "GET /api/v1/invoices", token: BOB, count: 1 }),
    })
  ).json();
  try {
    const { status, body } = await post(stack.gateway, query, { token: BOB });
    measured.partial = { status, errors: body.errors };
    assert.equal(status, 200);
    const nodes = body.data.customers.nodes;
    const expected = clean.body.data.customers.nodes;
    assert.equal(nodes.length, 3);
    const failed = nodes.findIndex((node) => node.invoices === null);
    assert.ok(failed >= 0, JSON.stringify(body));
    nodes.forEach((node, i) => {
      if (i === failed) assert.deepEqual(node, { ...expected[i], invoices: null });
      else assert.deepEqual(node, expected[i]);
    });
    assert.equal(body.errors?.length, 1, JSON.stringify(body.errors));
    assert.equal(body.errors[0].extensions?.code, "UPSTREAM_ERROR", JSON.stringify(body.errors));
    assert.deepEqual(body.errors[0].path, ["customers", "nodes", failed, "invoices"]);
  } finally {
    await fetch(`${stack.sandbox}/_sandbox/faults/${fault.id}`, { method: "DELETE" });
  }
});

const EVENTS = `subscription Events($types: [EventType!]) {
  eventCreated(types: $types) {
    type
    resource { __typename ... on Customer { id customerId name loyaltyTier } }
  }
}`;

function gatewayWs(connectionParams) {
  return createClient({
    url: stack.gatewayWs,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

/** Subscribes to CUSTOMER_CREATED through the gateway; `first` is the first result. */
function firstEvent(client) {
  const iterator = client.iterate({ query: EVENTS, variables: { types: ["CUSTOMER_CREATED"] } });
  const first = (async () => {
    for await (const result of iterator) return result; // return ends the subscription
    return undefined;
  })();
  return first;
}

test("a subscription through the gateway: eventCreated over WebSocket, joined with loyaltyTier", async () => {
  const client = gatewayWs({ Authorization: `Bearer ${DEMO_TOKEN}` });
  try {
    const first = firstEvent(client);
    await until(async () => (await facadeHooks(stack)).length === 1, {
      what: "the facade's REST Hook for demo-alice, subscribed through the gateway",
    });
    const started = Date.now();
    const event = await rest(stack.sandbox, "/_sandbox/activity", {
      method: "POST",
      body: { type: "customer.created" },
    });
    const result = await first;
    measured.subscription = { deliveredMs: Date.now() - started };
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const got = result.data.eventCreated;
    assert.equal(got.type, "CUSTOMER_CREATED");
    assert.equal(got.resource.customerId, event.data.object.id);
    assert.equal(got.resource.name, event.data.object.name);
    assert.equal(got.resource.loyaltyTier, loyaltyTier(got.resource.id));
    await until(async () => (await facadeHooks(stack)).length === 0, {
      what: "the REST Hook removed after the gateway's subscriber left",
    });
  } finally {
    await client.dispose();
  }
});

test("subscribers of two accounts through one gateway each get only their own events", async () => {
  const alice = gatewayWs({ Authorization: `Bearer ${DEMO_TOKEN}` });
  const bob = gatewayWs({ Authorization: `Bearer ${BOB}` });
  try {
    const aliceFirst = firstEvent(alice);
    const bobFirst = firstEvent(bob);
    await until(
      async () => (await facadeHooks(stack)).length === 1 && (await facadeHooks(stack, BOB)).length === 1,
      { what: "one REST Hook per account" },
    );
    const bobEvent = await rest(stack.sandbox, "/_sandbox/activity", {
      method: "POST",
      body: { type: "customer.created" },
      token: BOB,
    });
    const bobGot = await bobFirst;
    assert.equal(bobGot.data.eventCreated.resource.customerId, bobEvent.data.object.id);
    const aliceEvent = await rest(stack.sandbox, "/_sandbox/activity", {
      method: "POST",
      body: { type: "customer.created" },
    });
    // Alice's first event is her own: bob's never reached her socket.
    const aliceGot = await aliceFirst;
    assert.equal(aliceGot.data.eventCreated.resource.customerId, aliceEvent.data.object.id);
    await until(
      async () => (await facadeHooks(stack)).length === 0 && (await facadeHooks(stack, BOB)).length === 0,
      { what: "both REST Hooks removed" },
    );
  } finally {
    await Promise.all([alice.dispose(), bob.dispose()]);
  }
});

test("a subscription without a valid token is UNAUTHENTICATED through the gateway, and no hook is made", async () => {
  await sandboxStats(stack.sandbox, { reset: true });
  for (const connectionParams of [{}, { Authorization: "Bearer not-a-token" }]) {
    const client = gatewayWs(connectionParams);
    try {
      const result = await firstEvent(client);
      assert.equal(result.data ?? null, null, JSON.stringify(result));
      assert.equal(result.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", JSON.stringify(result));
    } finally {
      await client.dispose();
    }
  }
  // No token: nothing upstream; a refused one: the facade's one `GET account`. No hook.
  const { by_route: routes } = await sandboxStats(stack.sandbox);
  measured.refusedSubscription = routes;
  assert.deepEqual(routes, { "GET /api/v1/account": 1 });
  assert.deepEqual(await facadeHooks(stack), []);
});
