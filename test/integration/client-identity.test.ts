import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { ApiError, ChatApi, ChatSocket, type LiveMessage, type LiveMessageDeleted, type LivePresenceChange, type LiveRead, type LiveTyping } from "../../client/index.js";
import { eventually } from "../support/env.js";
import { startInProcess, type InProcessServer } from "../support/in-process.js";
import { userToken } from "../support/user-tokens.js";

// The client's identity features against a real server (embedded adapters):
// the auth hook on REST and on the socket, secrets, deletes in the delivery
// order, read markers, presence and typing events.

describe("client: users, deletes, read markers, presence, typing", () => {
  let srv: InProcessServer;
  const sockets: ChatSocket[] = [];
  before(async () => {
    srv = await startInProcess("embedded", "client-identity");
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await srv?.stop();
  });

  /** A client acting as `token`'s user (null: anonymous), with its socket connected. */
  const clientAs = (token: () => string | null): { api: ChatApi; socket: ChatSocket } => {
    const api = new ChatApi({ baseUrl: srv.base, auth: token, retries: 0 });
    const socket = new ChatSocket({ api, auth: token, WebSocket: WebSocket as never, heartbeatMs: 0 });
    sockets.push(socket);
    socket.connect();
    return { api, socket };
  };

  it("acts as a user on REST and on the socket, deletes in order, and follows markers, presence and typing", async () => {
    const admin = new ChatApi({ baseUrl: srv.base });
    const app = await admin.createApplication("client identity");
    assert.match(app.secret, /^[A-Za-z0-9_-]{43}$/);
    const chat = (await admin.createChat(app.token, "room")).number;
    let secret = app.secret;
    const aliceToken = await userToken(secret, { sub: "alice", name: "Alice", app: app.token });
    const bobToken = await userToken(secret, { sub: "bob", app: app.token });
    const alice = clientAs(() => aliceToken);
    const bob = clientAs(() => bobToken);

    const seen: (LiveMessage | LiveMessageDeleted)[] = [];
    const presence: [string, LivePresenceChange][] = [];
    const typing: LiveTyping[] = [];
    const reads: LiveRead[] = [];
    bob.socket.on("message", (m) => seen.push(m));
    bob.socket.on("message_deleted", (d) => seen.push(d));
    bob.socket.on("presence_joined", (p) => presence.push(["joined", p]));
    bob.socket.on("presence_left", (p) => presence.push(["left", p]));
    bob.socket.on("typing", (t) => typing.push(t));
    bob.socket.on("read", (r) => reads.push(r));
    await bob.socket.subscribe(app.token, chat, { since: 0 });
    await alice.socket.subscribe(app.token, chat, { since: 0 });

    // Senders: REST and socket sends carry alice.
    const first = await alice.api.sendMessage(app.token, chat, "over REST");
    assert.deepEqual(first.sender, { id: "alice", name: "Alice" });
    const { number: second } = await alice.socket.send(app.token, chat, "over the socket");
    await eventually(() => seen.length === 2, 10_000, "both messages at bob's");
    assert.deepEqual(seen.map((m) => ("sender" in m ? m.sender : null)), [{ id: "alice", name: "Alice" }, { id: "alice", name: "Alice" }]);

    // Presence and typing, through the client.
    await eventually(() => presence.some(([kind, p]) => kind === "joined" && p.user.id === "alice"), 10_000, "alice's join");
    assert.deepEqual((await bob.api.getPresence(app.token, chat)).map((u) => u.id).sort(), ["alice", "bob"]);
    assert.deepEqual((await bob.socket.presence(app.token, chat)).map((u) => u.id).sort(), ["alice", "bob"]);
    alice.socket.typing(app.token, chat);
    await eventually(() => typing.length === 1, 10_000, "alice's typing");
    assert.deepEqual(typing[0], { app: app.token, chat, user: { id: "alice", name: "Alice" } });

    // A delete: a `message_deleted` event, and a fresh subscription sees the tombstone in its place.
    await alice.api.deleteMessage(app.token, chat, first.number);
    await alice.api.deleteMessage(app.token, chat, first.number); // again: still done
    await eventually(() => seen.some((m) => !("body" in m)), 10_000, "the deletion");
    await assert.rejects(bob.api.getMessage(app.token, chat, first.number), (err: unknown) => err instanceof ApiError && err.status === 404);
    const late = clientAs(() => bobToken);
    const replayed: string[] = [];
    late.socket.on("message", (m) => replayed.push(`message ${m.number}`));
    late.socket.on("message_deleted", (d) => replayed.push(`deleted ${d.number}`));
    await late.socket.subscribe(app.token, chat, { since: 0 });
    await eventually(() => replayed.length === 2, 10_000, "the replay");
    assert.deepEqual(replayed, [`deleted ${first.number}`, `message ${second}`], "in number order");

    // Read markers over REST and the socket, and the read events.
    assert.deepEqual(await bob.api.getReadState(app.token, chat), { number: 0, unread: 1 });
    assert.deepEqual(await bob.socket.markRead(app.token, chat, second), { number: second, unread: 0 });
    assert.deepEqual(await bob.api.markRead(app.token, chat, 0), { number: second, unread: 0 }, "never backwards");
    await eventually(() => reads.some((r) => r.user.id === "bob" && r.number === second), 10_000, "bob's read event");

    // Secrets: rotate, close; an anonymous client is refused, a user is not, and an anonymous subscription ends.
    const watcher = clientAs(() => null);
    const revoked: { app: string; chat: number | null; code: string }[] = [];
    watcher.socket.on("unsubscribed", ({ app, chat, error }) => revoked.push({ app, chat, code: error.code }));
    await watcher.socket.subscribe(app.token, chat);
    secret = (await admin.rotateSecret(app.token, secret)).secret;
    assert.equal((await admin.setUserTokensRequired(app.token, secret, true)).user_tokens_required, true);
    await eventually(() => revoked.length === 1, 15_000, "the anonymous subscription to end");
    assert.deepEqual(revoked, [{ app: app.token, chat, code: "unauthorized" }]);
    assert.equal(watcher.socket.lastDelivered(app.token, chat), undefined, "an ended subscription is not resumed");
    const anonymous = new ChatApi({ baseUrl: srv.base, retries: 0 });
    await assert.rejects(anonymous.listMessages(app.token, chat), (err: unknown) => err instanceof ApiError && err.status === 401 && err.code === "unauthorized");
    assert.equal((await alice.api.listMessages(app.token, chat)).data.length, 1);
    assert.deepEqual(await alice.socket.authenticate(), { id: "alice", name: "Alice" }, "renewing the socket's user");

    alice.socket.close();
    await eventually(() => presence.some(([kind, p]) => kind === "left" && p.user.id === "alice"), 10_000, "alice's leave");
  });
});
