import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer } from "../support/in-process.js";

// Application renames write MySQL on the request path while the worker's
// batches insert chats under the same application row and raise its
// chats_count: InnoDB picks one of them as a deadlock victim. The store
// retries the victim, so no rename answers 503.

const RENAMES = 500;
const CREATES = 1500;
const CONCURRENCY = 16;

async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

describe("renames racing chat creates (cluster adapters, in process)", () => {
  let target: InProcessServer;
  let api: Api;
  let token: string;

  before(async () => {
    // A generous confirm timeout: the creates here only make deadlocks; a busy box must not fail them.
    target = await startInProcess("cluster", "dead", { WORKER_BATCH_MS: "5", PUBLISH_TIMEOUT_MS: "5000" });
    api = new Api(target.base);
    token = (await api.post("/api/v1/applications", { name: "racing" })).json.token;
    assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
  });
  after(async () => target?.stop());

  it(`answers 200 to all ${RENAMES} renames while ${CREATES} chats are created`, async () => {
    const renames: number[] = [];
    const creates: number[] = [];
    await Promise.all([
      pool(RENAMES, CONCURRENCY, async (i) => {
        renames.push((await api.patch(`/api/v1/applications/${token}`, { name: `name ${i}` })).status);
      }),
      pool(CREATES, CONCURRENCY, async () => {
        creates.push((await api.post(`/api/v1/applications/${token}/chats`, {})).status);
      }),
    ]);
    const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((t, s) => ((t[s] = (t[s] ?? 0) + 1), t), {});
    assert.deepEqual(tally(renames), { 200: RENAMES });
    assert.deepEqual(tally(creates), { 201: CREATES });
  });
});
