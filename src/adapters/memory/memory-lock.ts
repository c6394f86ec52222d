import type { LeaseLock } from "../../ports/lock.js";

/** Who holds a lease and until when. */
export interface Lease {
  holder: object;
  expiresAt: number;
}

/**
 * Embedded-mode LeaseLock. Each instance is one holder; instances that share
 * a `leases` table compete for the same names, like processes on one Redis.
 */
export class MemoryLeaseLock implements LeaseLock {
  private readonly holder = {};

  constructor(
    private readonly leases: Map<string, Lease> = new Map(),
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const lease = this.leases.get(name);
    if (lease && lease.holder !== this.holder && lease.expiresAt > now) return false;
    this.leases.set(name, { holder: this.holder, expiresAt: now + ttlMs });
    return true;
  }

  async release(name: string): Promise<void> {
    if (this.leases.get(name)?.holder === this.holder) this.leases.delete(name);
  }
}
