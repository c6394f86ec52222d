import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "./env.js";
import { Api } from "./http.js";
import { userToken } from "./user-tokens.js";

export interface Target {
  base: string;
  adminKey: string | null;
  /** Everything the server process logged so far. */
  output(): string;
  stop(): Promise<void>;
}

const FORBIDDEN_KEYS = new Set(["id", "_id", "chat_id", "application_id", "app_id", "message_id"]);

/** A user as the API shows one (`sender`, presence members): its `id` is the application's own user id, public by design. */
const isUser = (value: object): boolean => Object.keys(value).sort().join() === "id,name";

/** Every key of every JSON value, recursively (but a user's `id`). */
function keysOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => keysOf(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (!(k === "id" && isUser(value))) out.push(k);
      keysOf(v, out);
    }
  }
  return out;
}

/** REST acceptance (docs/API.md), against whatever mode `start` launches. */
export function restAcceptance(mode: string, start: () => Promise<Target>): void {
  describe(`REST API (${mode})`, () => {
    let target: Target;
    let api: Api;
    let token: string;

    before(async () => {
      target = await start();
      api = new Api(target.base);
      const res = await api.post("/api/v1/applications", { name: "acceptance" });
      assert.equal(res.status, 201);
      token = res.json.token;
      await api.postReady(`/api/v1/applications/${token}/chats`, { name: "warm-up" }); // waits out a first-start fence
    });
    after(async () => target?.stop());

    const app = () => `/api/v1/applications/${token}`;

    it("creates, reads and renames an application", async () => {
      const created = await api.post("/api/v1/applications", { name: "Ünïcødé ✓ 💬" });
      assert.equal(created.status, 201);
      assert.match(created.json.token, /^[A-Za-z0-9_-]{22}$/);
      assert.deepEqual(Object.keys(created.json).sort(), ["chats_count", "created_at", "name", "secret", "token", "updated_at", "user_tokens_required"]);
      assert.equal(created.json.name, "Ünïcødé ✓ 💬");
      assert.equal(created.json.chats_count, 0);
      assert.ok(!Number.isNaN(Date.parse(created.json.created_at)) && created.json.created_at.endsWith("Z"));
      const read = await api.get(`/api/v1/applications/${created.json.token}`);
      assert.equal(read.status, 200);
      assert.equal(read.json.name, "Ünïcødé ✓ 💬");
      for (const method of ["PATCH", "PUT"] as const) {
        const renamed = await api.call(method, `/api/v1/applications/${created.json.token}`, { name: `renamed ${method}` });
        assert.equal(renamed.status, 200);
        assert.equal(renamed.json.name, `renamed ${method}`);
        assert.equal((await api.get(`/api/v1/applications/${created.json.token}`)).json.name, `renamed ${method}`);
      }
    });

    it("accepts form-encoded bodies", async () => {
      const form = { "content-type": "application/x-www-form-urlencoded" };
      const created = await api.post("/api/v1/applications", "name=form+app&utf8=%E2%9C%93", form);
      assert.equal(created.status, 201);
      assert.equal(created.json.name, "form app");
      const message = await api.post(`${app()}/chats/1/messages`, "body=caf%C3%A9+%26+more", form);
      assert.equal(message.status, 201);
      assert.equal(message.json.body, "café & more");
    });

    it("rejects bad input with clear errors", async () => {
      const cases: [string, string, unknown, Record<string, string> | undefined, number, string][] = [
        ["POST", "/api/v1/applications", "{not json", undefined, 400, "invalid_json"],
        ["POST", "/api/v1/applications", { name: 42 }, undefined, 400, "validation_failed"],
        ["POST", "/api/v1/applications", { name: "" }, undefined, 400, "validation_failed"],
        ["POST", "/api/v1/applications", { name: "x".repeat(256) }, undefined, 400, "validation_failed"],
        ["POST", "/api/v1/applications", {}, undefined, 400, "validation_failed"],
        ["POST", "/api/v1/applications", [], undefined, 400, "validation_failed"],
        ["POST", "/api/v1/applications", "null", undefined, 400, "validation_failed"],
        ["POST", "/api/v1/applications", "name=x", { "content-type": "text/plain" }, 415, "unsupported_media_type"],
        ["POST", `${app()}/chats/1/messages`, { body: 7 }, undefined, 400, "validation_failed"],
        ["POST", `${app()}/chats/1/messages`, { body: "" }, undefined, 400, "validation_failed"],
        ["POST", `${app()}/chats/1/messages`, { body: "é".repeat(32_769) }, undefined, 400, "validation_failed"],
        ["POST", `${app()}/chats/1/messages`, '{"body":"lone \\ud800 surrogate"}', undefined, 400, "validation_failed"],
        ["DELETE", app(), undefined, undefined, 405, "method_not_allowed"],
        ["GET", "/api/v1/nothing-here", undefined, undefined, 404, "not_found"],
        ["GET", "/api/v1/applications/unknowntoken0000000000", undefined, undefined, 404, "not_found"],
        ["POST", "/api/v1/applications/unknowntoken0000000000/chats", {}, undefined, 404, "not_found"],
        ["POST", "/api/v1/applications/unknowntoken0000000000/chats/1/messages", { body: "x" }, undefined, 404, "not_found"],
        ["POST", `${app()}/chats/999999/messages`, { body: "x" }, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/999999`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/abc`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/0`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/-1`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/1.5`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/99999999999999999999`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/1/messages/xyz`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/1/messages/424242`, undefined, undefined, 404, "not_found"],
        ["GET", `${app()}/chats/1/messages?after=1&before=5`, undefined, undefined, 400, "validation_failed"],
        ["GET", `${app()}/chats/1/messages?limit=0`, undefined, undefined, 400, "validation_failed"],
        ["GET", `${app()}/chats/1/messages?limit=201`, undefined, undefined, 400, "validation_failed"],
        ["GET", `${app()}/chats/1/messages?limit=abc`, undefined, undefined, 400, "validation_failed"],
        ["GET", `${app()}/chats?after=-3`, undefined, undefined, 400, "validation_failed"],
      ];
      for (const [method, path, body, headers, status, code] of cases) {
        const res = await api.call(method, path, body, headers);
        assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)} → ${JSON.stringify(res.json)}`);
        assert.equal(res.json.error.code, code, `${method} ${path}`);
        assert.equal(typeof res.json.error.message, "string");
        assert.doesNotMatch(JSON.stringify(res.json), /at .*\.(ts|js):\d+/, "no stack traces");
      }
      const failed = await api.post("/api/v1/applications", { name: 42 });
      assert.deepEqual(failed.json.error.details.map((d: { field: string }) => d.field), ["name"]);
    });

    it("names an application by its one canonical token: variants are 404 and store, number or log nothing", async () => {
      const created = await api.post("/api/v1/applications", { name: "canonical" });
      const real = created.json.token as string;
      const base = `/api/v1/applications/${real}`;
      assert.equal((await api.postReady(`${base}/chats`, {})).status, 201);
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "first" })).json.number, 1);
      const flipped = real.replace(/[a-z]/, (c) => c.toUpperCase()) === real ? real.replace(/[A-Z]/, (c) => c.toLowerCase()) : real.replace(/[a-z]/, (c) => c.toUpperCase());
      const variants = [`${real}%20`, `%20${real}`, `${real}%00`, `${real}%C3%A9`, `${real}=`, flipped, `${real.slice(0, 21)}%C3%A9`, "%C3%A9", `${real}${real}`];
      for (const variant of variants) {
        const app = `/api/v1/applications/${variant}`;
        const answers = [
          await api.get(app),
          await api.patch(app, { name: "hijack" }),
          await api.post(`${app}/chats`, {}),
          await api.get(`${app}/chats`),
          await api.get(`${app}/chats/1`),
          await api.post(`${app}/chats/1/messages`, { body: "via a variant" }),
          await api.get(`${app}/chats/1/messages`),
          await api.get(`${app}/chats/1/messages/1`),
          await api.get(`${app}/chats/1/messages/search?q=first`),
        ];
        for (const res of answers) assert.equal(res.status, 404, `${variant}: ${res.status} ${JSON.stringify(res.json)}`);
      }
      // Nothing was numbered under a variant: the real counters moved by exactly one each.
      assert.equal((await api.post(`${base}/chats`, {})).json.number, 2);
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "second" })).json.number, 2);
      const page = await api.get(`${base}/chats/1/messages`);
      assert.deepEqual(page.json.data.map((m: { body: string }) => m.body), ["second", "first"]);
      assert.equal((await api.get(base)).json.name, "canonical");
      const log = target.output();
      for (const variant of [real, flipped]) assert.ok(!log.includes(variant), "no whole token, nor a variant of one, in the log");
    });

    it("honours Idempotency-Key on creates: a repeat answers the original, creates nothing; another body is 409", async () => {
      const base = app();
      const key = (label: string) => ({ "Idempotency-Key": `${label}-${Math.random().toString(36).slice(2)}` });
      const chatKey = key("chat");
      const first = await api.post(`${base}/chats`, { name: "once" }, chatKey);
      assert.equal(first.status, 201);
      const again = await api.post(`${base}/chats`, { name: "once" }, chatKey);
      assert.equal(again.status, 200);
      assert.deepEqual(again.json, first.json, "the original chat, same number");
      const other = await api.post(`${base}/chats`, { name: "different" }, chatKey);
      assert.equal(other.status, 409);
      assert.equal(other.json.error.code, "idempotency_conflict");
      const chat = first.json.number as number;

      const sendKey = key("send");
      const sent = await api.post(`${base}/chats/${chat}/messages`, { body: "exactly once" }, sendKey);
      assert.equal(sent.status, 201);
      // Concurrent repeats (a client retrying while the first answer is on its way) all get the original.
      const repeats = await Promise.all(Array.from({ length: 5 }, () => api.post(`${base}/chats/${chat}/messages`, { body: "exactly once" }, sendKey)));
      for (const r of repeats) {
        assert.equal(r.status, 200);
        assert.equal(r.json.number, sent.json.number);
        assert.equal(r.json.created_at, sent.json.created_at);
      }
      assert.equal((await api.post(`${base}/chats/${chat}/messages`, { body: "another body" }, sendKey)).status, 409);
      const fresh = await Promise.all(Array.from({ length: 5 }, (_, i) => api.post(`${base}/chats/${chat}/messages`, { body: "same body" }, key(`k${i}`))));
      assert.deepEqual(fresh.map((r) => r.status), [201, 201, 201, 201, 201], "different keys are different creates");
      const page = await api.get(`${base}/chats/${chat}/messages`);
      assert.deepEqual(page.json.data.map((m: { body: string }) => m.body).filter((b: string) => b === "exactly once"), ["exactly once"]);
      assert.equal(page.json.data.length, 6);

      for (const bad of ["", " spaced key", "é", "x".repeat(129)]) {
        const res = await api.post(`${base}/chats/${chat}/messages`, { body: "bad key" }, { "Idempotency-Key": bad });
        assert.equal(res.status, 400, JSON.stringify(bad));
        assert.equal(res.json.error.code, "validation_failed");
        assert.equal(res.json.error.details[0].field, "Idempotency-Key");
      }
    });

    it("answers 413 for a body over 1 MiB and keeps serving", async () => {
      const res = await api.post("/api/v1/applications", { name: "x", pad: "y".repeat(1024 * 1024) });
      assert.equal(res.status, 413);
      assert.equal(res.json.error.code, "payload_too_large");
      assert.equal((await api.get(app())).status, 200);
    });

    it("numbers chats and pages them by number", async () => {
      const created = await api.post("/api/v1/applications", { name: "paging" });
      const base = `/api/v1/applications/${created.json.token}`;
      const numbers: number[] = [];
      for (let i = 0; i < 7; i++) {
        const chat = await api.postReady(`${base}/chats`, i % 2 ? { name: `chat ${i}` } : {});
        assert.equal(chat.status, 201);
        assert.deepEqual(Object.keys(chat.json).sort(), ["created_at", "messages_count", "name", "number", "updated_at"]);
        numbers.push(chat.json.number);
      }
      assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7]);
      assert.equal((await api.get(`${base}/chats/2`)).json.name, "chat 1");
      assert.equal((await api.get(`${base}/chats/1`)).json.name, null);
      const seen: number[] = [];
      let next: string | null = "";
      while (next !== null) {
        const page = await api.get(`${base}/chats?limit=3${next ? `&after=${next}` : ""}`);
        assert.equal(page.status, 200);
        assert.ok(page.json.data.length <= 3);
        seen.push(...page.json.data.map((c: { number: number }) => c.number));
        next = page.json.next;
      }
      assert.deepEqual(seen, numbers);
      const renamed = await api.patch(`${base}/chats/3`, { name: "renamed" });
      assert.equal(renamed.status, 200);
      assert.equal((await api.get(`${base}/chats/3`)).json.name, "renamed");
      await eventually(async () => (await api.get(base)).json.chats_count === 7, 60_000, "chats_count to reach 7");
    });

    it("creates messages with read-your-writes, edits and pages them", async () => {
      const chat = (await api.postReady(`${app()}/chats`, { name: "messages" })).json.number;
      const path = `${app()}/chats/${chat}/messages`;
      const bodies = ["hello", "مرحبا", "你好", "e\u0301 combining", "emoji 👩‍👩‍👧 ok", "\u0000nul and \t tab", "x".repeat(65_536)];
      const created = [];
      for (const body of bodies) {
        const res = await api.post(path, { body });
        assert.equal(res.status, 201, JSON.stringify(res.json).slice(0, 200));
        assert.deepEqual(Object.keys(res.json).sort(), ["body", "chat_number", "created_at", "number", "sender", "updated_at"]);
        assert.equal(res.json.sender, null, "an anonymous write");
        assert.equal(res.json.body, body, "stored exactly as sent");
        assert.equal(res.json.chat_number, chat);
        created.push(res.json);
        const read = await api.get(`${path}/${res.json.number}`);
        assert.equal(read.status, 200, "visible at once");
        assert.equal(read.json.body, body);
      }
      assert.deepEqual(created.map((m) => m.number), [1, 2, 3, 4, 5, 6, 7]);

      const newest = await api.get(`${path}?limit=3`);
      assert.deepEqual(newest.json.data.map((m: { number: number }) => m.number), [7, 6, 5]);
      assert.equal(newest.json.next, "5");
      const older = await api.get(`${path}?limit=3&before=${newest.json.next}`);
      assert.deepEqual(older.json.data.map((m: { number: number }) => m.number), [4, 3, 2]);
      const ascending = await api.get(`${path}?after=5`);
      assert.deepEqual(ascending.json.data.map((m: { number: number }) => m.number), [6, 7]);
      assert.equal(ascending.json.next, null);

      for (const method of ["PATCH", "PUT"] as const) {
        const edited = await api.call(method, `${path}/2`, { body: `edited by ${method}` });
        assert.equal(edited.status, 200);
        assert.equal(edited.json.body, `edited by ${method}`);
        assert.ok(Date.parse(edited.json.updated_at) > Date.parse(created[1].updated_at) || method === "PUT");
        assert.equal((await api.get(`${path}/2`)).json.body, `edited by ${method}`);
        const listed = await api.get(`${path}?after=1&limit=1`);
        assert.equal(listed.json.data[0].body, `edited by ${method}`);
      }
      await eventually(async () => (await api.get(`${app()}/chats/${chat}`)).json.messages_count === 7, 60_000, "messages_count to reach 7");
      assert.equal((await api.get(`${path}/2`)).json.body, "edited by PUT", "the last edit survives persistence");
    });

    it("guards the application listing with the admin key", async () => {
      const anonymous = await api.get("/api/v1/applications");
      if (!target.adminKey) {
        assert.equal(anonymous.status, 403);
        assert.equal(anonymous.json.error.code, "forbidden");
        return;
      }
      assert.equal(anonymous.status, 401);
      assert.equal((await api.get("/api/v1/applications", { authorization: "Bearer wrong-key-wrong-key" })).status, 401);
      const auth = { authorization: `Bearer ${target.adminKey}` };
      const tokens: string[] = [];
      let next: string | null = "";
      while (next !== null) {
        const page = await api.get(`/api/v1/applications?limit=2${next ? `&after=${next}` : ""}`, auth);
        assert.equal(page.status, 200);
        tokens.push(...page.json.data.map((a: { token: string }) => a.token));
        next = page.json.next;
      }
      assert.ok(tokens.includes(token));
      assert.equal(new Set(tokens).size, tokens.length);
    });

    it("serves health, readiness and the OpenAPI document", async () => {
      assert.equal((await api.get("/healthz")).status, 200);
      const ready = await api.get("/readyz");
      assert.equal(ready.status, 200, JSON.stringify(ready.json));
      assert.equal(ready.json.status, "ready");
      const doc = await api.get("/api/v1/openapi.json");
      assert.equal(doc.json.openapi, "3.1.0");
      assert.ok(doc.json.paths["/api/v1/applications/{token}/chats/{chat}/messages"].post.requestBody);
    });

    it("serves identity, deletes, read markers and presence (their answers join the walk below)", async () => {
      const created = await api.post("/api/v1/applications", { name: "identity walk" });
      const base = `/api/v1/applications/${created.json.token}`;
      assert.equal((await api.postReady(`${base}/chats`, { name: "walk" })).status, 201);
      const rotated = await api.post(`${base}/secret`, undefined, { authorization: `Bearer ${created.json.secret}` });
      assert.equal(rotated.status, 200);
      const secret = rotated.json.secret as string;
      const auth = { authorization: `Bearer ${await userToken(secret, { sub: "walker", name: "Walker", app: created.json.token })}` };
      assert.equal((await api.patch(base, { user_tokens_required: true }, { authorization: `Bearer ${secret}` })).json.user_tokens_required, true);
      const sent = await api.post(`${base}/chats/1/messages`, { body: "walking" }, auth);
      assert.deepEqual(sent.json.sender, { id: "walker", name: "Walker" });
      assert.equal((await api.post(`${base}/chats/1/messages`, { body: "to delete" }, auth)).status, 201);
      assert.deepEqual((await api.put(`${base}/chats/1/read`, { number: 1 }, auth)).json, { number: 1, unread: 1 });
      assert.deepEqual((await api.get(`${base}/chats/1/read`, auth)).json, { number: 1, unread: 1 });
      assert.deepEqual((await api.get(`${base}/chats/1/presence`, auth)).json, { data: [] });
      assert.equal((await api.call("DELETE", `${base}/chats/1/messages/2`, undefined, auth)).status, 204);
      assert.deepEqual((await api.get(`${base}/chats/1/read`, auth)).json, { number: 1, unread: 0 });
      for (const res of [await api.get(`${base}/chats/1/messages`), await api.get(`${base}/chats/1/read`), await api.get(`${base}/chats/1/presence`)]) {
        assert.deepEqual([res.status, res.json.error.code], [401, "unauthorized"]);
      }
      const page = await api.get(`${base}/chats/1/messages`, auth);
      assert.deepEqual(page.json.data.map((m: { number: number }) => m.number), [1]);
      const doc = await api.get("/api/v1/openapi.json");
      for (const path of ["/api/v1/applications/{token}/secret", "/api/v1/applications/{token}/chats/{chat}/read", "/api/v1/applications/{token}/chats/{chat}/presence"]) assert.ok(doc.json.paths[path], path);
      assert.ok(doc.json.paths["/api/v1/applications/{token}/chats/{chat}/messages/{message}"].delete);
    });

    it("never shows an internal id in any response", () => {
      assert.ok(Api.bodies.length > 50, `walked ${Api.bodies.length} bodies`);
      const leaked = Api.bodies.flatMap((b) => keysOf(b)).filter((k) => FORBIDDEN_KEYS.has(k));
      assert.deepEqual(leaked, []);
    });
  });
}
