import { Pool } from "undici";
import { openLoop } from "../../bench/lib/open-loop.js";

/** One create as the client saw it. `status` is null when no HTTP answer came (connection error, reset, timeout). */
export interface CreateResult {
  chat: number;
  body: string;
  /** performance.now() when the request was fired and when it settled. */
  sentAt: number;
  doneAt: number;
  status: number | null;
  /** The number a 201 acknowledged. */
  number?: number;
  /** The error code of a non-201 answer, or the client-side error. */
  error?: string;
}

export interface CreateLoadOptions {
  origin: string;
  token: string;
  chats: number[];
  /** Creates per second, open loop (round robin over `chats`). */
  rate: number;
  /** Bounds: the load ends by itself after this many creates or this long. */
  maxCreates: number;
  maxMs: number;
  /** Prefix of every body, so this load's rows can be told apart in MySQL. */
  label: string;
}

/**
 * A steady open-loop create load over REST: a create is due every 1/rate s
 * whether or not earlier ones answered, so an outage shows as errors and
 * latency, not as a lower offered rate. Every request and its outcome is
 * recorded. `retarget` moves later creates to another origin (a restarted
 * process); `stop` ends the load and resolves once every request settled.
 */
export class CreateLoad {
  readonly results: CreateResult[] = [];
  private pool: Pool;
  private readonly pools: Pool[] = [];
  private stopped = false;
  private sent = 0;
  private readonly inflight = new Set<Promise<void>>();
  private readonly loop: Promise<void>;
  private readonly deadline: number;

  constructor(private readonly options: CreateLoadOptions) {
    this.pool = this.newPool(options.origin);
    const started = performance.now();
    this.deadline = started + options.maxMs;
    this.loop = openLoop(options.rate, options.maxCreates, started, () => this.sent, () => this.fire(), () => this.stopped || performance.now() > this.deadline);
  }

  /** Sends every later create to `origin` (the process that replaced the old one). */
  retarget(origin: string): void {
    this.pool = this.newPool(origin);
  }

  /** Ends the load; resolves with every result once no request is in flight. */
  async stop(): Promise<CreateResult[]> {
    this.stopped = true;
    await this.loop;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await Promise.all(this.pools.map((p) => p.destroy()));
    return this.results;
  }

  /** 201s among requests fired at or after `since` (performance.now()). */
  ackedSince(since: number): number {
    return this.results.filter((r) => r.status === 201 && r.sentAt >= since).length;
  }

  /** Non-201 outcomes among requests fired at or after `since`. */
  failedSince(since: number): number {
    return this.results.filter((r) => r.status !== 201 && r.sentAt >= since).length;
  }

  /** Resolves when `check` holds (polled every 50 ms). Rejects after `timeoutMs`, or when the load ended first. */
  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const poll = (): void => {
        if (check()) return resolve();
        if (this.ended()) return reject(new Error(`the load ended before ${what} (${this.summary()})`));
        if (performance.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.summary()})`));
        setTimeout(poll, 50);
      };
      poll();
    });
  }

  private ended(): boolean {
    return (this.stopped || this.sent >= this.options.maxCreates || performance.now() > this.deadline) && this.inflight.size === 0;
  }

  summary(): string {
    const by = new Map<string, number>();
    for (const r of this.results) by.set(String(r.status ?? r.error), (by.get(String(r.status ?? r.error)) ?? 0) + 1);
    return `${this.sent} sent, ${this.inflight.size} in flight, outcomes ${JSON.stringify(Object.fromEntries(by))}`;
  }

  private newPool(origin: string): Pool {
    // Bounded connections: past them requests queue in the client, still timed from when they were due.
    const pool = new Pool(origin, { connections: 64, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000, connectTimeout: 5_000 });
    this.pools.push(pool);
    return pool;
  }

  private fire(): void {
    const i = this.sent++;
    const chat = this.options.chats[i % this.options.chats.length]!;
    const body = `${this.options.label} ${chat} ${i}`;
    const sentAt = performance.now();
    const result: CreateResult = { chat, body, sentAt, doneAt: sentAt, status: null };
    const p: Promise<void> = this.pool
      .request({
        path: `/api/v1/applications/${this.options.token}/chats/${chat}/messages`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ body }),
      })
      .then(async (res) => {
        const json = (await res.body.json().catch(() => null)) as { number?: number; error?: { code?: string } } | null;
        result.status = res.statusCode;
        if (res.statusCode === 201 && typeof json?.number === "number") result.number = json.number;
        else if (res.statusCode === 201) result.error = "201 without a number";
        else result.error = json?.error?.code ?? "unparsed";
      })
      .catch((err: unknown) => {
        result.error = (err as { code?: string }).code ?? String(err);
      })
      .finally(() => {
        result.doneAt = performance.now();
        this.results.push(result);
        this.inflight.delete(p);
      });
    this.inflight.add(p);
  }
}
