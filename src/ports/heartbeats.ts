/** Workers report what they hold, so counter recovery knows when all writes are durable. */
export interface WorkerHeartbeats {
  beat(workerId: string, inFlight: number): Promise<void>;
  /** True when every live worker reported, at or after `since`, that it holds nothing. */
  idleSince(since: number): Promise<boolean>;
}
