// Contract of the LeaseLock port (src/ports/lock.ts), for every adapter.
// The factory returns two holders competing on one backend (two processes).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LeaseLock } from "../../src/ports/lock.js";
import { uniqueName, using, waitFor, type Cleanup } from "./contract-helpers.js";

export interface LockFixture extends Cleanup {
  a: LeaseLock;
  b: LeaseLock;
}

const LONG = 60_000;

export function lockContract(name: string, make: () => Promise<LockFixture>): void {
  describe(`LeaseLock contract: ${name}`, () => {
    it("has one holder at a time, who can renew", () =>
      using(make, async ({ a, b }) => {
        const lease = uniqueName("lease");
        assert.equal(await a.acquire(lease, LONG), true);
        assert.equal(await b.acquire(lease, LONG), false);
        assert.equal(await a.acquire(lease, LONG), true, "the holder renews");
        assert.equal(await b.acquire(lease, LONG), false);
        assert.equal(await b.acquire(uniqueName("other"), LONG), true, "other names are independent");
        await a.release(lease);
      }));

    it("frees the lease on release by its holder, and only by its holder", () =>
      using(make, async ({ a, b }) => {
        const lease = uniqueName("lease");
        assert.equal(await b.acquire(lease, LONG), true);
        await a.release(lease); // not a's to release
        assert.equal(await a.acquire(lease, LONG), false);
        await b.release(lease);
        assert.equal(await a.acquire(lease, LONG), true);
        assert.equal(await b.acquire(lease, LONG), false);
        await a.release(lease);
      }));

    it("lets another holder take a lease its holder stopped renewing", () =>
      using(make, async ({ a, b }) => {
        const lease = uniqueName("lease");
        assert.equal(await a.acquire(lease, 150), true);
        await waitFor(() => b.acquire(lease, LONG), { what: "the expired lease to be free" });
        assert.equal(await a.acquire(lease, LONG), false, "b holds it now");
        await b.release(lease);
      }));
  });
}
