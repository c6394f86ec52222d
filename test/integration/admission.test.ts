import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { Api } from "../support/http.js";
import { parsePrometheus, valueOf } from "../support/prometheus-text.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";
import { rawHttp, requestHead } from "../support/raw-http.js";
import { Frozen, rabbitmqPid } from "../support/service-faults.js";

// Admission control: past MAX_INFLIGHT_CREATES unanswered creates, a process
// refuses new ones at once with 503 and Retry-After instead of queueing them.
for (const mode of ["embedded", "cluster"] as const) {
  describe(`admission control (${mode})`, () => {
    const env =
      mode === "cluster"
        ? isolatedEnv("admit", { MAX_INFLIGHT_CREATES: "20", PUBLISH_TIMEOUT_MS: "5000" })
        : { PORT: "0", HOST: "127.0.0.1", MYSQL_URL: "", REDIS_URL: "", AMQP_URL: "", ELASTICSEARCH_URL: "", MAX_INFLIGHT_CREATES: "20" };
    let proc: Proc;
    let api: Api;
    before(async () => {
      if (mode === "cluster") assert.equal((await runCli(["migrate"], env)).code, 0);
      proc = await spawnCli(mode === "cluster" ? "all" : "serve", env, mode === "cluster" ? /worker started/ : undefined);
      api = new Api(`http://127.0.0.1:${proc.port}`);
    });
    after(async () => {
      await proc?.stop();
      if (mode === "cluster") await cleanupRun(env);
    });

    it("refuses creates past the bound with 503 and Retry-After, and every accepted one is there once", async () => {
      const token = (await api.post("/api/v1/applications", { name: "admission" })).json.token as string;
      assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
      const path = `/api/v1/applications/${token}/chats/1/messages`;
      const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => api.post(path, { body: `burst ${i}` })));
      const accepted = answers.filter((r) => r.status === 201);
      const refused = answers.filter((r) => r.status === 503);
      assert.equal(accepted.length + refused.length, answers.length, `only 201 and 503: ${[...new Set(answers.map((r) => r.status))]}`);
      assert.ok(refused.length > 0, "the burst passed the bound");
      assert.ok(accepted.length >= 20, "creates up to the bound were taken");
      for (const r of refused) {
        assert.equal(r.json.error.code, "unavailable");
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
      }
      const numbers = accepted.map((r) => r.json.number as number).sort((a, b) => a - b);
      assert.deepEqual(numbers, Array.from({ length: accepted.length }, (_, i) => i + 1), "refused creates took no number");
      const page = await api.get(`${path}?limit=200&after=0`);
      assert.deepEqual(page.json.data.map((m: { number: number }) => m.number), numbers.slice(0, 200));
      assert.equal((await api.post(path, { body: "after the burst" })).status, 201, "creates flow again");
    });

    // RabbitMQ frozen holds every create at its confirm, so the bound is reached and stays reached.
    if (mode === "cluster") {
      it("past the bound refuses before reading the body: a malformed one gets 503, not 400, and the connection goes on", async () => {
        const token = (await api.post("/api/v1/applications", { name: "admission early" })).json.token as string;
        assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
        const path = `/api/v1/applications/${token}/chats/1/messages`;
        const inflight = async (): Promise<number> => valueOf(parsePrometheus(await (await fetch(`http://127.0.0.1:${proc.port}/metrics`)).text()), "chat_inflight_creates");
        const frozen = await Frozen.freeze(await rabbitmqPid(), 60_000);
        let held: ReturnType<Api["post"]>[] = [];
        try {
          held = Array.from({ length: 20 }, (_, i) => api.post(path, { body: `held ${i}` }));
          await eventually(async () => (await inflight()) === 20, 10_000, "20 creates held at their confirm");
          // Pipelined on one connection: a create whose body is not JSON, then a health check.
          const r = await rawHttp(proc.port!, [
            requestHead("POST", path, ["Host: test", "Content-Type: application/json", "Content-Length: 1"]) + "{",
            requestHead("GET", "/healthz", ["Host: test", "Connection: close"]),
          ], 10_000);
          assert.deepEqual([...r.received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])), [503, 200], r.received);
          assert.equal(r.headers["retry-after"], "1");
          assert.match(r.body, /^\{"error":\{"code":"unavailable"/);
        } finally {
          frozen.thaw();
        }
        const answers = await Promise.all(held);
        assert.deepEqual(answers.map((a) => a.status), held.map(() => 201), "the held creates were confirmed once RabbitMQ came back");
      });
    }
  });
}
