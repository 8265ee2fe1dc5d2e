// Offline composition of the test supergraph: the facade's subgraph SDL (what
// `spaces-graphql schema --federation` prints, or what a running facade answers
// to `{ _service { sdl } }` with its X-Federation-Secret) plus the loyalty
// subgraph's, composed by The Guild's federation-composition (MIT) into the
// supergraph SDL that `hive-gateway supergraph <file>` serves.
//
//   spaces-graphql schema --federation > spaces.graphql
//   node gateway/compose.mjs --spaces spaces.graphql \
//     --spaces-url http://127.0.0.1:8080/graphql \
//     --loyalty-url http://127.0.0.1:4001/graphql > supergraph.graphql
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

import { LOYALTY_SDL } from "./loyalty.mjs";

/** Subgraph names as the supergraph's join__Graph enum (and gateway.config.mjs) knows them. */
export const SPACES = "spaces";
export const LOYALTY = "loyalty";

/** The supergraph SDL of the two subgraphs; throws with every composition error. */
export function composeSupergraph({ spacesSdl, spacesUrl, loyaltyUrl, loyaltySdl = LOYALTY_SDL }) {
  const result = composeServices([
    { name: SPACES, url: spacesUrl, typeDefs: parse(spacesSdl) },
    { name: LOYALTY, url: loyaltyUrl, typeDefs: parse(loyaltySdl) },
  ]);
  if (result.errors?.length) {
    throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join("\n")}`);
  }
  return result.supergraphSdl;
}

/** The subgraph SDL a running facade serves, asked the way a composing tool asks. */
export async function fetchSubgraphSdl(url, { secret, token } = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(secret ? { "X-Federation-Secret": secret } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!response.ok || body.errors || !body.data?._service?.sdl) {
    throw new Error(`${url} _service: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.data._service.sdl;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const spaces = option("--spaces");
  const spacesUrl = option("--spaces-url") ?? "http://127.0.0.1:8080/graphql";
  const loyaltyUrl = option("--loyalty-url") ?? "http://127.0.0.1:4001/graphql";
  const spacesSdl = spaces
    ? readFileSync(spaces === "-" ? 0 : spaces, "utf8")
    : await fetchSubgraphSdl(spacesUrl, { secret: process.env.SPACES_GRAPHQL_FEDERATION_SECRET });
  const supergraph = composeSupergraph({ spacesSdl, spacesUrl, loyaltyUrl });
  const out = option("--out");
  if (out) writeFileSync(out, supergraph);
  else process.stdout.write(supergraph);
}
