// Shared by every contract suite. The suites run unchanged against the
// embedded adapters and the cluster ones (MySQL, Redis, RabbitMQ,
// Elasticsearch), so nothing here sleeps for a fixed time: asynchronous
// effects are awaited by polling a condition against a deadline, and every
// name is unique per call so two runs (or two tests) never collide.

import { randomBytes } from "node:crypto";
import type { Sequencer } from "../../src/ports/sequencer.js";

/** Fixture shape every contract factory returns. */
export interface Cleanup {
  cleanup(): Promise<void>;
}

/** Builds a fixture, runs `body`, always cleans up. */
export async function using<F extends Cleanup>(make: () => Promise<F>, body: (fixture: F) => Promise<void>): Promise<void> {
  const fixture = await make();
  try {
    await body(fixture);
  } finally {
    await fixture.cleanup();
  }
}

/** Ends whatever fence the sequencer holds, as a recovery does once everything is durable. */
export async function endFence(sequencer: Sequencer): Promise<void> {
  await (await sequencer.fenced())?.();
}

/** A fresh application token shaped like a real one: 22 URL-safe characters. */
export function newToken(): string {
  return randomBytes(11).toString("hex");
}

/** A short random tag for channel, lock and worker names. */
export function uniqueName(label: string): string {
  return `${label}-${randomBytes(6).toString("hex")}`;
}

export interface PollOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

/**
 * Retries `check` until it returns without throwing (an assertion that finally
 * holds); at the deadline rethrows its last failure, so the test reports the
 * real difference rather than "timed out".
 */
export async function eventually<T>(check: () => Promise<T> | T, options: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) {
        if (err instanceof Error && options.what) err.message = `${options.what}: ${err.message}`;
        throw err;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Polls until `condition` is true; fails with `what` at the deadline. */
export async function waitFor(condition: () => Promise<boolean> | boolean, options: PollOptions = {}): Promise<void> {
  await eventually(async () => {
    if (!(await condition())) throw new Error(`timed out waiting for ${options.what ?? "condition"}`);
  }, options);
}

/** A promise with its resolver outside, for gating handlers. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Deterministic shuffle (mulberry32), so a failing order can be replayed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
