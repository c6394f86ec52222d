import type { WriteQueue } from "../ports/queue.js";
import { DomainError, UnavailableError } from "./errors.js";
import type { WriteEvent } from "./types.js";

/** Enqueues writes durably; a queue that fails says "retry shortly" (503), never why. */
export async function publishWrites(queue: WriteQueue, events: WriteEvent[]): Promise<void> {
  if (events.length === 0) return;
  try {
    await queue.publish(events);
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new UnavailableError("the write queue is unavailable", 1);
  }
}
