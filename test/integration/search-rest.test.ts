import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv, services } from "../support/env.js";
import { Api } from "../support/http.js";
import { runCli, spawnCli, type Proc } from "../support/processes.js";
import { TcpProxy } from "../support/tcp-proxy.js";

describe("search over REST with the worker and the real Elasticsearch", () => {
  const es = new URL(services.elasticsearch);
  const esProxy = new TcpProxy(es.hostname, Number(es.port || 9200));
  const env = isolatedEnv("search");
  let procs: Proc[] = [];
  let api: Api;
  let token: string;
  let chat: string;

  before(async () => {
    await esProxy.start();
    const viaProxy = { ...env, ELASTICSEARCH_URL: `http://127.0.0.1:${esProxy.port}` };
    assert.equal((await runCli(["migrate"], env)).code, 0);
    // Both roles must start while Elasticsearch is away; indexing waits for it.
    await esProxy.cut();
    procs = [await spawnCli("worker", viaProxy), await spawnCli("serve", viaProxy)];
    await esProxy.restore();
    api = new Api(`http://127.0.0.1:${procs[1]!.port}`);
    token = (await api.post("/api/v1/applications", { name: "search" })).json.token;
    const number = (await api.postReady(`/api/v1/applications/${token}/chats`, {})).json.number;
    chat = `/api/v1/applications/${token}/chats/${number}`;
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop("SIGKILL")));
    await esProxy.cut();
    await cleanupRun(env);
  });

  const search = async (q: string): Promise<{ status: number; numbers: number[]; json: any }> => {
    const res = await api.get(`${chat}/messages/search?q=${encodeURIComponent(q)}`);
    return { status: res.status, numbers: res.status === 200 ? res.json.data.map((h: { number: number }) => h.number) : [], json: res.json };
  };

  it("finds a new message within 2 s of its 201, and an edit by its new text only", async () => {
    for (const body of ["Hello, world!", "Grüße aus Köln", "مرحبا بالعالم", "你好世界", "party 🎉 tonight"]) {
      const created = await api.post(`${chat}/messages`, { body });
      assert.equal(created.status, 201);
      const word = body.split(/[ ,!]/)[0]!.slice(0, 3);
      // Polled with a deadline of 2 s from the 201: the freshness the API promises.
      await eventually(async () => (await search(word)).numbers.includes(created.json.number), 2000, `"${word}" to find "${body}"`);
    }
    const edited = await api.post(`${chat}/messages`, { body: "original wording" });
    await eventually(async () => (await search("origin")).numbers.includes(edited.json.number), 2000, "the original text");
    await api.patch(`${chat}/messages/${edited.json.number}`, { body: "replacement text" });
    await eventually(async () => {
      const [byNew, byOld] = await Promise.all([search("replace"), search("origin")]);
      return byNew.numbers.includes(edited.json.number) && !byOld.numbers.includes(edited.json.number);
    }, 2000, "the edit to replace the old text in the index");
  });

  it("answers hostile and odd queries without a 500", async () => {
    for (const q of ["*", "?", '"', "\\", "~", "{", "}", "OR", "AND", "a OR b", "hel*", "body:x", "(((", "x".repeat(10_000), "🎉", "' OR 1=1 --", "\u0000"]) {
      const res = await search(q);
      assert.equal(res.status, 200, `${q.slice(0, 20)} → ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
    }
    for (const q of ["", "   ", "\t"]) {
      const res = await search(q);
      assert.equal(res.status, 400, JSON.stringify(q));
      assert.equal(res.json.error.code, "validation_failed");
    }
    assert.equal((await api.get(`${chat}/messages/search`)).status, 400, "q is required");
    assert.equal((await api.get(`${chat}/messages/search?q=hi&after=not-a-cursor`)).status, 400);
    assert.equal((await api.get(`/api/v1/applications/${token}/chats/999/messages/search?q=hi`)).status, 404);
  });

  it("keeps accepting messages while Elasticsearch is away, answers search with 503, and catches up", async () => {
    await esProxy.cut();
    const sent: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await api.post(`${chat}/messages`, { body: `outage note ${i}` });
      assert.equal(res.status, 201, "sends succeed without Elasticsearch");
      sent.push(res.json.number);
    }
    const during = await search("outage");
    assert.equal(during.status, 503);
    assert.equal(during.json.error.code, "unavailable");
    const ready = await api.get("/readyz");
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json.down, ["elasticsearch"]);
    await esProxy.restore();
    await eventually(async () => {
      const res = await api.get(`${chat}/messages/search?q=outage&limit=50`);
      return res.status === 200 && sent.every((n) => res.json.data.some((h: { number: number }) => h.number === n));
    }, 60_000, "every message sent during the outage to become searchable");
  });

  it("rebuilds the index with the reindex command while searches keep answering the same", async () => {
    const bodies = Array.from({ length: 300 }, (_, i) => ({ body: `reindex sample ${i} ${i % 2 ? "alpha" : "beta"}` }));
    await Promise.all(bodies.map((b) => api.post(`${chat}/messages`, b)));
    const expected = await eventually(async () => {
      const res = await api.get(`${chat}/messages/search?q=reindex%20alpha&limit=200`);
      return res.json.data?.length === 150 ? res.json.data.map((h: { number: number }) => h.number).sort() : undefined;
    }, 30_000, "all samples indexed");
    let running = true;
    let searches = 0;
    const loop = (async () => {
      while (running) {
        const res = await api.get(`${chat}/messages/search?q=reindex%20alpha&limit=200`);
        assert.equal(res.status, 200, `a search failed during reindex: ${JSON.stringify(res.json)}`);
        assert.deepEqual(res.json.data.map((h: { number: number }) => h.number).sort(), expected);
        searches++;
      }
    })();
    const result = await runCli(["reindex"], { ...env, LOG_LEVEL: "info" });
    running = false;
    await loop;
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /reindex complete/);
    assert.ok(searches > 0);
    const after = await api.get(`${chat}/messages/search?q=reindex%20alpha&limit=200`);
    assert.deepEqual(after.json.data.map((h: { number: number }) => h.number).sort(), expected);
  });
});
