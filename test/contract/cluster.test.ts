// Every port contract against the cluster adapters on the real MariaDB, Redis,
// RabbitMQ and Elasticsearch (memory.test.ts runs the same contracts in memory).
// These are also the per-backend round trips through the project's own
// adapter setup: MySQL write and read, Redis Lua, RabbitMQ publish-confirm and
// consume, Elasticsearch index and search. The Redis contracts run twice, on
// one Redis server and on the local Redis Cluster (3 primaries, 3 replicas:
// scripts/services.sh cluster up); the queue contract on classic and on
// quorum queues.

import { after } from "node:test";
import { Cluster, Redis } from "ioredis";
import { fileURLToPath } from "node:url";
import { ElasticsearchSearchIndex } from "../../src/adapters/elasticsearch/elasticsearch-search.js";
import { migrate } from "../../src/adapters/mysql/migrate.js";
import { MysqlStore } from "../../src/adapters/mysql/mysql-store.js";
import { RabbitConnection } from "../../src/adapters/rabbitmq/rabbit-connection.js";
import { RabbitWriteConsumer } from "../../src/adapters/rabbitmq/rabbit-write-consumer.js";
import { RabbitWriteQueue } from "../../src/adapters/rabbitmq/rabbit-write-queue.js";
import { writeTopology, type QueueType } from "../../src/adapters/rabbitmq/topology.js";
import type { RedisClient } from "../../src/adapters/redis/client.js";
import { SlotFence } from "../../src/adapters/redis/fence.js";
import { RedisKeys } from "../../src/adapters/redis/keys.js";
import { RedisBus } from "../../src/adapters/redis/redis-bus.js";
import { RedisChatLog } from "../../src/adapters/redis/redis-chat-log.js";
import { RedisWorkerHeartbeats } from "../../src/adapters/redis/redis-heartbeats.js";
import { RedisLeaseLock } from "../../src/adapters/redis/redis-lock.js";
import { RedisPresence } from "../../src/adapters/redis/redis-presence.js";
import { RedisReadMarkers } from "../../src/adapters/redis/redis-read-markers.js";
import { RedisRecentChats } from "../../src/adapters/redis/redis-recent-chats.js";
import { RedisSequencer } from "../../src/adapters/redis/redis-sequencer.js";
import { cleanupRun, deleteIndices, deleteRedisPrefix, deleteWriteTopology } from "../support/cleanup.js";
import { busContract } from "../support/contract-bus.js";
import { chatLogContract } from "../support/contract-chat-log.js";
import { endFence } from "../support/contract-helpers.js";
import { heartbeatsContract } from "../support/contract-heartbeats.js";
import { lockContract } from "../support/contract-lock.js";
import { queueContract } from "../support/contract-queue.js";
import { presenceContract } from "../support/contract-presence.js";
import { readMarkersContract } from "../support/contract-read-markers.js";
import { recentChatsContract } from "../support/contract-recent.js";
import { searchContract } from "../support/contract-search.js";
import { sequencerContract } from "../support/contract-sequencer.js";
import { storeContract } from "../support/contract-store.js";
import { isolatedEnv, services } from "../support/env.js";
import { clusterNodes } from "../support/redis.js";

const env = isolatedEnv("contract");
const mysqlUrl = new URL(env.MYSQL_URL!);
const sqlDir = fileURLToPath(new URL("../../sql", import.meta.url));
let part = 0;
/** A fresh key prefix / queue / alias per suite instance, all under this run's names. */
const unique = (): string => `${++part}`;
/** Idempotency keys outlive every test. */
const IDEMPOTENCY_TTL_SECONDS = 600;
const redisClients: RedisClient[] = [];
const keep = <T extends RedisClient>(client: T): T => {
  redisClients.push(client);
  return client;
};

/** One Redis server, and the Redis Cluster: a client for commands and one for the bus's subscriptions. */
const redisTargets: { label: string; client: () => RedisClient; subscriber: () => RedisClient }[] = [
  { label: "redis", client: () => keep(new Redis(env.REDIS_URL!)), subscriber: () => keep(new Redis(env.REDIS_URL!)) },
  {
    label: "redis-cluster",
    client: () => keep(new Cluster(clusterNodes(services.redisCluster))),
    subscriber: () => keep(new Cluster(clusterNodes(services.redisCluster), { shardedSubscribers: true })),
  },
];

after(async () => {
  for (const client of redisClients) client.disconnect();
  await cleanupRun(env);
});

storeContract("mysql", async () => {
  await migrate(mysqlUrl, sqlDir);
  const store = new MysqlStore(mysqlUrl);
  return {
    store,
    corruptCount: async (app, chat, value) => {
      if (chat === null) await store.pool.query("UPDATE applications SET chats_count = ? WHERE token = ?", [value, app]);
      else
        await store.pool.query(
          "UPDATE chats c JOIN applications a ON a.id = c.application_id SET c.messages_count = ? WHERE a.token = ? AND c.number = ?",
          [value, app, chat],
        );
    },
    cleanup: () => store.close(),
  };
});

for (const { label, client: newClient, subscriber } of redisTargets) {
  sequencerContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}seq${unique()}:`);
    const sequencer = new RedisSequencer(client, keys, new SlotFence(client, keys), IDEMPOTENCY_TTL_SECONDS);
    await endFence(sequencer);
    return { sequencer, loseState: async () => void (await deleteRedisPrefix(client, keys.prefix)), cleanup: async () => void (await deleteRedisPrefix(client, keys.prefix)) };
  });

  chatLogContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}log${unique()}:`);
    const fence = new SlotFence(client, keys);
    const sequencer = new RedisSequencer(client, keys, fence, IDEMPOTENCY_TTL_SECONDS);
    const chatLog = new RedisChatLog(client, keys, fence, { keep: 20, ttlSeconds: 60, idempotencyTtlSeconds: IDEMPOTENCY_TTL_SECONDS });
    const bus = new RedisBus(newClient(), subscriber(), keys);
    await endFence(sequencer);
    return {
      sequencer,
      chatLog,
      bus,
      maxPerChat: 20,
      loseState: async () => void (await deleteRedisPrefix(client, keys.prefix)),
      cleanup: async () => {
        await bus.close();
        await deleteRedisPrefix(client, keys.prefix);
      },
    };
  });

  recentChatsContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}recent${unique()}:`);
    return { recentChats: new RedisRecentChats(client, keys, 20, 60), maxPerApp: 20, cleanup: async () => void (await deleteRedisPrefix(client, keys.prefix)) };
  });

  readMarkersContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}read${unique()}:`);
    return { markers: new RedisReadMarkers(client, keys, 60), cleanup: async () => void (await deleteRedisPrefix(client, keys.prefix)) };
  });

  presenceContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}presence${unique()}:`);
    return { presence: new RedisPresence(client, keys), cleanup: async () => void (await deleteRedisPrefix(client, keys.prefix)) };
  });

  busContract(label, async () => {
    const keys = new RedisKeys(`${env.REDIS_PREFIX}bus${unique()}:`);
    return { a: new RedisBus(newClient(), subscriber(), keys), b: new RedisBus(newClient(), subscriber(), keys), cleanup: async () => undefined };
  });

  lockContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}lock${unique()}:`);
    return { a: new RedisLeaseLock(client, keys), b: new RedisLeaseLock(client, keys), cleanup: async () => void (await deleteRedisPrefix(client, keys.prefix)) };
  });

  heartbeatsContract(label, async () => {
    const client = newClient();
    const keys = new RedisKeys(`${env.REDIS_PREFIX}hb${unique()}:`);
    return { heartbeats: new RedisWorkerHeartbeats(client, keys), cleanup: async () => void (await deleteRedisPrefix(client, keys.prefix)) };
  });
}

for (const type of ["classic", "quorum"] satisfies QueueType[]) {
  queueContract(`rabbitmq ${type}`, async () => {
    const connection = new RabbitConnection(new URL(env.AMQP_URL!), type);
    const topology = writeTopology(`${env.QUEUE_NAME}${unique()}`);
    const options = { prefetch: 10, batchMs: 5, onError: () => undefined };
    return {
      queue: new RabbitWriteQueue(connection, topology, 5000),
      consumer: new RabbitWriteConsumer(connection, topology, "persist", options),
      indexConsumer: new RabbitWriteConsumer(connection, topology, "index", options),
      cleanup: async () => {
        await deleteWriteTopology(await connection.confirmChannel(), topology);
        await connection.close();
      },
    };
  });
}

searchContract("elasticsearch", async () => {
  const alias = `${env.SEARCH_ALIAS}-c${unique()}`;
  const search = new ElasticsearchSearchIndex({ node: env.ELASTICSEARCH_URL!, alias });
  return {
    search,
    cleanup: async () => {
      await search.close();
      await deleteIndices(env.ELASTICSEARCH_URL!, `${alias}*`);
    },
  };
});
