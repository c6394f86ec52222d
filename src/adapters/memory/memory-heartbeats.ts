import type { WorkerHeartbeats } from "../../ports/heartbeats.js";

export interface MemoryWorkerHeartbeatsOptions {
  /** A worker that has not beaten for this long is dead: its writes went back to the queue. */
  liveMs?: number;
  now?: () => number;
}

/** Embedded-mode WorkerHeartbeats: each worker's latest report, timestamped on arrival. */
export class MemoryWorkerHeartbeats implements WorkerHeartbeats {
  private readonly reports = new Map<string, { at: number; inFlight: number }>();
  private readonly liveMs: number;
  private readonly now: () => number;

  constructor(options: MemoryWorkerHeartbeatsOptions = {}) {
    this.liveMs = options.liveMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  async beat(workerId: string, inFlight: number): Promise<void> {
    this.reports.set(workerId, { at: this.now(), inFlight });
  }

  async idleSince(since: number): Promise<boolean> {
    const now = this.now();
    for (const [workerId, report] of this.reports) {
      if (now - report.at > this.liveMs) {
        this.reports.delete(workerId);
        continue;
      }
      if (report.at < since || report.inFlight > 0) return false;
    }
    return true;
  }
}
