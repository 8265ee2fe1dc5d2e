// Apollo Client 4 with each incremental handler: graphql-js 17's format
// (GraphQL17Alpha9Handler) and the 2022 one Apollo Client 3 reads
// (Defer20220824Handler, Accept deferSpec=20220824): a
// query with @defer gets its initial data first, then the deferred fragment,
// and a @stream list its first items, then the rest, against the real stack
// (each streamed customer's subscriptions are an upstream request, so the rest
// of the list comes after the first items, in another part).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ApolloClient, gql, HttpLink, InMemoryCache } from "@apollo/client";
import { Defer20220824Handler, GraphQL17Alpha9Handler } from "@apollo/client/incremental";

import { DEMO_TOKEN, startStack } from "../lib/stack.mjs";

const DEFERRED = gql`
  query Deferred {
    customers(first: 3) {
      nodes {
        id
        name
        ... @defer(label: "billing") {
          subscriptions(first: 5) {
            nodes {
              id
              status
            }
          }
        }
      }
    }
  }
`;

const STREAMED = gql`
  query Streamed {
    customers(first: 5) {
      nodes @stream(initialCount: 2) {
        id
        name
        subscriptions(first: 1) {
          nodes {
            id
          }
        }
      }
    }
  }
`;

let stack;

before(async () => {
  stack = await startStack({ label: "defer" });
});

after(async () => {
  await stack?.stop();
});

function client(Handler = GraphQL17Alpha9Handler) {
  return new ApolloClient({
    link: new HttpLink({
      uri: stack.graphql,
      headers: { Authorization: `Bearer ${DEMO_TOKEN}` },
    }),
    cache: new InMemoryCache(),
    incrementalHandler: new Handler(),
  });
}

/** Every result a watched query emits, until the complete one. */
function results(apollo, query) {
  const seen = [];
  return new Promise((resolve, reject) => {
    const subscription = apollo
      .watchQuery({ query, fetchPolicy: "network-only" })
      .subscribe({
        next: (result) => {
          if (result.loading && result.data === undefined) return;
          seen.push(result);
          if (result.dataState === "complete" && !result.loading) {
            subscription.unsubscribe();
            resolve(seen);
          }
        },
        error: reject,
      });
  });
}

for (const [name, Handler] of [
  ["GraphQL17Alpha9Handler", GraphQL17Alpha9Handler],
  // The 2022 format (deferSpec=20220824), which Apollo Client 3 reads too.
  ["Defer20220824Handler", Defer20220824Handler],
]) {
  test(`@defer (${name}): the initial data first, then the deferred fragment`, async () => {
    await deferred(client(Handler));
  });

  test(`@stream (${name}): the first items, then the rest of the list`, async () => {
    await streamed(client(Handler));
  });
}

async function deferred(apollo) {
  const seen = await results(apollo, DEFERRED);
  const [first] = seen;
  const last = seen.at(-1);
  assert.equal(first.dataState, "streaming", JSON.stringify(first));
  assert.equal(first.data.customers.nodes.length, 3);
  for (const node of first.data.customers.nodes) {
    assert.ok(node.name);
    assert.equal(node.subscriptions, undefined); // deferred: not there yet
  }
  assert.equal(last.dataState, "complete");
  assert.equal(last.error, undefined);
  assert.deepEqual(
    last.data.customers.nodes.map((n) => n.id),
    first.data.customers.nodes.map((n) => n.id),
  );
  for (const node of last.data.customers.nodes) {
    assert.ok(Array.isArray(node.subscriptions.nodes));
  }
  assert.ok(
    last.data.customers.nodes.some((n) => n.subscriptions.nodes.length > 0),
    "some customer of demo-alice has a subscription",
  );
}

async function streamed(apollo) {
  const seen = await results(apollo, STREAMED);
  // A shorter list is still a complete list to Apollo: `loading` says more is coming.
  assert.equal(seen[0].loading, true, JSON.stringify(seen[0]));
  assert.equal(seen[0].data.customers.nodes.length, 2);
  const last = seen.at(-1);
  assert.equal(last.dataState, "complete");
  assert.equal(last.data.customers.nodes.length, 5);
  assert.deepEqual(last.data.customers.nodes.slice(0, 2), seen[0].data.customers.nodes);
}
