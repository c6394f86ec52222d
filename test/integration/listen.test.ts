import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { spawnCli, type Proc } from "../support/processes.js";

// uSockets listens with SO_REUSEPORT unless told otherwise, so a second
// server on a taken port used to start and silently share it. It must fail
// at startup with one line naming the port.

const root = fileURLToPath(new URL("../..", import.meta.url));
// The default host, as `npm start` listens (with a specific address a taken port already failed).
const embedded = { HOST: "0.0.0.0", MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "", NODE_ENV: "production" };

describe("exclusive listen", () => {
  let first: Proc;
  after(async () => first?.stop());

  it("a second `serve` on a taken port exits non-zero with one line naming the port", async () => {
    // A fixed port for both: Linux lets a second SO_REUSEPORT socket join a
    // port bound by number, not one the kernel picked for PORT=0.
    const port = String(await freePort());
    first = await spawnCli("serve", { ...embedded, PORT: port });
    const second = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve"], { cwd: root, env: { ...process.env, ...embedded, PORT: port }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    // Either it exits (the fix) or it starts listening (the bug): whichever comes first.
    const outcome = await new Promise<{ code: number | null } | "listening">((resolve) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/API listening/.test(output)) resolve("listening");
      };
      second.stdout.on("data", onData);
      second.stderr.on("data", onData);
      second.once("exit", (code) => resolve({ code }));
    });
    if (outcome === "listening") {
      second.kill("SIGKILL");
      assert.fail(`the second server listened on the taken port ${port}:\n${output}`);
    }
    assert.notEqual(outcome.code, 0, output);
    const naming = output.split("\n").filter((line) => line.includes(port));
    assert.equal(naming.length, 1, output);
    assert.match(naming[0]!, new RegExp(`cannot listen on 0\\.0\\.0\\.0:${port}`));
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, "the first server is untouched");
  });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
