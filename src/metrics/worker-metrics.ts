import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { WriteEvent } from "../domain/types.js";
import type { WorkerObserver } from "../ports/worker-observer.js";

/** The worker role's Prometheus metrics. */
export class WorkerMetrics implements WorkerObserver {
  readonly registry = new Registry();
  private readonly batches: Counter;
  private readonly lag: Gauge;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.batches = new Counter({ name: "chat_worker_batches_total", help: "Write batches committed to MySQL", registers });
    this.lag = new Gauge({
      name: "chat_worker_lag_seconds",
      help: "Age of the oldest write in the last committed batch: from its creation on an API process to its commit (clocks of both machines)",
      registers,
    });
  }

  persisted(batch: readonly WriteEvent[], now: number): void {
    this.batches.inc();
    // A create's updatedAt is its creation time; an edit's is when it was made.
    let oldest = now;
    for (const event of batch) oldest = Math.min(oldest, writtenAt(event));
    this.lag.set((now - oldest) / 1000);
  }
}

/** When the write was made on its API process (every event carries its entity's version). */
function writtenAt(event: WriteEvent): number {
  switch (event.kind) {
    case "chat":
      return event.chat.updatedAt;
    case "read_marker":
      return event.marker.updatedAt;
    default:
      return event.message.updatedAt;
  }
}
