import type { Redis } from "ioredis";
import type { WorkerHeartbeats } from "../../ports/heartbeats.js";
import type { RedisKeys } from "./keys.js";

/** A worker's report lives a few beats; a dead worker's report expires. */
const REPORT_TTL_MS = 3000;

export class RedisWorkerHeartbeats implements WorkerHeartbeats {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async beat(workerId: string, inFlight: number): Promise<void> {
    await this.redis.set(this.keys.worker(workerId), `${Date.now()}:${inFlight}`, "PX", REPORT_TTL_MS);
  }

  async idleSince(since: number): Promise<boolean> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", this.keys.workerPattern(), "COUNT", 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    if (keys.length === 0) return true;
    const reports = await this.redis.mget(keys);
    return reports.every((report) => {
      if (report === null) return true; // expired between SCAN and MGET: that worker is gone
      const [at, inFlight] = report.split(":").map(Number);
      return (at ?? 0) >= since && inFlight === 0;
    });
  }
}
