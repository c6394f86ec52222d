// Contract of the WriteQueue and WriteConsumer ports (src/ports/queue.ts).
//
// The factory returns a publisher and two not-yet-started consumers of their
// own (fresh names per call): the persisting one (`consumer`, the one
// backlog() counts) and the indexing one, which gets every batch as well.
// The contract closes all three; the fixture's cleanup removes the rest. A consumer may hand several
// published batches to one handler call (prefetch batching), so delivery is
// checked on the concatenation of handled events, which must equal the
// concatenation of published events.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WriteEvent } from "../../src/domain/types.js";
import { PoisonBatchError, type WriteConsumer, type WriteQueue } from "../../src/ports/queue.js";
import { eventually, gate, newToken, using, waitFor, type Cleanup } from "./contract-helpers.js";

export interface QueueFixture extends Cleanup {
  queue: WriteQueue;
  consumer: WriteConsumer;
  indexConsumer: WriteConsumer;
}

const T0 = 1_700_000_000_000;

/** Distinct events: batch i holds 1–3 message events of one chat. */
function batches(count: number): WriteEvent[][] {
  const app = newToken();
  let number = 0;
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: 1 + (i % 3) }, (): WriteEvent => {
      number += 1;
      return { kind: "message", created: true, message: { app, chat: 1, number, body: `body ${number} ✓`, createdAt: T0 + number, updatedAt: T0 + number } };
    }),
  );
}

const label = (e: WriteEvent): string =>
  e.kind === "chat" ? `chat ${e.chat.number}` : e.kind === "read_marker" ? `read ${e.marker.chat}/${e.marker.user}` : `${e.message.chat}/${e.message.number}`;

export function queueContract(name: string, makeFixture: () => Promise<QueueFixture>): void {
  // The contract closes what it was given; a fixture's own cleanup only removes backend state.
  const make = async (): Promise<QueueFixture> => {
    const fixture = await makeFixture();
    return {
      ...fixture,
      cleanup: async () => {
        await Promise.all([fixture.consumer.close(), fixture.indexConsumer.close()]);
        await fixture.queue.close();
        await fixture.cleanup();
      },
    };
  };
  describe(`WriteQueue/WriteConsumer contract: ${name}`, () => {
    it("delivers every published batch exactly once, in publish order", () =>
      using(make, async ({ queue, consumer }) => {
        const published = batches(20);
        const handled: WriteEvent[] = [];
        for (const batch of published.slice(0, 10)) await queue.publish(batch);
        await consumer.start(async (events) => {
          handled.push(...events);
        });
        for (const batch of published.slice(10)) await queue.publish(batch);

        const all = published.flat();
        await waitFor(() => handled.length >= all.length, { what: `${all.length} events handled` });
        await waitFor(async () => (await queue.backlog()).waiting === 0, { what: "queue drained" });
        assert.deepEqual(handled, all);
        assert.equal(consumer.inFlight(), 0);
      }));

    it("delivers a batch again when the handler failed, and loses nothing", () =>
      using(make, async ({ queue, consumer }) => {
        const published = batches(6);
        const poisoned = label(published[2]![0]!);
        const succeeded: WriteEvent[] = [];
        const failedWith: string[][] = [];
        await consumer.start(async (events) => {
          const labels = events.map(label);
          if (labels.includes(poisoned) && failedWith.length < 2) {
            failedWith.push(labels);
            throw new Error("handler failure (expected by the test)");
          }
          succeeded.push(...events);
        });
        for (const batch of published) await queue.publish(batch);

        const all = published.flat();
        await waitFor(() => succeeded.length >= all.length, { what: "every event handled" });
        await waitFor(async () => (await queue.backlog()).waiting === 0, { what: "queue drained" });
        assert.equal(failedWith.length, 2, "the failing batch was offered again after the first failure");
        assert.deepEqual(succeeded.map(label).sort(), all.map(label).sort(), "each event handled successfully exactly once");
        const retried = succeeded.map(label);
        for (const l of failedWith[0]!) assert.ok(retried.includes(l), `${l} from the failed batch came back`);
        assert.equal(consumer.inFlight(), 0);
      }));

    it("dead-letters a batch the handler rejects for good, and keeps delivering the rest", () =>
      using(make, async ({ queue, consumer }) => {
        const published = batches(5);
        const poisoned = label(published[1]![0]!);
        const offered: string[] = [];
        await consumer.start(async (events) => {
          offered.push(...events.map(label));
          if (events.some((e) => label(e) === poisoned)) throw new PoisonBatchError("rejected for good (expected by the test)");
        });
        for (const batch of published) await queue.publish(batch);
        const others = published.flat().map(label).filter((l) => !published[1]!.map(label).includes(l));
        await waitFor(() => others.every((l) => offered.includes(l)), { what: "every other batch delivered" });
        await waitFor(async () => (await queue.backlog()).waiting === 0, { what: "queue drained" });
        await eventually(async () => assert.equal(consumer.inFlight(), 0));
        assert.equal(offered.filter((l) => l === poisoned).length, 1, "the rejected batch is not retried");
      }));

    it("counts a published batch as waiting until a consumer takes it, and counts the consumers", () =>
      using(make, async ({ queue, consumer }) => {
        assert.deepEqual(await queue.backlog(), { waiting: 0, consumers: 0 }, "a fresh queue");
        const [batch] = batches(1);
        await queue.publish(batch!);
        assert.deepEqual(await queue.backlog(), { waiting: 1, consumers: 0 });

        const handled: WriteEvent[] = [];
        await consumer.start(async (events) => {
          handled.push(...events);
        });
        await waitFor(() => handled.length >= batch!.length, { what: "the batch handled" });
        await waitFor(async () => (await queue.backlog()).waiting === 0, { what: "queue drained after consumption" });
        assert.deepEqual(handled, batch);
        assert.equal((await queue.backlog()).consumers, 1);
        await consumer.close();
        await waitFor(async () => (await queue.backlog()).consumers === 0, { what: "the closed consumer detached" });
      }));

    // A held batch is reported by the consumer (and so by the worker's
    // heartbeat), not by backlog(); counter recovery relies on both.
    it("reports a batch held unacknowledged as in flight until the handler finishes", () =>
      using(make, async ({ queue, consumer }) => {
        const hold = gate();
        const [batch] = batches(1);
        await consumer.start(async () => {
          await hold.promise;
        });
        try {
          await queue.publish(batch!);
          await waitFor(() => consumer.inFlight() > 0, { what: "the consumer holding the batch" });
        } finally {
          hold.open(); // a failed assertion must not leave the consumer stuck for cleanup
        }
        await eventually(async () => {
          assert.equal(consumer.inFlight(), 0);
          assert.equal((await queue.backlog()).waiting, 0);
        });
      }));

    it("hands every published batch to both consumers, each at its own pace", () =>
      using(make, async ({ queue, consumer, indexConsumer }) => {
        const published = batches(8);
        const all = published.flat();
        const persisted: WriteEvent[] = [];
        const indexed: WriteEvent[] = [];
        const indexing = gate();
        await consumer.start(async (events) => {
          persisted.push(...events);
        });
        await indexConsumer.start(async (events) => {
          await indexing.promise;
          indexed.push(...events);
        });
        try {
          for (const batch of published) await queue.publish(batch);
          // The index side holding its batches back does not hold the persist side.
          await waitFor(() => persisted.length >= all.length, { what: "every event persisted" });
          await waitFor(async () => (await queue.backlog()).waiting === 0, { what: "the persist side drained" });
          assert.equal(indexed.length, 0, "the index side is still held");
        } finally {
          indexing.open();
        }
        await waitFor(() => indexed.length >= all.length, { what: "every event indexed" });
        assert.deepEqual(persisted, all);
        assert.deepEqual(indexed, all);
        await eventually(async () => assert.equal(indexConsumer.inFlight(), 0));
      }));

    it("answers ping while open", () =>
      using(make, async ({ queue }) => {
        await queue.ping();
      }));
  });
}
