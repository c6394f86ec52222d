import { Cluster } from "ioredis";
import type { RedisClient } from "./client.js";
import { SLOTS } from "./key-slot.js";

/**
 * `slots` grouped by the primary that owns them in the client's current slot
 * table (one group on a single server). Slots whose owner is not known
 * come as groups of one, routed by Redis itself.
 */
export async function slotsByOwner(client: RedisClient, slots: number[]): Promise<number[][]> {
  if (!(client instanceof Cluster)) return slots.length > 0 ? [slots] : [];
  // A cluster client learns the slot table before it runs queued commands: once this answers, it has one.
  if (client.status !== "ready") await client.ping();
  const groups = new Map<string, number[]>();
  const alone: number[][] = [];
  for (const slot of slots) {
    const owner = client.slots[slot]?.[0];
    if (owner === undefined) alone.push([slot]);
    else if (groups.has(owner)) groups.get(owner)!.push(slot);
    else groups.set(owner, [slot]);
  }
  return [...groups.values(), ...alone];
}

/** Every slot. */
export const allSlots = (): number[] => Array.from({ length: SLOTS }, (_, slot) => slot);
