// Contract of the RecentReadMarkers port (src/ports/read-markers.ts), for every adapter.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RecentReadMarkers } from "../../src/ports/read-markers.js";
import { newToken, using, type Cleanup } from "./contract-helpers.js";

export interface ReadMarkersFixture extends Cleanup {
  markers: RecentReadMarkers;
}

export function readMarkersContract(name: string, make: () => Promise<ReadMarkersFixture>): void {
  describe(`RecentReadMarkers contract: ${name}`, () => {
    it("moves a marker forward only and answers where it is", () =>
      using(make, async ({ markers }) => {
        const app = newToken();
        assert.equal(await markers.get(app, 1, "alice"), null);
        assert.equal(await markers.advance(app, 1, "alice", 0), 0, "0 is a marker too");
        assert.equal(await markers.advance(app, 1, "alice", 5), 5);
        assert.equal(await markers.advance(app, 1, "alice", 3), 5, "never backwards");
        assert.equal(await markers.get(app, 1, "alice"), 5);
        assert.equal(await markers.advance(app, 1, "alice", 9), 9);
        assert.equal(await markers.get(app, 1, "bob"), null, "per user");
        assert.equal(await markers.get(app, 2, "alice"), null, "per chat");
        assert.equal(await markers.get(newToken(), 1, "alice"), null, "per application");
      }));

    it("settles concurrent moves at the highest", () =>
      using(make, async ({ markers }) => {
        const app = newToken();
        const answers = await Promise.all([7, 3, 12, 1, 9].map((n) => markers.advance(app, 1, "u", n)));
        assert.equal(Math.max(...answers), 12);
        for (const [i, n] of [7, 3, 12, 1, 9].entries()) assert.ok(answers[i]! >= n, "each answer is at least its own move");
        assert.equal(await markers.get(app, 1, "u"), 12);
      }));
  });
}
