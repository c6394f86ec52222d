import type { User } from "../domain/user.js";

/**
 * Who is in a chat: users with a subscribed socket on some process (Redis in
 * cluster mode, in the chat's slot). Each process says which of its users
 * joined and left, and refreshes them; a process that stops refreshing (it
 * died) ages out after `ttlMs`, measured on the backend's one clock.
 * Every call is one atomic step, so of concurrent calls exactly one sees a
 * user arrive or go.
 */
export interface Presence {
  /** `user` is in the chat on `process`; true when they were in it on no process before (they joined). */
  join(app: string, chat: number, process: string, user: User, ttlMs: number): Promise<boolean>;
  /** `user` left on `process`; true when no other process still has them (they left the chat). */
  leave(app: string, chat: number, process: string, userId: string): Promise<boolean>;
  /** Keeps this process's users of a chat for another `ttlMs`; answers those who had aged out meanwhile (they join again). */
  refresh(app: string, chat: number, process: string, users: User[], ttlMs: number): Promise<User[]>;
  /** Removes the users whose every process stopped refreshing; answers them (they left). */
  sweep(app: string, chat: number): Promise<User[]>;
  /** The users in the chat now, each once. */
  members(app: string, chat: number): Promise<User[]>;
}
