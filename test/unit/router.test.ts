import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Router } from "../../src/transport/http/router.js";
import type { Route } from "../../src/transport/http/routes.js";

const route = (method: Route["method"], path: string): Route => ({
  method,
  path,
  summary: path,
  status: 200,
  response: "x",
  handle: async () => ({ status: 200, body: path }),
});

describe("Router", () => {
  const router = new Router([
    route("GET", "/api/v1/applications/:token/chats/:chat/messages/:message"),
    route("GET", "/api/v1/applications/:token/chats/:chat/messages/search"),
    route("PATCH", "/api/v1/applications/:token"),
    route("GET", "/api/v1/applications/:token"),
  ]);

  it("prefers literal segments over parameters", () => {
    const match = router.match("GET", "/api/v1/applications/t/chats/1/messages/search");
    assert.ok(match && "route" in match);
    assert.equal(match.route.path.endsWith("/search"), true);
    const byNumber = router.match("GET", "/api/v1/applications/t/chats/1/messages/7");
    assert.ok(byNumber && "route" in byNumber);
    assert.deepEqual(byNumber.params, { token: "t", chat: "1", message: "7" });
  });

  it("reports the allowed methods for a known path and nothing for an unknown one", () => {
    assert.deepEqual(router.match("DELETE", "/api/v1/applications/t"), { allowed: ["PATCH", "GET"] });
    assert.equal(router.match("GET", "/nope"), null);
    assert.equal(router.match("GET", "/api/v1/applications//"), null);
  });
});
