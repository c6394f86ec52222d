/**
 * Every Redis key and channel the cluster uses, under one deployment prefix.
 * Keys of one chat share the hash tag `{app:chat}` and keys of one
 * application `{app}`, so each atomic step touches one slot.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  /** Versioned: a change of key layout starts with a recovery (counters re-seeded from MySQL). */
  epoch(): string {
    return `${this.prefix}epoch:2`;
  }
  chatCounter(app: string): string {
    return `${this.prefix}{${app}}:chats`;
  }
  /** An idempotency key of a chat create. */
  chatCreateKey(app: string, key: string): string {
    return `${this.prefix}{${app}}:k:${key}`;
  }
  recentChats(app: string): string {
    return `${this.prefix}{${app}}:recent`;
  }
  /** Message counter keys are `<messageCounterHead(app)><chat>}:n`, built inside the chat allocation script. */
  messageCounterHead(app: string): string {
    return `${this.prefix}{${app}:`;
  }
  messageCounter(app: string, chat: number): string {
    return `${this.prefix}{${app}:${chat}}:n`;
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
  worker(id: string): string {
    return `${this.prefix}worker:${id}`;
  }
  workerPattern(): string {
    return `${this.prefix}worker:*`;
  }
  /** Outside workerPattern(): the observation mark of counter recovery. */
  workerMark(): string {
    return `${this.prefix}workers-mark`;
  }
  channel(name: string): string {
    return `${this.prefix}live:${name}`;
  }
}
