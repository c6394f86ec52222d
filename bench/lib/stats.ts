/**
 * Latency samples in milliseconds (floats, sub-millisecond resolution).
 * autocannon's own histogram truncates to whole milliseconds, which hides
 * everything interesting about a uWS route answering in 0.3 ms, so every
 * harness in bench/ records here instead.
 */
export class Samples {
  private values = new Float64Array(1 << 16);
  private length = 0;

  /** Samples recorded in other processes (Samples.raw() sent over IPC), as one set. */
  static merged(parts: Float64Array[]): Samples {
    const s = new Samples();
    s.values = new Float64Array(Math.max(1, parts.reduce((n, p) => n + p.length, 0)));
    for (const p of parts) {
      s.values.set(p, s.length);
      s.length += p.length;
    }
    return s;
  }

  get count(): number {
    return this.length;
  }

  /** A copy of the samples, to send to another process. */
  raw(): Float64Array {
    return this.values.slice(0, this.length);
  }

  add(ms: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = ms;
  }

  /** p in [0, 100]; nearest-rank on the sorted samples; null when empty. */
  percentiles(ps: number[]): (number | null)[] {
    if (this.length === 0) return ps.map(() => null);
    const sorted = this.values.slice(0, this.length).sort();
    return ps.map((p) => sorted[Math.min(this.length - 1, Math.max(0, Math.ceil((p / 100) * this.length) - 1))]!);
  }

  summary(): LatencySummary {
    const [p50, p90, p99, max] = this.percentiles([50, 90, 99, 100]);
    return { count: this.length, p50: round(p50), p90: round(p90), p99: round(p99), max: round(max) };
  }
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

const round = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : Math.round(v * 1000) / 1000);

/** Counts of responses by HTTP status (or by WS outcome: "ack", "error:<code>"). */
export class Outcomes {
  readonly byCode: Record<string, number> = {};

  add(code: string | number): void {
    const key = String(code);
    this.byCode[key] = (this.byCode[key] ?? 0) + 1;
  }

  count(predicate: (code: string) => boolean): number {
    let n = 0;
    for (const [code, c] of Object.entries(this.byCode)) if (predicate(code)) n += c;
    return n;
  }
}

export const is2xx = (code: string): boolean => /^2\d\d$/.test(code);
