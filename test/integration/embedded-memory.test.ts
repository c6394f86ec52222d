import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { Api } from "../support/http.js";
import { spawnCli } from "../support/processes.js";

const rssMiB = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
};

describe("embedded mode keeps memory bounded under a long send loop", () => {
  it("retains at most the configured messages while 24,000 messages of 4 KiB flow through 60 chats", async () => {
    const proc = await spawnCli("serve", {
      PORT: "0",
      HOST: "127.0.0.1",
      MYSQL_URL: "",
      REDIS_URL: "",
      AMQP_URL: "",
      ELASTICSEARCH_URL: "",
      EMBEDDED_MAX_MESSAGES: "2000",
      EMBEDDED_MAX_MESSAGES_PER_CHAT: "100",
      CREATES_PER_SECOND_PER_TOKEN: "1000000",
      // A heap cap turns retention past the bounds into a crash (the sends then fail), whatever the
      // garbage collector's timing; kept copies of 20,000 more bodies would need ≥ 80 MiB each.
      NODE_OPTIONS: "--max-old-space-size=192",
    });
    try {
      const api = new Api(`http://127.0.0.1:${proc.port}`);
      const token = (await api.post("/api/v1/applications", { name: "soak" })).json.token;
      const chats = 60;
      for (let c = 0; c < chats; c++) assert.equal((await api.post(`/api/v1/applications/${token}/chats`, {})).status, 201);
      const body = "x".repeat(4096);
      let sent = 0;
      const sendRound = async (n: number): Promise<void> => {
        for (let done = 0; done < n; done += 200) {
          const results = await Promise.all(
            Array.from({ length: 200 }, (_, i) => api.post(`/api/v1/applications/${token}/chats/${1 + ((sent + i) % chats)}/messages`, { body })),
          );
          assert.ok(results.every((r) => r.status === 201));
          sent += 200;
        }
        Api.bodies.length = 0; // the client keeps no history of this soak
      };
      await sendRound(4000); // past every cap: the steady state
      const warm = await rssMiB(proc.child.pid!);
      await sendRound(20_000);
      const end = await rssMiB(proc.child.pid!);
      // Unbounded, 20,000 more 4 KiB bodies would add ≥ 80 MiB per copy kept
      // (store, search index and chat log each hold one); RSS also moves with
      // the collector's timing, hence the margin.
      assert.ok(end - warm < 80, `RSS grew ${Math.round(end - warm)} MiB (warm ${Math.round(warm)} MiB, end ${Math.round(end)} MiB)`);
      const page = await api.get(`/api/v1/applications/${token}/chats/1/messages?limit=200`);
      assert.ok(page.json.data.length <= 100 + 64, `chat 1 retains ${page.json.data.length}`);
      assert.equal(page.json.data[0].number, sent / chats, "the newest message is kept");
      assert.equal((await api.get(`/api/v1/applications/${token}/chats/1`)).json.messages_count, sent / chats, "counts still count every message");
    } finally {
      await proc.stop();
    }
  });
});
