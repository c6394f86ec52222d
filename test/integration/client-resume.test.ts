import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { ChatApi, ChatSocket, type LiveMessage } from "../../client/index.js";
import { loadConfig } from "../../src/config.js";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, isolatedEnv } from "../support/env.js";
import { spawnCli, spawnCluster, type Proc } from "../support/processes.js";
import { Restartable } from "../support/restartable.js";
import { TcpProxy } from "../support/tcp-proxy.js";

// The client's own resume, with no code in the test beyond the client's API:
// one client receives while another sends at 200/s, and the server the
// receiver is connected to goes away and comes back twice. Afterwards the
// receiver has delivered every acknowledged number exactly once, in order.

const RATE = 200;

/** Sends at RATE/s through the client (which retries under the same key) until stopped; resolves with the acknowledged numbers. */
function sendAtRate(api: ChatApi, token: string, chat: number): { stop(): Promise<number[]> } {
  const acked: number[] = [];
  const pending = new Set<Promise<void>>();
  let i = 0;
  const timer = setInterval(() => {
    const p: Promise<void> = api
      .sendMessage(token, chat, `at rate ${i++}`)
      .then((m) => void acked.push(m.number))
      .catch(() => undefined) // gave up after its retries: not acknowledged
      .finally(() => pending.delete(p));
    pending.add(p);
  }, 1000 / RATE);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return acked;
    },
  };
}

function assertDeliveredOnce(received: LiveMessage[], acked: number[]): void {
  const numbers = received.map((m) => m.number);
  for (let k = 1; k < numbers.length; k++) assert.ok(numbers[k]! > numbers[k - 1]!, `increasing, no duplicate: ${numbers[k - 1]} then ${numbers[k]}`);
  const delivered = new Set(numbers);
  const missing = acked.filter((n) => !delivered.has(n));
  assert.deepEqual(missing, [], "every acknowledged number delivered");
}

describe("the client resumes by itself", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("across two restarts of an embedded server, while another client sends at 200/s", async () => {
    const target = new Restartable(loadConfig({ HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent" }));
    await target.start();
    cleanups.push(() => target.close());
    const api = new ChatApi({ baseUrl: target.base });
    const { token } = await api.createApplication("resume at rate");
    await api.createChat(token);
    const receiver = new ChatSocket({ api, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, backoff: { initialMs: 50, maxMs: 500 } });
    cleanups.push(async () => receiver.close());
    const received: LiveMessage[] = [];
    receiver.on("message", (m) => received.push(m));
    receiver.connect();
    await receiver.subscribe(token, 1);

    const load = sendAtRate(api, token, 1);
    for (let restart = 0; restart < 2; restart++) {
      const before = received.length;
      await eventually(() => received.length > before + 100, 30_000, "deliveries before the restart");
      await target.stop();
      await target.start();
    }
    const after = received.length;
    await eventually(() => received.length > after + 100, 30_000, "deliveries after the last restart");
    const acked = await load.stop();
    const marker = await api.sendMessage(token, 1, "marker");
    await eventually(() => received.some((m) => m.number === marker.number), 30_000, "the marker");
    assert.ok(acked.length > 300, `${acked.length} acknowledged`);
    assertDeliveredOnce(received, [...acked, marker.number]);
  });

  it("across a kill -9 and restart of the cluster API process it is connected to", async () => {
    const env = isolatedEnv("cresume", { PUBLISH_TIMEOUT_MS: "2000" });
    const { servers, worker } = await spawnCluster(env, 2);
    const procs: Proc[] = [...servers, worker];
    const proxy = new TcpProxy("127.0.0.1", servers[1]!.port!); // the receiver's way in, as a balancer
    await proxy.start();
    cleanups.push(async () => {
      await Promise.all(procs.map((p) => p.stop("SIGKILL")));
      await proxy.cut();
      await cleanupRun(env);
    });
    const sender = new ChatApi({ baseUrl: `http://127.0.0.1:${servers[0]!.port}` });
    const viaB = new ChatApi({ baseUrl: `http://127.0.0.1:${proxy.port}` });
    const { token } = await sender.createApplication("resume across a kill");
    await sender.createChat(token);
    const receiver = new ChatSocket({ api: viaB, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket, backoff: { initialMs: 50, maxMs: 500 } });
    cleanups.push(async () => receiver.close());
    const received: LiveMessage[] = [];
    receiver.on("message", (m) => received.push(m));
    receiver.connect();
    await receiver.subscribe(token, 1);

    const load = sendAtRate(sender, token, 1);
    await eventually(() => received.length > 200, 30_000, "deliveries before the kill");
    await servers[1]!.stop("SIGKILL");
    const restarted = await spawnCli("serve", env);
    procs.push(restarted);
    proxy.retarget(restarted.port!);
    const after = received.length;
    await eventually(() => received.length > after + 200, 60_000, "deliveries after the restart");
    const acked = await load.stop();
    const marker = await sender.sendMessage(token, 1, "marker");
    await eventually(() => received.some((m) => m.number === marker.number), 30_000, "the marker");
    assertDeliveredOnce(received, [...acked, marker.number]);
  });
});
