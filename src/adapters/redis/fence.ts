import { randomUUID } from "node:crypto";
import type { RedisClient } from "./client.js";
import { keySlot, SLOTS } from "./key-slot.js";
import type { RedisKeys } from "./keys.js";
import { initCounter } from "./scripts/init-counter.js";
import { readEpochMarkers } from "./scripts/read-epoch-markers.js";
import { writeEpochMarkers } from "./scripts/write-epoch-markers.js";
import { allSlots, slotsByOwner } from "./slot-owners.js";

/** Every slot's marker value as read at one moment ('' where none was). */
export type MarkerSnapshot = readonly string[];

/**
 * The numbering fence: one epoch marker per hash slot (RedisKeys.marker), so
 * each numbering script checks the marker of its own slot and a shard that
 * lost state (restarted empty, or a replica promoted without the last
 * writes) fences only its own slots. The same code runs on one server, where
 * all 16384 markers simply live together.
 */
export class SlotFence {
  private snapshot: MarkerSnapshot | null = null;
  private reading: Promise<MarkerSnapshot> | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  /** The marker that fences `key` (the one in its slot). */
  markerOf(key: string): string {
    return this.keys.marker(keySlot(key));
  }

  /** Reads every slot's marker (one script call per primary) and answers the fenced slots. */
  async fencedSlots(): Promise<number[]> {
    const values = new Array<string>(SLOTS).fill("");
    const fenced: number[] = [];
    // Few distinct values (one per recovery and server): share the strings.
    const distinct = new Map<string, string>();
    await this.perOwner(allSlots(), async (group) => {
      const markers = group.map((slot) => this.keys.marker(slot));
      const replies = (await readEpochMarkers.run(this.redis, [markers[0]!], markers)) as [number, string][];
      replies.forEach(([valid, value], i) => {
        values[group[i]!] = distinct.get(value) ?? (distinct.set(value, value), value);
        if (valid !== 1) fenced.push(group[i]!);
      });
    });
    this.snapshot = values;
    return fenced.sort((a, b) => a - b);
  }

  /** Ends the fence of exactly `slots`, under one new epoch. */
  async release(slots: number[]): Promise<void> {
    const epoch = randomUUID();
    await this.perOwner(slots, async (group) => {
      const markers = group.map((slot) => this.keys.marker(slot));
      await writeEpochMarkers.run(this.redis, [markers[0]!], [epoch, ...markers]);
    });
    this.snapshot = null;
  }

  /** Runs `step` once per primary on the slots it owns; a group its server refused (the slots moved meanwhile) slot by slot. */
  private async perOwner(slots: number[], step: (group: number[]) => Promise<void>): Promise<void> {
    await Promise.all(
      (await slotsByOwner(this.redis, slots)).map(async (group) => {
        try {
          await step(group);
        } catch (err) {
          if (group.length === 1) throw err;
          await Promise.all(group.map((slot) => step([slot])));
        }
      }),
    );
  }

  /**
   * The markers as read before now, for `initCounters` after numbering:
   * taken before the numbering script runs, never updated in place.
   */
  async markers(): Promise<MarkerSnapshot> {
    if (this.snapshot) return this.snapshot;
    this.reading ??= this.fencedSlots()
      .then(() => this.snapshot ?? [])
      .finally(() => {
        this.reading = null;
      });
    return this.reading;
  }

  /**
   * Creates the counters of new chats at 0 where `before` (read before they
   * were numbered) still matches their slot's marker. Any other is left
   * absent, to be seeded from the store on first use, and the snapshot is
   * dropped so the next creates read the markers afresh.
   */
  async initCounters(counters: string[], before: MarkerSnapshot): Promise<void> {
    await Promise.all(
      counters.map(async (counter) => {
        const slot = keySlot(counter);
        const expected = before[slot] ?? "";
        const done = expected !== "" && ((await initCounter.run(this.redis, [this.keys.marker(slot), counter], [expected])) as number[])[0] === 1;
        if (!done && this.snapshot === before) this.snapshot = null;
      }),
    );
  }
}
