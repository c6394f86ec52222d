import { Cluster, Redis } from "ioredis";
import type { RedisClient } from "../adapters/redis/client.js";
import type { RedisTarget } from "../config.js";
import type { Logger } from "../log.js";

export interface RedisClients {
  /** Scripts, reads, publishes. */
  commands: RedisClient;
  /** The bus's subscriptions (a subscribed connection takes no other commands). */
  subscriber: RedisClient;
}

const nodeOptions = { connectTimeout: 3000, maxRetriesPerRequest: 2 };

/** Clients for one Redis server, or for a Redis Cluster (routed by slot; sharded subscribers, one per primary). */
export function redisClients(target: RedisTarget, log: Logger): RedisClients {
  let clients: RedisClients;
  if (target.kind === "server") {
    // Not auto-pipelined: under a flood of live-event PUBLISHes its per-tick
    // queues raised peak RSS by ~70 MiB (the slow-reader test's bound is 48).
    const options = { ...nodeOptions, enableOfflineQueue: true, lazyConnect: false };
    clients = {
      commands: new Redis(target.url.toString(), options),
      subscriber: new Redis(target.url.toString(), { ...options, maxRetriesPerRequest: null }),
    };
  } else {
    // Only primaries: a replica may lag behind what a script just wrote.
    const options = { scaleReads: "master" as const, enableOfflineQueue: true, redisOptions: nodeOptions };
    clients = {
      commands: new Cluster(target.nodes, options),
      subscriber: new Cluster(target.nodes, { ...options, shardedSubscribers: true, redisOptions: { ...nodeOptions, maxRetriesPerRequest: null } }),
    };
    for (const client of [clients.commands, clients.subscriber]) {
      client.on("node error", (err: Error, node: string) => log.debug({ err: err.message, node }, "redis cluster node error"));
    }
  }
  for (const client of [clients.commands, clients.subscriber]) client.on("error", (err: Error) => log.debug({ err: err.message }, "redis connection error"));
  return clients;
}
