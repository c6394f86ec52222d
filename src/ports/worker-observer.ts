import type { WriteEvent } from "../domain/types.js";

/** What the write worker reports for operations (the worker's metrics implement it). */
export interface WorkerObserver {
  /** A batch was committed to the store at `now` (epoch ms). */
  persisted(batch: readonly WriteEvent[], now: number): void;
}
