import { randomUUID } from "node:crypto";
import type { LeaseLock } from "../../ports/lock.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

/** Takes the lease when free, renews it when ours: one atomic step. */
const acquire = new LuaScript(`
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

const release = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export class RedisLeaseLock implements LeaseLock {
  private readonly holder = randomUUID();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async acquire(name: string, ttlMs: number): Promise<boolean> {
    return (await acquire.run(this.redis, [this.keys.lock(name)], [this.holder, ttlMs])) === 1;
  }

  async release(name: string): Promise<void> {
    await release.run(this.redis, [this.keys.lock(name)], [this.holder]);
  }
}
