/** Exponential backoff with full jitter: attempt n waits a random time in [0, min(max, initial·2ⁿ)). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Source of randomness in [0, 1); tests may fix it. */
  random: () => number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 250, maxMs: 10_000, random: Math.random };

/** Full jitter spreads reconnecting clients apart, so a restarted server is not hit by all of them at once. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(options.random() * ceiling);
}

/**
 * Milliseconds a `Retry-After` header asks for (seconds or an HTTP date);
 * null when absent or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
