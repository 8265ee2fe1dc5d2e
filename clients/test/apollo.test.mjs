// Apollo Client, configured as a frontend would: relayStylePagination() on
// Query.customers, fetchMore with `after: endCursor` until the last page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ApolloClient, gql, HttpLink, InMemoryCache } from "@apollo/client";
import { relayStylePagination } from "@apollo/client/utilities";

import { DEMO_TOKEN, restCustomers, startStack, until } from "../lib/stack.mjs";

const CUSTOMERS = gql`
  query Customers($first: Int!, $after: String) {
    customers(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          customerId
          name
          email
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

let stack;

before(async () => {
  stack = await startStack();
});

after(async () => {
  await stack?.stop();
});

function client(token) {
  return new ApolloClient({
    link: new HttpLink({ uri: stack.graphql, headers: { Authorization: `Bearer ${token}` } }),
    cache: new InMemoryCache({
      typePolicies: { Query: { fields: { customers: relayStylePagination() } } },
    }),
  });
}

test("fetchMore walks every customer of demo-alice, in the REST API's order", async () => {
  const apollo = client(DEMO_TOKEN);
  const watched = apollo.watchQuery({ query: CUSTOMERS, variables: { first: 100 } });
  let latest;
  let subscription;
  const first = new Promise((resolve, reject) => {
    subscription = watched.subscribe({
      next: (result) => {
        latest = result;
        if (result.dataState === "complete") resolve(result);
      },
      error: reject,
    });
  });
  try {
    let { data } = await first;
    let pages = 1;
    while (data.customers.pageInfo.hasNextPage) {
      const { endCursor } = data.customers.pageInfo;
      const had = data.customers.edges.length;
      const more = await watched.fetchMore({ variables: { first: 100, after: endCursor } });
      pages += 1;
      assert.ok(pages < 100, "the walk ends");
      // relayStylePagination merges the page into the cached list, and the watcher
      // (what a component renders from) emits the longer list.
      const want = had + more.data.customers.edges.length;
      await until(() => latest.data.customers.edges.length === want, {
        seconds: 5,
        what: `the watcher's list to grow to ${want}`,
      });
      data = latest.data;
    }
    const walked = data.customers.edges.map((edge) => edge.node);
    const expected = await restCustomers(stack.sandbox);
    assert.ok(expected.length > 200, `demo-alice has many customers (${expected.length})`);
    assert.equal(pages, Math.ceil(expected.length / 100));
    assert.deepEqual(
      walked.map((c) => c.customerId),
      expected.map((c) => c.id),
    );
    assert.deepEqual(
      walked.map((c) => [c.name, c.email]),
      expected.map((c) => [c.name, c.email]),
    );
    assert.equal(new Set(walked.map((c) => c.id)).size, walked.length, "global IDs are unique");
    assert.equal(data.customers.pageInfo.hasNextPage, false);
  } finally {
    subscription.unsubscribe();
    apollo.stop();
  }
});

test("a refused token reaches Apollo as an UNAUTHENTICATED error", async () => {
  const apollo = client("not-a-token");
  try {
    await assert.rejects(
      apollo.query({ query: CUSTOMERS, variables: { first: 1 } }),
      (error) => {
        // A GraphQL error list (application/graphql-response+json) or, for a plain
        // JSON 401, Apollo's ServerError with the body: either way the facade's code.
        const errors =
          error.name === "ServerError" ? JSON.parse(error.bodyText).errors : error.errors;
        assert.ok(["CombinedGraphQLErrors", "ServerError"].includes(error.name), error.name);
        assert.equal(errors[0].extensions.code, "UNAUTHENTICATED");
        return true;
      },
    );
  } finally {
    apollo.stop();
  }
});
