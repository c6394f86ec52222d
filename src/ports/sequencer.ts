/** Result of one atomic allocation of `count` consecutive numbers. */
export type Allocation =
  | { status: "ok"; first: number }
  | { status: "not_found" }
  /** The counter is not in the sequencer (evicted or lost): restore it from the store. */
  | { status: "needs_seed" }
  /** The sequencer lost its state and is fencing until every number handed out
   * before the loss is durable. Callers answer 503 and retry. */
  | { status: "recovering" };

/** Hands out chat and message numbers atomically across all processes (Redis Lua). */
export interface Sequencer {
  /** Registers a new application with a zero chat counter. */
  initApplication(app: string): Promise<void>;
  allocateChats(app: string, count: number): Promise<Allocation>;
  allocateMessages(app: string, chat: number, count: number): Promise<Allocation>;
  /** Sets counters only where absent (never lowers or overwrites). */
  seed(app: string, chatCounter: number, chat?: { number: number; messageCounter: number }): Promise<void>;
  /** Whether the sequencer holds its epoch marker (false after a state loss). */
  hasEpoch(): Promise<boolean>;
  /** Writes the epoch marker, ending a recovery. */
  setEpoch(): Promise<void>;
  ping(): Promise<void>;
}
