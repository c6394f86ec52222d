// Contract of the WorkerHeartbeats port (src/ports/heartbeats.ts), for every
// adapter. The factory returns heartbeats in a namespace of their own (no
// other worker reports there).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkerHeartbeats } from "../../src/ports/heartbeats.js";
import { uniqueName, using, type Cleanup } from "./contract-helpers.js";

export interface HeartbeatsFixture extends Cleanup {
  heartbeats: WorkerHeartbeats;
}

export function heartbeatsContract(name: string, make: () => Promise<HeartbeatsFixture>): void {
  describe(`WorkerHeartbeats contract: ${name}`, () => {
    it("counts no idle worker when none is alive", () =>
      using(make, async ({ heartbeats }) => {
        assert.equal(await heartbeats.idleWorkers(await heartbeats.observe()), 0);
      }));

    it("hands out increasing marks, and answers the current one on every beat", () =>
      using(make, async ({ heartbeats }) => {
        const first = await heartbeats.observe();
        const second = await heartbeats.observe();
        assert.ok(second > first);
        assert.equal(await heartbeats.beat(uniqueName("worker"), 0, 0), second);
      }));

    it("counts the workers that reported holding nothing after the mark", () =>
      using(make, async ({ heartbeats }) => {
        const a = uniqueName("worker");
        const b = uniqueName("worker");
        const mark = await heartbeats.observe();
        // Each beat answers the mark the worker carries into its next report.
        const seenA = await heartbeats.beat(a, 0, 0);
        const seenB = await heartbeats.beat(b, 0, 0);
        assert.equal(await heartbeats.idleWorkers(mark), null, "their reports were counted before they read the mark");
        await heartbeats.beat(a, seenA, 0);
        await heartbeats.beat(b, seenB, 0);
        assert.equal(await heartbeats.idleWorkers(mark), 2);
      }));

    it("is not idle while a worker holds writes, and is once it reports none", () =>
      using(make, async ({ heartbeats }) => {
        const busy = uniqueName("worker");
        const mark = await heartbeats.observe();
        const seen = await heartbeats.beat(busy, 0, 0);
        await heartbeats.beat(busy, seen, 3);
        assert.equal(await heartbeats.idleWorkers(mark), null);
        await heartbeats.beat(busy, seen, 0);
        assert.equal(await heartbeats.idleWorkers(mark), 1);
      }));

    it("does not count a report that carries an older mark, whatever any clock says", () =>
      using(make, async ({ heartbeats }) => {
        const worker = uniqueName("worker");
        const old = await heartbeats.beat(worker, 0, 0);
        const mark = await heartbeats.observe();
        await heartbeats.beat(worker, old, 0);
        assert.equal(await heartbeats.idleWorkers(mark), null, "that worker has not read the new mark yet");
      }));
  });
}
