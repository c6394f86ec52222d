import type { LeaseLock } from "../ports/lock.js";
import type { WriteQueue } from "../ports/queue.js";
import type { Sequencer } from "../ports/sequencer.js";
import type { WorkerHeartbeats } from "../ports/heartbeats.js";

export interface RecoveryOptions {
  /** Longest time a publish may stay unconfirmed before its request fails. */
  publishTimeoutMs: number;
  pollMs: number;
  /** Told about a recovery attempt that failed (it is retried after pollMs). */
  onError: (err: unknown) => void;
}

const LEASE = "sequencer-recovery";

/**
 * Restores the sequencer after it lost state (Redis restarted empty, a
 * replica promoted without the last writes).
 *
 * Every number ever handed out is either in MySQL, in the write queue, or in a
 * publish still awaiting its confirm. Where the sequencer is fenced (its epoch
 * marker lost, or no longer trusted) no number is handed out; one leader
 * notes what is fenced, waits out the publish timeout (so in-flight publishes
 * have landed or failed), then waits until the queue is empty and every
 * worker attached to it has committed what it held. Only then is MySQL the
 * whole truth for what it noted; that fence ends and counters there are
 * re-seeded lazily from MySQL maxima. A loss noticed later waits for its own
 * recovery. Nothing here compares clocks of different hosts: worker
 * reports are ordered by marks (see WorkerHeartbeats).
 */
export class CounterRecovery {
  private running: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly sequencer: Sequencer,
    private readonly queue: WriteQueue,
    private readonly workers: WorkerHeartbeats,
    private readonly lock: LeaseLock,
    private readonly options: RecoveryOptions,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  /** Starts recovery once per process; concurrent callers share it. Never
   * rejects: a failed attempt (Redis flapping, say) is reported and retried. */
  trigger(): void {
    this.running ??= this.run()
      .catch((err: unknown) => {
        this.options.onError(err);
        this.retry ??= setTimeout(() => {
          this.retry = null;
          this.trigger();
        }, this.options.pollMs);
        this.retry.unref();
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** Whether this process is running a recovery now (for readiness and metrics). */
  get active(): boolean {
    return this.running !== null;
  }

  private async run(): Promise<void> {
    const leaseMs = this.options.publishTimeoutMs + 10_000;
    if (!(await this.lock.acquire(LEASE, leaseMs))) return;
    try {
      const endFence = await this.sequencer.fenced();
      if (!endFence) return;
      await this.sleep(this.options.publishTimeoutMs);
      while (!(await this.everyWriteDurable())) {
        // A leader that lost its lease stops: another process holds it now.
        if (!(await this.lock.acquire(LEASE, leaseMs))) return;
        await this.sleep(this.options.pollMs);
      }
      if (!(await this.lock.acquire(LEASE, leaseMs))) return;
      await endFence();
    } finally {
      await this.lock.release(LEASE);
    }
  }

  /**
   * Nothing waits in the queue; then, after a fresh mark, every live worker
   * reported holding nothing, and at least as many did as the broker has
   * consumers (a frozen worker stops reporting but stays attached, so it
   * keeps this false until the broker drops it and requeues its writes);
   * then still nothing waits.
   */
  private async everyWriteDurable(): Promise<boolean> {
    if ((await this.queue.backlog()).waiting > 0) return false;
    const mark = await this.workers.observe();
    await this.sleep(this.options.pollMs);
    const idle = await this.workers.idleWorkers(mark);
    if (idle === null) return false;
    const after = await this.queue.backlog();
    return after.waiting === 0 && idle >= after.consumers;
  }
}
