import type { User } from "../../domain/user.js";
import type { Presence } from "../../ports/presence.js";

interface Member {
  name: string | null;
  /** process → when its hold on the user ages out (epoch ms). */
  processes: Map<string, number>;
}

/**
 * Embedded-mode Presence: the Redis adapter's semantics on Maps, on one
 * clock. Instances that share nothing are separate deployments; servers
 * that share one instance (tests run several in a process) are processes
 * of one deployment.
 */
export class MemoryPresence implements Presence {
  /** "app\0chat" → user id → member. */
  private readonly chats = new Map<string, Map<string, Member>>();

  constructor(private readonly now: () => number = Date.now) {}

  async join(app: string, chat: number, process: string, user: User, ttlMs: number): Promise<boolean> {
    const members = this.chat(app, chat, true)!;
    const member = members.get(user.id) ?? { name: user.name, processes: new Map() };
    const joined = this.prune(member) === 0;
    member.name = user.name;
    member.processes.set(process, this.now() + ttlMs);
    members.set(user.id, member);
    return joined;
  }

  async leave(app: string, chat: number, process: string, userId: string): Promise<boolean> {
    const members = this.chat(app, chat, false);
    const member = members?.get(userId);
    if (!members || !member) return false;
    member.processes.delete(process);
    if (this.prune(member) > 0) return false;
    this.forget(app, chat, members, userId);
    return true;
  }

  async refresh(app: string, chat: number, process: string, users: User[], ttlMs: number): Promise<User[]> {
    const back: User[] = [];
    for (const user of users) if (await this.join(app, chat, process, user, ttlMs)) back.push(user);
    return back;
  }

  async sweep(app: string, chat: number): Promise<User[]> {
    const members = this.chat(app, chat, false);
    if (!members) return [];
    const gone: User[] = [];
    for (const [id, member] of [...members]) {
      if (this.prune(member) > 0) continue;
      this.forget(app, chat, members, id);
      gone.push({ id, name: member.name });
    }
    return gone;
  }

  async members(app: string, chat: number): Promise<User[]> {
    const members = this.chat(app, chat, false);
    if (!members) return [];
    return [...members].filter(([, m]) => this.latest(m) > this.now()).map(([id, m]) => ({ id, name: m.name }));
  }

  /** Forgets processes that aged out; answers the latest time left (0: none). */
  private prune(member: Member): number {
    const now = this.now();
    for (const [process, until] of member.processes) if (until <= now) member.processes.delete(process);
    return this.latest(member);
  }

  private latest(member: Member): number {
    return Math.max(0, ...member.processes.values());
  }

  private chat(app: string, chat: number, create: boolean): Map<string, Member> | undefined {
    const key = `${app}\u0000${chat}`;
    let members = this.chats.get(key);
    if (!members && create) this.chats.set(key, (members = new Map()));
    return members;
  }

  private forget(app: string, chat: number, members: Map<string, Member>, userId: string): void {
    members.delete(userId);
    if (members.size === 0) this.chats.delete(`${app}\u0000${chat}`);
  }
}
