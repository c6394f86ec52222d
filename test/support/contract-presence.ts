// Contract of the Presence port (src/ports/presence.ts), for every adapter.
// Ageing out is awaited by polling sweep() (no fixed sleep): a member whose
// processes all stopped refreshing is gone once their TTL passed.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Presence } from "../../src/ports/presence.js";
import { eventually, newToken, uniqueName, using, type Cleanup } from "./contract-helpers.js";

export interface PresenceFixture extends Cleanup {
  presence: Presence;
}

const LONG = 60_000;
const alice = { id: "alice", name: "Alice ✓" };
const bob = { id: "bob", name: null };
const byId = (users: { id: string }[]): string[] => users.map((u) => u.id).sort();

export function presenceContract(name: string, make: () => Promise<PresenceFixture>): void {
  describe(`Presence contract: ${name}`, () => {
    it("tells a join and a leave once per user, whatever the processes holding them", () =>
      using(make, async ({ presence }) => {
        const app = newToken();
        const [p1, p2] = [uniqueName("p1"), uniqueName("p2")];
        assert.equal(await presence.join(app, 1, p1, alice, LONG), true, "the first process: joined");
        assert.equal(await presence.join(app, 1, p2, alice, LONG), false, "a second process: already in");
        assert.equal(await presence.join(app, 1, p1, alice, LONG), false, "the same process again");
        assert.equal(await presence.join(app, 1, p2, bob, LONG), true);
        assert.deepEqual((await presence.members(app, 1)).sort((a, b) => a.id.localeCompare(b.id)), [alice, bob], "each once, with names");
        assert.equal(await presence.leave(app, 1, p1, alice.id), false, "still held by p2");
        assert.deepEqual(byId(await presence.members(app, 1)), ["alice", "bob"]);
        assert.equal(await presence.leave(app, 1, p2, alice.id), true, "the last process: left");
        assert.equal(await presence.leave(app, 1, p2, alice.id), false, "told once");
        assert.equal(await presence.leave(app, 1, p1, "nobody"), false);
        assert.deepEqual(await presence.members(app, 1), [bob]);
        assert.deepEqual(await presence.members(app, 2), [], "per chat");
        assert.deepEqual(await presence.members(newToken(), 1), [], "per application");
      }));

    it("ages out the users of a process that stopped refreshing, and only them", () =>
      using(make, async ({ presence }) => {
        const app = newToken();
        const [dying, living] = [uniqueName("dying"), uniqueName("living")];
        await presence.join(app, 1, dying, alice, 300);
        await presence.join(app, 1, dying, bob, 300);
        await presence.join(app, 1, living, bob, LONG);
        const gone = await eventually(async () => {
          const swept = await presence.sweep(app, 1);
          assert.ok(swept.length > 0, "nobody aged out yet");
          return swept;
        }, { timeoutMs: 10_000, what: "alice to age out" });
        assert.deepEqual(gone, [alice], "bob is still held by the living process");
        assert.deepEqual(await presence.members(app, 1), [bob]);
        assert.deepEqual(await presence.sweep(app, 1), [], "told once");
        assert.equal(await presence.leave(app, 1, dying, alice.id), false, "a late goodbye changes nothing");
        assert.equal(await presence.join(app, 1, dying, alice, LONG), true, "a user who aged out joins again");
      }));

    it("refresh keeps users in, and answers the ones that had aged out", () =>
      using(make, async ({ presence }) => {
        const app = newToken();
        const process = uniqueName("p");
        await presence.join(app, 1, process, alice, 400);
        await presence.join(app, 1, process, bob, LONG);
        await eventually(async () => assert.deepEqual(byId(await presence.members(app, 1)), ["bob"]), { timeoutMs: 10_000, what: "alice's hold to lapse" });
        assert.deepEqual(await presence.refresh(app, 1, process, [alice, bob], LONG), [alice], "alice is back; bob never left");
        assert.deepEqual(byId(await presence.members(app, 1)), ["alice", "bob"]);
        assert.deepEqual(await presence.refresh(app, 1, process, [], LONG), []);
      }));
  });
}
