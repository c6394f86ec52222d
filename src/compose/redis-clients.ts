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
    const options = { ...nodeOptions, enableOfflineQueue: true, lazyConnect: false };
    clients = {
      // Auto-pipelined: every command issued in one event-loop turn, across
      // all chats, leaves in one write. (Live events no longer cost a PUBLISH
      // each — the chat log publishes a batch inside its script — which is
      // what once made the per-turn queues grow under a flood.)
      commands: new Redis(target.url.toString(), { ...options, enableAutoPipelining: true }),
      subscriber: new Redis(target.url.toString(), { ...options, maxRetriesPerRequest: null }),
    };
  } else {
    // Only primaries: a replica may lag behind what a script just wrote.
    // Not auto-pipelined, unlike one server: the failover and sharded
    // pub/sub tests were made and passed without it, and a pipeline caught
    // by a failover is a case they do not cover.
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
