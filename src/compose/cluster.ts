import { ElasticsearchSearchIndex } from "../adapters/elasticsearch/elasticsearch-search.js";
import { MysqlStore } from "../adapters/mysql/mysql-store.js";
import { RabbitConnection } from "../adapters/rabbitmq/rabbit-connection.js";
import { RabbitWriteConsumer } from "../adapters/rabbitmq/rabbit-write-consumer.js";
import { RabbitWriteQueue } from "../adapters/rabbitmq/rabbit-write-queue.js";
import { writeTopology } from "../adapters/rabbitmq/topology.js";
import { SlotFence } from "../adapters/redis/fence.js";
import { RedisKeys } from "../adapters/redis/keys.js";
import { RedisBus } from "../adapters/redis/redis-bus.js";
import { RedisWorkerHeartbeats } from "../adapters/redis/redis-heartbeats.js";
import { RedisLeaseLock } from "../adapters/redis/redis-lock.js";
import { RedisChatLog } from "../adapters/redis/redis-chat-log.js";
import { RedisPresence } from "../adapters/redis/redis-presence.js";
import { RedisReadMarkers } from "../adapters/redis/redis-read-markers.js";
import { RedisRecentChats } from "../adapters/redis/redis-recent-chats.js";
import { RedisSequencer } from "../adapters/redis/redis-sequencer.js";
import type { ClusterUrls, Config } from "../config.js";
import type { Logger } from "../log.js";
import type { Backends } from "./backends.js";
import { redisClients } from "./redis-clients.js";

/** MySQL, Redis (one server or a Redis Cluster), RabbitMQ and Elasticsearch adapters from the configured URLs. */
export function clusterBackends(config: Config, urls: ClusterUrls, log: Logger): Backends {
  const { commands: redis, subscriber } = redisClients(urls.redis, log);
  const keys = new RedisKeys(config.redisPrefix);
  const fence = new SlotFence(redis, keys);
  const store = new MysqlStore(urls.mysql, 20);
  const amqp = new RabbitConnection(urls.amqp, config.amqpQueueType);
  const topology = writeTopology(config.queueName);
  const queue = new RabbitWriteQueue(amqp, topology, config.publishTimeoutMs);
  const search = new ElasticsearchSearchIndex({ node: urls.elasticsearch.toString(), alias: config.searchAlias });
  const sequencer = new RedisSequencer(redis, keys, fence, config.idempotencyTtlSeconds);
  const consumerOptions = {
    prefetch: config.workerPrefetch,
    batchMs: config.workerBatchMs,
    onError: (err: unknown) => log.warn({ err }, "write batch failed; retrying"),
  };
  return {
    store,
    sequencer,
    queue,
    chatLog: new RedisChatLog(redis, keys, fence, { keep: config.recentPerChat, ttlSeconds: config.recentTtlSeconds, idempotencyTtlSeconds: config.idempotencyTtlSeconds }),
    recentChats: new RedisRecentChats(redis, keys, config.recentPerChat, config.recentTtlSeconds),
    readMarkers: new RedisReadMarkers(redis, keys, config.recentTtlSeconds),
    presence: new RedisPresence(redis, keys),
    bus: new RedisBus(redis, subscriber, keys),
    search,
    lock: new RedisLeaseLock(redis, keys),
    heartbeats: new RedisWorkerHeartbeats(redis, keys),
    writeConsumer: () => new RabbitWriteConsumer(amqp, topology, "persist", consumerOptions),
    indexConsumer: () => new RabbitWriteConsumer(amqp, topology, "index", consumerOptions),
    readiness: [
      { name: "mysql", check: () => store.ping() },
      { name: "redis", check: () => sequencer.ping() },
      { name: "rabbitmq", check: () => queue.ping() },
      { name: "elasticsearch", check: () => search.ping() },
    ],
    async close() {
      await queue.close();
      await Promise.allSettled([amqp.close(), store.close(), search.close()]);
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}
