// The graphql-ws client (graphql-transport-ws), authenticating in connection_init
// as browsers must, receives eventCreated after the sandbox records activity.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { DEMO_TOKEN, facadeHooks, rest, startStack, until } from "../lib/stack.mjs";

const EVENTS = `subscription Events($types: [EventType!]) {
  eventCreated(types: $types) {
    id
    type
    createdAt
    resource { __typename ... on Customer { customerId name email space { spaceId } } }
  }
}`;

let stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.stop();
});

function wsClient(token) {
  return createClient({
    url: stack.ws,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
}

/** Subscribes; resolves the first `count` results (an async iterator is graphql-ws's own API). */
function firstResults(client, variables, count) {
  const iterator = client.iterate({ query: EVENTS, variables });
  const results = (async () => {
    const got = [];
    for await (const result of iterator) {
      got.push(result);
      if (got.length === count) break; // ends the subscription ("complete")
    }
    return got;
  })();
  return { results, stop: () => iterator.return?.() };
}

test("eventCreated delivers the sandbox's customer.created to a graphql-ws client", async () => {
  const client = wsClient(DEMO_TOKEN);
  try {
    const { results } = firstResults(client, { types: ["CUSTOMER_CREATED"] }, 1);
    await until(async () => (await facadeHooks(stack)).length === 1, {
      what: "one REST Hook upstream for demo-alice",
    });
    const started = Date.now();
    const event = await rest(stack.sandbox, "/_sandbox/activity", {
      method: "POST",
      body: { type: "customer.created" },
    });
    const [result] = await results;
    const elapsed = Date.now() - started;
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    const got = result.data.eventCreated;
    assert.equal(got.type, "CUSTOMER_CREATED");
    assert.equal(got.resource.__typename, "Customer");
    assert.equal(got.resource.customerId, event.data.object.id);
    assert.equal(got.resource.name, event.data.object.name);
    assert.match(got.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(elapsed < 5000, `delivered in ${elapsed} ms`);
    // The subscription completed: the facade removes its hook.
    await until(async () => (await facadeHooks(stack)).length === 0, {
      what: "the REST Hook removed after the last subscriber left",
    });
  } finally {
    await client.dispose();
  }
});

test("a connection_init without a valid token is closed with 4403", async () => {
  const client = wsClient("not-a-token");
  try {
    const { results } = firstResults(client, {}, 1);
    await assert.rejects(results, (error) => {
      assert.equal(error.code, 4403, String(error.reason ?? error));
      return true;
    });
  } finally {
    await client.dispose();
  }
});
