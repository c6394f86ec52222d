/** Token bucket per key: `rate` per second, bursts up to `rate`. Idle keys are
 * forgotten so the map stays bounded by the number of active keys. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
  ) {}

  /** Takes one token; returns 0 when allowed, else seconds until one is free. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.rate, at: now };
    bucket.tokens = Math.min(this.rate, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.evictFull(now);
    if (bucket.tokens < 1) return Math.ceil((1 - bucket.tokens) / this.rate);
    bucket.tokens -= 1;
    return 0;
  }

  private evictFull(now: number): void {
    for (const [key, b] of this.buckets) if (now - b.at > 1000) this.buckets.delete(key);
  }
}
