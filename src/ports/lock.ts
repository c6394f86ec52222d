/** A lease held by one process across the cluster (Redis SET NX PX). */
export interface LeaseLock {
  /** Takes or renews the lease for `ttlMs`; true while this holder owns it. */
  acquire(name: string, ttlMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
}
