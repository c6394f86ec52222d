import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Cluster, Redis } from "ioredis";
import { keySlot, slotTag } from "../../src/adapters/redis/key-slot.js";
import { RedisKeys } from "../../src/adapters/redis/keys.js";
import { RedisBus } from "../../src/adapters/redis/redis-bus.js";
import { chatChannel } from "../../src/domain/live-batch.js";
import { cleanupRun } from "../support/cleanup.js";
import { eventually, services } from "../support/env.js";
import { CLUSTER_PORTS, onNode, shardOf, shards } from "../support/cluster-nodes.js";
import { Api } from "../support/http.js";
import { layouts, type Server } from "../support/layouts.js";
import type { Proc } from "../support/processes.js";
import { clusterNodes } from "../support/redis.js";
import { tcpLocalPorts } from "../support/service-faults.js";
import { WsClient } from "../support/ws-client.js";

// Sharded pub/sub on the local Redis Cluster (3 primaries, 3 replicas), three
// API processes and a worker: a chat's live frames are published on the
// shard that owns the chat's slot and travel nowhere else, and a process
// that has no subscriber of the chat is not subscribed to it on any node.
// Checked with the cluster's own means: MONITOR on every primary, CLUSTER
// INFO's bus counters on every node, PUBSUB SHARDNUMSUB and CLIENT LIST.

const MESSAGES = 50;

/** The cluster bus's counters of sharded publishes, per node. */
async function publishShardCounters(): Promise<Map<number, { sent: number; received: number; classic: number }>> {
  const out = new Map<number, { sent: number; received: number; classic: number }>();
  for (const port of CLUSTER_PORTS) {
    const text = String(await onNode(port, (n) => n.call("CLUSTER", "INFO")));
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1] ?? 0);
    out.set(port, {
      sent: field("cluster_stats_messages_publishshard_sent"),
      received: field("cluster_stats_messages_publishshard_received"),
      classic: field("cluster_stats_messages_publish_received"),
    });
  }
  return out;
}

/** Shard-channel subscriptions per connection of process `pid` on the node at `port`. */
async function shardSubscriptionsOf(pid: number, port: number): Promise<number[]> {
  const list = String(await onNode(port, (n) => n.call("CLIENT", "LIST")));
  const ports = tcpLocalPorts(pid, port);
  return list
    .split("\n")
    .map((line) => new Map(line.trim().split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const)))
    .filter((f) => ports.has(Number(f.get("addr")?.split(":").pop())))
    .map((f) => Number(f.get("ssub")));
}

describe("sharded pub/sub on the Redis Cluster: a chat's frames stay on its shard (the local cluster)", () => {
  const layout = layouts()[1]!;
  const env = layout.env("spubsub");
  const keys = new RedisKeys(env.REDIS_PREFIX!);
  let servers: Server[] = [];
  let worker: Proc;
  let token: string;
  const clients: WsClient[] = [];

  before(async () => {
    ({ servers, worker } = await layout.spawn(env, 3));
    const api = new Api(servers[0]!.origin);
    token = (await api.post("/api/v1/applications", { name: "sharded" })).json.token;
    for (let i = 0; i < 6; i++) assert.equal((await api.postReady(`/api/v1/applications/${token}/chats`, {})).status, 201);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await Promise.all([...servers, worker].map((p) => p?.stop("SIGKILL")));
    await layout.close();
    await cleanupRun(env);
  });

  it("computes every key's slot as the cluster does, and a tag for every slot", async () => {
    const samples = [keys.messageCounter(token, 1), keys.chatLog(token, 2), keys.chatCounter(token), keys.channel(chatChannel(token, 3)), keys.workerReports(), keys.lock("x"), "no tag", "{}{x}", "é✓{a}"];
    for (let slot = 0; slot < 16384; slot += 1021) samples.push(keys.marker(slot));
    for (const key of samples) assert.equal(keySlot(key), Number(await onNode(7000, (n) => n.call("CLUSTER", "KEYSLOT", key))), key);
    for (let slot = 0; slot < 16384; slot++) assert.equal(keySlot(`{${slotTag(slot)}}`), slot);
  });

  it("publishes a chat's frames only on the shard that owns it; a process without a subscriber of it is not subscribed to it anywhere", async () => {
    // Chat X is watched through process 0; chat Y, on another shard, through process 1; process 2 takes the sends.
    const shardByChat = new Map<number, number>();
    for (let chat = 1; chat <= 6; chat++) shardByChat.set(chat, (await shardOf(keySlot(keys.messageCounter(token, chat)))).primary);
    const x = 1;
    const y = [...shardByChat].find(([, primary]) => primary !== shardByChat.get(x))![0];
    const owner = shardByChat.get(x)!;
    const table = await shards();
    const ownerShard = table.find((s) => s.primary === owner)!;
    const primaries = table.map((s) => s.primary);
    const channelX = keys.channel(chatChannel(token, x));

    const watcherX = await WsClient.connect(servers[0]!.ws);
    const watcherY = await WsClient.connect(servers[1]!.ws);
    clients.push(watcherX, watcherY);
    assert.equal((await watcherX.request({ op: "subscribe", app: token, chat: x })).op, "subscribed");
    assert.equal((await watcherY.request({ op: "subscribe", app: token, chat: y })).op, "subscribed");

    // monitor() opens a connection of its own; the client it is called on never connects.
    const monitors = await Promise.all(primaries.map((port) => new Redis({ port, host: "127.0.0.1", lazyConnect: true }).monitor()));
    const spublishes = new Map<number, number>(primaries.map((p) => [p, 0]));
    monitors.forEach((m, i) =>
      m.on("monitor", (_time: string, args: string[]) => {
        if (args[0]?.toLowerCase() === "spublish" && args[1] === channelX) spublishes.set(primaries[i]!, spublishes.get(primaries[i]!)! + 1);
      }),
    );
    const before = await publishShardCounters();
    try {
      const sender = new Api(servers[2]!.origin);
      for (let i = 0; i < MESSAGES; i++) assert.equal((await sender.post(`/api/v1/applications/${token}/chats/${x}/messages`, { body: `x ${i}` })).status, 201);
      await watcherX.until(() => watcherX.count(token, x) >= MESSAGES, 20_000, "every frame of chat X");
      // Frames of one channel arrive in order: once the marker on Y arrived, Y's connection got whatever it was going to.
      const marker = await sender.post(`/api/v1/applications/${token}/chats/${y}/messages`, { body: "marker" });
      await watcherY.until(() => watcherY.has(token, y, marker.json.number), 20_000, "the marker on chat Y");
    } finally {
      for (const m of monitors) m.disconnect();
    }
    // The bus forwards to replicas asynchronously: wait until the owner's replicas counted every frame.
    let afterwards = await publishShardCounters();
    await eventually(async () => {
      afterwards = await publishShardCounters();
      return ownerShard.replicas.every((r) => afterwards.get(r)!.received - before.get(r)!.received >= spublishes.get(owner)!);
    }, 10_000, "the owner's replicas to receive every sharded publish").catch(() => undefined);

    console.log(
      `# chat X (slot ${keySlot(channelX)}) on primary ${owner}: SPUBLISH per primary ${JSON.stringify(Object.fromEntries(spublishes))}; ` +
        `bus publishshard received per node ${JSON.stringify(Object.fromEntries(CLUSTER_PORTS.map((p) => [p, afterwards.get(p)!.received - before.get(p)!.received])))}`,
    );
    // MONITOR: the append script's SPUBLISH of chat X runs on its owner only.
    assert.ok(spublishes.get(owner)! >= 1, `SPUBLISH of ${channelX} on its owner ${owner}`);
    for (const port of primaries.filter((p) => p !== owner)) assert.equal(spublishes.get(port), 0, `no SPUBLISH of chat X on primary ${port}`);

    // The cluster bus: only the owner's replicas received sharded publishes of chat X's shard; no classic publish went anywhere.
    const delta = (port: number, k: "sent" | "received" | "classic"): number => afterwards.get(port)![k] - before.get(port)![k];
    assert.ok(delta(owner, "sent") >= spublishes.get(owner)! * ownerShard.replicas.length, "the owner sent each frame to its replicas");
    for (const replica of ownerShard.replicas) assert.ok(delta(replica, "received") >= spublishes.get(owner)!, `replica ${replica} of the owner received them`);
    const yShard = table.find((s) => s.primary === shardByChat.get(y))!;
    const elsewhere = CLUSTER_PORTS.filter((p) => !ownerShard.replicas.includes(p) && !yShard.replicas.includes(p));
    for (const port of elsewhere) assert.equal(delta(port, "received"), 0, `node ${port} outside both shards received no sharded publish`);
    for (const port of CLUSTER_PORTS) assert.equal(delta(port, "classic"), 0, `node ${port} received no classic publish`);

    // Subscriptions: on the owner, exactly one subscriber of chat X, and it is process 0's.
    assert.deepEqual(await onNode(owner, (n) => n.call("PUBSUB", "SHARDNUMSUB", channelX)), [channelX, 1]);
    for (const port of primaries.filter((p) => p !== owner)) assert.deepEqual(await onNode(port, (n) => n.call("PUBSUB", "SHARDNUMSUB", channelX)), [channelX, 0]);
    assert.deepEqual((await shardSubscriptionsOf(servers[0]!.child.pid!, owner)).filter((n) => n > 0), [1], "process 0 subscribes chat X on its owner");
    for (const i of [1, 2]) {
      const onOwner = await shardSubscriptionsOf(servers[i]!.child.pid!, owner);
      assert.ok(onOwner.every((n) => n === 0), `process ${i} has no shard subscription on chat X's owner (${onOwner})`);
    }
    assert.equal(watcherY.count(token, x), 0);
  });

  it("reports a reconnect once a shard's subscriber connection was killed and resubscribed, and delivers on that shard again", async () => {
    const busKeys = new RedisKeys(`${env.REDIS_PREFIX}bus:`);
    const publisher = new Cluster(clusterNodes(services.redisCluster));
    const subscriber = new Cluster(clusterNodes(services.redisCluster), { shardedSubscribers: true });
    const bus = new RedisBus(publisher, subscriber, busKeys);
    try {
      let reconnects = 0;
      bus.onReconnect(() => reconnects++);
      const got: string[] = [];
      bus.onMessage((channel, payload) => got.push(`${channel} ${Buffer.from(payload).toString()}`));
      await bus.subscribe("room");
      await bus.publish("room", new TextEncoder().encode("before"));
      await eventually(() => got.includes("room before"), 10_000, "delivery before the kill");
      const owner = (await shardOf(keySlot(busKeys.channel("room")))).primary;
      /** Ids of this process's connections on the owner that hold a shard subscription. */
      const subscribed = async (): Promise<string[]> => {
        const ours = tcpLocalPorts(process.pid, owner);
        const list = String(await onNode(owner, (n) => n.call("CLIENT", "LIST", "TYPE", "pubsub")));
        return list
          .split("\n")
          .map((line) => new Map(line.trim().split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const)))
          .filter((f) => ours.has(Number(f.get("addr")?.split(":").pop())) && Number(f.get("ssub")) > 0)
          .map((f) => f.get("id")!);
      };
      const [killed, ...others] = await subscribed();
      assert.deepEqual(others, [], "one sharded subscriber connection on the owner");
      const before = reconnects;
      await onNode(owner, (n) => n.call("CLIENT", "KILL", "ID", killed!));
      await eventually(async () => reconnects > before && (await subscribed()).some((id) => id !== killed), 30_000, "a new subscribed connection, and the bus to report the reconnect");
      await bus.publish("room", new TextEncoder().encode("after"));
      await eventually(() => got.includes("room after"), 10_000, "delivery after the reconnect");
    } finally {
      await bus.close();
      publisher.disconnect();
    }
  });
});
