// The npm registry reachable from our build machines serves only some
// platform builds of optional native packages (e.g. @msgpackr-extract/*). A
// lock written here then names optional dependencies it holds no entry for,
// and `npm ci` refuses it. This drops those dangling optional references, so
// run it after any `npm install` that rewrote package-lock.json.
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const names = Object.keys(lock.packages);
const removed = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
    if (!names.some((p) => p.endsWith(`node_modules/${dep}`))) {
      delete entry.optionalDependencies[dep];
      removed.push(`${path || "(root)"} -> ${dep}`);
    }
  }
}
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
console.log(removed.length ? `pruned:\n${removed.join("\n")}` : "nothing to prune");
