import type { Presence } from "../ports/presence.js";
import type { ChatService } from "./chat-service.js";
import type { User } from "./user.js";

export interface PresenceDeps {
  presence: Presence;
  chats: ChatService;
  /** This process's name in presence (unique per process start). */
  process: string;
  /** A process that stops refreshing is out of presence this long after its last refresh. */
  ttlMs: number;
  /** Chats this process has subscribers of: they hear of users whose process died. */
  watched: () => Iterable<{ app: string; chat: number }>;
  onJoined: (app: string, chat: number, user: User) => void;
  onLeft: (app: string, chat: number, user: User) => void;
  onError: (err: unknown) => void;
}

interface LocalChat {
  app: string;
  chat: number;
  /** user id → the user and how many of this process's sockets hold them here. */
  users: Map<string, { user: User; sockets: number }>;
}

/**
 * Presence: a chat's members are the users with a subscribed
 * socket on any process. This process counts its own sockets per user, so the
 * shared presence hears of a user once per process, and the join or leave of
 * the user's first or last socket anywhere is told once. Every `ttlMs / 4` it
 * refreshes its users and sweeps the chats it watches for users whose process
 * died: they age out between `ttlMs` and `ttlMs * 5 / 4` after its last refresh.
 */
export class PresenceService {
  private readonly local = new Map<string, LocalChat>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: PresenceDeps) {}

  /** A socket of `user` subscribed to the chat. */
  enter(app: string, chat: number, user: User): void {
    const key = `${app}\u0000${chat}`;
    let local = this.local.get(key);
    if (!local) this.local.set(key, (local = { app, chat, users: new Map() }));
    const held = local.users.get(user.id);
    if (held) {
      held.sockets++;
      return;
    }
    local.users.set(user.id, { user, sockets: 1 });
    this.deps.presence.join(app, chat, this.deps.process, user, this.deps.ttlMs).then(
      (joined) => joined && this.deps.onJoined(app, chat, user),
      this.deps.onError, // the next refresh puts them in, and reports them then
    );
  }

  /** That socket's subscription ended (unsubscribed, closed). */
  exit(app: string, chat: number, user: User): void {
    const key = `${app}\u0000${chat}`;
    const local = this.local.get(key);
    const held = local?.users.get(user.id);
    if (!local || !held || --held.sockets > 0) return;
    local.users.delete(user.id);
    if (local.users.size === 0) this.local.delete(key);
    this.deps.presence.leave(app, chat, this.deps.process, user.id).then(
      (left) => left && this.deps.onLeft(app, chat, user),
      this.deps.onError, // they age out and a sweep reports them
    );
  }

  async members(app: string, chat: number): Promise<User[]> {
    await this.deps.chats.getChat(app, chat);
    return this.deps.presence.members(app, chat);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(1, Math.floor(this.deps.ttlMs / 4)));
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    for (const { app, chat, users } of [...this.local.values()]) {
      try {
        const back = await this.deps.presence.refresh(app, chat, this.deps.process, [...users.values()].map((u) => u.user), this.deps.ttlMs);
        for (const user of back) this.deps.onJoined(app, chat, user);
      } catch (err) {
        this.deps.onError(err);
      }
    }
    for (const { app, chat } of [...this.deps.watched()]) {
      try {
        for (const user of await this.deps.presence.sweep(app, chat)) this.deps.onLeft(app, chat, user);
      } catch (err) {
        this.deps.onError(err);
      }
    }
  }
}
