import type { WorkerHeartbeats } from "../../ports/heartbeats.js";

export interface MemoryWorkerHeartbeatsOptions {
  /** A worker that has not beaten for this long is dead: its writes went back to the queue. */
  liveMs?: number;
  now?: () => number;
}

/** Embedded-mode WorkerHeartbeats: each worker's latest report and the mark it was counted after. */
export class MemoryWorkerHeartbeats implements WorkerHeartbeats {
  private readonly reports = new Map<string, { at: number; mark: number; inFlight: number }>();
  private readonly liveMs: number;
  private readonly now: () => number;
  private mark = 0;

  constructor(options: MemoryWorkerHeartbeatsOptions = {}) {
    this.liveMs = options.liveMs ?? 15_000;
    this.now = options.now ?? Date.now;
  }

  async beat(workerId: string, mark: number, inFlight: number): Promise<number> {
    this.reports.set(workerId, { at: this.now(), mark, inFlight });
    return this.mark;
  }

  async observe(): Promise<number> {
    return ++this.mark;
  }

  async idleWorkers(mark: number): Promise<number | null> {
    const now = this.now();
    let idle = 0;
    for (const [workerId, report] of this.reports) {
      if (now - report.at > this.liveMs) {
        this.reports.delete(workerId);
        continue;
      }
      if (report.mark < mark || report.inFlight > 0) return null;
      idle++;
    }
    return idle;
  }
}
