import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Api } from "../support/http.js";
import { startInProcess, type InProcessServer, type Mode } from "../support/in-process.js";

// Null, ill-typed and empty values are 400 validation_failed in both modes,
// never a 5xx: the schemas reject them before any domain code or backend
// sees them (a null name used to reach `isWellFormed` and answer 503; an
// empty cursor reached Redis as "min or max is not a float").

for (const mode of ["embedded", "cluster"] as Mode[]) {
  describe(`request validation (${mode})`, () => {
    let target: InProcessServer;
    let api: Api;
    let app: string;

    before(async () => {
      target = await startInProcess(mode, "valid");
      api = new Api(target.base);
      const created = await api.post("/api/v1/applications", { name: "validation" });
      app = `/api/v1/applications/${created.json.token}`;
      assert.equal((await api.postReady(`${app}/chats`, { name: "one" })).status, 201);
      assert.equal((await api.post(`${app}/chats/1/messages`, { body: "hello" })).status, 201);
    });
    after(async () => target?.stop());

    const expect400 = async (method: string, path: string, body?: unknown): Promise<void> => {
      const res = await api.call(method, path, body);
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.code, "validation_failed", `${method} ${path} ${JSON.stringify(body)}`);
    };

    it("rejects null and ill-typed JSON values in every body", async () => {
      const wrong: unknown[] = [null, 5, 0, true, false, [], ["x"], {}, { a: 1 }];
      for (const value of wrong) {
        await expect400("POST", "/api/v1/applications", { name: value });
        await expect400("PATCH", app, { name: value });
        await expect400("PUT", app, { name: value });
        await expect400("POST", `${app}/chats`, { name: value });
        await expect400("PATCH", `${app}/chats/1`, { name: value });
        await expect400("POST", `${app}/chats/1/messages`, { body: value });
        await expect400("PUT", `${app}/chats/1/messages/1`, { body: value });
      }
      for (const whole of ["null", "42", '"text"', "true", "[]", '[{"name":"x"}]']) {
        await expect400("POST", "/api/v1/applications", whole);
        await expect400("POST", `${app}/chats`, whole);
        await expect400("POST", `${app}/chats/1/messages`, whole);
      }
    });

    it("rejects empty and non-numeric cursors and limits", async () => {
      for (const query of ["after=", "before=", "limit=", "after=null", "before=abc", "limit=1.5", "after=-1", "before=true", "after=1&before=", "limit=%20"]) {
        await expect400("GET", `${app}/chats/1/messages?${query}`);
      }
      for (const query of ["after=", "limit=", "after=x", "limit=0"]) await expect400("GET", `${app}/chats?${query}`);
      for (const query of ["q=hel&limit=", "q=", "q=%20"]) await expect400("GET", `${app}/chats/1/messages/search?${query}`);
    });

    it("answers 404 for tokens that cannot exist, without a backend error (non-ASCII used to fail in MySQL: 503)", async () => {
      const real = app.split("/").pop()!;
      for (const token of [`${real}é`, encodeURIComponent(`${real}é`), "%E2%80%AE", "💬💬", real.slice(1), `${real}A`, "x".repeat(64), encodeURIComponent("é".repeat(22))]) {
        for (const [method, path, body] of [
          ["GET", `/api/v1/applications/${token}`, undefined],
          ["GET", `/api/v1/applications/${token}/chats/1/messages`, undefined],
          ["POST", `/api/v1/applications/${token}/chats`, {}],
          ["PATCH", `/api/v1/applications/${token}`, { name: "n" }],
        ] as const) {
          const res = await api.call(method, path, body);
          assert.equal(res.status, 404, `${method} ${path} → ${res.status} ${JSON.stringify(res.json)}`);
          assert.equal(res.json.error.code, "not_found");
        }
      }
      await expect400("GET", `/api/v1/applications?after=${encodeURIComponent("é")}`);
    });

    it("still reads well-formed pages after all that", async () => {
      const page = await api.get(`${app}/chats/1/messages?after=0&limit=10`);
      assert.equal(page.status, 200);
      assert.deepEqual(page.json.data.map((m: { body: string }) => m.body), ["hello"]);
      assert.equal((await api.get(`${app}/chats?after=0`)).json.data.length, 1);
    });
  });
}
