// GraphQL Code Generator as a front-end project would configure it (README, "Typed
// clients"): the facade's printed schema, the project's operations, one TypeScript
// file with the schema's types, one with every operation's result and variables types.
// clients/test/codegen.test.mjs runs it over the README's and examples/' operations,
// which it writes to a temporary directory: hence the two environment variables.
import type { CodegenConfig } from "@graphql-codegen/cli";

const documents = process.env.CODEGEN_DOCUMENTS;
const output = process.env.CODEGEN_OUTPUT;
if (!documents || !output) {
  throw new Error("set CODEGEN_DOCUMENTS (a glob) and CODEGEN_OUTPUT (a directory)");
}
// DateTime is an ISO 8601 UTC string on the wire (Money is an object type).
const scalars = { DateTime: "string" };

const config: CodegenConfig = {
  // Read at run time, so the types follow schema changes (`make schema` rewrites it).
  schema: process.env.CODEGEN_SCHEMA ?? "../schema.graphql",
  documents,
  generates: {
    // Every schema type (Customer, Invoice, EventType, the mutation inputs, ...).
    [`${output}/schema.ts`]: {
      plugins: ["typescript"],
      // Enums as string unions, as typescript-operations 6 writes them by default.
      config: { scalars, enumsAsTypes: true },
    },
    // Each operation's result and variables types. typescript-operations 6 also
    // writes the enums and inputs operations use, which would clash with the
    // `typescript` plugin's in one file: it imports them from schema.ts instead.
    [`${output}/operations.ts`]: {
      plugins: ["typescript-operations"],
      config: { scalars, importSchemaTypesFrom: `${output}/schema.ts` },
    },
  },
};

export default config;
