import type { WorkerHeartbeats } from "../../ports/heartbeats.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";
import { beat } from "./scripts/beat.js";
import { idleWorkers } from "./scripts/idle-workers.js";
import { observe } from "./scripts/observe.js";

/** A worker's report lives a few beats (on Redis's clock); a dead worker's report expires. */
const REPORT_TTL_MS = 3000;

/** Reports and the mark in one hash slot, so every step is one script on one shard. */
export class RedisWorkerHeartbeats implements WorkerHeartbeats {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async beat(workerId: string, mark: number, inFlight: number): Promise<number> {
    return Number(await beat.run(this.redis, [this.keys.workerReports(), this.keys.workerMark()], [workerId, mark, inFlight, REPORT_TTL_MS]));
  }

  async observe(): Promise<number> {
    return Number(await observe.run(this.redis, [this.keys.workerMark()], []));
  }

  async idleWorkers(mark: number): Promise<number | null> {
    const idle = Number(await idleWorkers.run(this.redis, [this.keys.workerReports()], [mark]));
    return idle < 0 ? null : idle;
  }
}
