import type { LeaseLock } from "../ports/lock.js";
import type { Store } from "../ports/store.js";
import type { Logger } from "../log.js";

const LOCK = "count-reconciler";
const SLICE = 500;

/**
 * Recomputes drifted chats_count/messages_count from the rows. Every worker
 * runs one; only the holder of the cluster-wide lease sweeps, so exactly one
 * reconciles at a time, and another takes over when the holder dies.
 */
export class CountReconciler {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly lock: LeaseLock,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    const tick = (): void => {
      this.sweeping = this.sweepIfLeader().catch((err: unknown) => this.log.warn({ err }, "count reconciliation failed"));
      void this.sweeping.then(() => {
        if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.sweeping;
    await this.lock.release(LOCK).catch(() => undefined);
  }

  /** One full pass over chats then applications, renewing the lease per slice. */
  private async sweepIfLeader(): Promise<void> {
    const lease = Math.max(this.intervalMs * 3, 5000);
    if (!(await this.lock.acquire(LOCK, lease))) return;
    const started = Date.now();
    let cursor: string | null = null;
    let repaired = 0;
    do {
      const slice: { cursor: string | null; repaired: number } = await this.store.reconcileCounts(cursor, SLICE);
      cursor = slice.cursor;
      repaired += slice.repaired;
      if (cursor && !(await this.lock.acquire(LOCK, lease))) return;
    } while (cursor && this.timer);
    this.log.info({ repaired, ms: Date.now() - started, pid: process.pid }, "count reconciliation sweep");
  }
}
