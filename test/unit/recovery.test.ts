import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBroker } from "../../src/adapters/memory/memory-broker.js";
import { MemoryWriteConsumer } from "../../src/adapters/memory/memory-consumer.js";
import { MemoryWorkerHeartbeats } from "../../src/adapters/memory/memory-heartbeats.js";
import { MemoryLeaseLock } from "../../src/adapters/memory/memory-lock.js";
import { MemoryWriteQueue } from "../../src/adapters/memory/memory-queue.js";
import { MemorySequencer } from "../../src/adapters/memory/memory-sequencer.js";
import { CounterRecovery } from "../../src/domain/recovery.js";
import type { LeaseLock } from "../../src/ports/lock.js";
import { waitFor } from "../support/contract-helpers.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function setup(overrides: { lock?: LeaseLock; sequencer?: MemorySequencer } = {}) {
  const broker = new MemoryBroker();
  const queue = new MemoryWriteQueue(broker);
  const heartbeats = new MemoryWorkerHeartbeats();
  // Counts the leader's polls, so "still fenced" is checked after real progress, not after a guessed delay.
  let observations = 0;
  const observe = heartbeats.observe.bind(heartbeats);
  heartbeats.observe = () => {
    observations++;
    return observe();
  };
  const sequencer = overrides.sequencer ?? new MemorySequencer();
  sequencer.loseState();
  const errors: unknown[] = [];
  const recovery = new CounterRecovery(
    sequencer,
    queue,
    heartbeats,
    overrides.lock ?? new MemoryLeaseLock(),
    { publishTimeoutMs: 0, pollMs: 5, onError: (err) => errors.push(err) },
    sleep,
  );
  const polled = (times: number): Promise<void> => {
    const target = observations + times;
    return waitFor(() => observations >= target, { what: `${times} polls of the leader` });
  };
  return { broker, queue, heartbeats, sequencer, recovery, errors, polled };
}

describe("CounterRecovery", () => {
  it("writes the epoch once the queue is empty and every worker reported idle after a fresh mark", async () => {
    const { heartbeats, sequencer, recovery } = setup();
    let mark = 0;
    const beat = setInterval(() => void heartbeats.beat("w", mark, 0).then((m) => (mark = m)), 1);
    try {
      recovery.trigger();
      await waitFor(() => sequencer.hasEpoch(), { what: "the epoch" });
    } finally {
      clearInterval(beat);
    }
  });

  it("keeps fencing while a consumer is attached but its worker stopped reporting (a frozen worker)", async () => {
    const { broker, sequencer, recovery, polled } = setup();
    const frozen = new MemoryWriteConsumer(broker);
    await frozen.start(() => new Promise(() => undefined)); // holds whatever it gets, never reports
    recovery.trigger();
    await polled(5);
    assert.equal(await sequencer.hasEpoch(), false, "a consumer with no idle report behind it is not idle");
    await frozen.close(); // the broker drops it (and would requeue what it held)
    await waitFor(() => sequencer.hasEpoch(), { what: "the epoch once the frozen consumer is gone" });
  });

  it("does not count a report carrying a mark older than the observation, whatever its clock", async () => {
    const { heartbeats, sequencer, recovery, polled } = setup();
    // A worker that beat long ago with a mark of 0 and then fell silent, but
    // whose reports do not expire yet: it is not idle "since" the observation.
    await heartbeats.beat("silent", 0, 0);
    recovery.trigger();
    await polled(5);
    assert.equal(await sequencer.hasEpoch(), false);
    // Reporting again, each beat with the mark the previous one got back (as a
    // worker does): one of them lands after a fresh observation and counts.
    // (A single such beat would race the leader's next observation.)
    let mark = await heartbeats.beat("silent", 0, 0);
    const beat = setInterval(() => void heartbeats.beat("silent", mark, 0).then((m) => (mark = m)), 1);
    try {
      await waitFor(() => sequencer.hasEpoch(), { what: "the epoch after a report made after the mark" });
    } finally {
      clearInterval(beat);
    }
  });

  it("survives failures inside a recovery: reports them and retries, and never rejects", async () => {
    const sequencer = new MemorySequencer();
    let failures = 3;
    const realFenced = sequencer.fenced.bind(sequencer);
    sequencer.fenced = async () => {
      if (failures-- > 0) throw new Error("redis is flapping");
      return realFenced();
    };
    const { recovery, errors } = setup({ sequencer });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      recovery.trigger();
      await waitFor(() => sequencer.hasEpoch(), { what: "the epoch after the failures" });
      assert.equal(errors.length, 3);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("stops a leader that lost its lease mid-recovery, without writing the epoch", async () => {
    let grants = 2; // the first acquire and one renewal, then another process holds it
    const released: string[] = [];
    const lock: LeaseLock = {
      acquire: async () => grants-- > 0,
      release: async (name) => void released.push(name),
    };
    const { broker, sequencer, recovery } = setup({ lock });
    await new MemoryWriteQueue(broker).publish([
      { kind: "chat", created: true, chat: { app: "a", number: 1, name: null, messagesCount: 0, createdAt: 1, updatedAt: 1 } },
    ]); // something waits, so the leader has to loop and renew
    recovery.trigger();
    await waitFor(() => !recovery.active, { what: "the leader to stop" });
    assert.equal(await sequencer.hasEpoch(), false);
  });
});
