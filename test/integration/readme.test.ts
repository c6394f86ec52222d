import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { eventually } from "../support/env.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The README's shell block that starts with `marker`, exactly as written. */
async function readmeBlock(marker: string): Promise<string> {
  const readme = await readFile(`${root}/README.md`, "utf8");
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(marker));
  assert.ok(block, `README has a sh block starting with ${marker}`);
  return block;
}

describe("README, as written, against `npm start`", () => {
  it("serves within 5 s of `npm start` and every curl example works", async () => {
    const started = Date.now();
    // npm start, exactly; PORT 0 so a busy 3000 cannot fail the run.
    const child = spawn("npm", ["start"], { cwd: root, env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /"port":(\d+)/.exec(out);
          if (m) {
            clearInterval(timer);
            resolve(Number(m[1]));
          } else if (Date.now() - started > 30_000) {
            clearInterval(timer);
            reject(new Error(`npm start did not listen:\n${out}`));
          }
        }, 20);
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 5000, `serving after ${elapsed} ms`);
      const firstLine = out.split("\n").find((l) => l.startsWith("{"))!;
      assert.match(firstLine, /EMBEDDED MODE: all data lives in this process's memory and is lost on exit/);

      const script = (await readmeBlock("# Create an application")).replaceAll("localhost:3000", `127.0.0.1:${port}`);
      const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], { cwd: root });
      assert.match(stdout, /"number":1,"name":"general"/);
      assert.match(stdout, /"number":1,"chat_number":1,"body":"Hello, world!"/);
      assert.match(stdout, /"number":2,"chat_number":1,"body":"Form bodies work too"/);
      assert.match(stdout, /\{"data":\[\{"number":1,"body":"Hello, world!"/, "search finds it");
      assert.match(stdout, /"body":"Edited"/);
      assert.match(stdout, /"name":"random"/);
      assert.match(stdout, /TOKEN=[A-Za-z0-9_-]{22}/);
      assert.equal(stdout.match(/"number":1,"chat_number":2,"body":"Sent once"/g)?.length, 2, "the repeat answers the original message");
      assert.doesNotMatch(stdout, /"number":2,"chat_number":2/, "and creates nothing");
      assert.doesNotMatch(stdout, /"error"/);

      // The WebSocket transcript: send each `>` frame, expect the `<` frames in order.
      const token = /TOKEN=([A-Za-z0-9_-]{22})/.exec(stdout)![1]!;
      const readme = await readFile(`${root}/README.md`, "utf8");
      const transcript = /```text\n([\s\S]*?)```/.exec(readme)![1]!.trim().split("\n");
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const received: Record<string, unknown>[] = [];
      ws.on("message", (data) => received.push(JSON.parse(data.toString())));
      await once(ws, "open");
      let expected = 0;
      for (const line of transcript) {
        const frame = JSON.parse(line.slice(2).replaceAll("<TOKEN>", token)) as Record<string, unknown>;
        if (line.startsWith("> ")) {
          ws.send(JSON.stringify(frame));
          continue;
        }
        const index = expected++;
        await eventually(() => received.length > index, 5000, `README frame ${index}: ${line}`);
        const got = received[index]!;
        for (const [key, value] of Object.entries(frame)) {
          if (value === "…") assert.equal(typeof got[key], "string", key);
          else assert.deepEqual(got[key], value, `frame ${index} ${key}: ${JSON.stringify(got)}`);
        }
      }
      ws.close();

      // Users: secrets, a signed token, a closed application, read markers, presence, delete.
      const users = (await readmeBlock("# Users: an application")).replaceAll("localhost:3000", `127.0.0.1:${port}`);
      const { stdout: answers } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", users], { cwd: root });
      // curl prints each answer without a newline: the answers follow each other in this order.
      const answered = [
        /"user_tokens_required":true/,
        /"number":1,"name":"general"/,
        /"number":1,"chat_number":1,"body":"Hi, I am Alice","sender":\{"id":"alice","name":"Alice"\}/,
        /"number":2,"chat_number":1,"body":"Oops","sender":\{"id":"alice","name":"Alice"\}/,
        /"code":"unauthorized"/,
        /\{"number":1,"unread":1\}/,
        /\{"data":\[\]\}/,
        /204\n/,
        /\{"number":1,"unread":0\}$/,
      ];
      let rest = answers;
      for (const pattern of answered) {
        const found = pattern.exec(rest);
        assert.ok(found, `${pattern} in what follows: ${rest}`);
        rest = rest.slice(found.index + found[0].length);
      }
    } finally {
      process.kill(-child.pid!, "SIGTERM");
      await once(child, "exit");
    }
  });
});
