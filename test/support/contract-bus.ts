// Contract of the Bus port (src/ports/bus.ts), for every adapter.
//
// The factory returns two buses on one backend, as two server processes would
// hold. "Not delivered" is checked without sleeping: one publisher's messages
// arrive in order, so once a later message arrived, an earlier one that was
// going to arrive has arrived too.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Bus } from "../../src/ports/bus.js";
import { uniqueName, using, waitFor, type Cleanup } from "./contract-helpers.js";

export interface BusFixture extends Cleanup {
  a: Bus;
  b: Bus;
}

interface Received {
  channel: string;
  payload: Uint8Array;
}

function record(bus: Bus): Received[] {
  const received: Received[] = [];
  bus.onMessage((channel, payload) => received.push({ channel, payload }));
  return received;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (payload: Uint8Array): string => new TextDecoder().decode(payload);
const arrived = (received: Received[], channel: string, body: string): boolean =>
  received.some((r) => r.channel === channel && text(r.payload) === body);

export function busContract(name: string, make: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    it("delivers a publish to every bus subscribed to the channel, byte for byte", () =>
      using(make, async ({ a, b }) => {
        const channel = uniqueName("chat");
        const atA = record(a);
        const atB = record(b);
        await a.subscribe(channel);
        await b.subscribe(channel);
        const payload = new Uint8Array([0, 1, 2, 250, 255, ...bytes("héllo ✓ 👋")]);
        await a.publish(channel, payload);

        await waitFor(() => atA.length > 0 && atB.length > 0, { what: "delivery to both buses" });
        for (const received of [atA, atB]) {
          assert.equal(received.length, 1);
          assert.equal(received[0]!.channel, channel);
          assert.deepEqual([...received[0]!.payload], [...payload]);
        }
      }));

    it("does not deliver channels a bus has not subscribed", () =>
      using(make, async ({ a, b }) => {
        const wanted = uniqueName("wanted");
        const other = uniqueName("other");
        const atB = record(b);
        await b.subscribe(wanted);
        await a.publish(other, bytes("not for b"));
        await a.publish(wanted, bytes("for b"));
        await waitFor(() => arrived(atB, wanted, "for b"), { what: "the subscribed channel" });
        assert.deepEqual(atB.map((r) => r.channel), [wanted]);
      }));

    it("stops delivering a channel after unsubscribe", () =>
      using(make, async ({ a, b }) => {
        const left = uniqueName("left");
        const kept = uniqueName("kept");
        const atB = record(b);
        await b.subscribe(left);
        await b.subscribe(kept);
        await a.publish(left, bytes("before"));
        await waitFor(() => arrived(atB, left, "before"), { what: "delivery while subscribed" });

        await b.unsubscribe(left);
        await a.publish(left, bytes("after"));
        await a.publish(kept, bytes("marker"));
        await waitFor(() => arrived(atB, kept, "marker"), { what: "the marker on the kept channel" });
        assert.deepEqual(atB.map((r) => text(r.payload)), ["before", "marker"]);
      }));

    it("hands each receiver its own bytes, unaffected by later changes to the original or by other receivers", () =>
      using(make, async ({ a, b }) => {
        const channel = uniqueName("copy");
        const atB = record(b);
        a.onMessage((_channel, payload) => payload.fill(0)); // a careless receiver
        await a.subscribe(channel);
        await b.subscribe(channel);
        const payload = bytes("original");
        await a.publish(channel, payload);
        payload.fill(120);
        await waitFor(() => atB.length > 0, { what: "delivery" });
        assert.equal(text(atB[0]!.payload), "original");
      }));
  });
}
