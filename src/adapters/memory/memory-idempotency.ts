/** What one idempotency key stands for: the number it created, when, and a fingerprint of what was sent. */
export interface Remembered {
  number: number;
  createdAt: number;
  fingerprint: string;
}

/**
 * Embedded-mode idempotency keys with a TTL, bounded in count (the oldest key
 * is forgotten first, as an expiry would). Keys are scoped by the caller.
 */
export class MemoryIdempotency {
  private readonly entries = new Map<string, Remembered & { expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(scope: string, key: string): Remembered | null {
    const entry = this.entries.get(`${scope}\u0000${key}`);
    if (!entry) return null;
    if (entry.expires <= this.now()) {
      this.entries.delete(`${scope}\u0000${key}`);
      return null;
    }
    return entry;
  }

  set(scope: string, key: string, value: Remembered): void {
    this.entries.set(`${scope}\u0000${key}`, { ...value, expires: this.now() + this.ttlMs });
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
  }

  clear(): void {
    this.entries.clear();
  }
}
