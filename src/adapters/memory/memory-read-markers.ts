import type { RecentReadMarkers } from "../../ports/read-markers.js";

/**
 * Embedded-mode RecentReadMarkers: the store is in the same process, so this
 * only has to cover the in-process worker's lag. Bounded: past `max`
 * markers the one moved longest ago is forgotten (the store still has it).
 */
export class MemoryReadMarkers implements RecentReadMarkers {
  private readonly markers = new Map<string, number>();

  constructor(private readonly max = 100_000) {}

  async advance(app: string, chat: number, user: string, number: number): Promise<number> {
    const key = `${app}\u0000${chat}\u0000${user}`;
    const marker = Math.max(this.markers.get(key) ?? -1, number);
    this.markers.delete(key); // re-inserted last: the most recently moved
    this.markers.set(key, marker);
    if (this.markers.size > this.max) this.markers.delete(this.markers.keys().next().value as string);
    return marker;
  }

  async get(app: string, chat: number, user: string): Promise<number | null> {
    return this.markers.get(`${app}\u0000${chat}\u0000${user}`) ?? null;
  }
}
