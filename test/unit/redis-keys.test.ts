// Every Redis script runs in one hash slot (docs/DESIGN.md, Redis Cluster):
// the keys and channel one step touches must hash together, the identity
// features' keys included, and each slot's epoch marker must sit in it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keySlot, SLOTS } from "../../src/adapters/redis/key-slot.js";
import { RedisKeys } from "../../src/adapters/redis/keys.js";
import { chatChannel, appChannel } from "../../src/domain/live-batch.js";

const keys = new RedisKeys("chat:");
const app = "AbCdEfGhIjKlMnOpQrStUv";

describe("Redis keys and slots", () => {
  it("computes slots as Redis Cluster does (CRC16 of the hash tag)", () => {
    // Values from CLUSTER KEYSLOT on Redis 7.
    assert.equal(keySlot("foo"), 12182);
    assert.equal(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
    assert.equal(keySlot("foo{}{bar}"), 8363, "an empty first tag: the whole key counts");
    assert.equal(keySlot("{user1000}.following"), 3443);
  });

  it("puts everything of one chat in one slot: counter, log, send keys, read markers, presence, live channel", () => {
    const slot = keySlot(keys.messageCounter(app, 7));
    const chatKeys = [
      keys.chatLog(app, 7),
      keys.messageSendKey(app, 7, "key-1"),
      keys.readMarkers(app, 7),
      keys.presence(app, 7),
      keys.presenceUsers(app, 7),
      keys.channel(chatChannel(app, 7)),
    ];
    for (const key of chatKeys) assert.equal(keySlot(key), slot, key);
  });

  it("puts an application's counter, create keys, recent chats and channel in one slot", () => {
    const slot = keySlot(keys.chatCounter(app));
    for (const key of [keys.chatCreateKey(app, "k"), keys.recentChats(app), keys.channel(appChannel(app))]) assert.equal(keySlot(key), slot, key);
  });

  it("has an epoch marker in every slot", () => {
    for (const slot of [0, 1, 5461, 10923, SLOTS - 1]) assert.equal(keySlot(keys.marker(slot)), slot);
  });
});
