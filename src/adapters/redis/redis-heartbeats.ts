import type { Redis } from "ioredis";
import type { WorkerHeartbeats } from "../../ports/heartbeats.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

/** A worker's report lives a few beats (expired by Redis, on its own clock); a dead worker's report expires. */
const REPORT_TTL_MS = 3000;

/** Stores the report and answers the current mark, in one step. */
const beat = new LuaScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return tonumber(redis.call('GET', KEYS[2]) or '0')
`);

export class RedisWorkerHeartbeats implements WorkerHeartbeats {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async beat(workerId: string, mark: number, inFlight: number): Promise<number> {
    return Number(await beat.run(this.redis, [this.keys.worker(workerId), this.keys.workerMark()], [`${mark}:${inFlight}`, REPORT_TTL_MS]));
  }

  async observe(): Promise<number> {
    return this.redis.incr(this.keys.workerMark());
  }

  async idleWorkers(mark: number): Promise<number | null> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", this.keys.workerPattern(), "COUNT", 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
    if (keys.length === 0) return 0;
    let idle = 0;
    for (const report of await this.redis.mget(keys)) {
      if (report === null) continue; // expired between SCAN and MGET: that worker is gone
      const [reportMark, inFlight] = report.split(":").map(Number);
      if ((reportMark ?? 0) < mark || inFlight !== 0) return null;
      idle++;
    }
    return idle;
  }
}
