import type { Channel } from "amqplib";

/** Classic queues, or quorum queues (replicated by Raft across the broker's nodes; RabbitMQ ≥ 3.8). */
export type QueueType = "classic" | "quorum";

/**
 * The write path on RabbitMQ: the API publishes each batch once, to a durable
 * fanout exchange bound to two queues, so the persisting and the indexing
 * consumer each get it and the broker confirms only once both queues hold it.
 * (The worker used to republish every batch to the index queue: a second
 * publish, confirm and encode per batch.)
 */
export interface WriteTopology {
  exchange: string;
  /** Consumed by the write worker (MySQL); its depth is what counter recovery waits on. */
  persist: string;
  /** Consumed by the index worker (Elasticsearch). */
  index: string;
}

/** Exchange and persist queue share the configured name (exchanges and queues are separate namespaces). */
export const writeTopology = (name: string): WriteTopology => ({ exchange: name, persist: name, index: `${name}.index` });

/** Declares the exchange, both queues (of `type`) with their dead-letter queues, and the bindings (idempotent). */
export async function assertWriteTopology(channel: Channel, topology: WriteTopology, type: QueueType): Promise<void> {
  await channel.assertExchange(topology.exchange, "fanout", { durable: true });
  for (const queue of [topology.persist, topology.index]) {
    await assertQueueWithDeadLetter(channel, queue, type);
    await channel.bindQueue(queue, topology.exchange, "");
  }
}

/** A durable queue of `type` whose rejected (malformed) messages go to `<name>.dead`, of the same type. */
async function assertQueueWithDeadLetter(channel: Channel, name: string, type: QueueType): Promise<void> {
  const typeArgument = type === "quorum" ? { "x-queue-type": "quorum" } : {};
  await channel.assertQueue(`${name}.dead`, { durable: true, arguments: typeArgument });
  await channel.assertQueue(name, {
    durable: true,
    arguments: { ...typeArgument, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${name}.dead` },
  });
}
