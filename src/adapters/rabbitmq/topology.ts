import type { Channel } from "amqplib";

/** Classic queues, or quorum queues (replicated by Raft across the broker's nodes; RabbitMQ ≥ 3.8). */
export type QueueType = "classic" | "quorum";

/** A durable queue of `type` whose rejected (malformed) messages go to `<name>.dead`, of the same type. */
export async function assertQueueWithDeadLetter(channel: Channel, name: string, type: QueueType): Promise<void> {
  const typeArgument = type === "quorum" ? { "x-queue-type": "quorum" } : {};
  await channel.assertQueue(`${name}.dead`, { durable: true, arguments: typeArgument });
  await channel.assertQueue(name, {
    durable: true,
    arguments: { ...typeArgument, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${name}.dead` },
  });
}
