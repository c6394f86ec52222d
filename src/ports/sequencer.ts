/** One chat to create: its name, and the client's idempotency key if it sent one. */
export interface ChatCreate {
  name: string | null;
  key: string | null;
}

/** What became of one create: a new number, the original one for a repeated
 * key, or a conflict (the key was used with a different name). */
export type Numbered = { kind: "created" | "repeat"; number: number; createdAt: number } | { kind: "conflict" };

export type ChatAllocation =
  | { status: "ok"; outcomes: Numbered[] }
  /** The counter is not in the sequencer (lost): restore it from the store. */
  | { status: "needs_seed" }
  /** The sequencer lost its state and is fencing until every number handed out
   * before the loss is durable. Callers answer 503 and retry. */
  | { status: "recovering" };

/** Ends a fence: makes numbering resume where it was fenced. */
export type EndFence = () => Promise<void>;

/** Hands out chat numbers atomically across all processes (Redis Lua), and
 * holds the epoch markers that fence numbering after a loss of state. Message
 * numbers are the chat log's (ports/chat-log.ts). */
export interface Sequencer {
  /** Registers a new application with a zero chat counter. */
  initApplication(app: string): Promise<void>;
  /** Numbers a batch of chat creates in one atomic step; each new chat starts its message counter at 0. */
  allocateChats(app: string, creates: ChatCreate[], now: number): Promise<ChatAllocation>;
  /** Sets the application's chat counter only where absent (never lowers or overwrites). */
  seed(app: string, chatCounter: number): Promise<void>;
  /** Whether the sequencer holds its epoch markers (false after a state loss anywhere). */
  hasEpoch(): Promise<boolean>;
  /**
   * What is fenced now, as the step that ends exactly that fence (null when
   * nothing is). Recovery takes the step once every number handed out before
   * the loss is durable; whatever loses state after this call stays fenced,
   * for the next recovery.
   */
  fenced(): Promise<EndFence | null>;
  ping(): Promise<void>;
}
