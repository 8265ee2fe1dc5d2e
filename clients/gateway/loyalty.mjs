// The second subgraph of the test supergraph: a small loyalty service that owns
// no customers, only a field of its own on the facade's `Customer` entity.
// `loyaltyTier` is derived from the customer's global id alone, so answering it
// never costs the facade (or the Spaces API) a request: whatever the sandbox
// counts behind the gateway is the facade's own work.
//
//   node gateway/loyalty.mjs [--port 4001]    serves /graphql until SIGTERM
//   node gateway/loyalty.mjs --print-sdl      prints the subgraph SDL
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

import { buildSchema } from "graphql";
import { createYoga } from "graphql-yoga";

export const LOYALTY_TIERS = ["BRONZE", "SILVER", "GOLD", "PLATINUM"];

export const LOYALTY_SDL = `extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

"""A Spaces customer (the facade's entity), seen by the loyalty service."""
type Customer @key(fields: "id") {
  """The facade's opaque global ID of the customer."""
  id: ID!

  """The customer's loyalty tier: BRONZE, SILVER, GOLD or PLATINUM, fixed per customer."""
  loyaltyTier: String
}

type Query {
  """Customers in the order given, resolved by the gateway from the facade (a reference-only field)."""
  loyaltyRanking(ids: [ID!]!): [Customer!]!
}
`;

/** The tier of a customer: the first byte of sha256(global id), four buckets. */
export function loyaltyTier(id) {
  const byte = createHash("sha256").update(String(id)).digest()[0];
  return LOYALTY_TIERS[byte % LOYALTY_TIERS.length];
}

// The subgraph protocol by hand, in plain graphql-js (a subgraph library would
// bring either a Node 22 floor or an Elastic-licensed core): the SDL above as an
// executable schema (its federation directives are for the gateway, so the SDL
// is taken as valid without declaring them), plus the two root fields a gateway
// uses: `_service` (the SDL as written) and `_entities` (Customers by id).
const EXECUTABLE_SDL = `${LOYALTY_SDL}
scalar _Any
type _Service { sdl: String }
union _Entity = Customer
extend type Query {
  _service: _Service!
  _entities(representations: [_Any!]!): [_Entity]!
}
`;

class Customer {
  constructor(id) {
    this.__typename = "Customer";
    this.id = id;
  }

  /** Derived from the id alone: never a request to another service. */
  loyaltyTier() {
    return loyaltyTier(this.id);
  }
}

const queryResolvers = {
  _service: () => ({ sdl: LOYALTY_SDL }),
  _entities: (_root, { representations }) =>
    representations.map((ref) => (ref?.__typename === "Customer" && ref.id != null ? new Customer(ref.id) : null)),
  // References only: the gateway asks the facade's `_entities` for the rest.
  loyaltyRanking: (_root, { ids }) => ids.map((id) => new Customer(id)),
};

function buildLoyaltySchema() {
  const schema = buildSchema(EXECUTABLE_SDL, { assumeValidSDL: true });
  const fields = schema.getQueryType().getFields();
  for (const [name, resolve] of Object.entries(queryResolvers)) fields[name].resolve = resolve;
  schema.getType("_Entity").resolveType = (value) => value?.__typename;
  return schema;
}

/** A Yoga app serving the loyalty subgraph; `requests` counts the operations it answered. */
export function createLoyaltyApp() {
  const counter = { requests: 0 };
  const yoga = createYoga({
    schema: buildLoyaltySchema(),
    context: () => ({}),
    graphqlEndpoint: "/graphql",
    graphiql: false,
    landingPage: false,
    logging: "warn",
    plugins: [
      {
        onExecute() {
          counter.requests++;
        },
      },
    ],
  });
  return { yoga, counter };
}

/** Serves the loyalty subgraph on 127.0.0.1:`port`; resolves { url, counter, close }. */
export function startLoyalty(port = 0) {
  const { yoga, counter } = createLoyaltyApp();
  const server = createServer(yoga);
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address();
      ok({
        url: `http://127.0.0.1:${bound}/graphql`,
        counter,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  if (args.includes("--print-sdl")) {
    process.stdout.write(LOYALTY_SDL);
  } else {
    const at = args.indexOf("--port");
    const { url, close } = await startLoyalty(at >= 0 ? Number(args[at + 1]) : 4001);
    console.log(`loyalty subgraph on ${url}`);
    for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => close().then(() => process.exit(0)));
  }
}
