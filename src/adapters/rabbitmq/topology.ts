import type { Channel } from "amqplib";

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

/** Declares the exchange, both queues with their dead-letter queues, and the bindings (idempotent). */
export async function assertWriteTopology(channel: Channel, topology: WriteTopology): Promise<void> {
  await channel.assertExchange(topology.exchange, "fanout", { durable: true });
  for (const queue of [topology.persist, topology.index]) {
    await assertQueueWithDeadLetter(channel, queue);
    await channel.bindQueue(queue, topology.exchange, "");
  }
}

/** A durable queue whose rejected (malformed) messages go to `<name>.dead`. */
async function assertQueueWithDeadLetter(channel: Channel, name: string): Promise<void> {
  await channel.assertQueue(`${name}.dead`, { durable: true });
  await channel.assertQueue(name, {
    durable: true,
    arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${name}.dead` },
  });
}
