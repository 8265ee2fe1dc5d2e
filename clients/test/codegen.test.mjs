// Typed clients: GraphQL Code Generator (typescript + typescript-operations, through
// clients/codegen.ts) over schema.graphql and every operation the README's ```graphql
// blocks and examples/ show, then `tsc --noEmit --strict` over what it generated.
// The operations are extracted here, at test time, so README.md stays their only
// source; anonymous ones get a name from where they come from and their first root
// field (codegen names its types after operations).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { buildSchema, Kind, parse, print, Source, validate } from "graphql";

const CLIENTS = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROOT = resolve(CLIENTS, "..");
const ARTIFACTS = join(ROOT, "tests", "artifacts", "codegen");
const SCHEMA = join(ROOT, "schema.graphql");
const CODEGEN_BIN = join(CLIENTS, "node_modules", "@graphql-codegen", "cli", "esm", "bin.js");
const TSC_BIN = join(CLIENTS, "node_modules", "typescript", "bin", "tsc");
const SUFFIX = { query: "Query", mutation: "Mutation", subscription: "Subscription" };

// A string in an example that looks like a GraphQL document: an operation keyword
// followed by a name, variables, directives or a selection set; a fragment; or a
// selection set opening on a field name.
const LOOKS_LIKE_GRAPHQL = new RegExp(
  String.raw`^\s*(?:(?:query|mutation|subscription)\b\s*(?:[A-Za-z_]\w*\s*)?[({@]` +
    String.raw`|fragment\s+\w+\s+on\s|\{\s*[A-Za-z_])`,
);
// Python's triple-quoted strings, JavaScript's template strings, then one-line
// strings. f-strings and `${}` templates are skipped: what they send is known only
// at run time.
const LITERALS = new RegExp(
  String.raw`(?<![fF])("""|''')([\s\S]*?)\1` +
    "|`([^`]*)`" +
    String.raw`|(?<![fF\\])"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'`,
  "g",
);
const FENCE = /^([ \t]*)(`{3,}|~{3,})[ \t]*(?:graphql|gql)\b[^\n]*\n([\s\S]*?)^\1\2[ \t]*$/gm;
// The text files an example may be; nothing else there (caches, images) is read.
const EXAMPLE_FILES = /\.(?:graphql|gql|md|py|js|mjs|cjs|ts|tsx|jsx|sh)$/;

const pascal = (text) =>
  text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join("");

const lineOf = (text, index) => text.slice(0, index).split("\n").length;

/** A Markdown file's ```graphql fenced blocks, each with the line it starts on. */
function fencedBlocks(markdown, file, prefix) {
  return [...markdown.matchAll(FENCE)].map((match) => ({
    origin: `${file}:${lineOf(markdown, match.index) + 1}`,
    prefix,
    text: match[3],
  }));
}

/** `.graphql` files, Markdown graphql blocks and GraphQL-looking strings in examples/. */
function exampleBlocks(dir) {
  const blocks = [];
  const paths = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && EXAMPLE_FILES.test(entry.name))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .filter((path) => !/[\\/](?:node_modules|__pycache__)[\\/]/.test(path))
    .sort();
  for (const path of paths) {
    const origin = relative(ROOT, path);
    const prefix = `Example${pascal(basename(path, extname(path)))}`;
    const text = readFileSync(path, "utf8");
    if (/\.(?:graphql|gql)$/.test(path)) {
      blocks.push({ origin, prefix, text });
    } else if (path.endsWith(".md")) {
      blocks.push(...fencedBlocks(text, origin, prefix));
    } else {
      for (const match of text.matchAll(LITERALS)) {
        const [, , triple, template, double, single] = match;
        if (template?.includes("${")) continue;
        const body = triple ?? template ?? double ?? single;
        if (!LOOKS_LIKE_GRAPHQL.test(body)) continue;
        // One-line strings carry their language's escapes; GraphQL needs only these.
        const oneLine = double !== undefined || single !== undefined;
        const unescaped = oneLine ? body.replace(/\\n/g, "\n").replace(/\\(["'\\])/g, "$1") : body;
        blocks.push({ origin: `${origin}:${lineOf(text, match.index)}`, prefix, text: unescaped });
      }
    }
  }
  return blocks;
}

/**
 * Parses and validates every block against the schema, names anonymous operations,
 * and returns one definition per entry, skipping repeats. Throws naming every
 * invalid block's origin.
 */
function operations(schema, blocks) {
  const problems = [];
  const definitions = [];
  const byName = new Map();
  const anonymous = new Set();
  for (const { origin, prefix, text } of blocks) {
    let document;
    try {
      document = parse(new Source(text, origin));
    } catch (error) {
      problems.push(`${origin}: ${error.message}`);
      continue;
    }
    const errors = validate(schema, document);
    if (errors.length > 0) {
      problems.push(...errors.map((error) => `${origin}: ${error.message}`));
      continue;
    }
    for (const node of document.definitions) {
      let definition = node;
      if (node.kind === Kind.OPERATION_DEFINITION && !node.name) {
        const body = print(node);
        if (anonymous.has(body)) continue; // the same document shown twice
        anonymous.add(body);
        const field = node.selectionSet.selections.find((s) => s.kind === Kind.FIELD);
        const base = `${prefix}${pascal(field?.name.value ?? node.operation)}`;
        let name = base;
        for (let n = 2; byName.has(name); n += 1) name = `${base}${n}`;
        definition = { ...node, name: { kind: Kind.NAME, value: name } };
      }
      const name = definition.name.value;
      const printed = print(definition);
      const seen = byName.get(name);
      if (seen?.printed === printed) continue; // the same document shown twice
      if (seen) {
        problems.push(`${origin}: "${name}" also names a different document at ${seen.origin}`);
        continue;
      }
      byName.set(name, { origin, printed });
      definitions.push({ origin, name, kind: definition.operation ?? "fragment", printed });
    }
  }
  if (problems.length > 0) {
    throw new Error(`invalid GraphQL documents against schema.graphql:\n${problems.join("\n")}`);
  }
  return definitions;
}

/** Runs a Node script to its end: exit code and stdout + stderr. */
function run(args, options) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", fail);
    child.on("close", (code) => ok({ code, output }));
  });
}

let work;
let schema;
let definitions;

before(() => {
  work = mkdtempSync(join(tmpdir(), "spaces-graphql-codegen-"));
  schema = buildSchema(readFileSync(SCHEMA, "utf8"));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test("every README and examples/ GraphQL document is valid against schema.graphql", (t) => {
  const readme = fencedBlocks(readFileSync(join(ROOT, "README.md"), "utf8"), "README.md", "Readme");
  const examples = exampleBlocks(join(ROOT, "examples"));
  // Guards the extraction itself: the README shows a query and a mutation, and
  // examples/subscribe.py a subscription.
  assert.ok(readme.length >= 2, `README.md: ${readme.length} graphql blocks found`);
  assert.ok(examples.length >= 1, `examples/: ${examples.length} GraphQL strings found`);
  definitions = operations(schema, [...readme, ...examples]);
  const kinds = new Set(definitions.map((d) => d.kind));
  for (const kind of ["query", "mutation", "subscription"]) {
    assert.ok(kinds.has(kind), `no ${kind} among ${definitions.map((d) => d.name).join(", ")}`);
  }
  const documents = join(work, "operations");
  mkdirSync(documents);
  definitions.forEach((d, i) => {
    const file = `${String(i + 1).padStart(3, "0")}-${d.name}.graphql`;
    writeFileSync(join(documents, file), `# from ${d.origin}\n${d.printed}\n`);
  });
  t.diagnostic(definitions.map((d) => `${d.name} (${d.kind}, ${d.origin})`).join("; "));
});

test("an invalid or clashing document is reported with where it comes from", () => {
  const blocks = [
    { origin: "README.md:1", prefix: "Readme", text: "{ customers(first: 2) { nodes { nope } } }" },
    { origin: "README.md:5", prefix: "Readme", text: "query Q { viewer { __typename } }" },
    { origin: "examples/x.py:3", prefix: "ExampleX", text: "query Q { viewer { name } }" },
    { origin: "examples/y.py:9", prefix: "ExampleY", text: "subscription {" },
  ];
  assert.throws(
    () => operations(schema, blocks),
    (error) =>
      /README\.md:1: Cannot query field "nope" on type "Customer"/.test(error.message) &&
      /examples\/x\.py:3: "Q" also names a different document at README\.md:5/.test(error.message) &&
      /examples\/y\.py:9: Syntax Error/.test(error.message),
  );
  const anonymous = operations(schema, [
    { origin: "README.md:1", prefix: "Readme", text: "{ viewer { __typename } }" },
    { origin: "README.md:2", prefix: "Readme", text: "{ viewer { name } }" },
    { origin: "README.md:3", prefix: "Readme", text: "{ viewer { __typename } }" },
  ]);
  assert.deepEqual(
    anonymous.map((d) => d.name),
    ["ReadmeViewer", "ReadmeViewer2"],
  );
});

test("GraphQL Code Generator types every operation; tsc --strict compiles it", async (t) => {
  if (!definitions) {
    t.skip("no operations (the extraction test failed)");
    return;
  }
  const generated = join(work, "generated");
  const codegen = await run([CODEGEN_BIN, "--config", "codegen.ts"], {
    cwd: CLIENTS,
    env: {
      ...process.env,
      CODEGEN_SCHEMA: SCHEMA,
      CODEGEN_DOCUMENTS: join(work, "operations", "*.graphql"),
      CODEGEN_OUTPUT: generated,
    },
  });
  assert.equal(codegen.code, 0, `graphql-codegen failed:\n${codegen.output}`);
  const schemaTypes = readFileSync(join(generated, "schema.ts"), "utf8");
  const operationTypes = readFileSync(join(generated, "operations.ts"), "utf8");
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const file of ["schema.ts", "operations.ts"]) {
    copyFileSync(join(generated, file), join(ARTIFACTS, file));
  }

  const exports = (types, name) =>
    new RegExp(String.raw`^export (?:type|enum|interface) ${name}\b`, "m").test(types);
  for (const name of ["Customer", "Invoice", "Subscription", "EventType", "Money", "PayInvoiceInput"]) {
    assert.ok(exports(schemaTypes, name), `schema.ts does not export ${name}`);
  }
  assert.match(schemaTypes, /DateTime: \{ input: string; output: string; \}/, "DateTime is a string");
  // Every operation's result type (`ReadmeCustomersQuery`, ...) and variables type.
  const named = definitions.flatMap(({ name, kind }) => {
    if (kind === "fragment") return [`${name}Fragment`];
    const type = `${name}${SUFFIX[kind]}`;
    return [type, `${type}Variables`];
  });
  for (const type of named) {
    assert.ok(exports(operationTypes, type), `operations.ts does not export ${type}`);
  }

  // A consumer module, importing them as a front end does. Besides compiling the
  // generated files, it pins a few shapes: enums are string unions, amounts numbers.
  writeFileSync(
    join(generated, "consumer.ts"),
    [
      `import type * as Schema from "./schema";`,
      `import type * as Operations from "./operations";`,
      `export type All = [${named.map((type) => `Operations.${type}`).join(", ")}];`,
      `export const created: Schema.EventType = "CUSTOMER_CREATED";`,
      `export const email: Schema.Customer["email"] = "alice@example.org";`,
      `export const amount: Schema.Money["amount"] = 2700;`,
      "",
    ].join("\n"),
  );
  // --strict and --isolatedModules, as front-end builds (Vite, esbuild) compile.
  const flags = ["--noEmit", "--strict", "--isolatedModules", "--pretty", "false"];
  const target = ["--target", "es2022", "--module", "preserve", "--moduleResolution", "bundler"];
  const files = ["schema.ts", "operations.ts", "consumer.ts"];
  const tsc = await run([TSC_BIN, ...flags, ...target, ...files], { cwd: generated });
  assert.equal(tsc.code, 0, `tsc --noEmit failed:\n${tsc.output}`);
  t.diagnostic(`${definitions.length} operations typed: ${named.join(", ")}`);
});
