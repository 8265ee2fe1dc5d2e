// Copies the prebuilt browser bundles of the packages in package-lock.json into
// spaces_graphql/static/graphiql/vendor/ (run by `make graphiql-assets`, after `npm ci`).
// No bundler: GraphiQL 3's UMD build (graphql and graphql-ws included) needs only
// React and ReactDOM as globals.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "spaces_graphql", "static", "graphiql", "vendor");

const files = {
  react: ["umd/react.production.min.js"],
  "react-dom": ["umd/react-dom.production.min.js"],
  graphiql: ["graphiql.min.js", "graphiql.min.css"],
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const versions = {};
for (const [pkg, paths] of Object.entries(files)) {
  const meta = JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8"));
  versions[pkg] = meta.version;
  for (const path of paths) {
    const name = path.split("/").pop();
    // Drop the sourceMappingURL comment: the maps are not shipped.
    const text = readFileSync(join(modules, pkg, path), "utf8").replace(
      /\n?\/[/*]# sourceMappingURL=\S+?(\s*\*\/)?\s*$/,
      "\n",
    );
    writeFileSync(join(out, name), text);
  }
  copyFileSync(join(modules, pkg, "LICENSE"), join(out, `LICENSE.${pkg}`));
}
writeFileSync(join(out, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`vendored into ${out}:`, versions);
