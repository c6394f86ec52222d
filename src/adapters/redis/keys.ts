import { slotTag } from "./key-slot.js";

/**
 * Every Redis key and channel the cluster uses, under one deployment prefix.
 * Keys of one chat share the hash tag `{app:chat}` and keys of one
 * application `{app}`, so each atomic step touches one slot; a chat's and an
 * application's live channels carry the same tags, so their frames are
 * published on the shard that owns them.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  /**
   * The epoch marker of one hash slot, in that slot (its tag hashes there).
   * Versioned with the counters' layout: a change of layout starts with a
   * recovery (counters re-seeded from MySQL).
   */
  marker(slot: number): string {
    return `${this.prefix}{${slotTag(slot)}}:epoch:3`;
  }
  chatCounter(app: string): string {
    return `${this.prefix}{${app}}:chats:3`;
  }
  /** An idempotency key of a chat create. */
  chatCreateKey(app: string, key: string): string {
    return `${this.prefix}{${app}}:k:${key}`;
  }
  recentChats(app: string): string {
    return `${this.prefix}{${app}}:recent`;
  }
  messageCounter(app: string, chat: number): string {
    return `${this.prefix}{${app}:${chat}}:n:3`;
  }
  chatLog(app: string, chat: number): string {
    return `${this.prefix}{${app}:${chat}}:log`;
  }
  /** An idempotency key of a message send, per chat. */
  messageSendKey(app: string, chat: number, key: string): string {
    return `${this.prefix}{${app}:${chat}}:k:${key}`;
  }
  /** Users' recent read markers of a chat: a hash, user id → number. */
  readMarkers(app: string, chat: number): string {
    return `${this.prefix}{${app}:${chat}}:read`;
  }
  /** A chat's present users: a sorted set scored by when each ages out. */
  presence(app: string, chat: number): string {
    return `${this.prefix}{${app}:${chat}}:presence`;
  }
  /** A chat's present users' names and processes: a hash, user id → JSON. */
  presenceUsers(app: string, chat: number): string {
    return `${this.prefix}{${app}:${chat}}:presence:users`;
  }
  lock(name: string): string {
    return `${this.prefix}lock:${name}`;
  }
  /** Every worker's report, in one hash in one slot (a cluster cannot SCAN across shards). */
  workerReports(): string {
    return `${this.prefix}{workers}:reports`;
  }
  /** The observation mark of counter recovery, in the reports' slot. */
  workerMark(): string {
    return `${this.prefix}{workers}:mark`;
  }
  channel(name: string): string {
    return `${this.prefix}{${name}}:live`;
  }
  /** The bus channel name inside a Redis channel name (null for a channel that is not one). */
  channelName(channel: string): string | null {
    const head = `${this.prefix}{`;
    return channel.startsWith(head) && channel.endsWith("}:live") ? channel.slice(head.length, -"}:live".length) : null;
  }
}
