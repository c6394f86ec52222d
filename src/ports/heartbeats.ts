/**
 * Workers report what they hold, so counter recovery knows when every write
 * is durable. Reports are ordered by a mark that the heartbeats store hands
 * out, never by a clock (the API and the workers run on different hosts):
 * recovery takes a mark, and a report counts for it only if the worker read
 * that mark, or a later one, before it counted what it held.
 */
export interface WorkerHeartbeats {
  /** Records `inFlight`, counted after the worker read `mark`; answers the
   * current mark, which the worker passes to its next beat. */
  beat(workerId: string, mark: number, inFlight: number): Promise<number>;
  /** A new mark: a report carrying it (or a later one) was counted after this call. */
  observe(): Promise<number>;
  /** How many live workers reported holding nothing at `mark` or later; null
   * while any live worker holds writes or has not reported since `mark`.
   * A worker whose reports stopped is gone (the broker requeued its writes). */
  idleWorkers(mark: number): Promise<number | null>;
}
