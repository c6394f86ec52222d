import type { LiveMessage } from "./types.js";

export interface ChatSequenceOptions<T extends { number: number }> {
  /** How long a gap may stay open before the missing numbers are read over REST. */
  gapWaitMs: number;
  /** Messages numbered in (after, upTo] that exist, ascending. */
  fill(after: number, upTo: number): Promise<T[]>;
  deliver(message: T): void;
}

/**
 * Hands one chat's messages to the application exactly once and in increasing
 * number order, whatever order the socket brings them in.
 *
 * Numbers normally arrive in order, but not always: messages created through
 * different API processes may interleave (PROTOCOL.md), and a number whose
 * write failed is never used (a gap). So a message past the next expected
 * number is held; when the gap has not closed within `gapWaitMs`, REST says
 * which of the missing numbers exist, and everything up to the highest held
 * number is delivered. A number that is neither live nor readable by then is
 * taken as unused. Anything at or below the last delivered number is dropped.
 */
export class ChatSequence<T extends { number: number } = LiveMessage> {
  /** The last number delivered: a resumed subscription asks for `since` this. */
  last: number;
  private readonly held = new Map<number, T>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Bumped by reset(), so a fill that completes for a connection that is gone is ignored. */
  private generation = 0;
  private readonly options: ChatSequenceOptions<T>;

  constructor(since: number, options: ChatSequenceOptions<T>) {
    this.last = since;
    this.options = options;
  }

  push(message: T): void {
    if (message.number <= this.last || this.held.has(message.number)) return;
    this.held.set(message.number, message);
    this.releaseConsecutive();
    this.armGapTimer();
  }

  /** The connection is gone: the resumed subscription replays everything after `last`. */
  reset(): void {
    this.generation++;
    this.held.clear();
    this.clearTimer();
  }

  private releaseConsecutive(): void {
    for (let next = this.held.get(this.last + 1); next; next = this.held.get(this.last + 1)) {
      this.held.delete(next.number);
      this.last = next.number;
      this.options.deliver(next);
    }
  }

  private armGapTimer(): void {
    if (this.held.size === 0) return this.clearTimer();
    this.timer ??= setTimeout(() => void this.fillGap(), this.options.gapWaitMs);
  }

  private async fillGap(): Promise<void> {
    const generation = this.generation;
    const upTo = Math.max(...this.held.keys());
    let found: T[];
    try {
      found = await this.options.fill(this.last, upTo);
    } catch {
      // REST unavailable: keep holding and try again later (a reconnect resets everything anyway).
      if (generation === this.generation) {
        this.timer = null;
        this.armGapTimer();
      }
      return;
    }
    if (generation !== this.generation) return;
    this.timer = null;
    for (const message of found) if (message.number > this.last && message.number <= upTo && !this.held.has(message.number)) this.held.set(message.number, message);
    for (const number of [...this.held.keys()].filter((n) => n <= upTo).sort((a, b) => a - b)) {
      const message = this.held.get(number)!;
      this.held.delete(number);
      this.last = number;
      this.options.deliver(message);
    }
    this.releaseConsecutive();
    this.armGapTimer();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
