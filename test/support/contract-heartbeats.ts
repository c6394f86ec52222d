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
    it("is idle when no worker is alive", () =>
      using(make, async ({ heartbeats }) => {
        assert.equal(await heartbeats.idleSince(Date.now()), true);
      }));

    it("is idle once every worker reported holding nothing since the mark", () =>
      using(make, async ({ heartbeats }) => {
        const since = Date.now();
        await heartbeats.beat(uniqueName("worker"), 0);
        await heartbeats.beat(uniqueName("worker"), 0);
        assert.equal(await heartbeats.idleSince(since), true);
      }));

    it("is not idle while a worker holds writes, and is once it reports none", () =>
      using(make, async ({ heartbeats }) => {
        const since = Date.now();
        const busy = uniqueName("worker");
        await heartbeats.beat(uniqueName("worker"), 0);
        await heartbeats.beat(busy, 3);
        assert.equal(await heartbeats.idleSince(since), false);
        await heartbeats.beat(busy, 0);
        assert.equal(await heartbeats.idleSince(since), true);
      }));

    it("does not count a report made before the mark", () =>
      using(make, async ({ heartbeats }) => {
        await heartbeats.beat(uniqueName("worker"), 0);
        assert.equal(await heartbeats.idleSince(Date.now() + 60_000), false, "that worker has not reported since");
      }));
  });
}
