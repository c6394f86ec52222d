import type { LeaseLock } from "../ports/lock.js";
import type { WriteQueue } from "../ports/queue.js";
import type { Sequencer } from "../ports/sequencer.js";
import type { WorkerHeartbeats } from "../ports/heartbeats.js";

export interface RecoveryOptions {
  /** Longest time a publish may stay unconfirmed before its request fails. */
  publishTimeoutMs: number;
  pollMs: number;
}

/**
 * Restores the sequencer after it lost its state (Redis restarted empty).
 *
 * Every number ever handed out is either in MySQL, in the write queue, or in a
 * publish still awaiting its confirm. While the epoch marker is missing no
 * number is handed out; one leader waits out the publish timeout (so in-flight
 * publishes have landed or failed), then waits until the queue is empty and
 * every worker has committed what it held. Only then is MySQL the whole truth;
 * the marker is written and counters are re-seeded lazily from MySQL maxima.
 */
export class CounterRecovery {
  private running: Promise<void> | null = null;

  constructor(
    private readonly sequencer: Sequencer,
    private readonly queue: WriteQueue,
    private readonly workers: WorkerHeartbeats,
    private readonly lock: LeaseLock,
    private readonly options: RecoveryOptions,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  /** Starts recovery once per process; concurrent callers share it. */
  trigger(): void {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
  }

  private async run(): Promise<void> {
    const leaseMs = this.options.publishTimeoutMs + 10_000;
    if (!(await this.lock.acquire("sequencer-recovery", leaseMs))) return;
    try {
      if (await this.sequencer.hasEpoch()) return;
      await this.sleep(this.options.publishTimeoutMs);
      // Ready count zero, then every worker idle in a report made after that,
      // then still zero: a worker that died holding writes had them requeued.
      for (;;) {
        await this.lock.acquire("sequencer-recovery", leaseMs);
        if (await this.queue.drained()) {
          const since = Date.now();
          await this.sleep(this.options.pollMs);
          if ((await this.workers.idleSince(since)) && (await this.queue.drained())) break;
        }
        await this.sleep(this.options.pollMs);
      }
      await this.sequencer.setEpoch();
    } finally {
      await this.lock.release("sequencer-recovery");
    }
  }
}
