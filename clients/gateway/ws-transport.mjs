// The gateway's subscription transport to the facade: graphql-transport-ws on
// the facade's /graphql, the caller's credential in connection_init.
//
// Why not Hive Gateway's own "ws" transport: its graphql-ws client keeps
// graphql-ws's default retries, which treat a 4403 close as "may succeed
// later" and try five more times with back-off, so a refused token reached
// the caller after ~40 s (and cost the facade five more refusals). This one:
// - one socket per caller credential, never shared between callers (the
//   facade authenticates the socket once, in connection_init);
// - no retry after the facade refused the credential (4401/4403), which the
//   caller gets at once as the facade's UNAUTHENTICATED;
// - other closes retried as graphql-ws does by default.
import { GraphQLError, print } from "graphql";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const REFUSED = new Set([4401, 4403]);

function wsUrl(location) {
  return location.replace(/^http(s?):\/\//, "ws$1://");
}

/** An async iterator over `source` that ends with UNAUTHENTICATED if the facade refuses the socket. */
function refusalAsError(source) {
  let finished = false;
  // A hand-made iterator rather than an async generator: a generator queues
  // return() behind a pending next(), and a subscriber leaving must reach the
  // facade at once (it removes its REST Hook when the last one leaves).
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (finished) return { done: true, value: undefined };
      try {
        return await source.next();
      } catch (error) {
        if (!REFUSED.has(error?.code)) throw error;
        finished = true;
        const message = error.reason || "the access token was refused";
        return {
          done: false,
          value: { errors: [new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED" } })] },
        };
      }
    },
    return(value) {
      finished = true;
      return source.return ? source.return(value) : Promise.resolve({ done: true, value });
    },
    throw(error) {
      finished = true;
      return source.throw ? source.throw(error) : Promise.reject(error);
    },
  };
}

/**
 * A Hive Gateway transport (`getSubgraphExecutor`). `credential(context)` is
 * the caller's Authorization value, sent as `{ Authorization }` in connection_init.
 */
export function spacesWsTransport(credential) {
  return {
    getSubgraphExecutor({ transportEntry }) {
      const url = wsUrl(transportEntry.location);
      const clients = new Map();
      const clientFor = (authorization) => {
        let client = clients.get(authorization);
        if (!client) {
          client = createClient({
            url,
            webSocketImpl: WebSocket,
            lazy: true,
            lazyCloseTimeout: 3_000,
            connectionParams: authorization ? { Authorization: authorization } : {},
            shouldRetry: (event) => typeof event?.code === "number" && !REFUSED.has(event.code),
            on: { closed: () => clients.get(authorization) === client && clients.delete(authorization) },
          });
          clients.set(authorization, client);
        }
        return client;
      };
      // Only subscriptions come here (the HTTP transport sends the rest).
      const executor = (request) =>
        refusalAsError(
          clientFor(credential(request.context) ?? "").iterate({
            query: print(request.document),
            variables: request.variables,
            operationName: request.operationName,
          }),
        );
      executor[Symbol.asyncDispose] = () => Promise.all([...clients.values()].map((c) => c.dispose()));
      return executor;
    },
  };
}
