import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { deleteRedisPrefix } from "../support/cleanup.js";
import { eventually } from "../support/env.js";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer } from "../support/in-process.js";

// /readyz follows numbering: while the sequencer has no epoch (Redis lost its
// state and counter recovery fences), creates answer 503, so the process is
// not ready, and says why. Once it is ready again, creates succeed.

describe("readiness while numbering recovers (cluster adapters, in process)", () => {
  let target: InProcessServer;
  let api: Api;
  let redis: Redis;
  let app: string;

  before(async () => {
    target = await startInProcess("cluster", "ready");
    api = new Api(target.base);
    redis = new Redis(target.env.REDIS_URL!);
    app = `/api/v1/applications/${(await api.post("/api/v1/applications", { name: "ready" })).json.token}`;
    assert.equal((await api.postReady(`${app}/chats`, {})).status, 201);
  });
  after(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  it("is 503 naming numbering while the epoch is missing, and creates work once it is ready again", async () => {
    const ready = await api.get("/readyz");
    assert.equal(ready.status, 200, JSON.stringify(ready.json));
    assert.equal(ready.json.checks.numbering, "up");

    await deleteRedisPrefix(redis, target.env.REDIS_PREFIX!); // Redis "restarted empty"
    const fenced = await api.get("/readyz");
    assert.equal(fenced.status, 503, JSON.stringify(fenced.json));
    assert.equal(fenced.json.status, "unavailable");
    assert.deepEqual(fenced.json.down, ["numbering"]);
    assert.equal(fenced.json.checks.numbering, "down");
    assert.equal(fenced.json.checks.redis, "up");
    assert.equal(fenced.json.reason, "numbering is recovering");
    assert.ok(Number(fenced.headers.get("retry-after")) >= 1);

    // Nothing but readiness polls: the check itself starts the recovery.
    await eventually(async () => (await api.get("/readyz")).status === 200, 60_000, "ready again");
    const chat = await api.post(`${app}/chats`, {});
    assert.equal(chat.status, 201, JSON.stringify(chat.json));
    assert.equal(chat.json.number, 2, "numbering resumes from MySQL");
  });
});
