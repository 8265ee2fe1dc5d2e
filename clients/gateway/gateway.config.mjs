// Hive Gateway in front of the facade's subgraph ("spaces") and the loyalty
// subgraph: `hive-gateway supergraph supergraph.graphql -c gateway/gateway.config.mjs`.
//
// - The caller's credential goes to every subgraph: the facade fetches the
//   Spaces API with the caller's own token, so a gateway that dropped
//   `Authorization` would answer every query with UNAUTHENTICATED.
// - The facade's subgraph also receives X-Federation-Secret (from
//   SPACES_GRAPHQL_FEDERATION_SECRET), which it requires on `_service { sdl }`;
//   a gateway composing at run time needs it, one serving a composed file does
//   no harm sending it.
// - Subscriptions go to the facade over WebSocket (graphql-transport-ws on
//   /graphql), the caller's credential in connection_init as browsers send it.
import { defineConfig } from "@graphql-hive/gateway";
import httpTransport from "@graphql-mesh/transport-http";

import { spacesWsTransport } from "./ws-transport.mjs";

const SECRET = process.env.SPACES_GRAPHQL_FEDERATION_SECRET || undefined;
const SPACES_WS = spacesWsTransport((context) => context?.spacesAuthorization);

/** The caller's Authorization: an HTTP header, or a WebSocket client's connection_init payload. */
function callerAuthorization(request, context) {
  const fromHeader = request?.headers?.get?.("authorization");
  if (fromHeader) return fromHeader;
  const params = context?.connectionParams ?? {};
  for (const [name, value] of Object.entries(params)) {
    if (name.toLowerCase() === "authorization" && typeof value === "string") return value;
  }
  return undefined;
}

/**
 * The facade answers a missing or refused token with HTTP 401 and no data
 * (design: "an upstream 401 voids the answer"). A gateway would otherwise say
 * 200 with `data: { customers: null }`, and keep what other subgraphs answered
 * without looking at the token; this keeps the facade's rule at the edge.
 */
function refusedIsRefused() {
  const refused = (error) => error?.extensions?.code === "UNAUTHENTICATED";
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || Symbol.asyncIterator in result || !result.errors?.some(refused)) return;
          setResult({
            errors: result.errors.filter(refused),
            extensions: {
              ...result.extensions,
              http: { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="spaces-graphql"' } },
            },
          });
        },
      };
    },
  };
}

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request, context, subgraphName }) {
      const headers = {};
      const authorization = callerAuthorization(request, context);
      if (authorization) headers.authorization = authorization;
      if (SECRET && subgraphName === "spaces") headers["x-federation-secret"] = SECRET;
      return headers;
    },
  },
  transportEntries: {
    spaces: { options: { subscriptions: { kind: "spaces-ws", location: "/graphql" } } },
  },
  // Hive Gateway's own HTTP transport for queries and mutations (both
  // subgraphs), and "spaces-ws" for the facade's subscriptions (ws-transport.mjs says why).
  transports: { http: httpTransport, "spaces-ws": SPACES_WS },
  plugins: () => [
    {
      onContextBuilding({ context, extendContext }) {
        const authorization = callerAuthorization(context.request, context);
        if (authorization) extendContext({ spacesAuthorization: authorization });
      },
    },
    refusedIsRefused(),
  ],
  // Subgraph errors (UNAUTHENTICATED, UPSTREAM_*) reach the caller as the facade wrote them.
  maskedErrors: false,
  landingPage: false,
  graphiql: false,
});
