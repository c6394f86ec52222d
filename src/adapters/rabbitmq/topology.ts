import type { Channel } from "amqplib";

/** A durable queue whose rejected (malformed) messages go to `<name>.dead`. */
export async function assertQueueWithDeadLetter(channel: Channel, name: string): Promise<void> {
  await channel.assertQueue(`${name}.dead`, { durable: true });
  await channel.assertQueue(name, {
    durable: true,
    arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${name}.dead` },
  });
}
