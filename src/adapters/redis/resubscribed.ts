import { Cluster } from "ioredis";
import type { RedisClient } from "./client.js";
import { slotTag } from "./key-slot.js";
import type { RedisKeys } from "./keys.js";

/**
 * Calls `handler` each time the subscriber came back after its connection
 * broke (or, on a cluster, after a shard's subscriber was rebuilt because
 * its node failed or its slots moved) and every channel is subscribed again:
 * whatever was published in between was lost to it.
 *
 * ioredis sends the resubscriptions itself, before it tells us ("ready" on
 * one server, "subscribersReady" on a cluster); a probe subscription sent
 * now on the same connection is answered after them, so once one probe per
 * shard is answered, every channel is live again.
 */
export function onResubscribed(subscriber: RedisClient, keys: RedisKeys, handler: () => void): void {
  const probe = (slots: number[]): void => {
    Promise.all(
      slots.map(async (slot) => {
        const channel = keys.channel(slotTag(slot));
        await subscriber.ssubscribe(channel);
        await subscriber.sunsubscribe(channel);
      }),
    ).then(handler, () => undefined); // broke again: the next reconnect probes again
  };
  if (subscriber instanceof Cluster) {
    subscriber.on("subscribersReady", () => probe(oneSlotPerPrimary(subscriber)));
    return;
  }
  let connectedBefore = false;
  subscriber.on("ready", () => {
    if (connectedBefore) probe([0]);
    connectedBefore = true;
  });
}

/** A slot of each primary in the cluster's current slot table. */
function oneSlotPerPrimary(cluster: Cluster): number[] {
  const bySlot = new Map<string, number>();
  cluster.slots.forEach((nodes, slot) => {
    const primary = nodes[0];
    if (primary !== undefined && !bySlot.has(primary)) bySlot.set(primary, slot);
  });
  return [...bySlot.values()];
}
