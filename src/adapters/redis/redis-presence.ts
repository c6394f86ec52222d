import type { User } from "../../domain/user.js";
import type { Presence } from "../../ports/presence.js";
import type { RedisClient } from "./client.js";
import type { RedisKeys } from "./keys.js";
import { LuaScript } from "./lua-script.js";

/**
 * Shared by the presence scripts. KEYS: 1 the chat's sorted set (user → when
 * the last of their processes ages out), 2 the hash user → JSON
 * `{n: name | false, p: {process: ageing-out time}}`. Time is the Redis
 * server's (TIME), the one clock every process shares.
 */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function load(user)
  local raw = redis.call('HGET', KEYS[2], user)
  if raw then return cjson.decode(raw) end
  return nil
end
-- Forgets the processes that aged out; answers the latest time left (0: none).
local function prune(rec)
  local latest = 0
  for process, expiry in pairs(rec.p) do
    if expiry <= now then rec.p[process] = nil elseif expiry > latest then latest = expiry end
  end
  return latest
end
local function store(user, rec, latest)
  if latest == 0 then
    redis.call('HDEL', KEYS[2], user)
    redis.call('ZREM', KEYS[1], user)
  else
    redis.call('HSET', KEYS[2], user, cjson.encode(rec))
    redis.call('ZADD', KEYS[1], latest, user)
  end
end
-- Both keys outlive their last member, and vanish with an abandoned chat.
local function keep(ttl)
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  redis.call('PEXPIRE', KEYS[2], ttl * 2)
end
local function name(value)
  if value == '' then return false end
  return value
end
`;

/** ARGV: user, name ('' for none), process, ttl (ms). Reply: 1 joined, 0 was there already. */
const join = new LuaScript(`${PRELUDE}
local rec = load(ARGV[1]) or {p = {}}
local before = prune(rec)
rec.p[ARGV[3]] = now + tonumber(ARGV[4])
rec.n = name(ARGV[2])
store(ARGV[1], rec, prune(rec))
keep(tonumber(ARGV[4]))
if before == 0 then return 1 end
return 0
`);

/** ARGV: user, process. Reply: 1 left (no process has them any more), 0 still there or gone already. */
const leave = new LuaScript(`${PRELUDE}
local rec = load(ARGV[1])
if not rec then return 0 end
rec.p[ARGV[2]] = nil
local latest = prune(rec)
store(ARGV[1], rec, latest)
if latest == 0 then return 1 end
return 0
`);

/** ARGV: process, ttl (ms), then per user: id, name. Reply: the ids that had aged out (they are back). */
const refresh = new LuaScript(`${PRELUDE}
local back = {}
local ttl = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  local rec = load(ARGV[i]) or {p = {}}
  if prune(rec) == 0 then table.insert(back, ARGV[i]) end
  rec.p[ARGV[1]] = now + ttl
  rec.n = name(ARGV[i + 1])
  store(ARGV[i], rec, prune(rec))
end
keep(ttl)
return back
`);

/** Reply: per user gone, id and name ('' for none). */
const sweep = new LuaScript(`${PRELUDE}
local gone = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  local rec = load(user) or {p = {}}
  local latest = prune(rec)
  store(user, rec, latest)
  if latest == 0 then
    table.insert(gone, user)
    table.insert(gone, rec.n or '')
  end
end
return gone
`);

/** Reply: per member, id and name ('' for none). */
const members = new LuaScript(`${PRELUDE}
local out = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local rec = load(user)
  table.insert(out, user)
  table.insert(out, (rec and rec.n) or '')
end
return out
`);

/**
 * Presence per chat in the chat's slot (both keys share its hash tag).
 * Outside the epoch fence: it takes no number, and what a failover loses
 * comes back with every process's next refresh.
 */
export class RedisPresence implements Presence {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async join(app: string, chat: number, process: string, user: User, ttlMs: number): Promise<boolean> {
    return (await join.run(this.redis, this.chatKeys(app, chat), [user.id, user.name ?? "", process, ttlMs])) === 1;
  }

  async leave(app: string, chat: number, process: string, userId: string): Promise<boolean> {
    return (await leave.run(this.redis, this.chatKeys(app, chat), [userId, process])) === 1;
  }

  async refresh(app: string, chat: number, process: string, users: User[], ttlMs: number): Promise<User[]> {
    if (users.length === 0) return [];
    const back = new Set((await refresh.run(this.redis, this.chatKeys(app, chat), [process, ttlMs, ...users.flatMap((u) => [u.id, u.name ?? ""])])) as string[]);
    return users.filter((u) => back.has(u.id));
  }

  async sweep(app: string, chat: number): Promise<User[]> {
    return pairs((await sweep.run(this.redis, this.chatKeys(app, chat), [])) as string[]);
  }

  async members(app: string, chat: number): Promise<User[]> {
    return pairs((await members.run(this.redis, this.chatKeys(app, chat), [])) as string[]);
  }

  private chatKeys(app: string, chat: number): string[] {
    return [this.keys.presence(app, chat), this.keys.presenceUsers(app, chat)];
  }
}

/** [id, name, id, name, …] → users ('' is no name: token names are never empty, domain/user-token.ts). */
function pairs(flat: string[]): User[] {
  const users: User[] = [];
  for (let i = 0; i < flat.length; i += 2) users.push({ id: flat[i]!, name: flat[i + 1] || null });
  return users;
}
