/**
 * At most one typing event per key (a user in a chat) per `intervalMs`:
 * typing indicators are ephemeral and refreshed by the typist's client, so
 * whatever comes faster is dropped, never queued. Bounded: keys idle past the
 * interval are forgotten once there are too many.
 */
export class TypingThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Whether an event for `key` passes now (and counts as the latest). */
  pass(key: string): boolean {
    const now = this.now();
    const last = this.last.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.last.set(key, now);
    if (this.last.size > this.maxKeys) for (const [k, at] of this.last) if (now - at >= this.intervalMs) this.last.delete(k);
    return true;
  }
}
