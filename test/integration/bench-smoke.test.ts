import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

// The benchmark harness keeps working: a few seconds of every scenario against
// baseline, ceiling and product. It checks answers, never a timing.
describe("bench harness smoke", () => {
  for (const [name, script] of [
    ["bench/run.ts --smoke", ["bench/run.ts", "--smoke"]],
    ["bench/search.ts --smoke", ["bench/search.ts", "--smoke"]],
  ] as const) {
    it(`${name} runs every scenario to a successful answer`, async () => {
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", ...script], { cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
      assert.match(stdout, /\| (scenario|messages) \|/, "prints its results table");
    });
  }
});
