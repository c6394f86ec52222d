/**
 * Calls `fire` `total` times at `rate` per second from `started`, open-loop:
 * a call is due every 1/rate s whether or not earlier ones finished, so a
 * slow server shows up as latency rather than as a lower offered rate.
 * `sent()` says how many calls were made so far; `stopped()` (optional) ends
 * the loop early, before `total`.
 */
export function openLoop(rate: number, total: number, started: number, sent: () => number, fire: () => void, stopped: () => boolean = () => false): Promise<void> {
  return new Promise<void>((resolve) => {
    const tick = (): void => {
      if (stopped()) return resolve();
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
      while (sent() < due) fire();
      if (sent() >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
}
