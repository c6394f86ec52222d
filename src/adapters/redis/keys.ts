/** Every Redis key and channel the cluster uses, under one deployment prefix. */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  epoch(): string {
    return `${this.prefix}epoch`;
  }
  chatCounter(app: string): string {
    return `${this.prefix}a:${app}:chats`;
  }
  /** Message counter keys are `<messageCounterPrefix(app)><chat>`. */
  messageCounterPrefix(app: string): string {
    return `${this.prefix}a:${app}:c:`;
  }
  messageCounter(app: string, chat: number): string {
    return `${this.messageCounterPrefix(app)}${chat}`;
  }
  recentMessages(app: string, chat: number): string {
    return `${this.prefix}recent:m:${app}:${chat}`;
  }
  recentChats(app: string): string {
    return `${this.prefix}recent:c:${app}`;
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
